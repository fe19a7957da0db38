/**
 * A stateful 9P fuzzer: seeded random sessions against a served /net —
 * attaches, walks into the tree it learns, opens, blocking reads on data
 * and listen files, ctl writes from a vocabulary of real verbs with random
 * arguments, flushes of outstanding requests, Tversion in mid-session,
 * wstat, malformed and truncated frames, and disconnects — while a good
 * client measures its round-trip time. Used by test/ninep/fuzz.test.ts
 * (bounded count) and bench/fuzz.mjs (FUZZ_MESSAGES, a million and more).
 *
 * Sessions run over in-process stream pairs, so a million messages take
 * seconds; the /net behind them is our stack on an in-memory link (no
 * traffic can leave the process, and cs resolves only literals).
 */
import { PassThrough } from 'node:stream';
import { decode, encode } from '../../src/ninep/codec.js';
import { FrameReader } from '../../src/ninep/framer.js';
import type { Server } from '../../src/ninep/server.js';
import type { Rng } from '../../src/lib/rng.js';
import { MsgType, NOFID, NOTAG, nochangeDir } from '../../src/ninep/types.js';
import type { Dialect, RMessage, TMessage } from '../../src/ninep/types.js';

export interface FuzzStats {
  messages: number;
  sessions: number;
  replies: number;
  errors: number;
  disconnects: number;
}

const NAMES = ['tcp', 'udp', 'icmp', 'cs', 'dns', 'ndb', 'ipifc', 'arp', 'iproute', 'ether0', 'clone', 'stats', 'ctl', 'data',
  'err', 'listen', 'local', 'remote', 'status', 'addr', 'ifstats', '0', '1', '2', '3', '..', 'nonesuch'];
const VERBS = ['connect 10.7.0.2!7', 'connect 10.7.0.2!9!r', 'connect 127.0.0.1!7', 'connect 10.7.0.99!1', 'announce 7',
  'announce *', 'announce 10.7.0.1!0', 'bind 0', 'ttl 3', 'tos 16', 'ignoreadvice', 'backlog 2', 'hangup', 'close',
  'hangupxmit', 'keepalive 100', 'nodelay', 'headers', 'connect -1', 'promiscuous', 'bridge', 'add 10.7.0.9 /24',
  'tcp!10.7.0.2!echo', '!port=7 tcp=*', 'udp!*!53', 'connect', 'announce', '', 'bogus verb here', 'h.example ip',
  '10.7.0.2 ptr', 'ip=10.7.0.1 dns=10.7.0.2'];

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.u32() % xs.length]!;
}

/** One session: a stream pair served by `server`, a seeded script. */
class Session {
  readonly toServer = new PassThrough();
  readonly fromServer = new PassThrough();
  private readonly reader = new FrameReader(1 << 20);
  dialect: Dialect = '9P2000';
  closed = false;
  private readonly outstanding = new Set<number>();
  private readonly fids: number[] = [];
  private nextTag = 1;
  private nextFid = 1;

  constructor(server: Server, private readonly rng: Rng, private readonly stats: FuzzStats) {
    const conn = server.serve(this.toServer, this.fromServer, `fuzz${stats.sessions}`);
    conn.onClose(() => { this.closed = true; });
    this.fromServer.on('data', (b: Buffer) => {
      this.reader.push(b, (f) => {
        const r = decode(f, this.dialect);
        if (!r.ok) return;
        this.stats.replies++;
        const m = r.msg as RMessage;
        this.outstanding.delete(m.tag);
        if (m.type === MsgType.Rerror) this.stats.errors++;
        if (m.type === MsgType.Rversion) this.dialect = m.version === '9P2000.u' ? '9P2000.u' : '9P2000';
      });
    });
  }

  private send(m: TMessage): void {
    if (this.closed) return;
    this.stats.messages++;
    if (m.tag !== NOTAG) this.outstanding.add(m.tag);
    this.toServer.write(encode(m, this.dialect));
  }

  private tag(): number {
    this.nextTag = (this.nextTag % 60000) + 1;
    return this.nextTag;
  }

  private fid(): number {
    return this.fids.length > 0 && this.rng.u32() % 4 !== 0 ? pick(this.rng, this.fids) : this.rng.u32() % 64;
  }

  start(): void {
    this.send({ type: MsgType.Tversion, tag: NOTAG, msize: 8192 + (this.rng.u32() % 65536), version: this.rng.u32() % 3 === 0 ? '9P2000.u' : '9P2000' });
    this.send({ type: MsgType.Tattach, tag: this.tag(), fid: 0, afid: NOFID, uname: pick(this.rng, ['alice', 'bob', 'eve']), aname: '', ...(this.dialect === '9P2000.u' ? { nUname: 0xffffffff } : {}) });
    this.fids.push(0);
  }

