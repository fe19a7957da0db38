/**
 * NativeLink: what TapLink and PcapLink share, a Link over one of our
 * addons' handles (native/tap.cc, native/pcap.cc; common C++ in
 * native/common.h). The handle drains its device on the event loop and
 * makes ONE call into JS per wakeup: onBatch(count), with the frames packed
 * back to back in a shared buffer and their lengths in a Uint32Array. This
 * base hands them to the receiver one by one as views into that buffer,
 * sends single frames and batches, and keeps the counters. Subclasses open
 * the handle and say what differs: the bytes before each frame (a virtio-net
 * header), a per-frame check, which send errnos count as drops, and the
 * extra native counters folded into stats.
 */
import { frameLengthOk, newLinkStats } from './link.js';
import type { BatchEndHandler, Disposable, FrameHandler, Link, LinkStats } from './link.js';
import { errnoName } from './native.js';

/** The native counters every handle keeps. */
export interface NativeLinkCounters {
  /** Calls into JS (one per wakeup that brought frames). */
  batches: number;
  /** Frames too long for the rx window (dropped by the addon). */
  truncated: number;
  /** Frames shorter than an Ethernet header (dropped by the addon). */
  runts: number;
}

/** The part of an addon handle (NativeTap, NativePcap) that NativeLink drives. */
export interface NativeLinkHandle<C extends NativeLinkCounters> {
  readonly name: string;
  /** Shared rx buffer: during onBatch(count), frame i is rxLengths[i] bytes right after frame i-1. */
  readonly rxBuffer: ArrayBuffer;
  readonly rxLengths: Uint32Array;
  /** errno of the last failed write/writeBatch frame, 0 if none. */
  readonly lastWriteErrno: number;
  /** Send one frame; returns 0 or an errno. */
  write(frame: Uint8Array): number;
  /** Send frames[start..] in order; returns how many went out (stops at the first failure or a bound). */
  writeBatch(frames: readonly Uint8Array[], start?: number): number;
  start(onBatch: (count: number) => void, onError: (code: string, message: string) => void): void;
  stop(): void;
  ref(): void;
  unref(): void;
  /** Stop polling and release the device. Idempotent. */
  close(): void;
  counters(): C;
}

export interface NativeLinkConfig {
  mtu: number;
  mac: Uint8Array;
  /** Send errno names that mean "could not send now" (txDropped) rather than "bad frame" (txErrors). */
  txDropErrnos: ReadonlySet<string>;
  /** Bytes before each received frame in the rx buffer (not delivered, not counted); default 0. */
  rxHeader?: number;
  onError?: ((err: Error) => void) | undefined;
}

/** Checks the received frame at bytes[off, off + len) (header included); false: skip it. */
export type RxCheck = (bytes: Uint8Array, off: number, len: number) => boolean;

export abstract class NativeLink<C extends NativeLinkCounters, H extends NativeLinkHandle<C>> implements Link {
  readonly name: string;
  readonly mtu: number;
  readonly mac: Uint8Array;
  /** Why the device failed, if it did. */
  error: Error | null = null;
  protected readonly s: LinkStats = newLinkStats();
  protected readonly handle: H;
  /** Frames received but refused in JS (counted into stats.rxErrors). */
  protected jsRxErrors = 0;
  /** Per-frame check before delivery; null: deliver every frame. */
  protected rxCheck: RxCheck | null = null;
  private readonly bytes: Uint8Array;
  private readonly lens: Uint32Array;
  private readonly hdr: number;
  private readonly txDropErrnos: ReadonlySet<string>;
  private readonly onError: ((err: Error) => void) | undefined;
  private rx: FrameHandler | null = null;
  private endBatch: BatchEndHandler | null = null;
  private closed = false;

  protected constructor(handle: H, cfg: NativeLinkConfig) {
    this.handle = handle;
    this.name = handle.name;
    this.mtu = cfg.mtu;
    this.mac = cfg.mac;
    this.bytes = new Uint8Array(handle.rxBuffer);
    this.lens = handle.rxLengths;
    this.hdr = cfg.rxHeader ?? 0;
    this.txDropErrnos = cfg.txDropErrnos;
    this.onError = cfg.onError;
  }

