/**
 * /net/tcp and /net/udp carried by another server's /net (transport
 * stacking): the host-socket backend with a lower /net in place of host
 * sockets.
 *
 * Each upper conversation maps to one lower conversation. The lower one is
 * opened (from the lower `clone`) the first time the upper one needs it: at
 * `connect`, `announce`, or the first protocol ctl verb; a conversation that
 * is cloned and closed unused costs the lower server nothing. The generic
 * layer (ProtoDir) parses and checks ctl messages as devip does; they are
 * then written to the lower ctl again as Plan 9 text (`connect A!P[!r] [L]`,
 * `announce [A!]P`, protocol verbs re-quoted as they came), so the lower
 * server's answers and errors reach the upper client verbatim, and a
 * blocking connect blocks (and is flushed) at the lower server.
 * `ttl`, `tos` and `ignoreadvice` given before the lower conversation
 * exists are replayed when it is opened, later ones are forwarded
 * (Proto.option); `backlog` is ours and stays here (a Plan 9 lower server
 * does not know it). `hangup` (and TCP `close`) take effect in the upper
 * conversation first — Plan 9's never fail — and are then forwarded.
 * TCP `hangupxmit` is forwarded first (the lower server may not know it);
 * then the upper stops writing (Finwait1; after the peer's FIN, Closed)
 * and keeps reading until the lower EOF; on a conversation that is not
 * connected it ends the conversation as `hangup` does (tcp.c
 * tcpxmitclose). A connect that fails, or is flushed, closes the upper
 * receive side (tcp.c localclose): reads give EOF at once.
 *
 * Data: one Tread is kept outstanding on the lower `data` (a pump) and its
 * results go into the upper receive queue; in stream mode the pump waits
 * while the upper queue is over its bound, so a slow upper reader closes
 * the lower (and the remote TCP) window; datagrams that do not fit are
 * dropped, as Plan 9's UDP does. A 0-byte TCP read is the lower EOF: the
 * lower `status` then tells a FIN (`Close_wait`: queued data stays
 * readable) from a reset or hangup (`Closed`: unread data discarded), as
 * §4.6 wants; after our `hangupxmit` it is always the peer's FIN (the
 * lower conversation is Closed once both sides are done, and the reply
 * must stay readable). A failed lower read hangs the upper queue up with
 * the lower reason (`port unreachable` for UDP advice). Upper data writes are lower
 * data writes, so a full lower send queue blocks the upper writer; writes
 * longer than the lower iounit are split (as devmnt does) and kept in
 * order.
 *
 * Announcements: an announced upper conversation keeps one open of the
 * lower `N/listen` outstanding while it has room for one more call
 * (ProtoDir.callRoom: its backlog and a free conversation); each call it
 * yields becomes an upper call through ProtoDir.newCall. While there is no
 * room, further calls wait at the lower server (in its queue, and below it
 * in its kernel's), and the lower listen is opened again when a listen
 * takes a call, `backlog` is raised or a conversation is freed
 * (../callroom.ts). The upper `listen` therefore blocks and is flushed in
 * the upper server, as for any backend. Calls are taken one at a time;
 * after MAX_BAD_CALLS calls in a row that fail on their own (a misbehaving
 * lower server) the announcement is hung up.
 *
 * Bounds: upper receive queues (TCP 2 MiB, then the pump waits; UDP
 * 512 KiB, then datagrams are dropped); one outstanding lower read per
 * conversation plus one listen per announcement; small lower files are
 * read with one 256-byte read; lower connections as in lower.ts.
 *
 * `local`, `remote`: read from the lower conversation when it connects,
 * announces or arrives. `status`: the upper's own view, in the lower
 * protocol's format: its first word is the state as the upper has seen it
 * (TCP: Syn_sent, Established, Finwait1, Close_wait, Listen, Closed;
 * UDP: Open, Closed), the queue sizes are the upper queues'. `stats`:
 * the upper's own counters.
 *
 * When the lower connection dies every conversation on it is hung up:
 * queued data stays readable, then reads give EOF (0 bytes ×3, then
 * `i/o on hungup channel`), writes and ctl writes fail with
 * `i/o on hungup channel`, pending listens fail with `listen hungup`.
 */