  /** One random step. */
  step(): void {
    const r = this.rng.u32() % 100;
    const tag = this.tag();
    const u = this.dialect === '9P2000.u';
    if (r < 22) {
      const newfid = this.nextFid++ % 512;
      const n = this.rng.u32() % 4;
      const wnames = Array.from({ length: n }, () => pick(this.rng, NAMES));
      this.send({ type: MsgType.Twalk, tag, fid: this.fid(), newfid, wnames });
      if (!this.fids.includes(newfid)) this.fids.push(newfid);
    } else if (r < 36) {
      this.send({ type: MsgType.Topen, tag, fid: this.fid(), mode: this.rng.u32() % 20 === 0 ? 0x10 : this.rng.u32() % 3 });
    } else if (r < 52) {
      this.send({ type: MsgType.Tread, tag, fid: this.fid(), offset: BigInt(this.rng.u32() % 3 === 0 ? this.rng.u32() % 200 : 0), count: 1 + (this.rng.u32() % 8192) });
    } else if (r < 68) {
      const text = this.rng.u32() % 8 === 0 ? Buffer.from(Array.from({ length: this.rng.u32() % 80 }, () => this.rng.u32() & 0xff)) : Buffer.from(pick(this.rng, VERBS));
      this.send({ type: MsgType.Twrite, tag, fid: this.fid(), offset: 0n, data: text });
    } else if (r < 75) {
      this.send({ type: MsgType.Tclunk, tag, fid: this.fid() });
    } else if (r < 83) {
      const old = this.outstanding.size > 0 && this.rng.u32() % 4 !== 0 ? pick(this.rng, [...this.outstanding]) : this.rng.u32() % 65536;
      this.send({ type: MsgType.Tflush, tag, oldtag: old });
    } else if (r < 88) {
      this.send({ type: MsgType.Tstat, tag, fid: this.fid() });
    } else if (r < 91) {
      const d = nochangeDir();
      if (this.rng.u32() % 2 === 0) d.mode = this.rng.u32() % 0o777;
      else d.uid = pick(this.rng, ['alice', 'bob', 'eve', '']);
      this.send({ type: MsgType.Twstat, tag, fid: this.fid(), stat: d });
    } else if (r < 93) {
      this.send({ type: MsgType.Tcreate, tag, fid: this.fid(), name: pick(this.rng, NAMES), perm: 0o644, mode: 1, ...(u ? { extension: '' } : {}) });
    } else if (r < 94) {
      this.send({ type: MsgType.Tremove, tag, fid: this.fid() });
    } else if (r < 96) {
      this.send({ type: MsgType.Tattach, tag, fid: this.nextFid++ % 512, afid: NOFID, uname: pick(this.rng, ['alice', 'bob']), aname: pick(this.rng, ['', 'net', 'nonesuch']), ...(u ? { nUname: 0xffffffff } : {}) });
    } else if (r < 97) {
      // Tversion in mid-session: everything is reset.
      this.fids.length = 0;
      this.outstanding.clear();
      this.start();
    } else if (r < 99) {
      // A mutated frame: a real message with some bytes changed, or cut short.
      const b = encode({ type: MsgType.Twalk, tag, fid: this.fid(), newfid: 3, wnames: ['tcp', 'clone'] }, this.dialect);
      for (let i = 0; i < 1 + (this.rng.u32() % 3); i++) b[this.rng.u32() % b.length] = this.rng.u32() & 0xff;
      this.stats.messages++;
      this.toServer.write(this.rng.u32() % 3 === 0 ? b.subarray(0, this.rng.u32() % b.length) : b);
    } else {
      this.disconnect();
    }
  }

  disconnect(): void {
    if (this.closed) return;
    this.stats.disconnects++;
    this.closed = true;
    this.toServer.end();
    this.toServer.destroy();
  }
}

/**
 * Run `messages` fuzzed messages over sessions of up to `perSession`
 * messages each (several at once), yielding to the event loop between
 * bursts so blocked requests, timers and the good client make progress.
 */
export async function fuzz9p(server: Server, rng: Rng, messages: number, opts: { perSession?: number; parallel?: number } = {}): Promise<FuzzStats> {
  const stats: FuzzStats = { messages: 0, sessions: 0, replies: 0, errors: 0, disconnects: 0 };
  const perSession = opts.perSession ?? 2000;
  const parallel = opts.parallel ?? 4;
  const live: { s: Session; budget: number }[] = [];
  while (stats.messages < messages) {
    while (live.length < parallel) {
      stats.sessions++;
      const s = new Session(server, rng, stats);
      s.start();
      live.push({ s, budget: 1 + (rng.u32() % perSession) });
    }
    for (let burst = 0; burst < 64; burst++) {
      for (const l of live) {
        if (l.budget-- > 0 && !l.s.closed) l.s.step();
      }
    }
    for (let i = live.length - 1; i >= 0; i--) {
      if (live[i]!.budget <= 0 || live[i]!.s.closed) {
        live[i]!.s.disconnect();
        live.splice(i, 1);
      }
    }
    await new Promise((r) => setImmediate(r));
  }
  for (const l of live) l.s.disconnect();
  return stats;
}
