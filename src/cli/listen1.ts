/**
 * `9net listen1`: Plan 9's aux/listen1 through /net: announce, and for each
 * call run a command with its standard input and output on the call.
 */
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { addressHelp, connect, die } from './common.js';
import type { ClientFlags } from './common.js';
import { announce, listen } from './netcall.js';
import type { Call } from './netcall.js';
import { pumpIn, pumpOut } from './dial.js';

async function serveCall(call: Call, cmd: string, args: string[], verbose: boolean): Promise<void> {
  const remote = (await call.data.client.readFile(`${call.dir}/remote`).catch(() => Buffer.from(''))).toString().trim();
  if (verbose) console.error(`9net listen1: call from ${remote} on ${call.dir}`);
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, net: call.dir, remote } });
  const done = new Promise<void>((r) => child.once('close', () => r()));
  child.on('error', (e) => console.error(`9net listen1: ${cmd}: ${e.message}`));
  child.stdin.on('error', () => {});
  // When the command exits the call ends, as when its fds close in Plan 9:
  // flush the read still waiting on the call (it holds the data fid).
  const stop = new AbortController();
  void pumpOut(call, child.stdin, stop.signal).finally(() => child.stdin.end());
  void pumpIn(call, child.stdout).catch(() => {});
  await done;
  stop.abort();
  await call.data.close().catch(() => {});
  await call.ctl.close().catch(() => {});
}

export function addListen1(program: Command): void {
  program
    .command('listen1')
    .description('announce DIALSTRING through /net and run CMD for each call, its stdin/stdout on the call')
    .argument('<dialstring>', 'e.g. tcp!*!7777')
    .argument('<cmd>')
    .argument('[args...]')
    .option('-a, --address <addr>', addressHelp)
    .option('-u, --user <name>', 'user name to attach as')
    .option('-v, --verbose', 'log each call on stderr')
    // Options after CMD belong to it.
    .passThroughOptions()
    .action(async (dialstring: string, cmd: string, args: string[], o: ClientFlags & { verbose?: boolean }) => {
      try {
        const c = await connect(o);
        const a = await announce(c, dialstring);
        if (o.verbose) console.error(`9net listen1: announced ${dialstring} on ${a.dir}`);
        c.onClose((why) => die(`lost the 9P connection: ${why}`));
        for (;;) {
          const call = await listen(c, a.dir);
          void serveCall(call, cmd, args, o.verbose ?? false);
        }
      } catch (e) {
        die((e as Error).message);
      }
    });
}
