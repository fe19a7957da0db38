/**
 * Running commands for tests that use network namespaces they create.
 * inNs() is asynchronous on purpose: our stack runs in the test's own event
 * loop, so a synchronous spawn (execFileSync of ping) would keep it from
 * answering.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

/** Run a command to completion (setup and cleanup: ip netns add, ip link set...). */
export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Run a command inside namespace `ns` without blocking the event loop; `track` collects it for cleanup. */
export function inNs(ns: string, args: string[], track?: ChildProcess[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    track?.push(p);
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

/**
 * Collect a child's output as whole lines: a line that arrives in two
 * chunks is pushed once, complete (the tail waits for its newline).
 */
export function collectLines(stream: NodeJS.ReadableStream, into: string[]): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop()!;
    for (const l of parts) if (l.length > 0) into.push(l);
  });
  stream.on('end', () => {
    if (partial.length > 0) into.push(partial);
    partial = '';
  });
}
