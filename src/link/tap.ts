/**
 * TapLink: a Link over a Linux TAP device through our addon. It creates the
 * device, or attaches to an existing one (e.g. a persistent TAP made with
 * `ip tuntap add dev NAME mode tap user UID`, so 9net can run unprivileged).
 * Frames arrive in batches (one addon call per wakeup) and are handed to the
 * receiver one by one as views into the shared rx buffer.
 *
 * MACs: `mac` is OUR station address on the segment (given, or a random
 * locally administered one from the injected Rng); `peerMac` is the kernel
 * side's own MAC (the TAP interface's address), i.e. the neighbour's.
 */
import { CryptoRng } from '../lib/rng.js';
import type { Rng } from '../lib/rng.js';
import { DEFAULT_MTU, ETH_HEADER_LEN, frameLengthOk, newLinkStats } from './link.js';
import type { Disposable, FrameHandler, Link, LinkStats } from './link.js';
import { checkMac, randomMac } from './mac.js';
import { errnoName, loadTapAddon } from './native.js';
import type { NativeTap, TapMode } from './native.js';
import { VNET_HDR_MRG_LEN, vnetFrameComplete } from './vnet.js';

/** Room for one 802.1Q tag in the rx window. */
const VLAN_TAG_LEN = 4;

export interface TapLinkOptions {
  /** Device name, 1-15 characters (e.g. "tap0"); "%d" lets the kernel number it. */
  name: string;
  /** auto (default): attach if it exists, else create; create: must be new; attach: must exist. */
  mode?: TapMode;
  /** Our MAC; default: random, locally administered, from `rng`. */
  mac?: Uint8Array;
  /** Randomness for the MAC; default CryptoRng. */
  rng?: Rng;
  /** IP MTU we use (without the 14-byte header); default the device's MTU at open, else 1500. */
  mtu?: number;
  /** Max frames per wakeup, 1..1024 (default 64). */
  batch?: number;
  /**
   * Use IFF_VNET_HDR (12-byte virtio-net header; offloads stay off). Frames
   * handed to the receiver never include the header; frames that would need
   * offload handling (GSO, unfinished checksum) are counted as rxErrors.
   */
  vnetHdr?: boolean;
  /**
   * Called once if the device fails (e.g. deleted under us); the link is
   * then closed. Without it the error is only kept in `link.error`.
   */
  onError?: (err: Error) => void;
}

/** Write errnos that mean "could not send now" rather than "bad frame". */
const TX_DROP_ERRNOS = new Set(['EAGAIN', 'EWOULDBLOCK', 'ENOBUFS', 'ENOMEM', 'EIO', 'EBADF', 'EBADFD', 'ENETDOWN']);

export class TapLink implements Link {
  readonly name: string;
  readonly mtu: number;
  readonly mac: Uint8Array;
  /** The kernel side's MAC at open time (null if unknown). */
  readonly peerMac: Uint8Array | null;
  /** Why the device failed, if it did. */
  error: Error | null = null;
  private readonly s: LinkStats = newLinkStats();
  private readonly tap: NativeTap;
  private readonly bytes: Uint8Array;
  private readonly lens: Uint32Array;
  private readonly hdr: number;
  private readonly onError: ((err: Error) => void) | undefined;
  private rx: FrameHandler | null = null;
  private closed = false;
  private jsRxErrors = 0;

  private constructor(tap: NativeTap, opts: TapLinkOptions, mtu: number, peerMac: Uint8Array | null) {
    this.tap = tap;
    this.name = tap.name;
    this.mtu = mtu;
    this.peerMac = peerMac;
    this.mac = opts.mac ? checkMac(opts.mac) : randomMac(opts.rng ?? new CryptoRng());
    this.bytes = new Uint8Array(tap.rxBuffer);
    this.lens = tap.rxLengths;
    this.hdr = tap.vnetHdrSize;
    this.onError = opts.onError;
  }

