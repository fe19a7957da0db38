/**
 * The far end of every conformance case: something the /net under test
 * dials and that dials it, refuses, accepts, sends data, FIN or RST, and
 * does not read when a case wants a full window. Two kinds with one shape:
 *
 *   - SocketPeer: the host's own sockets on 127.0.0.1 (for /nets carried by
 *     host sockets);
 *   - NetPeer: a second /net, driven through 9P as any Plan 9 program would
 *     drive it (for /nets carried by our stack: a second stack on the same
 *     in-memory segment). Half-close uses its `hangupxmit`.
 *
 * Neither reads unless a case asks: a SocketPeer connection stops taking
 * data from its socket beyond HOLD bytes, a NetPeer connection reads its
 * `data` only in read(); so "a peer that does not read" fills our window.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { Client, File } from '../../src/ninep/client.js';
import { NinepError } from '../../src/ninep/error.js';
import { ORDWR } from '../../src/ninep/types.js';
import { errnoToPlan9 } from '../../src/netfs/errors.js';
import { closedTcpPort, closedUdpPort, readFull } from '../netfs/harness.js';

/** How a connection ended, as the peer saw it. */
export type EndKind = 'fin' | 'reset';

export interface PeerConn {
  /** The peer's own port of this connection (what our `remote` shows for it). */
  readonly port: number;
  write(data: string | Uint8Array): Promise<void>;
  /** Exactly n bytes; fails if the connection ends first. */
  read(n: number): Promise<Buffer>;
  /** Everything up to the end of the connection, and how it ended (before the peer closed its own side). */
  readToEnd(): Promise<{ data: Buffer; end: EndKind }>;
  /** FIN after what was written; the peer keeps reading. */
  halfClose(): Promise<void>;
  /** FIN after what was written; the peer reads no more. */
  close(): Promise<void>;
  /** RST. */
  reset(): Promise<void>;
}

export interface PeerListener {
  readonly port: number;
  /** The next call that arrived. */
  accepted(): Promise<PeerConn>;
  close(): Promise<void>;
}

export interface Datagram {
  data: Buffer;
  addr: string;
  port: number;
}

export interface PeerUdp {
  readonly port: number;
  send(data: string | Uint8Array, addr: string, port: number): Promise<void>;
  next(): Promise<Datagram>;
  /** From now on answer every datagram with itself. */
  echo(): void;
  close(): Promise<void>;
}

/** Frames the peer's network card receives. */
export interface FrameTap {
  /** The next frame for which `want` holds. */
  next(want: (frame: Buffer) => boolean): Promise<Buffer>;
  close(): Promise<void>;
}

export interface Peer {
  /** The peer's address, as the /net under test dials it. */
  readonly addr: string;
  /** A TCP listener; with `echo`, every call is answered with what it sends. */
  listen(opts?: { echo?: boolean }): Promise<PeerListener>;
  /** Call `addr!port`; rejects with the Plan 9 reason (`connection refused`...). */
  dial(addr: string, port: number): Promise<PeerConn>;
  udp(): Promise<PeerUdp>;
  /** A TCP port on the peer that refuses calls (RST). */
  closedTcpPort(): Promise<number>;
  /** A UDP port on the peer that answers with ICMP port unreachable. */
  closedUdpPort(): Promise<number>;
  /** The peer's card's frames, where the peer has a card (our stack). */
  frames?(): Promise<FrameTap>;
  close(): Promise<void>;
}

/** A waiting list of values: push() hands to the first waiter or queues. */
class Arrivals<T> {
  private readonly queued: T[] = [];
  private readonly waiters: ((v: T) => void)[] = [];

  push(v: T): void {
    const w = this.waiters.shift();
    if (w) w(v);
    else this.queued.push(v);
  }

  next(): Promise<T> {
    const v = this.queued.shift();
    if (v !== undefined) return Promise.resolve(v);
    return new Promise((r) => this.waiters.push(r));
  }
}

// ---- host sockets ----

/** Bytes a SocketPeer connection takes from its socket before it stops reading. */
const HOLD = 256 * 1024;

