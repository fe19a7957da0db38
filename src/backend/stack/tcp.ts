/**
 * /net/tcp over our own TCP (plan9-net.md §4): connect waits for the
 * handshake and fails with the connection's Plan 9 reason; announce makes a
 * listener whose completed handshakes become conversations offered through
 * `listen` (half-open ones stay in the TCP layer's limbo). The receive
 * window follows what the 9P reader consumes, and a data write waits while
 * the send buffer is full. `hangup` resets, `close` and the last close send
 * FIN; EOF and hangup semantics are Plan 9's.
 */
import { Interrupted, NinepError } from '../../ninep/error.js';
import type { MaybePromise, Signal } from '../../ninep/node.js';
import type { Conv, LocalSpec, Proto, RemoteSpec } from '../../netfs/conv.js';
import type { Ip } from '../../netfs/ipaddr.js';
import type { ProtoDir } from '../../netfs/protodir.js';
import { Eunknownctl } from '../../netfs/protodir.js';
import { Ehungup } from '../../netfs/queue.js';
import type { Stack } from '../../stack/stack.js';
import type { TcpConn } from '../../stack/tcp/conn.js';
import type { TcpListener } from '../../stack/tcp/listener.js';
import { TCP_STAT_NAMES } from '../../stack/tcp/stats.js';
import type { TcpLayer } from '../../stack/tcp/tcp.js';
import type { TcpHandler } from '../../stack/tcp/types.js';
import { fromV4, stackCall, toV4 } from './addr.js';

/** Receive queue bound; the TCP window is what keeps it from being reached. */
const RQ_LIMIT = 8 * 1024 * 1024;
/** Unaccepted calls per listener are bounded by netfs (MAX_INCALLS); the SYN backlog here. */
const SYN_BACKLOG = 128;
const KEEPALIVE_DEFAULT_MS = 120_000;
const KEEPALIVE_MIN_MS = 50;

interface TcpConvState {
  conn: TcpConn | null;
  listener: TcpListener | null;
  /** Writers waiting for room in the send buffer. */
  writable: (() => void)[];
  /** Set when the connection ended for us (reason, or null for an orderly end). */
  ended: boolean;
}

function st(c: Conv): TcpConvState {
  c.ptcl ??= { conn: null, listener: null, writable: [], ended: false } satisfies TcpConvState;
  return c.ptcl as TcpConvState;
}

export class StackTcp implements Proto {
  readonly name = 'tcp';
  readonly dataMode = 'stream' as const;
  readonly rqLimit = RQ_LIMIT;
  dir!: ProtoDir;

  constructor(private readonly stack: Stack, private readonly tcp: TcpLayer, readonly maxConvs = 1024) {}

  isLocal(addr: Ip): boolean {
    return this.stack.isLocal(toV4(addr));
  }

  private now(): number {
    return this.stack.now();
  }

  /** The handler that ties a connection to its conversation. */
  private handler(c: Conv, s: TcpConvState, onOpen?: () => void, onFail?: (reason: string) => void): TcpHandler {
    return {
      onOpen: () => onOpen?.(),
      onData: (data) => {
        c.rq.put(Uint8Array.prototype.slice.call(data));
      },
      onEnd: () => c.rq.hangup(),
      onWritable: () => {
        for (const w of s.writable.splice(0)) w();
      },
      onReset: () => c.rq.close(),
      onClosed: (reason) => {
        s.ended = true;
        if (onFail && reason !== null && c.state === 'Connecting') return onFail(reason);
        // Plan 9: a TCP conversation that reaches Closed has its queues closed.
        if (reason !== null) c.rq.close();
        else c.rq.hangup();
        for (const w of s.writable.splice(0)) w();
      },
    };
  }

  private wire(c: Conv, s: TcpConvState, conn: TcpConn): void {
    s.conn = conn;
    c.laddr = fromV4(conn.localAddr);
    c.lport = conn.localPort;
    c.raddr = fromV4(conn.remoteAddr);
    c.rport = conn.remotePort;
    c.rq.onTake = (n) => conn.consumed(n, this.now());
  }

