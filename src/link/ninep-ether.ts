/**
 * A Link whose network card is an ether directory of another /net, reached
 * over 9P — what 9front's `bind ether <dir>` does with an imported ether
 * (style.md §4.9). An attachment (lower-ether.ts) holds the card as a 9net
 * bridge, with our own MAC, or as Plan 9's ethermedium holds a card, with
 * the card's MAC; this link passes on the frames for that MAC and group
 * addresses. Sends do not wait: at most WRITES_IN_FLIGHT frames are
 * outstanding, further ones are dropped and counted.
 *
 * When the lower server goes away, sends are dropped and nothing is
 * delivered while the link dials again, as the over backend redials
 * (backend/over/lower.ts): after REDIAL_MIN_MS, doubling to REDIAL_MAX_MS,
 * each attempt given ATTACH_TIMEOUT_MS, all on the injected Clock. A new
 * attachment must give us the same MAC (a Plan 9 card's own); otherwise it
 * is let go and tried again later, since our interface keeps its MAC.
 */
import type { Client } from '../ninep/client.js';
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Rng } from '../lib/rng.js';
import { CryptoRng } from '../lib/rng.js';
import { DEFAULT_MTU, ETH_HEADER_LEN, newLinkStats } from './link.js';
import type { BatchEndHandler, Disposable, FrameHandler, Link, LinkStats } from './link.js';
import { ETHER_MIN, LowerEther } from './lower-ether.js';
import type { LowerMode } from './lower-ether.js';
import { formatMac, randomMac } from './mac.js';

/** Twrites of frames outstanding before further frames are dropped. */
const WRITES_IN_FLIGHT = 256;
/** Re-attach backoff: the first wait, and the most it doubles to. */
export const REDIAL_MIN_MS = 250;
export const REDIAL_MAX_MS = 10_000;
/** Longest one dial and attach may take before it is given up. */
export const ATTACH_TIMEOUT_MS = 20_000;

export interface NinePEtherOptions {
  /** A new connection to the lower server (called again to re-attach). */
  dial: () => Promise<Client>;
  clock: Clock;
  /** The ether directory on the lower server (default /ether0, as its tree is /net). */
  path?: string;
  /** Our MAC on a 9net card (default random from `rng`); a Plan 9 card's is its own. */
  mac?: Uint8Array;
  rng?: Rng;
  /** IP MTU of the lower card (default 1500). */
  mtu?: number;
  /** One line per loss and re-attach. */
  log?: (line: string) => void;
  /** Name of the lower card in log lines (default the path). */
  where?: string;
}