  /**
   * Opens the TAP. Throws a one-line Error (with .code) if it cannot, e.g.
   * "EPERM: creating tap0 needs CAP_NET_ADMIN; or ip tuntap add dev tap0 mode tap user alice",
   * or "native addon not built: run npm run build:native".
   */
  static open(opts: TapLinkOptions): TapLink {
    const addon = loadTapAddon();
    if (opts.mtu !== undefined && !(Number.isInteger(opts.mtu) && opts.mtu >= 68 && opts.mtu <= 65535 - ETH_HEADER_LEN)) {
      throw new RangeError(`mtu must be an integer in [68, ${65535 - ETH_HEADER_LEN}], got ${opts.mtu}`);
    }
    if (opts.mac) checkMac(opts.mac);
    const vnetHdrSize = opts.vnetHdr ? VNET_HDR_MRG_LEN : 0;
    // The rx window must hold the largest frame; size it before opening from
    // the requested MTU or the existing device's (a new device starts at 1500).
    const existing = opts.name.includes('%') ? null : addon.interfaceInfo(opts.name);
    const windowMtu = Math.max(opts.mtu ?? existing?.mtu ?? DEFAULT_MTU, DEFAULT_MTU);
    const tap = new addon.Tap({
      name: opts.name,
      mode: opts.mode ?? 'auto',
      vnetHdrSize,
      batch: opts.batch,
      frameMax: vnetHdrSize + ETH_HEADER_LEN + VLAN_TAG_LEN + windowMtu,
    });
    const info = addon.interfaceInfo(tap.name);
    const mtu = Math.min(opts.mtu ?? info?.mtu ?? DEFAULT_MTU, windowMtu);
    return new TapLink(tap, opts, mtu, info?.mac ? Uint8Array.from(info.mac) : null);
  }

  /** Counters; rxErrors includes frames the addon dropped (truncated, runts). */
  get stats(): Readonly<LinkStats> {
    const c = this.tap.counters();
    this.s.rxErrors = this.jsRxErrors + c.truncated + c.runts;
    return this.s;
  }

  /** Addon calls into JS so far (frames per batch = stats.rxFrames / rxBatches, roughly). */
  get rxBatches(): number {
    return this.tap.counters().batches;
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
    const e = this.tap.write(frame);
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
      const n = this.tap.writeBatch(frames, i);
      for (let k = i; k < i + n; k++) s.txBytes += frames[k]!.length;
      s.txFrames += n;
      i += n;
      if (i < frames.length && this.tap.lastWriteErrno !== 0) {
        this.countTxFailure(this.tap.lastWriteErrno);
        i++;
      }
    }
  }

  attach(rx: FrameHandler): Disposable {
    if (this.closed) throw new Error(`${this.name}: link is closed`);
    if (this.rx) throw new Error(`${this.name}: link already has a receiver`);
    this.rx = rx;
    this.tap.start(this.onBatch, this.onFail);
    return {
      dispose: () => {
        if (this.rx !== rx) return;
        this.rx = null;
        if (!this.closed) this.tap.stop();
      },
    };
  }

  /** Keep the process alive while attached (default) or not, like a socket. */
  ref(): this {
    this.tap.ref();
    return this;
  }
  unref(): this {
    this.tap.unref();
    return this;
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.rx = null;
      this.tap.close();
    }
    return Promise.resolve();
  }

  private countTxFailure(errno: number): void {
    if (TX_DROP_ERRNOS.has(errnoName(errno))) this.s.txDropped++;
    else this.s.txErrors++;
  }

  private readonly onBatch = (count: number): void => {
    const s = this.s;
    const lens = this.lens;
    const bytes = this.bytes;
    const hdr = this.hdr;
    const n = Math.min(count, lens.length);
    let off = 0;
    for (let i = 0; i < n; i++) {
      const len = lens[i]!;
      const rx = this.rx;
      if (!rx) {
        s.rxDropped += n - i; // receiver went away (or link closed) mid-batch
        return;
      }
      if (hdr && !vnetFrameComplete(bytes.subarray(off, off + hdr))) {
        this.jsRxErrors++;
      } else {
        s.rxFrames++;
        s.rxBytes += len - hdr;
        rx(bytes.subarray(off + hdr, off + len));
      }
      off += len;
    }
  };

  private readonly onFail = (code: string, message: string): void => {
    const err = Object.assign(new Error(`${code}: ${message}`), { code });
    this.error = err;
    void this.close();
    this.onError?.(err);
  };
}
