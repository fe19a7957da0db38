// Shared helpers for benchmarks: child-process servers and timing.
import { execFileSync, spawn } from 'node:child_process';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const cli = resolve(root, 'dist/cli/main.js');

/** A free TCP port on loopback. */
export function freePort() {
  return new Promise((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

/** Start `node args...` and wait until it prints `ready` (or a line matching) on stderr/stdout. */
export function startChild(args, ready = /serving|ready/) {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const on = (d) => {
      out += d;
      const m = out.match(ready);
      if (m) res({ proc: p, match: m, stop: () => p.kill('SIGKILL') });
    };
    p.stdout.on('data', on);
    p.stderr.on('data', on);
    p.on('exit', (c) => rej(new Error(`child exited ${c}: ${out}`)));
  });
}

/** Start the 9net server on a free port. */
export async function start9net(extra = []) {
  const port = await freePort();
  const c = await startChild([cli, 'serve', '-l', `tcp!127.0.0.1!${port}`, ...extra]);
  return { ...c, port, addr: `tcp!127.0.0.1!${port}` };
}

export function fmt(n, digits = 0) {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function ratio(a, b) {
  return (a / b).toFixed(2);
}

/**
 * Move a TAP's kernel side into a namespace (its file stays with whoever
 * opened it) and configure it there: MTU, address CIDR, up (root).
 */
export function tapIntoNamespace(tap, ns, mtu, cidr) {
  const ip = (...a) => execFileSync('ip', a, { stdio: 'pipe' });
  ip('link', 'set', tap, 'netns', ns);
  ip('-n', ns, 'link', 'set', tap, 'mtu', String(mtu));
  ip('-n', ns, 'addr', 'add', cidr, 'dev', tap);
  ip('-n', ns, 'link', 'set', tap, 'up');
}
