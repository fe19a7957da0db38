/**
 * An ether device as Plan 9's #l is one: it owns a Link and shares its
 * frames between the /net/etherN slots and (once an ipifc is bound to it)
 * our IP stack, which gets a Link of its own from stackLink(). Frames the
 * stack sends pass the slots' taps on their way out. Captures
 * (/net/etherN/pcap) see every frame the wire gives and every frame put on
 * it, by the stack or a slot.
 */
import { newLinkStats } from './link.js';
import type { BatchEndHandler, Disposable, FrameHandler, Link, LinkStats } from './link.js';
import { TapList } from './packethook.js';
import type { PacketTap } from './packethook.js';

/** What an ether device directory (/net/etherN) needs of its device. */
export interface EtherCounters {
  rxFrames: number;
  txFrames: number;
  rxErrors: number;
  txErrors: number;
  rxDropped: number;
}

export interface EtherDevice {
  readonly mac: Uint8Array;
  /** IP MTU: frames are at most mtu + 14 bytes. */
  readonly mtu: number;
  readonly stats: Readonly<EtherCounters>;
  /** Put a frame on the wire. */
  transmit(frame: Uint8Array): void;
  /** Hand a frame to the local stack as if it had been received. */
  deliverLocal(frame: Uint8Array): void;
  /** Every frame received from the wire ('in') and sent by the stack ('out'); views valid during the call. */
  tap(fn: (frame: Uint8Array, dir: 'in' | 'out') => void): { dispose(): void };
  /** Ether types the local stack holds (connect to them fails). */
  heldTypes(): number[];
  /** Every frame from the wire ('in') and put on it ('out'); absent: no capture. */
  capture?(fn: PacketTap): Disposable;
}

/** The ether types a bound IP interface holds (IPv4, ARP, IPv6), as ipifc's bind does. */
export const IP_TYPES = [0x0800, 0x0806, 0x86dd];

type Tap = (frame: Uint8Array, dir: 'in' | 'out') => void;

export class EtherPort implements EtherDevice {
  private taps: Tap[] = [];
  private readonly captures = new TapList();
  private stackRx: FrameHandler | null = null;
  private stackEnd: BatchEndHandler | null = null;
  private readonly sub: Disposable;
  private ipLink: Link | null = null;

  constructor(readonly name: string, readonly link: Link) {
    this.sub = link.attach(
      (frame) => {
        if (this.captures.size !== 0) this.captures.run(frame, 'in');
        const taps = this.taps;
        for (let i = 0; i < taps.length; i++) taps[i]!(frame, 'in');
        this.stackRx?.(frame);
      },
      () => this.stackEnd?.(),
    );
  }

  get mac(): Uint8Array {
    return this.link.mac;
  }
  get mtu(): number {
    return this.link.mtu;
  }
  get stats(): EtherCounters {
    const s = this.link.stats;
    return { rxFrames: s.rxFrames, txFrames: s.txFrames, rxErrors: s.rxErrors, txErrors: s.txErrors + s.txDropped, rxDropped: s.rxDropped };
  }

  /** True while an IP interface is bound to this device. */
  get bound(): boolean {
    return this.stackRx !== null;
  }

  transmit(frame: Uint8Array): void {
    if (this.captures.size !== 0) this.captures.run(frame, 'out');
    this.link.send(frame);
  }

  deliverLocal(frame: Uint8Array): void {
    if (!this.stackRx) return;
    this.stackRx(frame);
    this.stackEnd?.();
  }

  tap(fn: Tap): { dispose(): void } {
    this.taps = [...this.taps, fn];
    return { dispose: () => { this.taps = this.taps.filter((t) => t !== fn); } };
  }

  heldTypes(): number[] {
    return this.bound ? IP_TYPES : [];
  }

  capture(fn: PacketTap): Disposable {
    return this.captures.add(fn);
  }

  /** The Link the IP stack attaches to; one at a time (ipifc bind). */
  stackLink(): Link {
    if (this.ipLink) return this.ipLink;
    const port = this;
    const stats: LinkStats = newLinkStats();
    const send = (frame: Uint8Array): void => {
      const taps = port.taps;
      for (let i = 0; i < taps.length; i++) taps[i]!(frame, 'out');
      if (port.captures.size !== 0) port.captures.run(frame, 'out');
      stats.txFrames++;
      stats.txBytes += frame.length;
      port.link.send(frame);
    };
    this.ipLink = {
      get mtu() { return port.link.mtu; },
      get mac() { return port.link.mac; },
      stats,
      send,
      sendBatch(frames: readonly Uint8Array[]) { for (const f of frames) send(f); },
      attach(rx: FrameHandler, endBatch?: BatchEndHandler): Disposable {
        if (port.stackRx) throw new Error(`${port.name}: already bound`);
        port.stackRx = (frame) => {
          stats.rxFrames++;
          stats.rxBytes += frame.length;
          rx(frame);
        };
        port.stackEnd = endBatch ?? null;
        return {
          dispose: () => {
            port.stackRx = null;
            port.stackEnd = null;
            port.ipLink = null;
          },
        };
      },
      close: async () => {},
    };
    return this.ipLink;
  }

  async close(): Promise<void> {
    this.sub.dispose();
    await this.link.close();
  }
}
