/**
 * `9net dial`: connect standard input and output to a dial string through
 * /net, as socat - does with a socket.
 *
 * Both directions keep a window of 9P requests in flight. At the end of
 * standard input a TCP conversation is half-closed (`hangupxmit`, Bell
 * Labs tcp.c tcpxmitclose: our FIN, the peer's data still comes) and the
 * copy to standard output goes on until the peer closes; with -e the
 * command ends there instead, once the replies already in flight are
 * written. The exit status is 0 when the connection ended (or standard
 * output was closed by its reader), else 1 with one line on stderr: the
 * dial failed, a read failed (`port unreachable` on UDP), or the 9P
 * connection was lost.
 */
import type { Command } from 'commander';
import { DEFAULT_WINDOW, ReadWindow, WriteWindow } from '../ninep/client.js';
import { DEFAULT_ADDRESS } from '../ninep/transport.js';
import { clientOptions, connect, exit, intArg, isExiting, message } from './common.js';
import type { ClientFlags } from './common.js';
import { dial } from './netcall.js';
import { copyIn, copyOut } from './pump.js';

interface DialFlags extends ClientFlags {
  exitOnEof?: boolean;
  window?: number;
}

/** The protocol directory of a conversation directory: /tcp/4 → tcp. */
function protoOf(dir: string): string {
  return dir.split('/').filter(Boolean)[0] ?? '';
}

async function run(dialstring: string, o: DialFlags): Promise<void> {
  const client = await connect(o);
  client.onClose((why) => {
    if (!isExiting()) exit(1, `lost the 9P connection to ${o.address ?? DEFAULT_ADDRESS}: ${why}`);
  });
  const call = await dial(client, dialstring);
  const reader = new ReadWindow(call.data, o.window ?? DEFAULT_WINDOW);
  const writer = new WriteWindow(call.data, o.window ?? DEFAULT_WINDOW);
  copyOut(reader, process.stdout).then(
    () => exit(0),
    (e: unknown) => exit(1, `${dialstring}: ${message(e)}`),
  );
  try {
    await copyIn(process.stdin, writer);
  } catch {
    // The conversation takes no more data; how it ended is the read side's to say.
    process.stdin.destroy();
    return;
  }
  if (o.exitOnEof) {
    // Flush the reads in flight: the replies that already came are written, then EOF.
    reader.stop();
    return;
  }
  if (protoOf(call.dir) !== 'tcp') return;
  try {
    await call.ctl.write('hangupxmit');
  } catch (e) {
    console.error(`9net: ${dialstring}: cannot half-close (hangupxmit: ${message(e)}); copying until the peer closes`);
  }
}

export function addDial(program: Command): void {
  const cmd = program
    .command('dial')
    .description('dial DIALSTRING through /net; copy stdin to the connection and the connection to stdout')
    .argument('<dialstring>', 'e.g. tcp!example.org!http');
  clientOptions(cmd, { msize: true })
    .option('-e, --exit-on-eof', 'exit at the end of standard input (once replies already in flight are written) instead of half-closing and waiting for the peer')
    .option('-w, --window <n>', `9P reads and writes kept in flight each way (default ${DEFAULT_WINDOW})`, intArg(1, 64))
    .action((dialstring: string, o: DialFlags) => run(dialstring, o).catch((e: unknown) => exit(1, message(e))));
}
