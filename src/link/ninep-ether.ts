/**
 * A Link whose network card is an ether directory of another /net, reached
 * over 9P — what 9front's `bind ether <dir>` does with an imported ether
 * (style.md §4.9). It opens a slot with `connect -1` (every type) and
 * `bridge` (frames keep our source MAC, and the card learns our MAC from
 * them, so unicast for us comes to this slot without promiscuous mode),
 * keeps READS_IN_FLIGHT reads
 * outstanding on `data` (each returns one frame) and passes on frames for
 * our MAC and group addresses. Sends do not wait: at most WRITES_IN_FLIGHT
 * frames are outstanding, further ones are dropped and counted.
 *
 * When the lower server goes away the link stops: sends are dropped,
 * nothing more is delivered, and `onError` is told once.
 */
import { setMaxListeners } from 'node:events';
import type { Client, File } from '../ninep/client.js';
import { ORDWR } from '../ninep/types.js';
import type { Rng } from '../lib/rng.js';
import { CryptoRng } from '../lib/rng.js';
import { DEFAULT_MTU, ETH_HEADER_LEN, newLinkStats } from './link.js';
import type { BatchEndHandler, Disposable, FrameHandler, Link, LinkStats } from './link.js';
import { randomMac } from './mac.js';

/** Treads kept outstanding on the lower data file. */
const READS_IN_FLIGHT = 16;
/** Twrites of frames outstanding before further frames are dropped. */
const WRITES_IN_FLIGHT = 256;
/** Plan 9's smallest ether write. */
const ETHER_MIN = 60;

export interface NinePEtherOptions {
  /** The ether directory on the lower server (default /ether0, as its tree is /net). */
  path?: string;
  mac?: Uint8Array;
  rng?: Rng;
  /** IP MTU of the lower card (default 1500). */
  mtu?: number;
  onError?: (e: Error) => void;
}

export class NinePEtherLink implements Link {
  readonly mtu: number;
  readonly mac: Uint8Array;
  private readonly s: LinkStats = newLinkStats();
  private rx: FrameHandler | null = null;
  private endBatch: BatchEndHandler | null = null;
  private closed = false;
  private writes = 0;
  private readonly abort = new AbortController();

  private constructor(
    client: Client,
    private readonly ctl: File,
    private readonly data: File,
    /** The lower slot's directory, e.g. /ether0/3. */
    readonly dir: string,
    opts: NinePEtherOptions,
  ) {
    this.mtu = opts.mtu ?? DEFAULT_MTU;
    this.mac = opts.mac ?? randomMac(opts.rng ?? new CryptoRng());
    // Every outstanding read listens on the one abort signal.
    setMaxListeners(READS_IN_FLIGHT + 1, this.abort.signal);
    client.onClose((why) => this.fail(new Error(`lower ether: ${why}`), opts.onError));
    for (let i = 0; i < READS_IN_FLIGHT; i++) void this.pump(opts.onError);
  }

  /** Open a slot on the lower ether directory and start receiving. */
  static async open(client: Client, opts: NinePEtherOptions = {}): Promise<NinePEtherLink> {
    const path = (opts.path ?? '/ether0').replace(/\/+$/, '');
    const ctl = await client.open(`${path}/clone`, ORDWR);
    try {
      const n = (await ctl.read(64, undefined, 0n)).toString().trim();
      for (const msg of ['connect -1', 'bridge']) await ctl.write(msg);
      const data = await client.open(`${path}/${n}/data`, ORDWR);
      return new NinePEtherLink(client, ctl, data, `${path}/${n}`, opts);
    } catch (e) {
      await ctl.close().catch(() => {});
      throw e;
    }
  }

  get stats(): Readonly<LinkStats> {
    return this.s;
  }

  private forUs(f: Uint8Array): boolean {
    if ((f[0]! & 1) === 1) return true;
    for (let i = 0; i < 6; i++) if (f[i] !== this.mac[i]) return false;
    return true;
  }

  private async pump(onError?: (e: Error) => void): Promise<void> {
    while (!this.closed) {
      let f: Buffer;
      try {
        f = await this.data.read(this.mtu + ETH_HEADER_LEN, this.abort.signal);
      } catch (e) {
        this.fail(e as Error, onError);
        return;
      }
      if (this.closed) return;
      if (f.length < ETH_HEADER_LEN) {
        this.s.rxErrors++;
        continue;
      }
      if (!this.forUs(f)) continue;
      if (!this.rx) {
        this.s.rxDropped++;
        continue;
      }
      this.s.rxFrames++;
      this.s.rxBytes += f.length;
      this.rx(f);
      this.endBatch?.(); // one frame per read: each is a batch
    }
  }

  send(frame: Uint8Array): void {
    if (this.closed || this.writes >= WRITES_IN_FLIGHT) {
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
    this.data.write(f).then(
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

  private fail(e: Error, onError?: (e: Error) => void): void {
    if (this.closed) return;
    this.closed = true;
    onError?.(e);
  }

  async close(): Promise<void> {
    if (this.closed && this.abort.signal.aborted) return;
    this.closed = true;
    this.abort.abort();
    await this.data.close().catch(() => {});
    await this.ctl.close().catch(() => {});
  }
}
