/**
 * /net/tcp over our own TCP, with devip.c's and tcp.c's semantics: connect
 * waits for the handshake and fails with the connection's Plan 9 reason
 * (`connection refused`, `ttl exceeded at A.B.C.D`, ...); announce makes a
 * listener whose completed handshakes become conversations offered through
 * `listen` (half-open ones stay in the TCP layer's limbo, and while the
 * queue of calls is full SYNs are left unanswered for the client to
 * retransmit). Every segment of a conversation carries its `ttl` and
 * `tos`; calls start with their announcer's. The receive window follows
 * what the 9P reader consumes, and a data write waits while the send
 * buffer is full (netfs WriteRoom). `hangup` resets, `close` and the last
 * close send FIN, `hangupxmit` sends FIN and goes on receiving (9legacy
 * tcp.c tcpxmitclose); EOF and hangup semantics are Plan 9's.
 */
import { Interrupted, NinepError } from '../../ninep/error.js';
import type { MaybePromise, Signal } from '../../ninep/node.js';
import type { Conv, LocalSpec, Proto, RemoteSpec } from '../../netfs/conv.js';
import { keepaliveMs, tcpNoopVerb } from '../../netfs/tcpctl.js';
import { Ebadarg, Ehungup, Enotestab, Eunknownctl } from '../../netfs/errors.js';
import type { Ip } from '../../netfs/ipaddr.js';
import type { ProtoDir } from '../../netfs/protodir.js';
import { WriteRoom } from '../../netfs/room.js';
import type { Stack } from '../../stack/stack.js';
import type { TcpConn } from '../../stack/tcp/conn.js';
import type { TcpListener } from '../../stack/tcp/listener.js';
import type { TcpLayer } from '../../stack/tcp/tcp.js';
import type { TcpHandler } from '../../stack/tcp/types.js';
import { fromV4, toV4 } from './addr.js';
import { TCP_STAT_NAMES, statsText, tcpStatus } from '../../netfs/status.js';
import { LINKTYPE_RAW } from '../../capture/pcapng.js';
import type { CaptureSource } from '../../netfs/capture.js';
import type { EventSource } from '../../netfs/events.js';
import { tcpEventText } from '../../netfs/events.js';
import { impairText, parseImpair } from '../../netfs/impair.js';
import type { TcpEvent } from '../../stack/tcp/events.js';
import { EventFan, FlowWatch } from './observe.js';
import { conversationCapture, conversationEvents } from './convobs.js';
import { readerBudgets } from '../../netfs/lossy.js';

/** Receive queue bound; the TCP window is what keeps it from being reached. */
const RQ_LIMIT = 8 * 1024 * 1024;
/** Half-open connections per listener (TCP limbo); the calls waiting for listen are bounded by netfs (`backlog`). */
const SYN_BACKLOG = 128;

interface TcpConvState {
  conn: TcpConn | null;
  listener: TcpListener | null;
  /** Writers waiting for room in the send buffer. */
  readonly room: WriteRoom;
  /** Settles the connect in progress (null when none). */
  connecting: ((err: Error | null) => void) | null;
  /** Set when the connection ended for us (reason, or null for an orderly end). */
  ended: boolean;
  /** Captures and impairment of this conversation (on its connection once it has one). */
  readonly watch: FlowWatch;
  /** Readers of N/events (the connection's sink while there are any). */
  readonly fan: EventFan<TcpEvent>;
}

function st(c: Conv): TcpConvState {
  if (c.ptcl === null) {
    const s: TcpConvState = {
      conn: null, listener: null, room: new WriteRoom(), connecting: null, ended: false,
      watch: new FlowWatch(),
      fan: new EventFan(tcpEventText, (sink) => s.conn?.setEvents(sink)),
    };
    c.ptcl = s;
  }
  return c.ptcl as TcpConvState;
}

export class StackTcp implements Proto {
  readonly name = 'tcp';
  readonly dataMode = 'stream' as const;
  readonly rqLimit = RQ_LIMIT;
  dir!: ProtoDir;
  /** The stack's capture and event readers (StackNet shares one among its files). */
  readers = readerBudgets();

  constructor(private readonly stack: Stack, private readonly tcp: TcpLayer, readonly maxConvs = 1024) {}

