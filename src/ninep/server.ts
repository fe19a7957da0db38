/**
 * A 9P2000/9P2000.u server: serves a tree (one per attach name) to any
 * number of connections over TCP, Unix sockets or a stdin/stdout pair.
 */
import type * as net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { Connection, defaultLimits } from './connection.js';
import type { ConnectionHost, ConnectionLimits } from './connection.js';
import type { Node } from './node.js';
import { listen } from './transport.js';
import type { Address } from './transport.js';

export interface ServerOptions {
  /** The tree for an attach name and user, or null when the name is unknown. */
  root(aname: string, uname: string): Node | null;
  limits?: Partial<ConnectionLimits>;
  log?: (line: string) => void;
  /** Print every 9P message. */
  trace?: boolean;
}

export class Server implements ConnectionHost {
  readonly authError = '9net: authentication not required';
  readonly trace: boolean;
  readonly connections = new Set<Connection>();
  private readonly listeners = new Set<net.Server>();
  private readonly limits: ConnectionLimits;
  private seq = 0;

  constructor(private readonly opts: ServerOptions) {
    this.trace = opts.trace ?? false;
    this.limits = { ...defaultLimits, ...opts.limits };
  }

  root(aname: string, uname: string): Node | null {
    return this.opts.root(aname, uname);
  }

  log(line: string): void {
    (this.opts.log ?? ((l: string) => console.error(l)))(line);
  }

  /** Serve one client over a stream pair (a socket is both). */
  serve(input: Readable, output: Writable = input as unknown as Writable, label = `conn${++this.seq}`): Connection {
    const c = new Connection(this, input, output, label, this.limits);
    this.connections.add(c);
    c.onClose(() => this.connections.delete(c));
    return c;
  }

  /** Accept connections on a transport address. */
  async listen(a: Exclude<Address, { kind: 'stdio' }>): Promise<net.Server> {
    const srv = await listen(a, (s) => {
      s.on('error', () => {});
      this.serve(s, s, `${s.remoteAddress ?? 'unix'}!${s.remotePort ?? ++this.seq}`);
    });
    this.listeners.add(srv);
    return srv;
  }

  /** Stop listening and drop every connection. */
  async close(): Promise<void> {
    for (const c of [...this.connections]) c.close();
    await Promise.all([...this.listeners].map((l) => new Promise<void>((r) => l.close(() => r()))));
    this.listeners.clear();
  }
}
