/**
 * /net/tcp on the host's sockets (9/ip/tcp.c).
 *
 * connect waits for the host connect; its errors become Plan 9's
 * (netfs/errors.ts), and a failed connect closes the conversation as
 * tcp.c's localclose does: reads give EOF at once. announce binds and
 * listens (dual-stack on ::, with a kernel listen backlog of
 * KERNEL_BACKLOG: the queue that `backlog` bounds is netfs's, and calls
 * beyond it wait here, so the kernel must never be what drops a SYN), and
 * every accepted socket becomes a Connected conversation offered through
 * `listen`.
 *
 * Calls beyond the announcement's queue are not reset: Node accepts every
 * connection the kernel completes and has no way to stop accepting, so a
 * call netfs has no room for (ProtoDir.callRoom) waits, paused, in the
 * announcement's list of waiting calls — the kernel's accept queue moved
 * into this process: the connection is established, its data waits in the
 * kernel's receive buffer — and is handed to netfs when a listen takes a
 * call or a conversation is freed (../callroom.ts). Only beyond
 * MAX_WAITING_CALLS is a call reset; closing the announcement resets the
 * calls still waiting, as the kernel does for its unaccepted ones.
 *
 * Reads follow Plan 9: a peer FIN gives EOF after the queued data, a reset
 * discards unread data. A write waits while the socket's buffer is over
 * SEND_QUEUE (flow control back to the 9P writer; netfs/room.ts).
 * `hangup` sends RST; `hangupxmit` (tcp.c tcpxmitclose) sends FIN and
 * keeps reading until the peer's FIN (Finwait1, or Last_ack after the
 * peer's FIN), later writes fail with `i/o on hungup channel`; the last
 * close sends FIN.
 */
import type { Signal } from '../../ninep/node.js';
import * as net from 'node:net';
import { Interrupted, NinepError } from '../../ninep/error.js';
import { MAX_BACKLOG } from '../../netfs/conv.js';
import { keepaliveMs, tcpNoopVerb } from '../../netfs/tcpctl.js';
import type { Conv, LocalSpec, Proto, RemoteSpec } from '../../netfs/conv.js';
import { Ehungup, Enoports, Enotestab, Erefused, toNetError } from '../../netfs/errors.js';
import { fromNodeAddress, isV4, IPnoaddr, toNodeAddress } from '../../netfs/ipaddr.js';
import type { Ip } from '../../netfs/ipaddr.js';
import type { ProtoDir } from '../../netfs/protodir.js';
import { Eunknownctl } from '../../netfs/protodir.js';
import { WriteRoom } from '../../netfs/room.js';
import { CallRoom } from '../callroom.js';
import type { HostInterfaces } from './interfaces.js';
import { TCP_STAT_NAMES, statsText, tcpStatus } from '../../netfs/status.js';

/** Receive queue bound per conversation: the socket is paused beyond it. */
const RQ_LIMIT = 4 * 1024 * 1024;
/** Bytes a conversation may have queued on its socket before a data write waits. */
export const SEND_QUEUE = 4 * 1024 * 1024;
/** How long a closed socket may linger in FIN exchange before it is destroyed. */
const LINGER_MS = 30_000;
/** Accepted calls one announcement holds while netfs has no room for them; beyond, they are reset. */
export const MAX_WAITING_CALLS = MAX_BACKLOG;
/** The kernel's listen backlog (capped by net.core.somaxconn): room for a burst until Node accepts it. */
const KERNEL_BACKLOG = 1024;

/** 9front's names (tcp.c tcpstates) for what we can tell of the host socket. */
type TcpState = 'Closed' | 'Syn_sent' | 'Established' | 'Finwait1' | 'Close_wait' | 'Last_ack' | 'Listen';

interface TcpSock {
  sock: net.Socket | null;
  server: net.Server | null;
  tcpState: TcpState;
  connecting: net.Socket | null;
  /** An announcement's accepted calls, paused, waiting for room in its queue (≤ MAX_WAITING_CALLS). */
  calls: net.Socket[];
  /** Writers waiting for the socket to drain. */
  room: WriteRoom;
}

function ptcl(c: Conv): TcpSock {
  if (!c.ptcl) {
    c.ptcl = { sock: null, server: null, tcpState: 'Closed', connecting: null, calls: [], room: new WriteRoom() } satisfies TcpSock;
  }
  return c.ptcl as TcpSock;
}

