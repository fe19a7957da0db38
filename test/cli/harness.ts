/**
 * Running the 9net command in tests (it needs dist/, built by `tsc -p .`
 * before the tests): child processes, servers on loopback ports the OS
 * chooses, peers on loopback, and waiting for lines rather than for time.
 * cleanup() in afterAll ends everything a test file started.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams, SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const children = new Set<ChildProcessWithoutNullStreams>();
const servers: net.Server[] = [];
const sockets: net.Socket[] = [];

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Start a process with pipes for its standard streams (tracked for cleanup). */
export function spawnTracked(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcessWithoutNullStreams {
  const p = spawn(cmd, args, { ...opts, stdio: 'pipe' }) as ChildProcessWithoutNullStreams;
  children.add(p);
  p.once('exit', () => children.delete(p));
  p.stdin.on('error', () => {});
  return p;
}

/** Start 9net with arguments. */
export function start(args: string[]): ChildProcessWithoutNullStreams {
  return spawnTracked(process.execPath, [MAIN, ...args]);
}

/** Everything a child writes to stdout and stderr, as it arrives. */
export function collect(p: ChildProcessWithoutNullStreams): { out: () => string; err: () => string } {
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  p.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  return { out: () => stdout, err: () => stderr };
}

/** Resolves with a child's status and output once it has exited and its pipes closed. */
export function finished(p: ChildProcessWithoutNullStreams): Promise<Result> {
  const c = collect(p);
  return new Promise((resolve) => p.once('close', (code, signal) => resolve({ code, signal, stdout: c.out(), stderr: c.err() })));
}

/** Run 9net to completion with `input` on its standard input. */
export function run(args: string[], input = ''): Promise<Result> {
  const p = start(args);
  const done = finished(p);
  p.stdin.end(input);
  return done;
}

/** Run a shell command line to completion. */
export function sh(line: string): Promise<Result> {
  const p = spawnTracked('sh', ['-c', line]);
  const done = finished(p);
  p.stdin.end();
  return done;
}

/**
 * Wait until what a stream carries matches re (the text is carried across
 * chunks); `seen` is what it carried before the call, if that counts.
 */
export function waitFor(stream: NodeJS.ReadableStream, re: RegExp, p?: ChildProcessWithoutNullStreams, seen = ''): Promise<RegExpExecArray> {
  const now = re.exec(seen);
  if (now) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    let buf = seen;
    const onData = (b: Buffer): void => {
      buf += b.toString();
      const m = re.exec(buf);
      if (m) {
        stream.off('data', onData);
        p?.off('exit', onExit);
        resolve(m);
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`exited ${code} before printing ${re}: ${buf}`));
    stream.on('data', onData);
    p?.once('exit', onExit);
  });
}

/** Wait for a line on a child's stderr matching re. */
export function stderrLine(p: ChildProcessWithoutNullStreams, re: RegExp): Promise<RegExpExecArray> {
  return waitFor(p.stderr, re, p);
}

export function exited(p: ChildProcessWithoutNullStreams): Promise<number | null> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(p.exitCode);
  return new Promise((r) => p.once('exit', (code) => r(code)));
}

export interface ServerProc {
  proc: ChildProcessWithoutNullStreams;
  /** Its 9P address. */
  addr: string;
  /** What it has logged so far. */
  log: () => string;
  /** Resolves once its log, from the start, matches re. */
  logged: (re: RegExp) => Promise<RegExpExecArray>;
}

/** `9net serve` on a port the OS chooses. */
export async function startServer(extra: string[] = []): Promise<ServerProc> {
  const proc = start(['serve', '-l', 'tcp!127.0.0.1!0', ...extra]);
  const c = collect(proc);
  const m = await stderrLine(proc, /serving \/net \(.*\) on tcp!127\.0\.0\.1!(\d+)/);
  return { proc, addr: `tcp!127.0.0.1!${m[1]}`, log: c.err, logged: (re) => waitFor(proc.stderr, re, proc, c.err()) };
}

/** A TCP server on loopback; resolves with its port. */
export async function localServer(onConn: (s: net.Socket) => void): Promise<number> {
  const s = net.createServer((c) => {
    c.on('error', () => {});
    sockets.push(c);
    onConn(c);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as net.AddressInfo).port;
}

/** A TCP port nobody listens on (just released by the OS); a UDP one. */
export { closedTcpPort as freePort, closedUdpPort } from '../netfs/harness.js';

/** Connect to 127.0.0.1:port (tracked for cleanup). */
export function connectTo(port: number): net.Socket {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  sockets.push(s);
  return s;
}

/** Whether a process is gone: no such pid, or a zombie its new parent has not reaped. */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** End everything this file started. */
export async function cleanup(): Promise<void> {
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
  const exits = [...children].map((p) => exited(p));
  for (const p of children) p.kill('SIGKILL');
  await Promise.all(exits);
}