  /** Counters; rxErrors includes frames the addon dropped (truncated, runts). */
  get stats(): Readonly<LinkStats> {
    const c = this.handle.counters();
    this.s.rxErrors = this.jsRxErrors + c.truncated + c.runts;
    this.addCounters(this.s, c);
    return this.s;
  }

  /** Addon calls into JS so far (frames per batch = stats.rxFrames / rxBatches, roughly). */
  get rxBatches(): number {
    return this.handle.counters().batches;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(frame: Uint8Array): void {
    const s = this.s;
    if (this.closed) {
      s.txDropped++;
      return;
    }
    if (!frameLengthOk(frame.length, this.mtu)) {
      s.txErrors++;
      return;
    }
    const e = this.handle.write(frame);
    if (e === 0) {
      s.txFrames++;
      s.txBytes += frame.length;
    } else this.countTxFailure(e);
  }

  sendBatch(frames: readonly Uint8Array[]): void {
    const s = this.s;
    if (this.closed) {
      s.txDropped += frames.length;
      return;
    }
    for (const f of frames) {
      if (!frameLengthOk(f.length, this.mtu)) {
        // Rare: fall back to per-frame sends so bad frames are skipped and counted.
        for (const g of frames) this.send(g);
        return;
      }
    }
    let i = 0;
    while (i < frames.length) {
      const n = this.handle.writeBatch(frames, i);
      for (let k = i; k < i + n; k++) s.txBytes += frames[k]!.length;
      s.txFrames += n;
      i += n;
      if (i < frames.length && this.handle.lastWriteErrno !== 0) {
        this.countTxFailure(this.handle.lastWriteErrno);
        i++;
      }
    }
  }

  attach(rx: FrameHandler, endBatch?: BatchEndHandler): Disposable {
    if (this.closed) throw new Error(`${this.name}: link is closed`);
    if (this.rx) throw new Error(`${this.name}: link already has a receiver`);
    this.rx = rx;
    this.endBatch = endBatch ?? null;
    this.handle.start(this.onBatch, this.onFail);
    return {
      dispose: () => {
        if (this.rx !== rx) return;
        this.rx = null;
        this.endBatch = null;
        if (!this.closed) this.handle.stop();
      },
    };
  }

  /** Keep the process alive while attached (default) or not, like a socket. */
  ref(): this {
    this.handle.ref();
    return this;
  }
  unref(): this {
    this.handle.unref();
    return this;
  }

  /** Stops delivery and closes the handle. Idempotent. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.rx = null;
      this.handle.close();
    }
    return Promise.resolve();
  }

  /** Folds subclass-specific native counters into stats (called by the stats getter). */
  protected addCounters(_s: LinkStats, _c: C): void {}

  /** Counts `n` received frames dropped because the receiver went away (or the link closed) mid-batch. */
  protected dropRx(n: number): void {
    this.s.rxDropped += n;
  }

  private countTxFailure(errno: number): void {
    if (this.txDropErrnos.has(errnoName(errno))) this.s.txDropped++;
    else this.s.txErrors++;
  }

  private readonly onBatch = (count: number): void => {
    const s = this.s;
    const lens = this.lens;
    const bytes = this.bytes;
    const hdr = this.hdr;
    const check = this.rxCheck;
    const n = Math.min(count, lens.length);
    const end = this.endBatch;
    let off = 0;
    let delivered = 0;
    for (let i = 0; i < n; i++) {
      const len = lens[i]!;
      if (off + len > bytes.length) {
        this.jsRxErrors += n - i; // cannot happen (the addon bounds it); never read past the buffer
        break;
      }
      const rx = this.rx;
      if (!rx) {
        this.dropRx(n - i); // receiver went away (or link closed) mid-batch
        break;
      }
      if (check === null || check(bytes, off, len)) {
        s.rxFrames++;
        s.rxBytes += len - hdr;
        delivered++;
        rx(bytes.subarray(off + hdr, off + len));
      }
      off += len;
    }
    if (delivered > 0) end?.();
  };

  private readonly onFail = (code: string, message: string): void => {
    const err = Object.assign(new Error(`${code}: ${message}`), { code });
    this.error = err;
    void this.close();
    this.onError?.(err);
  };
}