  isLocal(addr: Ip): boolean {
    return this.stack.isLocal(toV4(addr));
  }

  private now(): number {
    return this.stack.now();
  }

  /** The handler that ties a connection to its conversation. */
  private handler(c: Conv, s: TcpConvState): TcpHandler {
    return {
      onOpen: () => s.connecting?.(null),
      onData: (data) => {
        c.rq.put(Uint8Array.prototype.slice.call(data));
      },
      onEnd: () => c.rq.hangup(),
      onWritable: () => s.room.wake(),
      onReset: () => c.rq.close(),
      onClosed: (reason) => {
        s.ended = true;
        s.room.fail();
        if (reason !== null && s.connecting) return s.connecting(new NinepError(reason));
        // Plan 9: a TCP conversation that reaches Closed has its queues closed.
        if (reason !== null) c.rq.close();
        else c.rq.hangup();
      },
    };
  }

  /** Puts the conversation's observers on its connection (before its SYN, for a connect). */
  private observe(s: TcpConvState, conn: TcpConn): void {
    if (s.conn === conn) return;
    s.conn = conn;
    conn.setEvents(s.fan.active ? s.fan.sink : null);
    s.watch.bind({ hook: () => this.tcp.flowHook(conn), dropIdle: () => this.tcp.dropIdleFlow(conn) });
  }

  private wire(c: Conv, s: TcpConvState, conn: TcpConn): void {
    this.observe(s, conn);
    c.laddr = fromV4(conn.localAddr);
    c.lport = conn.localPort;
    c.raddr = fromV4(conn.remoteAddr);
    c.rport = conn.remotePort;
    c.rq.onTake = (n) => conn.consumed(n, this.now());
  }

  /**
   * The sending side is over (close, hangup, hangupxmit): waiting writers
   * settle now, and a pending connect returns, as after tcp.c's localclose
   * (Fsconnected with no error): the conversation is closed, reads see EOF.
   */
  private sendingOver(s: TcpConvState): void {
    s.room.fail();
    s.connecting?.(null);
  }

