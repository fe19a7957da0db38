/**
 * MemoryPort: the Link endpoint shared by the in-memory pair and hub. It
 * validates and counts frames; where sent frames go (egress) and when
 * frames arrive (ingress, called by a Wire) is up to its owner.
 */
import { frameLengthOk, newLinkStats } from './link.js';
import type { BatchEndHandler, Disposable, FrameHandler, Link, LinkStats } from './link.js';
import { checkMac } from './mac.js';

/** Takes a validated outgoing frame; false when it could not be queued. */
export type Egress = (frame: Uint8Array) => boolean;

export class MemoryPort implements Link {
  readonly mac: Uint8Array;
  readonly stats: LinkStats = newLinkStats();
  private rx: FrameHandler | null = null;
  private endBatch: BatchEndHandler | null = null;
  private closed = false;

  constructor(
    mac: Uint8Array,
    readonly mtu: number,
    private readonly egress: Egress,
    private readonly onClose: () => void = () => {},
  ) {
    if (!Number.isInteger(mtu) || mtu < 1 || mtu > 65535 - 14) throw new RangeError(`invalid mtu ${mtu}`);
    this.mac = checkMac(mac);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(frame: Uint8Array): void {
    const s = this.stats;
    if (this.closed) s.txDropped++;
    else if (!frameLengthOk(frame.length, this.mtu)) s.txErrors++;
    else if (this.egress(frame)) {
      s.txFrames++;
      s.txBytes += frame.length;
    } else s.txDropped++;
  }

  sendBatch(frames: readonly Uint8Array[]): void {
    for (const f of frames) this.send(f);
  }

  attach(rx: FrameHandler, endBatch?: BatchEndHandler): Disposable {
    if (this.closed) throw new Error('link is closed');
    if (this.rx) throw new Error('link already has a receiver');
    this.rx = rx;
    this.endBatch = endBatch ?? null;
    return {
      dispose: () => {
        if (this.rx !== rx) return;
        this.rx = null;
        this.endBatch = null;
      },
    };
  }

  /** A frame arriving from the medium (called by the owner's Wire). */
  ingress(frame: Uint8Array): void {
    const s = this.stats;
    if (this.closed || !this.rx) s.rxDropped++;
    else if (!frameLengthOk(frame.length, this.mtu)) s.rxErrors++;
    else {
      s.rxFrames++;
      s.rxBytes += frame.length;
      this.rx(frame);
    }
  }

  /** The frames the medium delivered in a row are over (called by the owner's Wire). */
  ingressEnd(): void {
    this.endBatch?.();
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.rx = null;
      this.endBatch = null;
      this.onClose();
    }
    return Promise.resolve();
  }
}

/** Deterministic default MACs for in-memory links: 02:39:6e:00:00:01, ...02, ... */
export function sequentialMac(n: number): Uint8Array {
  return new Uint8Array([0x02, 0x39, 0x6e, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}
