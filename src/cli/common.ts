/** Helpers shared by the 9net subcommands: options, connecting, errors and exiting. */
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import * as os from 'node:os';
import { Client, DEFAULT_MSIZE } from '../ninep/client.js';
import { NinepError } from '../ninep/error.js';
import { DEFAULT_ADDRESS, sysText } from '../ninep/transport.js';
import { IOHDRSZ } from '../ninep/types.js';

export const addressHelp = `9P server address: tcp!host!port or unix!/path (default ${DEFAULT_ADDRESS})`;

/** Largest msize a client asks for (the server's own bound is 2 MiB). */
const MAX_MSIZE = 2 * 1024 * 1024;

export function currentUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? 'none';
  }
}

export interface ClientFlags {
  address?: string;
  user?: string;
  aname?: string;
  msize?: number;
}

/** A commander parser for an integer option or argument in [min, max]: anything else is a usage error. */
export function intArg(min: number, max: number): (v: string) => number {
  return (v: string) => {
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`want an integer from ${min} to ${max}.`);
    return n;
  };
}

/** The options every client subcommand takes: -a ADDR, -u USER, -A ANAME, and with `msize` -m N. */
export function clientOptions(cmd: Command, opts: { msize?: boolean } = {}): Command {
  cmd
    .option('-a, --address <addr>', addressHelp)
    .option('-u, --user <name>', 'user name to attach as (default: the login name)')
    .option('-A, --aname <aname>', 'attach name: a stack of a --topology server, or topo (default: the server\'s default /net)');
  if (opts.msize) cmd.option('-m, --msize <bytes>', `9P message size to propose (default ${DEFAULT_MSIZE}; the server may lower it)`, intArg(256 + IOHDRSZ, MAX_MSIZE));
  return cmd;
}

/** The message of any thrown value; a system error as the system's text ("no such file or directory"), never Node's code. */
export function message(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  return typeof (e as NodeJS.ErrnoException).errno === 'number' ? sysText(e) : e.message;
}

/**
 * Dial the 9P server and attach. Errors say which: the server cannot be
 * reached (the transport's text), or it refused the attach (its Rerror,
 * which for an unknown attach name of a 9net server lists the names).
 */
export async function connect(flags: ClientFlags): Promise<Client> {
  const addr = flags.address ?? DEFAULT_ADDRESS;
  const uname = flags.user ?? currentUser();
  const aname = flags.aname ?? '';
  try {
    return await Client.dial(addr, { uname, aname, ...(flags.msize ? { msize: flags.msize } : {}) });
  } catch (e) {
    if (e instanceof NinepError) throw new Error(`attach to ${addr} as ${uname}${aname ? ` (aname ${aname})` : ''}: ${e.message}`);
    throw new Error(`9P server: ${message(e)}`);
  }
}

/**
 * Exit once what was written to standard output has left (process.exit
 * would drop output still queued on a pipe). The first call wins.
 */
let exiting = false;
export function exit(code: number, msg?: string): void {
  if (exiting) return;
  exiting = true;
  if (msg !== undefined) console.error(`9net: ${msg}`);
  if (process.stdout.destroyed || process.stdout.writableLength === 0) process.exit(code);
  process.stdout.write('', () => process.exit(code));
}

/** Whether exit() has been called (the process is on its way out). */
export function isExiting(): boolean {
  return exiting;
}

/** connect(), or exit with its error in one line. */
export async function connectOrDie(flags: ClientFlags): Promise<Client> {
  try {
    return await connect(flags);
  } catch (e) {
    die((e as Error).message);
  }
}

/** Print a one-line error and exit non-zero. */
export function die(msg: string, code = 1): never {
  console.error(`9net: ${msg}`);
  process.exit(code);
}