  connect(c: Conv, remote: RemoteSpec, local: LocalSpec | null, signal: Signal): Promise<void> {
    const s = st(c);
    return new Promise<void>((resolve, reject) => {
      const finish = (err: Error | null): void => {
        if (s.connecting !== finish) return;
        s.connecting = null;
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onAbort = (): void => {
        s.conn?.abort(this.now());
        finish(new Interrupted());
      };
      s.connecting = finish;
      const conn = this.tcp.connect({
        ...(local?.addr ? { localAddr: toV4(local.addr) } : {}),
        ...(local?.port ? { localPort: local.port } : {}),
        restricted: remote.restricted,
        remoteAddr: toV4(remote.addr),
        remotePort: remote.port,
        handler: this.handler(c, s),
        autoConsume: false,
        ttl: c.ttl,
        tos: c.tos,
        ignoreAdvice: c.ignoreadvice,
        setup: (conn) => this.observe(s, conn),
      });
      this.wire(c, s, conn);
      signal.addEventListener('abort', onAbort, { once: true });
      if (conn.state === 'Established') finish(null);
    }).finally(() => {
      s.connecting = null;
    });
  }

  announce(c: Conv, local: LocalSpec): Promise<void> {
    const s = st(c);
    // A listen took a call: a handshake held for want of room may go on.
    this.dir.onCallTaken = (parent) => (parent.ptcl as TcpConvState | null)?.listener?.roomReturned(this.now());
    s.listener = this.tcp.listen({
      ...(local.addr ? { localAddr: toV4(local.addr) } : {}),
      localPort: local.port,
      backlog: SYN_BACKLOG,
      autoConsume: false,
      ttl: c.ttl,
      tos: c.tos,
      admit: () => this.dir.callRoom(c),
      onAccept: (conn) => {
        let handler: TcpHandler | null = null;
        this.dir.newCall(c, (nc) => {
          nc.ttl = c.ttl;
          nc.tos = c.tos;
          const ns = st(nc);
          ns.watch.inherit(s.watch); // an announcement's impairment is each call's
          this.wire(nc, ns, conn);
          handler = this.handler(nc, ns);
        });
        return handler;
      },
    });
    c.lport = s.listener.localPort;
    return Promise.resolve();
  }

  /** ttl, tos, ignoreadvice (applied to the conversation by netfs): on the connection or listener now. */
  option(c: Conv): void {
    const s = st(c);
    if (s.conn) {
      s.conn.ttl = c.ttl;
      s.conn.tos = c.tos;
      s.conn.ignoreAdvice = c.ignoreadvice;
    }
    if (s.listener) {
      s.listener.ttl = c.ttl;
      s.listener.tos = c.tos;
    }
  }

  ctl(c: Conv, f: string[]): void {
    const s = st(c);
    const now = this.now();
    switch (f[0]) {
      case 'hangup':
        s.conn?.abort(now);
        this.hangupListener(c, s);
        c.rq.close();
        this.sendingOver(s);
        return;
      case 'close':
        s.conn?.close(now);
        c.rq.close();
        this.sendingOver(s);
        return;
      case 'hangupxmit':
        // FIN after the queued data; reads go on until the peer's FIN. tcp.c takes it alone.
        if (f.length !== 1) throw new NinepError(Eunknownctl);
        if (s.conn) {
          s.conn.closeSend(now);
          if (s.conn.state === 'Closed') c.rq.close();
        }
        if (this.hangupListener(c, s)) c.rq.close();
        this.sendingOver(s);
        return;
      case 'keepalive': {
        if (!s.conn || s.conn.state !== 'Established') throw new NinepError(Enotestab);
        const ms = keepaliveMs(f);
        s.conn.setKeepalive(ms, now);
        return;
      }
      case 'nodelay':
        // Nagle off (on again with `nodelay 0`).
        s.conn?.setNoDelay(f[1] !== '0', now);
        return;
      case 'congestion':
        if (f[1] !== 'newreno' && f[1] !== 'cubic') throw new NinepError(Ebadarg);
        if (!s.conn) throw new NinepError(Ebadarg);
        s.conn.setCongestion(f[1]);
        return;
      case 'impair': {
        const req = parseImpair(f.slice(1));
        if (typeof req === 'string') throw new NinepError(req);
        s.watch.impair(req, this.stack.rng);
        return;
      }
      default:
        if (tcpNoopVerb(f)) return;
        throw new NinepError(Eunknownctl);
    }
  }

  /** Stops an announcement: pending listens fail with `listen hungup`. Returns whether there was one. */
  private hangupListener(c: Conv, s: TcpConvState): boolean {
    if (!s.listener) return false;
    s.listener.close();
    s.listener = null;
    this.dir.hangupListeners(c);
    return true;
  }

  write(c: Conv, data: Uint8Array, signal: Signal): MaybePromise<number> {
    const s = st(c);
    const conn = s.conn;
    if (!conn || s.ended || conn.sendClosed) throw new NinepError(Ehungup);
    // What fits now; the rest as the send buffer frees (onWritable), until close or hangup.
    return s.room.writeAll(data.length, signal, (done) => {
      if (conn.sendClosed) {
        s.room.fail();
        return 0;
      }
      return conn.write(data.subarray(done), this.now());
    });
  }

  close(c: Conv): void {
    const s = c.ptcl as TcpConvState | null;
    if (!s) return;
    // Plan 9: FIN now; anything that still arrives is discarded.
    s.conn?.setAutoConsume(true);
    s.conn?.close(this.now());
    s.listener?.close();
    s.listener = null;
    this.sendingOver(s);
  }

  status(c: Conv): string {
    const s = c.ptcl as TcpConvState | null;
    const conn = s?.conn;
    const impaired = s ? impairText(s.watch.impairments()) : '';
    if (!conn) return tcpStatus(c.state === 'Announced' ? 'Listen' : 'Closed', c.rq.length) + impaired;
    const i = conn.info();
    return tcpStatus(i.state, c.rq.length, i) + impaired;
  }

  capture(c: Conv): CaptureSource {
    return conversationCapture(c, `tcp/${c.index}`, LINKTYPE_RAW, this.stack, st(c).watch, this.readers);
  }

  events(c: Conv): EventSource {
    return conversationEvents(c, st(c).fan, this.readers);
  }

  stats(): string {
    const s = this.tcp.stats;
    return statsText(TCP_STAT_NAMES, (n) => s[n]);
  }
}
