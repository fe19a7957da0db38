/**
 * A 9P2000/9P2000.u server: serves a tree (one per attach name) to any
 * number of connections over TCP, Unix sockets or a stdin/stdout pair.
 */
import { chmodSync } from 'node:fs';
import type * as net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { Clock, TimerHandle } from '../lib/clock.js';
import { RealClock } from '../lib/clock.js';
import { Connection, defaultLimits } from './connection.js';
import type { ConnectionHost, ConnectionLimits, InputBudget } from './connection.js';
import type { Node } from './node.js';
import { peerCredAddon, peerOf } from './peer.js';
import type { Peer } from './peer.js';
import { listen } from './transport.js';
import type { Address } from './transport.js';

export interface ServerOptions {
  /** The tree for an attach name and user, or null when the name is unknown. */
  root(aname: string, uname: string): Node | null;
  limits?: Partial<ConnectionLimits>;
  log?: (line: string) => void;
  /** Print every 9P message. */
  trace?: boolean;
  /**
   * Bytes of incomplete messages held across all connections (default
   * DEFAULT_MAX_INCOMPLETE). Over it, the connection whose incomplete
   * message is oldest is disconnected until the total fits.
   */
  maxIncompleteBytes?: number;
  /** For message timeouts (default: the real clock). */
  clock?: Clock;
  /** Which user names a peer may attach as (ConnectionHost.admit); absent: any. */
  admit?: (peer: Peer, uname: string, aname: string) => string | null;
}

/** Default bound on bytes held for incomplete messages, all connections together. */
export const DEFAULT_MAX_INCOMPLETE = 128 * 1024 * 1024;

export class Server implements ConnectionHost, InputBudget {
  readonly authError = '9net: authentication not required';
  readonly trace: boolean;
  readonly connections = new Set<Connection>();
  private readonly listeners = new Set<net.Server>();
  private readonly limits: ConnectionLimits;
  private seq = 0;
  private readonly clock: Clock;
  private readonly maxIncomplete: number;
  /** Bytes held for incomplete messages, all connections. */
  incompleteBytes = 0;
  private sweep: TimerHandle | null = null;

  constructor(private readonly opts: ServerOptions) {
    this.trace = opts.trace ?? false;
    this.limits = { ...defaultLimits, ...opts.limits };
    this.clock = opts.clock ?? new RealClock();
    this.maxIncomplete = opts.maxIncompleteBytes ?? DEFAULT_MAX_INCOMPLETE;
  }

  get budget(): InputBudget {
    return this;
  }

  now(): number {
    return this.clock.now();
  }

  charge(conn: Connection, delta: number): void {
    this.incompleteBytes += delta;
    if (delta > 0) this.armSweep();
    while (this.incompleteBytes > this.maxIncomplete) {
      let oldest: Connection | null = null;
      for (const c of this.connections) {
        if (c.partialBytes > 0 && (oldest === null || c.partialSince < oldest.partialSince)) oldest = c;
      }
      if (oldest === null) break;
      oldest.close('disconnected: too many bytes held in incomplete messages');
      if (oldest === conn) break;
    }
  }

  /** While some connection holds an incomplete message, check for stalled ones now and then. */
  private armSweep(): void {
    if (this.sweep !== null) return;
    const period = Math.max(1, this.limits.messageTimeoutMs / 4);
    this.sweep = this.clock.at(this.clock.now() + period, () => {
      this.sweep = null;
      const now = this.clock.now();
      let waiting = false;
      for (const c of [...this.connections]) {
        if (c.partialSince < 0) continue;
        if (now - c.partialSince >= this.limits.messageTimeoutMs) c.close('disconnected: incomplete message timed out');
        else waiting = true;
      }
      if (waiting) this.armSweep();
    });
  }

  root(aname: string, uname: string): Node | null {
    return this.opts.root(aname, uname);
  }

  admit(peer: Peer, uname: string, aname: string): string | null {
    return this.opts.admit ? this.opts.admit(peer, uname, aname) : null;
  }

  log(line: string): void {
    (this.opts.log ?? ((l: string) => console.error(l)))(line);
  }

  /** Serve one client over a stream pair (a socket is both). */
  serve(input: Readable, output: Writable = input as unknown as Writable, label = `conn${++this.seq}`, peer: Peer = { kind: 'stdio', uid: null }): Connection {
    const c = new Connection(this, input, output, label, this.limits, peer);
    this.connections.add(c);
    c.onClose(() => this.connections.delete(c));
    return c;
  }

  /** Accept connections on a transport address. */
  async listen(a: Exclude<Address, { kind: 'stdio' }>): Promise<net.Server> {
    const srv = await listen(a, (s) => {
      s.on('error', () => {});
      const peer = peerOf(s, a.kind);
      const who = peer.uid === null ? '' : ` uid ${peer.uid}`;
      this.serve(s, s, `${s.remoteAddress ?? 'unix'}!${s.remotePort ?? ++this.seq}${who}`, peer);
    });
    // Other users may reach a Unix socket only where we can tell who they are.
    if (a.kind === 'unix' && peerCredAddon() !== null) chmodSync(a.path, 0o666);
    this.listeners.add(srv);
    return srv;
  }

  /** Stop listening and drop every connection. */
  async close(): Promise<void> {
    this.sweep?.cancel();
    this.sweep = null;
    for (const c of [...this.connections]) c.close();
    await Promise.all([...this.listeners].map((l) => new Promise<void>((r) => l.close(() => r()))));
    this.listeners.clear();
  }
}
