/** `9net dial`: connect standard input and output to a dial string through /net. */
import type { Command } from 'commander';
import { addressHelp, connectOrDie, die } from './common.js';
import type { ClientFlags } from './common.js';
import { dial } from './netcall.js';
import type { Call } from './netcall.js';

/** Copy a conversation's data to a stream until EOF (a 0-byte read). */
export async function pumpOut(call: Call, out: NodeJS.WritableStream, signal?: AbortSignal): Promise<void> {
  for (;;) {
    let b: Buffer;
    try {
      b = await call.data.read(call.data.iounit, signal);
    } catch {
      return;
    }
    if (b.length === 0) return;
    if (!out.write(b)) await new Promise((r) => out.once('drain', r));
  }
}

/** Copy a stream into a conversation's data, one Twrite per chunk. */
export async function pumpIn(call: Call, input: NodeJS.ReadableStream): Promise<void> {
  for await (const chunk of input) await call.data.write(chunk as Buffer);
}

export function addDial(program: Command): void {
  program
    .command('dial')
    .description('dial DIALSTRING through /net; copy stdin to the connection and the connection to stdout')
    .argument('<dialstring>', 'e.g. tcp!example.org!http')
    .option('-a, --address <addr>', addressHelp)
    .option('-u, --user <name>', 'user name to attach as')
    .option('-e, --exit-on-eof', 'exit when standard input ends instead of when the connection does')
    .action(async (dialstring: string, o: ClientFlags & { exitOnEof?: boolean }) => {
      const client = await connectOrDie(o);
      try {
        const call = await dial(client, dialstring);
        const out = pumpOut(call, process.stdout);
        const inp = pumpIn(call, process.stdin);
        if (o.exitOnEof) await inp;
        else await out;
        client.close();
        process.exit(0);
      } catch (e) {
        client.close();
        die((e as Error).message);
      }
    });
}