  connect(c: Conv, remote: RemoteSpec, local: LocalSpec | null, signal: Signal): Promise<void> {
    const s = st(c);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | null): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onAbort = (): void => {
        s.conn?.abort(this.now());
        finish(new Interrupted());
      };
      const h = this.handler(c, s, () => finish(null), (reason) => finish(new NinepError(reason)));
      let conn: TcpConn;
      try {
        conn = stackCall(() => this.tcp.connect({
          ...(local?.addr ? { localAddr: toV4(local.addr) } : {}),
          ...(local?.port ? { localPort: local.port } : {}),
          remoteAddr: toV4(remote.addr),
          remotePort: remote.port,
          handler: h,
          autoConsume: false,
        }));
      } catch (e) {
        return finish(e as Error);
      }
      this.wire(c, s, conn);
      signal.addEventListener('abort', onAbort, { once: true });
      if (conn.state === 'Established') finish(null);
    });
  }

  announce(c: Conv, local: LocalSpec): Promise<void> {
    const s = st(c);
    s.listener = stackCall(() => this.tcp.listen({
      ...(local.addr ? { localAddr: toV4(local.addr) } : {}),
      localPort: local.port,
      backlog: SYN_BACKLOG,
      autoConsume: false,
      onAccept: (conn) => {
        let handler: TcpHandler | null = null;
        this.dir.newCall(c, (nc) => {
          const ns = st(nc);
          this.wire(nc, ns, conn);
          handler = this.handler(nc, ns);
        });
        return handler;
      },
    }));
    c.lport = s.listener.localPort;
    return Promise.resolve();
  }

  ctl(c: Conv, f: string[]): void {
    const s = st(c);
    const now = this.now();
    switch (f[0]) {
      case 'hangup':
        s.conn?.abort(now);
        if (s.listener) {
          s.listener.close();
          s.listener = null;
          this.dir.hangupListeners(c);
        }
        c.rq.close();
        return;
      case 'close':
        s.conn?.close(now);
        c.rq.close();
        return;
      case 'keepalive': {
        if (!s.conn || s.conn.state !== 'Established') throw new NinepError('connection must be in Establised state');
        const ms = f.length > 1 ? Math.max(KEEPALIVE_MIN_MS, Number.parseInt(f[1]!, 10) || KEEPALIVE_DEFAULT_MS) : KEEPALIVE_DEFAULT_MS;
        s.conn.setKeepalive(ms, now);
        return;
      }
      case 'nodelay':
        // Nagle off (on again with `nodelay 0`).
        s.conn?.setNoDelay(f[1] !== '0', now);
        return;
      case 'congestion':
        if (f[1] !== 'newreno' && f[1] !== 'cubic') throw new NinepError('bad arg in system call');
        if (!s.conn) throw new NinepError('bad arg in system call');
        s.conn.setCongestion(f[1]);
        return;
      case 'checksum':
      case 'tcpporthogdefense':
        return;
      default:
        throw new NinepError(Eunknownctl);
    }
  }

  write(c: Conv, data: Uint8Array, signal: Signal): MaybePromise<number> {
    const s = st(c);
    const conn = s.conn;
    if (!conn || s.ended || c.rq.isHungup && conn.state === 'Closed') throw new NinepError(Ehungup);
    let done = conn.write(data, this.now());
    if (done === data.length) return done;
    // The send buffer is full: wait for room, write the rest as it frees.
    return new Promise<number>((resolve, reject) => {
      const more = (): void => {
        if (signal.aborted) return resolve(done);
        if (s.ended) return done > 0 ? resolve(done) : reject(new NinepError(Ehungup));
        done += conn.write(data.subarray(done), this.now());
        if (done === data.length) resolve(done);
        else s.writable.push(more);
      };
      signal.addEventListener('abort', () => {
        const i = s.writable.indexOf(more);
        if (i >= 0) s.writable.splice(i, 1);
        resolve(done);
      }, { once: true });
      s.writable.push(more);
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
    for (const w of s.writable.splice(0)) w();
  }

  status(c: Conv): string {
    const conn = (c.ptcl as TcpConvState | null)?.conn;
    if (!conn) return `${c.state === 'Announced' ? 'Listen' : 'Closed'} qin ${c.rq.length} qout 0 rq 0.0 srtt 0 mdev 0 sst 0 cwin 0 swin 0>>0 rwin 0>>0 qscale 0 timer.start 0 timer.count 0 rerecv 0 katimer.start 0 katimer.count 0\n`;
    const i = conn.info();
    return `${i.state} qin ${c.rq.length} qout ${i.qout} rq ${i.rqSegs}.${i.rqBytes} srtt ${i.srtt} mdev ${i.mdev} sst ${i.sst} cwin ${i.cwin} swin ${i.swin}>>${i.sscale} rwin ${i.rwin}>>${i.rscale} qscale ${i.qscale} timer.start ${i.timerStart} timer.count ${i.timerCount} rerecv ${i.rerecv} katimer.start ${i.katimerStart} katimer.count ${i.katimerCount}\n`;
  }

  stats(): string {
    const s = this.tcp.stats as unknown as Record<string, number>;
    return TCP_STAT_NAMES.map((n) => `${n}: ${s[n] ?? 0}\n`).join('');
  }
}