class SocketConn implements PeerConn {
  readonly port: number;
  private parts: Buffer[] = [];
  private have = 0;
  private end: EndKind | null = null;
  private draining = false;
  private discard = false;
  /** Bytes a read waits for: the socket keeps flowing until they are here. */
  private want = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly s: net.Socket) {
    this.port = s.localPort ?? 0;
    s.on('data', (b: Buffer) => {
      if (this.discard) return;
      this.parts.push(b);
      this.have += b.length;
      if (this.have >= Math.max(HOLD, this.want) && !this.draining) s.pause();
      this.wake();
    });
    s.on('end', () => this.ended('fin'));
    s.on('error', () => this.ended('reset'));
    s.on('close', () => this.ended('reset'));
  }

  private ended(k: EndKind): void {
    this.end ??= k;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private changed(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  private take(n: number): Buffer {
    const all = Buffer.concat(this.parts);
    this.parts = all.length > n ? [all.subarray(n)] : [];
    this.have = all.length - Math.min(n, all.length);
    if (this.have < HOLD) this.s.resume();
    return all.subarray(0, n);
  }

  async read(n: number): Promise<Buffer> {
    this.want = n;
    try {
      while (this.have < n) {
        if (this.end !== null) throw new Error(`peer: connection ended (${this.end}) after ${this.have} of ${n} bytes`);
        this.s.resume();
        await this.changed();
      }
    } finally {
      this.want = 0;
    }
    return this.take(n);
  }

  async readToEnd(): Promise<{ data: Buffer; end: EndKind }> {
    this.draining = true;
    this.s.resume();
    while (this.end === null) await this.changed();
    return { data: this.take(this.have), end: this.end };
  }

  write(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.s.write(data, (e) => (e ? reject(e) : resolve()));
    });
  }

  halfClose(): Promise<void> {
    this.s.end();
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.discard = true;
    this.parts = [];
    this.have = 0;
    this.s.resume();
    this.s.end();
    return Promise.resolve();
  }

  reset(): Promise<void> {
    this.s.resetAndDestroy();
    return Promise.resolve();
  }
}

class SocketListener implements PeerListener {
  readonly calls = new Arrivals<PeerConn>();
  port = 0;

  constructor(readonly server: net.Server) {}

  accepted(): Promise<PeerConn> {
    return this.calls.next();
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

class SocketUdp implements PeerUdp {
  private readonly got = new Arrivals<Datagram>();
  private echoing = false;
  private closed = false;

  constructor(private readonly sock: dgram.Socket) {
    sock.on('message', (msg, rinfo) => {
      if (this.echoing) sock.send(msg, rinfo.port, rinfo.address);
      else this.got.push({ data: msg, addr: rinfo.address, port: rinfo.port });
    });
  }

  get port(): number {
    return this.sock.address().port;
  }

  send(data: string | Uint8Array, addr: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.sock.send(data, port, addr, (e) => (e ? reject(e) : resolve())));
  }

  next(): Promise<Datagram> {
    return this.got.next();
  }

  echo(): void {
    this.echoing = true;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((r) => this.sock.close(() => r()));
  }
}

/** The host's sockets on 127.0.0.1. */
export class SocketPeer implements Peer {
  readonly addr = '127.0.0.1';
  private readonly sockets = new Set<net.Socket>();
  private readonly servers = new Set<SocketListener>();
  private readonly udps = new Set<SocketUdp>();

  private track(s: net.Socket): SocketConn {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
    return new SocketConn(s);
  }

  async listen(opts: { echo?: boolean } = {}): Promise<PeerListener> {
    let l: SocketListener | null = null;
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => {});
      if (opts.echo) {
        this.sockets.add(s);
        s.once('close', () => this.sockets.delete(s));
        s.pipe(s);
        return;
      }
      l!.calls.push(this.track(s));
    });
    l = new SocketListener(server);
    await new Promise<void>((r) => server.listen(0, this.addr, () => r()));
    l.port = (server.address() as net.AddressInfo).port;
    this.servers.add(l);
    return l;
  }

  dial(addr: string, port: number): Promise<PeerConn> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: addr, port, allowHalfOpen: true });
      const onError = (e: Error): void => reject(new Error(errnoToPlan9(e) ?? e.message));
      s.once('error', onError);
      s.once('connect', () => {
        s.off('error', onError);
        resolve(this.track(s));
      });
    });
  }

  async udp(): Promise<PeerUdp> {
    const s = dgram.createSocket('udp4');
    s.on('error', () => {});
    await new Promise<void>((r) => s.bind(0, this.addr, () => r()));
    const u = new SocketUdp(s);
    this.udps.add(u);
    return u;
  }

  closedTcpPort(): Promise<number> {
    return closedTcpPort();
  }

  closedUdpPort(): Promise<number> {
    return closedUdpPort();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    for (const l of this.servers) await l.close();
    for (const u of this.udps) await u.close();
  }
}