export class HostTcp implements Proto {
  readonly name = 'tcp';
  readonly dataMode = 'stream' as const;
  readonly rqLimit = RQ_LIMIT;
  /** Run as root, the host's privileged ports are eve's only (netfs Proto). */
  readonly privilegedPorts = process.getuid?.() === 0;
  dir!: ProtoDir;
  private readonly counters = new Map<string, number>();
  private readonly waitingCalls = new CallRoom();
  /** Sockets and listeners alive (for leak checks). */
  liveSockets = 0;
  liveServers = 0;

  constructor(readonly maxConvs: number, private readonly ifcs: HostInterfaces) {}

  isLocal(addr: Ip): boolean {
    return this.ifcs.isLocal(addr);
  }

  private count(name: (typeof TCP_STAT_NAMES)[number], n = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + n);
  }

  connect(c: Conv, remote: RemoteSpec, local: LocalSpec | null, signal: Signal): Promise<void> {
    const p = ptcl(c);
    p.tcpState = 'Syn_sent';
    this.count('ActiveOpens');
    // null: the pending connect was hung up (see onClose).
    const tryPort = (localPort: number | undefined): Promise<net.Socket | null> =>
      new Promise((resolve, reject) => {
        const opts: net.TcpNetConnectOpts = {
          host: toNodeAddress(remote.addr),
          port: remote.port,
          allowHalfOpen: true,
          noDelay: true,
        };
        if (local?.addr) opts.localAddress = toNodeAddress(local.addr);
        if (localPort) opts.localPort = localPort;
        if (!isV4(remote.addr)) opts.family = 6;
        const s = net.connect(opts);
        this.liveSockets++;
        s.once('close', () => this.liveSockets--);
        p.connecting = s;
        const onAbort = (): void => {
          s.destroy();
          reject(new Interrupted());
        };
        signal.addEventListener('abort', onAbort, { once: true });
        // `hangup` destroyed the pending connect: as in 9front's localclose
        // (Fsconnected with no reason) the connect returns and the
        // conversation is closed.
        const onClose = (): void => {
          signal.removeEventListener('abort', onAbort);
          resolve(null);
        };
        s.once('close', onClose);
        s.once('connect', () => {
          signal.removeEventListener('abort', onAbort);
          s.off('close', onClose);
          s.removeAllListeners('error');
          resolve(s);
        });
        s.once('error', (e) => {
          signal.removeEventListener('abort', onAbort);
          s.off('close', onClose);
          s.destroy();
          reject(e);
        });
      });
    const attempt = async (): Promise<net.Socket | null> => {
      // Node refuses port 0 outright; the peer's stack would answer RST.
      if (remote.port === 0) throw new NinepError(Erefused);
      if (local?.port) return tryPort(local.port);
      if (!remote.restricted) return tryPort(undefined);
      // !r: a restricted local port, 600–1023, first free.
      for (let port = 600; port <= 1023; port++) {
        try {
          return await tryPort(port);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'EADDRINUSE' && code !== 'EADDRNOTAVAIL') throw e;
        }
      }
      throw new NinepError(Enoports);
    };
    return attempt().then(
      (s) => {
        p.connecting = null;
        if (s === null) return;
        if (c.ptcl !== p) {
          // The conversation was closed while connecting.
          s.destroy();
          throw new NinepError(Ehungup);
        }
        this.attach(c, s);
      },
      (e: unknown) => {
        p.connecting = null;
        p.tcpState = 'Closed';
        // tcp.c localclose: both queues hang up, and Closed discards what is queued.
        if (c.ptcl === p) c.rq.close();
        throw toNetError(e);
      },
    );
  }

  /** Wire a connected socket to a conversation. */
  private attach(c: Conv, s: net.Socket): void {
    const p = ptcl(c);
    p.sock = s;
    p.tcpState = 'Established';
    this.count('CurrEstab');
    c.laddr = fromNodeAddress(s.localAddress ?? '') ?? IPnoaddr;
    c.lport = s.localPort ?? 0;
    c.raddr = fromNodeAddress(s.remoteAddress ?? '') ?? IPnoaddr;
    c.rport = s.remotePort ?? 0;
    s.setNoDelay(true);
    s.on('data', (chunk: Buffer) => {
      if (!c.rq.put(chunk)) s.pause();
    });
    c.rq.onDrain = () => s.resume();
    // A call's socket was accepted paused.
    s.resume();
    s.on('drain', () => p.room.wake());
    s.once('close', () => p.room.fail());
    // After close or hangup (p.sock no longer s) the socket may linger;
    // its events must not touch the conversation, which may be recycled.
    s.on('end', () => {
      if (p.sock !== s) return;
      // Peer FIN: queued data, then EOF. Writing is still allowed (Close_wait);
      // after our hangupxmit the socket closes next.
      if (p.tcpState === 'Established') p.tcpState = 'Close_wait';
      c.rq.hangup();
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (p.sock !== s) return;
      if (e.code === 'ECONNRESET') this.count('EstabResets');
      // A reset: unread data is discarded, readers see EOF.
      c.rq.close();
    });
    s.on('close', () => {
      if (p.sock === s) {
        p.tcpState = 'Closed';
        this.count('CurrEstab', -1);
        c.rq.hangup();
        p.sock = null;
      }
    });
  }

  announce(c: Conv, local: LocalSpec, signal: Signal): Promise<void> {
    const p = ptcl(c);
    return new Promise<void>((resolve, reject) => {
      const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
      this.liveServers++;
      server.once('close', () => this.liveServers--);
      const host = local.addr ? toNodeAddress(local.addr) : '::';
      const onAbort = (): void => {
        server.close();
        reject(new Interrupted());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      server.once('error', (e) => {
        signal.removeEventListener('abort', onAbort);
        server.close();
        reject(toNetError(e));
      });
      server.listen({ host, port: local.port, ipv6Only: false, backlog: KERNEL_BACKLOG }, () => {
        signal.removeEventListener('abort', onAbort);
        server.removeAllListeners('error');
        server.on('error', () => {});
        const a = server.address() as net.AddressInfo;
        p.server = server;
        p.tcpState = 'Listen';
        c.lport = a.port;
        server.on('connection', (s) => this.incoming(c, p, s));
        resolve();
      });
    });
  }

  /** A call the kernel completed: it waits in the announcement's list until netfs has room. */
  private incoming(parent: Conv, p: TcpSock, s: net.Socket): void {
    this.liveSockets++;
    s.once('close', () => this.liveSockets--);
    s.on('error', () => {});
    // A connection accepted just before the announcement was closed.
    if (parent.ptcl !== p || !p.server || p.calls.length >= MAX_WAITING_CALLS) {
      this.count('OutRsts');
      s.resetAndDestroy();
      return;
    }
    p.calls.push(s);
    s.once('close', () => {
      const i = p.calls.indexOf(s);
      if (i >= 0) p.calls.splice(i, 1);
    });
    this.offer(parent);
  }

  /** Hand an announcement's waiting calls to netfs while it has room for them. */
  private offer(parent: Conv): void {
    const p = parent.ptcl as TcpSock | null;
    if (!p?.server) {
      this.waitingCalls.done(parent);
      return;
    }
    while (p.calls.length > 0 && this.dir.callRoom(parent)) {
      const s = p.calls.shift()!;
      this.dir.newCall(parent, (c) => {
        this.count('PassiveOpens');
        this.attach(c, s);
      });
    }
    if (p.calls.length === 0) this.waitingCalls.done(parent);
    else this.waitingCalls.wait(parent, () => this.offer(parent));
  }

  /** A listen took one of `parent`'s calls (ProtoDir.onCallTaken). */
  callTaken(parent: Conv): void {
    this.waitingCalls.wake(parent);
  }

  /** Generic verbs: a larger `backlog` may let waiting calls in. */
  option(c: Conv, f: string[]): void {
    if (f[0] === 'backlog') this.waitingCalls.wake(c);
  }

  /** Reset the calls still waiting (the kernel resets unaccepted ones when a listener closes). */
  private dropCalls(c: Conv, p: TcpSock): void {
    this.waitingCalls.done(c);
    for (const s of p.calls.splice(0)) s.resetAndDestroy();
  }

  ctl(c: Conv, f: string[]): void {
    const p = ptcl(c);
    switch (f[0]) {
      case 'hangup':
        this.hangup(c);
        return;
      case 'hangupxmit':
        this.hangupxmit(c);
        return;
      case 'close':
        this.close(c);
        c.rq.close();
        return;
      case 'keepalive': {
        if (!p.sock || p.tcpState !== 'Established') throw new NinepError(Enotestab);
        const ms = keepaliveMs(f);
        p.sock.setKeepAlive(true, ms);
        return;
      }
      default:
        if (tcpNoopVerb(f)) return;
        throw new NinepError(Eunknownctl);
    }
  }

  /** Abortive close: RST, unread data discarded, listens woken. */
  private hangup(c: Conv): void {
    const p = ptcl(c);
    if (p.sock) {
      this.count('OutRsts');
      const s = p.sock;
      p.sock = null;
      if (p.tcpState !== 'Closed') this.count('CurrEstab', -1);
      s.resetAndDestroy();
    }
    if (p.server) {
      p.server.close();
      p.server = null;
      this.dropCalls(c, p);
      this.dir.hangupListeners(c);
    }
    p.connecting?.destroy();
    p.tcpState = 'Closed';
    c.rq.close();
  }

  /**
   * Half close (tcp.c tcpxmitclose): the write side hangs up and FIN is
   * sent; reads go on until the peer's FIN. In Listen, Syn_sent or Closed
   * it closes the conversation (localclose), as hangup does there.
   */
  private hangupxmit(c: Conv): void {
    const p = ptcl(c);
    const s = p.sock;
    if (s && (p.tcpState === 'Established' || p.tcpState === 'Close_wait')) {
      p.tcpState = p.tcpState === 'Established' ? 'Finwait1' : 'Last_ack';
      s.end();
      // Writers waiting for room return: their data is queued before the FIN.
      p.room.fail();
      return;
    }
    if (p.tcpState === 'Finwait1' || p.tcpState === 'Last_ack') return;
    this.hangup(c);
  }

  write(c: Conv, data: Uint8Array, signal: Signal): number | Promise<number> {
    return this.writev(c, [data], signal);
  }

  /** One data write in pieces: one corked socket write, no copy. */
  writev(c: Conv, parts: Uint8Array[], signal: Signal): number | Promise<number> {
    const p = ptcl(c);
    const s = p.sock;
    if (!s || s.destroyed || !s.writable) throw new NinepError(Ehungup);
    let n = 0;
    if (parts.length === 1) {
      s.write(parts[0]!);
      n = parts[0]!.length;
    } else {
      s.cork();
      for (const part of parts) {
        s.write(part);
        n += part.length;
      }
      s.uncork();
    }
    // The data is queued (committed) either way; the writer waits only while
    // the socket holds more than SEND_QUEUE bytes (flow control back to 9P),
    // until it drains, closes, or the request is flushed.
    if (s.writableLength <= SEND_QUEUE) return n;
    return p.room.wait(signal).then(() => n, () => n);
  }

  /** A freed conversation may be what a waiting call needs. */
  freed(): void {
    this.waitingCalls.freed();
  }

  /** Last close: FIN, then discard whatever still arrives. */
  close(c: Conv): void {
    const p = c.ptcl as TcpSock | null;
    if (!p) return;
    p.connecting?.destroy();
    if (p.server) {
      p.server.close();
      p.server = null;
      this.dropCalls(c, p);
    }
    p.room.fail();
    const s = p.sock;
    if (s) {
      p.sock = null;
      if (p.tcpState !== 'Closed') this.count('CurrEstab', -1);
      s.removeAllListeners('data');
      s.on('data', () => {});
      s.resume();
      s.end();
      s.setTimeout(LINGER_MS, () => s.destroy());
      s.once('end', () => s.destroy());
    }
    p.tcpState = 'Closed';
  }

  status(c: Conv): string {
    const p = c.ptcl as TcpSock | null;
    const st = p ? p.tcpState : 'Closed';
    const qout = p?.sock?.writableLength ?? 0;
    return tcpStatus(st, c.rq.length, { qout });
  }

  stats(): string {
    this.counters.set('MaxConn', this.maxConvs);
    return statsText(TCP_STAT_NAMES, (n) => this.counters.get(n));
  }
}
