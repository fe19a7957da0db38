/**
 * Shared fixtures for the /net tests: a 9P server over the host backend on
 * a loopback port chosen by the OS, clients attached as given users, local
 * TCP/UDP peers, and bounded polling for asynchronous cleanup.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { Worker } from 'node:worker_threads';
import { expect } from 'vitest';
import { hostNet } from '../../src/backend/host/backend.js';
import type { HostNet, HostNetOptions } from '../../src/backend/host/backend.js';
import { Client } from '../../src/ninep/client.js';
import type { File } from '../../src/ninep/client.js';
import type { ConnectionLimits } from '../../src/ninep/connection.js';
import { NinepError } from '../../src/ninep/error.js';
import { Server } from '../../src/ninep/server.js';
import { parseAddress } from '../../src/ninep/transport.js';
import { ORDWR } from '../../src/ninep/types.js';

export const EVE = 'eve';

export interface NetFixture {
  net: HostNet;
  server: Server;
  /** The 9P listener's port on 127.0.0.1. */
  port: number;
  /** What the server logged (internal errors fail close()). */
  logs: string[];
  /** A new client attached as `uname`, closed by close(). */
  client(uname?: string): Promise<Client>;
  close(): Promise<void>;
}

export async function startNet(opts: Partial<HostNetOptions> = {}, limits: Partial<ConnectionLimits> = {}): Promise<NetFixture> {
  const hn = hostNet({ eve: EVE, ...opts });
  const logs: string[] = [];
  const server = new Server({ root: () => hn.tree, log: (l) => logs.push(l), limits });
  const lsn = await server.listen(parseAddress('tcp!127.0.0.1!0') as Exclude<ReturnType<typeof parseAddress>, { kind: 'stdio' }>);
  const port = (lsn.address() as net.AddressInfo).port;
  const clients: Client[] = [];
  return {
    net: hn,
    server,
    port,
    logs,
    async client(uname = 'alice'): Promise<Client> {
      const c = await Client.dial(`tcp!127.0.0.1!${port}`, { uname });
      clients.push(c);
      return c;
    },
    async close(): Promise<void> {
      for (const c of clients) c.close();
      await server.close();
      const internal = logs.filter((l) => l.includes('internal error') || l.includes('clunk:'));
      if (internal.length > 0) throw new Error(`the server logged internal errors:\n${internal.join('\n')}`);
    },
  };
}

/** The error text a rejected 9P call failed with. */
export async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof NinepError) return e.ename;
    return `non-9P error: ${(e as Error).message}`;
  }
  return 'no error';
}

/** Wait until cond() holds, polling; fail after `ms`. */
export async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) expect.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Open a clone file; returns the ctl File and the conversation number. */
export async function clone(c: Client, proto = 'tcp'): Promise<{ ctl: File; n: number; dir: string }> {
  const ctl = await c.open(`/${proto}/clone`, ORDWR);
  const n = Number((await ctl.read(64, undefined, 0n)).toString());
  return { ctl, n, dir: `/${proto}/${n}` };
}

export async function readText(c: Client, path: string): Promise<string> {
  return (await c.readFile(path)).toString();
}

/** A local TCP server on 127.0.0.1 that tracks its sockets for cleanup. */
export class TcpPeer {
  readonly sockets = new Set<net.Socket>();
  readonly server: net.Server;
  port = 0;
  private readonly arrivals: net.Socket[] = [];
  private waiters: ((s: net.Socket) => void)[] = [];

  constructor(onConn?: (s: net.Socket) => void, opts: net.ServerOpts = {}) {
    this.server = net.createServer(opts, (s) => {
      this.sockets.add(s);
      s.on('error', () => {});
      s.once('close', () => this.sockets.delete(s));
      onConn?.(s);
      const w = this.waiters.shift();
      if (w) w(s);
      else this.arrivals.push(s);
    });
  }

  static async start(onConn?: (s: net.Socket) => void, opts: net.ServerOpts = {}, host = '127.0.0.1'): Promise<TcpPeer> {
    const p = new TcpPeer(onConn, opts);
    await new Promise<void>((r) => p.server.listen(0, host, () => r()));
    p.port = (p.server.address() as net.AddressInfo).port;
    return p;
  }