// ---- a second /net ----

/** A 52-byte UDP header (9/ip/udp.c) toward addr!port, local fields left to routing. */
export function udpHeader(addr: string, port: number, localPort = 0): Buffer {
  const h = Buffer.alloc(52);
  v4mapped(addr).copy(h, 0);
  h.writeUInt16BE(port, 48);
  h.writeUInt16BE(localPort, 50);
  return h;
}

/** An IPv4 address in Plan 9's 16-byte form. */
export function v4mapped(addr: string): Buffer {
  const b = Buffer.alloc(16);
  b[10] = 0xff;
  b[11] = 0xff;
  addr.split('.').forEach((x, i) => { b[12 + i] = Number(x); });
  return b;
}

function dotted(b: Buffer): string {
  return [...b.subarray(12, 16)].join('.');
}

/** The port in an `addr!port\n` file. */
function portOf(text: string): number {
  return Number(/!(\d+)\n?$/.exec(text)![1]);
}

async function cloneOf(c: Client, proto: string): Promise<{ ctl: File; dir: string }> {
  const ctl = await c.open(`/${proto}/clone`, ORDWR);
  const n = (await ctl.read(64, undefined, 0n)).toString();
  return { ctl, dir: `/${proto}/${n}` };
}

class NetConn implements PeerConn {
  constructor(
    private readonly c: Client,
    private readonly ctl: File,
    private readonly data: File,
    private readonly dir: string,
    readonly port: number,
  ) {}

  read(n: number): Promise<Buffer> {
    return readFull(this.data, n);
  }

  async readToEnd(): Promise<{ data: Buffer; end: EndKind }> {
    const parts: Buffer[] = [];
    for (;;) {
      const b = await this.data.read();
      if (b.length === 0) break;
      parts.push(b);
    }
    // A FIN leaves the conversation in Close_wait (or, after our own
    // hangupxmit, Closing or Time_wait); a reset closes it.
    const status = (await this.c.readFile(`${this.dir}/status`)).toString();
    return { data: Buffer.concat(parts), end: /^(Close_wait|Closing|Time_wait) /.test(status) ? 'fin' : 'reset' };
  }

  async write(data: string | Uint8Array): Promise<void> {
    await this.data.write(data);
  }

  async halfClose(): Promise<void> {
    await this.ctl.write('hangupxmit');
  }

  async close(): Promise<void> {
    // File.close is idempotent: a second close sends nothing.
    await this.data.close();
    await this.ctl.close();
  }

  async reset(): Promise<void> {
    await this.ctl.write('hangup');
  }

  /** Echo what arrives until the connection ends. */
  async echo(): Promise<void> {
    try {
      for (;;) {
        const b = await this.data.read();
        if (b.length === 0) break;
        await this.data.write(b);
      }
    } catch {
      // The connection went away.
    }
    await this.close();
  }
}

class NetListener implements PeerListener {
  private readonly abort = new AbortController();

  constructor(private readonly peer: NetPeer, private readonly ctl: File, private readonly dir: string, readonly port: number) {}

  async accepted(): Promise<PeerConn> {
    const lctl = await this.peer.c.open(`${this.dir}/listen`, ORDWR, this.abort.signal);
    return this.peer.adopt(lctl);
  }

  /** Accept and echo every call until closed. */
  async echoAll(): Promise<void> {
    try {
      for (;;) {
        const conn = (await this.accepted()) as NetConn;
        void conn.echo();
      }
    } catch {
      // Closed (the pending listen was flushed).
    }
  }

  async close(): Promise<void> {
    // A pending listen holds the announcement: flush it first.
    this.abort.abort();
    await this.ctl.close();
  }
}

class NetUdp implements PeerUdp {
  private echoing = false;
  private closed = false;
  private reading = false;
  private readonly got = new Arrivals<Datagram>();

  constructor(private readonly ctl: File, private readonly data: File, readonly port: number) {}