import type { File } from '../../ninep/client.js';
import { Interrupted, NinepError } from '../../ninep/error.js';
import type { MaybePromise, Signal } from '../../ninep/node.js';
import { ORDWR, OREAD } from '../../ninep/types.js';
import type { Conv, LocalSpec, Proto, RemoteSpec } from '../../netfs/conv.js';
import { formatIp, IPnoaddr, parseIp } from '../../netfs/ipaddr.js';
import type { Ip } from '../../netfs/ipaddr.js';
import type { ProtoDir } from '../../netfs/protodir.js';
import { Ehungup } from '../../netfs/queue.js';
import { abortable, asNinep, linked } from './lower.js';
import type { Lower, LowerPool, Member } from './lower.js';
import { CallRoom } from '../callroom.js';
import { TCP_STAT_NAMES, UDP_STAT_NAMES, statsText, tcpStatus, udpStatus } from '../../netfs/status.js';
import type { UdpStatName } from '../../netfs/status.js';

/** Upper receive queue bound for TCP: the pump pauses beyond it. */
const TCP_RQ_LIMIT = 2 * 1024 * 1024;
/** Upper receive queue bound for UDP (Plan 9's); excess datagrams are dropped. */
const UDP_RQ_LIMIT = 512 * 1024;
/** Load units reserved on a lower connection per conversation (the data pump and a listen). */
const CONV_LOAD = 2;
/** Bytes read from the small lower files (ctl number, local, remote, status). */
const SMALL_READ = 256;
/** Calls in a row that go wrong on their own before an announcement gives up (a misbehaving lower). */
const MAX_BAD_CALLS = 16;

type TcpStat = (typeof TCP_STAT_NAMES)[number];

export type OverProtoName = 'tcp' | 'udp';

/** One upper conversation's lower side. */
class OverConv implements Member {
  /** Where the lower ctl fid lives. */
  lower: Lower | null = null;
  ctl: File | null = null;
  /** The lower conversation directory, e.g. /tcp/7. */
  dir = '';
  opening: Promise<void> | null = null;
  /** Where the lower data fid (and the pump's Tread) lives. */
  dataLower: Lower | null = null;
  data: File | null = null;
  /** Aborted when the conversation closes: flushes the pump's read and the listen. */
  readonly abort = new AbortController();
  /** TCP state word for status. */
  state = 'Closed';
  closed = false;
  /** The lower connection died. */
  dead = false;
  /** Counted in CurrEstab. */
  estab = false;
  /** `hangup` or `close` was written: a connect finishing later does not revive it. */
  ended = false;
  /** `hangupxmit` was written: no more writes, and the lower EOF is the peer's FIN. */
  xmitClosed = false;
  listening = false;
  /** The last of a run of writes that must stay in order behind a split one. */
  writeTail: Promise<void> | null = null;
  /** Load units charged, to give back. */
  readonly charges: { lower: Lower; n: number }[] = [];

  constructor(readonly c: Conv, private readonly proto: OverProto) {}

  charge(lower: Lower, n: number): void {
    lower.load += n;
    lower.members.add(this);
    this.charges.push({ lower, n });
  }

  release(): void {
    for (const { lower, n } of this.charges.splice(0)) {
      lower.load -= n;
      lower.members.delete(this);
    }
  }

  /** This conversation still owns `c` (not closed, not recycled). */
  get live(): boolean {
    return !this.closed && this.c.ptcl === this;
  }

  lowerDied(): void {
    this.proto.died(this);
  }
}