function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class NinePEtherLink implements Link {
  readonly mtu: number;
  readonly mac: Uint8Array;
  private readonly s: LinkStats = newLinkStats();
  private rx: FrameHandler | null = null;
  private endBatch: BatchEndHandler | null = null;
  private closed = false;
  private writes = 0;
  private lower: LowerEther | null;
  private backoff = REDIAL_MIN_MS;
  private timer: TimerHandle | null = null;
  private attaches = 0;

  private constructor(lower: LowerEther, private readonly opts: NinePEtherOptions) {
    this.mtu = opts.mtu ?? DEFAULT_MTU;
    this.mac = Uint8Array.from(lower.mac);
    this.lower = lower;
    this.use(lower);
  }

  /** Attach to the lower ether directory and start receiving; throws the dial's or the lower server's error. */
  static async open(opts: NinePEtherOptions): Promise<NinePEtherLink> {
    const ours = opts.mac ?? randomMac(opts.rng ?? new CryptoRng());
    const lower = await NinePEtherLink.attach(opts, ours);
    return new NinePEtherLink(lower, opts);
  }

  private static async attach(opts: NinePEtherOptions, ours: Uint8Array): Promise<LowerEther> {
    const client = await opts.dial();
    try {
      return await LowerEther.open(client, (opts.path ?? '/ether0').replace(/\/+$/, ''), ours, opts.mtu ?? DEFAULT_MTU);
    } catch (e) {
      client.close();
      throw e;
    }
  }

  /** Times the link re-attached after losing its lower server. */
  get reattaches(): number {
    return this.attaches;
  }

  /** How the lower card is held now (null while re-attaching). */
  get mode(): LowerMode | null {
    return this.lower?.mode ?? null;
  }

  /** The lower slot directories, e.g. ['/ether0/3'] (empty while re-attaching). */
  get dirs(): readonly string[] {
    return this.lower?.dirs ?? [];
  }

  get stats(): Readonly<LinkStats> {
    return this.s;
  }

  private get where(): string {
    return this.opts.where ?? this.opts.path ?? '/ether0';
  }

  private use(lower: LowerEther): void {
    lower.start((f) => this.receive(f), (why) => this.lost(lower, why));
  }

  private receive(f: Buffer): void {
    if (f.length < ETH_HEADER_LEN) {
      this.s.rxErrors++;
      return;
    }
    if ((f[0]! & 1) === 0 && !sameMac(f, this.mac)) return;
    if (!this.rx) {
      this.s.rxDropped++;
      return;
    }
    this.s.rxFrames++;
    this.s.rxBytes += f.length;
    this.rx(f);
    this.endBatch?.(); // one frame per read: each is a batch
  }

  private lost(lower: LowerEther, why: string): void {
    if (this.closed || this.lower !== lower) return;
    this.lower = null;
    this.opts.log?.(`ether over ${this.where}: lost (${why}); re-attaching`);
    this.backoff = REDIAL_MIN_MS;
    this.retry();
  }

  private retry(): void {
    if (this.closed) return;
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, REDIAL_MAX_MS);
    const clock = this.opts.clock;
    this.timer = clock.at(clock.now() + wait, () => {
      this.timer = null;
      void this.reattach();
    });
  }

  private async reattach(): Promise<void> {
    const clock = this.opts.clock;
    let late = false;
    const attempt = NinePEtherLink.attach(this.opts, this.mac);
    const timeout = new Promise<null>((resolve) => {
      this.timer = clock.at(clock.now() + ATTACH_TIMEOUT_MS, () => {
        late = true;
        resolve(null);
      });
    });
    let lower: LowerEther | null;
    try {
      lower = await Promise.race([attempt, timeout]);
    } catch {
      lower = null;
    }
    this.timer?.cancel();
    this.timer = null;
    if (late) attempt.then((l) => void l.close(), () => {});
    if (lower && !this.closed && !sameMac(lower.mac, this.mac)) {
      this.opts.log?.(`ether over ${this.where}: the card came back with MAC ${formatMac(lower.mac)}, ours is ${formatMac(this.mac)}; trying again later`);
      void lower.close();
      lower = null;
    }
    if (this.closed) {
      void lower?.close();
      return;
    }
    if (!lower) {
      this.retry();
      return;
    }
    this.lower = lower;
    this.attaches++;
    this.backoff = REDIAL_MIN_MS;
    this.use(lower);
    this.opts.log?.(`ether over ${this.where}: re-attached (${lower.mode})`);
  }

  send(frame: Uint8Array): void {
    const lower = this.lower;
    if (this.closed || lower === null || this.writes >= WRITES_IN_FLIGHT) {
      this.s.txDropped++;
      return;
    }
    if (frame.length < ETH_HEADER_LEN || frame.length > this.mtu + ETH_HEADER_LEN) {
      this.s.txErrors++;
      return;
    }
    // Plan 9 ether writes are at least 60 bytes: pad short frames.
    let f = frame;
    if (f.length < ETHER_MIN) {
      f = new Uint8Array(ETHER_MIN);
      f.set(frame);
    }
    this.writes++;
    this.s.txFrames++;
    this.s.txBytes += f.length;
    lower.write(f).then(
      () => { this.writes--; },
      () => { this.writes--; this.s.txErrors++; },
    );
  }

  sendBatch(frames: readonly Uint8Array[]): void {
    for (const f of frames) this.send(f);
  }

  attach(rx: FrameHandler, endBatch?: BatchEndHandler): Disposable {
    if (this.rx) throw new Error('NinePEtherLink: a receiver is already attached');
    this.rx = rx;
    this.endBatch = endBatch ?? null;
    return { dispose: () => { if (this.rx === rx) { this.rx = null; this.endBatch = null; } } };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timer?.cancel();
    this.timer = null;
    const lower = this.lower;
    this.lower = null;
    await lower?.close();
  }
}