  /** One read loop; datagrams go to next() or, when echoing, straight back. */
  private pump(): void {
    if (this.reading) return;
    this.reading = true;
    void (async () => {
      try {
        for (;;) {
          const b = await this.data.read(65536);
          if (b.length < 52) continue;
          if (this.echoing) await this.data.write(b);
          else this.got.push({ data: b.subarray(52), addr: dotted(b.subarray(0, 16)), port: b.readUInt16BE(48) });
        }
      } catch {
        // Closed.
      }
    })();
  }

  async send(data: string | Uint8Array, addr: string, port: number): Promise<void> {
    await this.data.write(Buffer.concat([udpHeader(addr, port), typeof data === 'string' ? Buffer.from(data) : data]));
  }

  next(): Promise<Datagram> {
    this.pump();
    return this.got.next();
  }

  echo(): void {
    this.echoing = true;
    this.pump();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ctl.write('hangup');
    await this.data.close();
    await this.ctl.close();
  }
}

class NetFrames implements FrameTap {
  constructor(private readonly ctl: File, private readonly data: File) {}

  async next(want: (frame: Buffer) => boolean): Promise<Buffer> {
    for (;;) {
      const f = await this.data.read(65536);
      if (want(f)) return f;
    }
  }

  async close(): Promise<void> {
    await this.data.close();
    await this.ctl.close();
  }
}

/** A second /net (our stack's), through a 9P client attached to it as its host owner. */
export class NetPeer implements Peer {
  private nextClosedPort = 4000;
  private readonly open = new Set<{ close(): Promise<void> }>();

  constructor(readonly c: Client, readonly addr: string) {}

  private keep<T extends { close(): Promise<void> }>(x: T): T {
    this.open.add(x);
    return x;
  }

  /** A conversation that came from a listen open. */
  async adopt(lctl: File): Promise<PeerConn> {
    const n = (await lctl.read(64, undefined, 0n)).toString();
    const dir = `/tcp/${n}`;
    const data = await this.c.open(`${dir}/data`, ORDWR);
    const port = portOf((await this.c.readFile(`${dir}/local`)).toString());
    return this.keep(new NetConn(this.c, lctl, data, dir, port));
  }

  async listen(opts: { echo?: boolean } = {}): Promise<PeerListener> {
    const { ctl, dir } = await cloneOf(this.c, 'tcp');
    await ctl.write('announce 0');
    const port = portOf((await this.c.readFile(`${dir}/local`)).toString());
    const l = this.keep(new NetListener(this, ctl, dir, port));
    if (opts.echo) void l.echoAll();
    return l;
  }

  async dial(addr: string, port: number): Promise<PeerConn> {
    const { ctl, dir } = await cloneOf(this.c, 'tcp');
    try {
      await ctl.write(`connect ${addr}!${port}`);
    } catch (e) {
      await ctl.close();
      throw new Error(e instanceof NinepError ? e.ename : String(e));
    }
    const data = await this.c.open(`${dir}/data`, ORDWR);
    const local = portOf((await this.c.readFile(`${dir}/local`)).toString());
    return this.keep(new NetConn(this.c, ctl, data, dir, local));
  }

  async udp(): Promise<PeerUdp> {
    const { ctl, dir } = await cloneOf(this.c, 'udp');
    await ctl.write('announce 0');
    await ctl.write('headers');
    const data = await this.c.open(`${dir}/data`, ORDWR);
    const port = portOf((await this.c.readFile(`${dir}/local`)).toString());
    return this.keep(new NetUdp(ctl, data, port));
  }

  /** Nothing on the peer listens below its ephemeral range except what a case announces. */
  closedTcpPort(): Promise<number> {
    return Promise.resolve(this.nextClosedPort++);
  }

  closedUdpPort(): Promise<number> {
    return Promise.resolve(this.nextClosedPort++);
  }

  async frames(): Promise<FrameTap> {
    const ctl = await this.c.open('/ether0/clone', ORDWR);
    await ctl.write('connect -1');
    const n = (await ctl.read(64, undefined, 0n)).toString().trim();
    const data = await this.c.open(`/ether0/${n}/data`, ORDWR);
    return this.keep(new NetFrames(ctl, data));
  }

  async close(): Promise<void> {
    for (const x of this.open) await x.close().catch(() => {});
    this.c.close();
  }
}
