/**
 * Where 9P runs: `tcp!host!port`, `unix!/path`, or `-` for stdin/stdout.
 * Plan 9 dial-string syntax, as the CLI takes it.
 */
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import * as net from 'node:net';
import { getSystemErrorMap } from 'node:util';

export type Address =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string }
  | { kind: 'stdio' };

export const DEFAULT_ADDRESS = 'tcp!127.0.0.1!5640';

/** Parse a transport address; throws an Error with a one-line message. */
export function parseAddress(s: string): Address {
  if (s === '-' || s === 'stdio') return { kind: 'stdio' };
  const f = s.split('!');
  if (f[0] === 'unix' && f.length === 2 && f[1]) return { kind: 'unix', path: f[1] };
  if (f[0] === 'tcp' && f.length === 3 && f[1]) {
    const port = f[2] === '9fs' ? 564 : Number(f[2]);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port in address ${s}`);
    const host = f[1] === '*' ? '::' : f[1].replace(/^\[(.*)\]$/, '$1');
    return { kind: 'tcp', host, port };
  }
  throw new Error(`bad address ${s}: want tcp!host!port, unix!/path or -`);
}

export function formatAddress(a: Address): string {
  switch (a.kind) {
    case 'tcp': return `tcp!${a.host}!${a.port}`;
    case 'unix': return `unix!${a.path}`;
    case 'stdio': return '-';
  }
}

/** A socket error as the system's text ("connection refused"), never Node's code. */
export function sysText(e: NodeJS.ErrnoException): string {
  const text = typeof e.errno === 'number' ? getSystemErrorMap().get(e.errno)?.[1] : undefined;
  return text ?? e.message;
}

/** Listen for 9P connections; resolves once listening. */
export function listen(a: Exclude<Address, { kind: 'stdio' }>, onConn: (s: net.Socket) => void): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer({ noDelay: true }, (s) => {
      s.setNoDelay?.(true);
      onConn(s);
    });
    const start = (): void => {
      srv.once('error', onError);
      if (a.kind === 'tcp') srv.listen(a.port, a.host, () => done());
      else srv.listen(a.path, () => done());
    };
    const done = (): void => {
      srv.off('error', onError);
      resolve(srv);
    };
    const onError = (e: NodeJS.ErrnoException): void => {
      // A stale unix socket left by a dead server: remove it if nobody answers.
      if (a.kind === 'unix' && e.code === 'EADDRINUSE' && existsSync(a.path) && lstatSync(a.path).isSocket()) {
        const probe = net.connect(a.path);
        probe.once('connect', () => { probe.destroy(); reject(new Error(`${a.path}: address in use`)); });
        probe.once('error', () => { unlinkSync(a.path); start(); });
        return;
      }
      reject(new Error(`listen ${formatAddress(a)}: ${sysText(e)}`));
    };
    start();
  });
}

/** Connect to a 9P server. */
export function dial(a: Exclude<Address, { kind: 'stdio' }>): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = a.kind === 'tcp' ? net.connect({ host: a.host, port: a.port, noDelay: true }) : net.connect(a.path);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      // The system error's code stays on the error, for callers that translate it.
      const err: NodeJS.ErrnoException = new Error(`dial ${formatAddress(a)}: ${sysText(e)}`);
      if (e.code !== undefined) err.code = e.code;
      reject(err);
    });
  });
}