  /** An echo server. */
  static echo(): Promise<TcpPeer> {
    return TcpPeer.start((s) => s.pipe(s));
  }

  /** The next accepted socket. */
  accepted(): Promise<net.Socket> {
    const s = this.arrivals.shift();
    if (s) return Promise.resolve(s);
    return new Promise((r) => this.waiters.push(r));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Local TCP servers and client sockets a test opens, closed together at its end. */
export class LocalSockets {
  private readonly peers: TcpPeer[] = [];
  private readonly sockets: net.Socket[] = [];

  /** A local server whose accepted sockets the test drives itself. */
  async peer(opts: net.ServerOpts = {}): Promise<TcpPeer> {
    const p = await TcpPeer.start(undefined, opts);
    this.peers.push(p);
    return p;
  }

  /** Close `p` with the rest. */
  track(p: TcpPeer): TcpPeer {
    this.peers.push(p);
    return p;
  }

  /** A client socket to 127.0.0.1:port. */
  async connect(port: number): Promise<net.Socket> {
    const s = await tcpConnect(port);
    this.sockets.push(s);
    return s;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    for (const p of this.peers) await p.close();
  }
}

/** `announce 0` on a conversation; returns the port its `local` shows (`::!P`). */
export async function announce0(ctl: { write(d: string): Promise<number> }, c: { readFile(p: string): Promise<Buffer> }, dir: string): Promise<number> {
  await ctl.write('announce 0');
  const local = (await c.readFile(`${dir}/local`)).toString();
  const m = /^::!(\d+)\n$/.exec(local);
  expect(m, `local of an announce 0: ${JSON.stringify(local)}`).not.toBeNull();
  return Number(m![1]);
}

/** A port that nothing listens on (bound, then released). */
export async function closedTcpPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function closedUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A TCP client socket to 127.0.0.1:port, connected. */
export function tcpConnect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host });
    s.once('connect', () => {
      s.off('error', reject);
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Collect everything a socket sends until it ends. */
export function collect(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    s.on('data', (b: Buffer) => parts.push(b));
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('close', () => resolve(Buffer.concat(parts)));
  });
}

/** Read from a socket until at least n bytes arrived. */
export function readN(s: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let have = 0;
    const onData = (b: Buffer): void => {
      parts.push(b);
      have += b.length;
      if (have >= n) {
        s.off('data', onData);
        s.off('close', onClose);
        resolve(Buffer.concat(parts));
      }
    };
    const onClose = (): void => reject(new Error(`socket closed after ${have} of ${n} bytes`));
    s.on('data', onData);
    s.once('close', onClose);
  });
}

/** Read a data file until n bytes arrived. */
export async function readFull(f: File, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const b = await f.read(n - have);
    if (b.length === 0) throw new Error(`EOF after ${have} of ${n} bytes`);
    parts.push(b);
    have += b.length;
  }
  return Buffer.concat(parts);
}

/**
 * A loopback listener that never accepts: it listens with backlog 1 in a
 * worker thread whose event loop is then blocked, and two connections fill
 * its accept queue, so a further SYN is dropped and a connect to it stays
 * in Syn_sent (Linux drops SYNs while the accept queue is full).
 */
export async function stuckListener(): Promise<{ port: number; close(): Promise<void> }> {
  const flag = new SharedArrayBuffer(4);
  const w = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const net = require('node:net');
     const s = net.createServer((c) => c.destroy());
     s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(s.address().port);
       Atomics.wait(new Int32Array(workerData), 0, 0);
       s.close();
     });`,
    { eval: true, workerData: flag },
  );
  const port = await new Promise<number>((resolve, reject) => {
    w.once('message', (p: number) => resolve(p));
    w.once('error', reject);
  });
  const fillers = [await tcpConnect(port), await tcpConnect(port)];
  return {
    port,
    async close(): Promise<void> {
      for (const f of fillers) f.destroy();
      const a = new Int32Array(flag);
      Atomics.store(a, 0, 1);
      Atomics.notify(a, 0);
      await w.terminate();
    },
  };
}