export class OverProto implements Proto {
  readonly dataMode: 'stream' | 'datagram';
  readonly rqLimit: number;
  dir!: ProtoDir;
  private readonly counters = new Map<TcpStat, number>();
  private inDatagrams = 0;
  private outDatagrams = 0;
  private inErrors = 0;
  private readonly waitingCalls = new CallRoom();
  /** Bytes carried each way (not in the Plan 9 stats format; for the owner of the backend). */
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    readonly name: OverProtoName,
    readonly maxConvs: number,
    private readonly pool: LowerPool,
    /** The lower /net's path on the lower server ('' when its root is the /net). */
    private readonly prefix = '',
    private readonly log: (line: string) => void = () => {},
  ) {
    this.dataMode = name === 'tcp' ? 'stream' : 'datagram';
    this.rqLimit = name === 'tcp' ? TCP_RQ_LIMIT : UDP_RQ_LIMIT;
  }

  /** The lower server decides what is local (it answers `not a local IP address`). */
  isLocal(_addr: Ip): boolean {
    return true;
  }

  private count(name: TcpStat, n = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + n);
  }

  private st(c: Conv): OverConv {
    if (!c.ptcl) c.ptcl = new OverConv(c, this);
    return c.ptcl as OverConv;
  }

  private setEstab(st: OverConv, on: boolean): void {
    if (st.estab === on) return;
    st.estab = on;
    this.count('CurrEstab', on ? 1 : -1);
  }

  // ---- the lower conversation ----

  /** Open the lower conversation if it is not open yet. */
  private async ensureLower(st: OverConv, signal: Signal): Promise<void> {
    if (st.dead) throw new NinepError(Ehungup);
    if (st.ctl) return;
    if (!st.opening) {
      const p = this.openLower(st);
      st.opening = p;
      const clear = (): void => {
        if (st.opening === p) st.opening = null;
      };
      p.then(clear, clear);
    }
    await abortable(st.opening, signal);
    if (st.dead || !st.ctl) throw new NinepError(Ehungup);
  }

  private async openLower(st: OverConv): Promise<void> {
    const lower = await this.pool.pick(CONV_LOAD);
    let ctl: File;
    try {
      ctl = await lower.client.open(`${this.prefix}/${this.name}/clone`, ORDWR);
    } catch (e) {
      throw asNinep(e);
    }
    let n: string;
    try {
      n = (await ctl.read(SMALL_READ, undefined, 0n)).toString().trim();
      if (!/^\d+$/.test(n)) throw new NinepError('i/o error');
    } catch (e) {
      void ctl.close();
      throw asNinep(e);
    }
    if (!st.live || lower.dead !== null) {
      void ctl.close();
      throw new NinepError(Ehungup);
    }
    st.lower = lower;
    st.ctl = ctl;
    st.dir = `${this.prefix}/${this.name}/${n}`;
    st.charge(lower, CONV_LOAD);
    // Generic options set before the lower conversation existed.
    const c = st.c;
    const replay: string[] = [];
    if (c.ttl !== 255) replay.push(`ttl ${c.ttl}`);
    if (c.tos !== 0) replay.push(`tos ${c.tos}`);
    if (c.ignoreadvice) replay.push('ignoreadvice');
    for (const m of replay) await ctl.write(m).catch((e: unknown) => { throw asNinep(e); });
  }

  /** Write one ctl message to the lower conversation; its errors are the upper's. */
  private async lowerCtl(st: OverConv, text: string, signal: Signal): Promise<void> {
    const ctl = st.ctl;
    if (!ctl || st.dead) throw new NinepError(Ehungup);
    try {
      await linked(signal, (s) => ctl.write(text, s));
    } catch (e) {
      throw asNinep(e);
    }
  }

  /** Open the lower data file on a connection with room, and start the pump. */
  private async startData(dir: string, ctlLower: Lower, signal?: Signal): Promise<{ data: File; lower: Lower }> {
    const lower = await this.pool.pick(1, signal, ctlLower);
    try {
      const data = await linked(signal, (s) => lower.client.open(`${dir}/data`, ORDWR, s));
      return { data, lower };
    } catch (e) {
      throw asNinep(e);
    }
  }

  private attachData(st: OverConv, data: File, lower: Lower, charge: boolean): void {
    st.data = data;
    st.dataLower = lower;
    if (charge) st.charge(lower, 1);
    else lower.members.add(st);
    void this.pump(st, data);
  }

  // ---- connect and announce ----

  async connect(c: Conv, remote: RemoteSpec, local: LocalSpec | null, signal: Signal): Promise<void> {
    const st = this.st(c);
    if (this.name === 'tcp') {
      this.count('ActiveOpens');
      st.state = 'Syn_sent';
    }
    const msg = `connect ${formatRemote(remote)}${local ? ` ${formatLocal(local)}` : ''}`;
    try {
      await this.ensureLower(st, signal);
      await this.lowerCtl(st, msg, signal);
      const lower = st.lower!;
      const [la, ra] = await Promise.all([
        this.readAddr(lower, `${st.dir}/local`),
        this.readAddr(lower, `${st.dir}/remote`),
      ]);
      // Open the data file in the lower conversation's connection (its load is reserved there).
      const data = await this.openLowerData(st, lower, signal);
      [c.laddr, c.lport] = la;
      [c.raddr, c.rport] = ra;
      this.attachData(st, data, lower, false);
      if (this.name === 'tcp' && !st.ended) {
        st.state = 'Established';
        this.setEstab(st, true);
      }
      this.log(`${c.owner} ${this.name}/${c.index} ${msg} (lower ${st.dir})`);
    } catch (e) {
      if (st.live && this.name === 'tcp') {
        if (st.state === 'Syn_sent') st.state = 'Closed';
        // tcp.c localclose: both queues hang up; Closed discards what is queued.
        c.rq.close();
      }
      throw asNinep(e);
    }
  }

  /** Open the lower conversation's data file; fails if our conversation went away meanwhile. */
  private async openLowerData(st: OverConv, lower: Lower, signal: Signal): Promise<File> {
    let data: File;
    try {
      data = await linked(signal, (s) => lower.client.open(`${st.dir}/data`, ORDWR, s));
    } catch (e) {
      throw asNinep(e);
    }
    if (!st.live || st.dead) {
      void data.close();
      throw new NinepError(Ehungup);
    }
    return data;
  }

  async announce(c: Conv, local: LocalSpec, signal: Signal): Promise<void> {
    const st = this.st(c);
    const msg = `announce ${formatLocal(local)}`;
    await this.ensureLower(st, signal);
    await this.lowerCtl(st, msg, signal);
    const lower = st.lower!;
    const la = await this.readAddr(lower, `${st.dir}/local`);
    if (!st.live || st.dead) throw new NinepError(Ehungup);
    [c.laddr, c.lport] = la;
    if (this.name === 'tcp') st.state = 'Listen';
    else {
      // UDP: in `headers` mode the announcement itself reads every datagram.
      const data = await this.openLowerData(st, lower, signal);
      this.attachData(st, data, lower, false);
    }
    st.listening = true;
    void this.listenLoop(st, lower);
    this.log(`${c.owner} ${this.name}/${c.index} ${msg} (lower ${st.dir})`);
  }

  /** `addr!port\n` of a lower conversation. */
  private async readAddr(lower: Lower, path: string): Promise<[Ip, number]> {
    const t = (await this.readSmall(lower, path)).trim();
    const i = t.lastIndexOf('!');
    const ip = i >= 0 ? parseIp(t.slice(0, i)) : null;
    const port = i >= 0 ? Number(t.slice(i + 1)) : 0;
    return [ip ?? IPnoaddr, Number.isInteger(port) && port >= 0 && port <= 65535 ? port : 0];
  }

  private async readSmall(lower: Lower, path: string): Promise<string> {
    let f: File;
    try {
      f = await lower.client.open(path, OREAD);
    } catch (e) {
      throw asNinep(e);
    }
    try {
      return (await f.read(SMALL_READ, undefined, 0n)).toString();
    } catch (e) {
      throw asNinep(e);
    } finally {
      void f.close();
    }
  }

  // ---- incoming calls ----

  /**
   * Keep one lower listen open while the announcement lives and has room
   * for a call; each call becomes an upper call. (The first listen goes out
   * at once: the queue of a new announcement is empty.)
   */
  private async listenLoop(st: OverConv, lower: Lower): Promise<void> {
    const parent = st.c;
    let bad = 0;
    try {
      for (let first = true; ; first = false) {
        if (!first) await this.room(st);
        if (!st.live || st.dead) return;
        if (bad >= MAX_BAD_CALLS) throw new NinepError('i/o error');
        let lf: File;
        try {
          lf = await lower.client.open(`${st.dir}/listen`, ORDWR, st.abort.signal);
        } catch (e) {
          throw asNinep(e);
        }
        if (!st.live || st.dead) {
          void lf.close();
          return;
        }
        bad = (await this.takeCall(st, lower, lf)) ? 0 : bad + 1;
      }
    } catch (e) {
      if (!st.live || st.dead || e instanceof Interrupted) return;
      // The lower announcement ended (hung up there, or gone): so does ours.
      this.log(`${this.name}/${parent.index}: lower listen on ${st.dir} failed: ${asNinep(e).ename}`);
      st.listening = false;
      parent.rq.hangup();
      this.dir.hangupListeners(parent);
    }
  }

  /** Until the announcement has room for one more call, or ends; calls wait at the lower server meanwhile. */
  private room(st: OverConv): Promise<void> {
    const parent = st.c;
    if (this.dir.callRoom(parent)) return Promise.resolve();
    const signal = st.abort.signal;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.waitingCalls.done(parent);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.waitingCalls.wait(parent, () => {
        if (this.dir.callRoom(parent) || !st.live) done();
      });
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** A listen took one of `parent`'s calls (ProtoDir.onCallTaken). */
  callTaken(parent: Conv): void {
    this.waitingCalls.wake(parent);
  }

  /** Make an upper call of a lower one; false when that call went wrong on its own (it is dropped). */
  private async takeCall(st: OverConv, lower: Lower, lf: File): Promise<boolean> {
    const parent = st.c;
    let data: File | null = null;
    let dataLower: Lower | null = null;
    try {
      const n = (await lf.read(SMALL_READ, undefined, 0n)).toString().trim();
      if (!/^\d+$/.test(n)) throw new NinepError('i/o error');
      const dir = `${this.prefix}/${this.name}/${n}`;
      const [la, ra] = await Promise.all([this.readAddr(lower, `${dir}/local`), this.readAddr(lower, `${dir}/remote`)]);
      // The call's ctl fid lives where the listen was; its data (and the
      // pump's long-lived read) goes where there is room.
      ({ data, lower: dataLower } = await this.startData(dir, lower));
      if (!st.live || st.dead || dataLower.dead !== null || lower.dead !== null) throw new NinepError(Ehungup);
      const d = data;
      const dl = dataLower;
      const made: { st?: OverConv } = {};
      const call = this.dir.newCall(parent, (nc) => {
        const s = new OverConv(nc, this);
        nc.ptcl = s;
        s.lower = lower;
        s.ctl = lf;
        s.dir = dir;
        lower.members.add(s);
        [nc.laddr, nc.lport] = la;
        [nc.raddr, nc.rport] = ra;
        if (this.name === 'tcp') {
          s.state = 'Established';
          this.count('PassiveOpens');
          this.setEstab(s, true);
        }
        made.st = s;
      });
      if (!call || !made.st) {
        // Backlog or table full: the call is closed at once.
        this.inErrors++;
        void d.close();
        void lf.close();
        return true;
      }
      this.attachData(made.st, d, dl, true);
      this.log(`${call.owner} ${this.name}/${call.index} call from ${formatIp(ra[0])}!${ra[1]} on ${this.name}/${parent.index} (lower ${dir})`);
      return true;
    } catch (e) {
      void data?.close();
      void lf.close();
      // A lost connection or a closed announcement ends the loop; a call
      // that went wrong on its own is dropped.
      if (e instanceof Interrupted || lower.dead !== null || !st.live || st.dead) throw e;
      this.log(`${this.name}/${parent.index}: dropped a call: ${asNinep(e).ename}`);
      return false;
    }
  }

  // ---- data ----

  private async pump(st: OverConv, data: File): Promise<void> {
    const c = st.c;
    const signal = st.abort.signal;
    try {
      for (;;) {
        if (!st.live) return;
        const b = await data.read(data.iounit, signal);
        if (!st.live) return;
        if (this.dataMode === 'stream') {
          if (b.length === 0) {
            await this.eof(st);
            return;
          }
          this.bytesIn += b.length;
          if (!c.rq.put(b)) {
            if (c.rq.isHungup) return;
            await this.drained(st);
          }
        } else {
          this.inDatagrams++;
          this.bytesIn += b.length;
          c.rq.put(b);
          if (c.rq.isHungup) return;
        }
      }
    } catch (e) {
      if (!st.live || e instanceof Interrupted) return;
      // The lower read failed: its reason (generic after a lost connection,
      // or an ICMP reason for UDP advice).
      if (this.name === 'tcp') {
        st.state = 'Closed';
        this.setEstab(st, false);
      }
      c.rq.hangup(st.dead ? Ehungup : asNinep(e).ename);
    }
  }

  /** Wait until the upper reader made room, or the conversation closed. */
  private drained(st: OverConv): Promise<void> {
    const q = st.c.rq;
    const signal = st.abort.signal;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        if (q.onDrain === done) q.onDrain = null;
        signal.removeEventListener('abort', done);
        resolve();
      };
      q.onDrain = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** TCP EOF from the lower: a FIN keeps queued data, a reset or hangup discards it. */
  private async eof(st: OverConv): Promise<void> {
    let closed = false;
    try {
      if (st.lower && !st.xmitClosed) closed = /^Closed\b/.test(await this.readSmall(st.lower, `${st.dir}/status`));
    } catch {
      // The lower is going away: treat it as an EOF.
    }
    if (!st.live) return;
    const q = st.c.rq;
    if (q.isHungup) return;
    if (st.xmitClosed) {
      // Both sides have sent their FIN.
      st.state = 'Closed';
      this.setEstab(st, false);
      q.hangup();
    } else if (closed) {
      st.state = 'Closed';
      this.setEstab(st, false);
      q.close();
    } else {
      if (st.state === 'Established') st.state = 'Close_wait';
      q.hangup();
    }
  }

  write(c: Conv, data: Uint8Array, signal: Signal): Promise<number> {
    const st = this.st(c);
    const f = st.data;
    if (st.dead || !f || st.xmitClosed) return Promise.reject(new NinepError(Ehungup));
    if (st.writeTail === null && data.length <= f.iounit) return this.lowerWrite(st, f, data, signal);
    // A write the lower iounit splits: later writes wait behind it, so the
    // pieces of different writes never interleave.
    const prev = st.writeTail ?? Promise.resolve();
    const p = prev.then(() => this.lowerWrite(st, f, data, signal));
    const tail = p.then(() => {}, () => {});
    st.writeTail = tail;
    void tail.then(() => {
      if (st.writeTail === tail) st.writeTail = null;
    });
    return p;
  }

  private async lowerWrite(st: OverConv, f: File, data: Uint8Array, signal: Signal): Promise<number> {
    if (st.dead) throw new NinepError(Ehungup);
    try {
      const n = await linked(signal, (s) => f.write(data, s));
      this.bytesOut += n;
      if (this.dataMode === 'datagram') this.outDatagrams++;
      return n;
    } catch (e) {
      throw asNinep(e);
    }
  }

  // ---- ctl ----

  async ctl(c: Conv, f: string[], signal: Signal): Promise<void> {
    const st = this.st(c);
    const verb = f[0];
    // hangupxmit on a conversation that is not connected ends it, as hangup.
    const halfClose = this.name === 'tcp' && verb === 'hangupxmit' && (st.state === 'Established' || st.state === 'Close_wait');
    // `close` is TCP's only: on UDP the lower answers it (unknown control request).
    const ending = verb === 'hangup' || (this.name === 'tcp' && (verb === 'close' || (verb === 'hangupxmit' && !halfClose)));
    // A hangup takes effect here first (it never fails in Plan 9), so that
    // nothing the lower side still delivers lands in the hung-up queue.
    if (ending) this.localCtl(st, verb);
    if (ending && !st.ctl && !st.opening && !st.dead) return; // nothing below to hang up
    await this.ensureLower(st, signal);
    await this.lowerCtl(st, joinFields(f), signal);
    if (!ending && st.live) this.localCtl(st, verb);
  }

  private localCtl(st: OverConv, cmd: string | undefined): void {
    const c = st.c;
    let verb = cmd;
    if (verb === 'hangupxmit' && this.name === 'tcp') {
      if (st.state === 'Established') {
        // The lower conversation sent its FIN (tcp.c tcpxmitclose); reads go on.
        st.xmitClosed = true;
        st.state = 'Finwait1';
        return;
      }
      if (st.state === 'Close_wait') {
        // Both FINs are sent; the lower's Last_ack is not ours to see end.
        st.xmitClosed = true;
        st.state = 'Closed';
        this.setEstab(st, false);
        return;
      }
      if (st.state === 'Finwait1' || st.xmitClosed) return;
      // Listen, Syn_sent, Closed: as hangup (localclose), no reset to send.
      verb = 'hangup';
    }
    if (verb === 'hangup' || (verb === 'close' && this.name === 'tcp')) st.ended = true;
    if (this.name === 'tcp') {
      if (verb === 'hangup') {
        if (st.estab) this.count('OutRsts');
        st.state = 'Closed';
        this.setEstab(st, false);
        c.rq.close();
        if (st.listening) {
          st.listening = false;
          this.dir.hangupListeners(c);
        }
      } else if (verb === 'close') {
        st.state = 'Closed';
        this.setEstab(st, false);
        c.rq.close();
      }
    } else if (verb === 'hangup') {
      c.rq.hangup();
    } else if (verb === 'headers') {
      c.headers = true;
    }
  }

  /**
   * `bind`: the lower server knows which addresses are its own, so a bind
   * naming an address goes down (and fails there with its error); a bind of
   * a port alone is recorded here and carried by the later connect/announce.
   */
  bind(c: Conv, local: LocalSpec, signal: Signal): MaybePromise<void> {
    if (!local.addr) return;
    const st = this.st(c);
    return this.ensureLower(st, signal).then(() => this.lowerCtl(st, `bind ${formatLocal(local)}`, signal));
  }

  /** ttl, tos, ignoreadvice after ProtoDir applied them: forwarded once the lower conversation exists. */
  option(c: Conv, f: string[], signal: Signal): MaybePromise<void> {
    if (f[0] === 'backlog') {
      // Ours, kept here; a larger one may let waiting calls in.
      this.waitingCalls.wake(c);
      return;
    }
    const st = this.st(c);
    if (!st.ctl && !st.opening) return; // replayed by openLower
    return this.ensureLower(st, signal).then(() => this.lowerCtl(st, joinFields(f), signal));
  }

  // ---- lifetime ----

  /** A freed conversation may be what a waiting announcement needs. */
  freed(): void {
    this.waitingCalls.freed();
  }

  close(c: Conv): void {
    const st = c.ptcl as OverConv | null;
    if (!st || st.closed) return;
    st.closed = true;
    st.abort.abort();
    this.setEstab(st, false);
    st.state = 'Closed';
    st.release();
    st.lower?.members.delete(st);
    st.dataLower?.members.delete(st);
    // Clunking the lower fids closes the lower conversation (FIN for TCP).
    void st.data?.close();
    void st.ctl?.close();
  }

  /** The lower connection under a conversation died. */
  died(st: OverConv): void {
    if (st.dead || st.closed) return;
    st.dead = true;
    const c = st.c;
    const live = c.ptcl === st;
    if (live) {
      if (this.name === 'tcp') st.state = 'Closed';
      this.setEstab(st, false);
      c.rq.hangup();
      if (st.listening) {
        st.listening = false;
        this.dir.hangupListeners(c);
      }
    }
    st.release();
    st.lower?.members.delete(st);
    st.dataLower?.members.delete(st);
    // Fids on a connection that survived are given back now.
    st.abort.abort();
    void st.data?.close();
    void st.ctl?.close();
  }

  status(c: Conv): string {
    const st = c.ptcl as OverConv | null;
    if (this.name === 'udp') return udpStatus(c.refs > 0 && !st?.dead, c.rq.length);
    return tcpStatus(st?.state ?? 'Closed', c.rq.length);
  }

  stats(): string {
    if (this.name === 'udp') {
      const udp: Record<UdpStatName, number> = { InDatagrams: this.inDatagrams, NoPorts: 0, InErrors: this.inErrors, OutDatagrams: this.outDatagrams };
      return statsText(UDP_STAT_NAMES, (n) => udp[n]);
    }
    this.counters.set('MaxConn', this.maxConvs);
    return statsText(TCP_STAT_NAMES, (n) => this.counters.get(n));
  }
}

/** `A!P[!r]` */
export function formatRemote(r: RemoteSpec): string {
  return `${formatIp(r.addr)}!${r.port}${r.restricted ? '!r' : ''}`;
}

/** `[A!]P`, `*` for any port. */
export function formatLocal(l: LocalSpec): string {
  const port = l.anyPort ? '*' : String(l.port);
  return l.addr ? `${formatIp(l.addr)}!${port}` : port;
}

/** Fields back into one ctl message, quoted as Plan 9's tokenize reads them. */
export function joinFields(f: string[]): string {
  return f.map((x) => (x === '' || /[\s']/.test(x) ? `'${x.replace(/'/g, "''")}'` : x)).join(' ');
}
