/**
 * `9net listen1`: Plan 9's aux/listen1 through /net: announce, and for each
 * call run a command with its standard input and output on the call.
 *
 * Each command runs in a process group of its own. When listen1 ends (a
 * signal, or its 9P connection lost) it sends SIGTERM to every group still
 * running, SIGKILL to what is left after GRACE_MS, and exits once the
 * groups are empty; so it leaves no processes behind, unless killed with
 * SIGKILL itself (its commands then see their call's EOF and EPIPE).
 */
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { DEFAULT_WINDOW, ReadWindow, WriteWindow } from '../ninep/client.js';
import type { Client } from '../ninep/client.js';
import { DEFAULT_ADDRESS } from '../ninep/transport.js';
import { clientOptions, connect, exit, intArg, message } from './common.js';
import type { ClientFlags } from './common.js';
import { announce, listen } from './netcall.js';
import type { Call } from './netcall.js';
import { copyIn, copyOut } from './pump.js';

interface Listen1Flags extends ClientFlags {
  verbose?: boolean;
  window?: number;
}

/** How long commands get between SIGTERM and SIGKILL when listen1 ends (and SIGKILL until listen1 exits anyway). */
const GRACE_MS = 2000;

/** The process groups of the commands started, while they have members (pruned as calls end). */
const groups = new Set<number>();
let shuttingDown = false;

/** Signal a command's process group (it leads one: spawned detached); false if the group is gone. */
function signalGroup(pgid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a process group has a member that is not a zombie (one whose
 * parent died waits for init to reap it: it runs no more). Without /proc,
 * any member counts.
 */
function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return true;
  }
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp ...: comm may hold anything, so parse after its last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) === pgid && f[0] !== 'Z') return true;
  }
  return false;
}

/** How often shutdown looks whether the commands' groups are gone. */
const POLL_MS = 20;

/**
 * End every command's process group, then exit with `code` (and a
 * message): SIGTERM, SIGKILL to what is left after GRACE_MS, and exit once
 * no group has a member (or GRACE_MS after the SIGKILL).
 */
function shutdown(code: number, msg?: string): void {
  if (shuttingDown) return;
  shuttingDown = true;
  if (msg !== undefined) console.error(`9net listen1: ${msg}`);
  for (const g of groups) signalGroup(g, 'SIGTERM');
  const start = Date.now();
  let killed = false;
  const check = (): void => {
    const left = [...groups].filter(groupAlive);
    if (left.length === 0) return exit(code);
    const waited = Date.now() - start;
    if (!killed && waited >= GRACE_MS) {
      killed = true;
      for (const g of left) signalGroup(g, 'SIGKILL');
    }
    if (waited >= 2 * GRACE_MS) return exit(code);
    setTimeout(check, POLL_MS);
  };
  check();
}

async function serveCall(client: Client, call: Call, cmd: string, args: string[], o: Listen1Flags): Promise<void> {
  const remote = (await client.readFile(`${call.dir}/remote`).catch(() => Buffer.from(''))).toString().trim();
  if (o.verbose) console.error(`9net listen1: call from ${remote} on ${call.dir}`);
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, net: call.dir, remote }, detached: true });
  if (child.pid !== undefined) groups.add(child.pid);
  const closed = new Promise<number | string | null>((r) => child.once('close', (code, sig) => r(sig ?? code)));
  child.on('error', (e) => console.error(`9net listen1: ${cmd}: ${e.message}`));
  child.stdin.on('error', () => {});
  const window = o.window ?? DEFAULT_WINDOW;
  const reader = new ReadWindow(call.data, window);
  const writer = new WriteWindow(call.data, window);
  // The call's EOF is the command's; a command that stops reading gets its EPIPE.
  copyOut(reader, child.stdin).then(() => child.stdin.end(), () => child.stdin.destroy());
  // A call that takes no more data closes the command's output (it sees EPIPE).
  copyIn(child.stdout, writer).catch(() => child.stdout.destroy());
  const status = await closed;
  // A group whose processes are all gone needs no ending at exit.
  if (child.pid !== undefined && !groupAlive(child.pid)) groups.delete(child.pid);
  if (o.verbose) console.error(`9net listen1: ${call.dir}: ${cmd} exited ${status}`);
  // The command is gone and its fds with it, as in Plan 9: the call ends
  // once what it wrote has been taken.
  reader.stop();
  await writer.drain().catch(() => {});
  await call.data.close().catch(() => {});
  await call.ctl.close().catch(() => {});
}

async function run(dialstring: string, cmd: string, args: string[], o: Listen1Flags): Promise<void> {
  const c = await connect(o);
  c.onClose((why) => shutdown(1, `lost the 9P connection to ${o.address ?? DEFAULT_ADDRESS}: ${why}`));
  const a = await announce(c, dialstring);
  if (o.verbose) console.error(`9net listen1: announced ${dialstring} on ${a.dir}`);
  for (;;) {
    let call: Call;
    try {
      call = await listen(c, a.dir);
    } catch (e) {
      if (c.closed) return;
      throw new Error(`listen ${a.dir}: ${message(e)}`);
    }
    void serveCall(c, call, cmd, args, o).catch((e: unknown) => console.error(`9net listen1: ${call.dir}: ${message(e)}`));
  }
}

export function addListen1(program: Command): void {
  const cmd = program
    .command('listen1')
    .description('announce DIALSTRING through /net and run CMD for each call, its stdin/stdout on the call')
    .argument('<dialstring>', 'e.g. tcp!*!7777')
    .argument('<cmd>')
    .argument('[args...]');
  clientOptions(cmd, { msize: true })
    .option('-v, --verbose', 'log each call and its command\'s exit on stderr')
    .option('-w, --window <n>', `9P reads and writes kept in flight each way per call (default ${DEFAULT_WINDOW})`, intArg(1, 64))
    // Options after CMD belong to it.
    .passThroughOptions()
    .action((dialstring: string, command: string, args: string[], o: Listen1Flags) => {
      for (const [sig, n] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const) process.on(sig, () => shutdown(128 + n));
      return run(dialstring, command, args, o).catch((e: unknown) => shutdown(1, message(e)));
    });
}
