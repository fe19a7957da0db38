/**
 * An IP interface: a medium plus its IPv4 addresses, MTU and counters. The
 * medium is a Link (an Ethernet segment; /net/etherN slots see its frames
 * through the ether device the link belongs to, link/etherport.ts) or, with
 * no link, the loopback (Plan 9 loopbackmedium.c): what the stack sends on
 * it comes back as its own input and never reaches a link.
 *
 * Addresses (Plan 9 `add local mask remote`): `remote` defaults to the
 * network address `local & mask`; a /32 mask with a different remote makes
 * a point-to-point address. Adding 0.0.0.0 makes the interface accept IPv4
 * packets for any destination (Plan 9's DHCP trick). Every change rebuilds
 * the Stack's interface routes and self table (stack.ts).
 */
import type { Clock } from '../lib/clock.js';
import type { Disposable, Link } from '../link/link.js';
import { PacketHook } from '../link/packethook.js';
import { Ebadarg, Enotonifc, StackError } from './error.js';
import type { IfcEventSink } from './ifcevents.js';
import { maskPrefix } from './ipv4.js';
import { macFromBytes } from './wire/ethernet.js';

/** Smallest IP MTU an interface accepts (RFC 791: every host handles 68). */
export const MIN_MTU = 68;
/** IP MTU of a loopback interface (Plan 9 loopbackmedium.c: Maxtu 16 KiB, no media header). */
export const LOOPBACK_MTU = 16 * 1024;
/** Bytes of Ethernet header in front of each datagram on an ether interface. */
const ETHER_HSIZE = 14;

/** One configured address. */
export interface IfcAddress {
  /** The local address. */
  readonly ip: number;
  readonly mask: number;
  /** Prefix length, or -1 for a non-contiguous mask. */
  readonly prefixLen: number;
  /** Plan 9's "remote": the network address, or the peer of a point-to-point address. */
  readonly remote: number;
  /** Subnet directed broadcast (`net | ~mask`), or 0 when there is none (/31, /32). */
  readonly bcast: number;
  /** Point-to-point: /32 mask with a remote other than the local address. */
  readonly ptp: boolean;
}

/** Per-interface counters (Plan 9 ipifc status: pktin pktout errin errout). */
export interface IfcCounters {
  /** Frames received from the link and processed. */
  readonly pktin: number;
  /** Frames handed to the link. */
  readonly pktout: number;
  /** Received frames dropped as malformed. */
  readonly errin: number;
  /** Frames the link refused or dropped on output. */
  readonly errout: number;
}

/**
 * What an Ifc needs from its Stack. @internal — implemented by Stack; not
 * for users.
 */
export interface IfcOwner {
  /** The stack's clock (events are stamped with it). */
  now(): number;
  ifcInput(ifc: Ifc, frame: Uint8Array): void;
  /** The batch of frames the link delivered (or sendRaw looped back) is over. */
  ifcBatchEnd(ifc: Ifc): void;
  /** Addresses changed; `added` is the new address when one was added. */
  ifcAddressesChanged(ifc: Ifc, added: IfcAddress | null): void;
  ifcUnbound(ifc: Ifc): void;
}

/**
 * Parses `maskOrPrefix`: 0..32 is a prefix length, anything else a u32 mask.
 * (A mask with at most 32 as its value is never meaningful, so the two
 * cannot be confused.)
 */
export function toMask(maskOrPrefix: number): number {
  if (!Number.isInteger(maskOrPrefix) || maskOrPrefix < 0 || maskOrPrefix > 0xffffffff) {
    throw new StackError(Ebadarg);
  }
  if (maskOrPrefix <= 32) return maskOrPrefix === 0 ? 0 : (0xffffffff << (32 - maskOrPrefix)) >>> 0;
  return maskOrPrefix >>> 0;
}

export class Ifc {
  /** The interface's MAC as a 48-bit integer. */
  readonly mac: number;
  /** True until {@link unbind}. */
  bound = true;
  /** Accept packets for any destination (an address 0.0.0.0 was added). */
  acceptAny = false;

  /** @internal counters, updated by the Stack. */
  rxFrames = 0;
  /** @internal */
  txFrames = 0;
  /** @internal */
  rxErrors = 0;
  /** @internal */
  txErrors = 0;
  /**
   * Capture and impairment of this interface's frames (/net/ipifc/N/pcap,
   * ctl `impair`), null while nothing is attached; see hookOn(). On the
   * loopback only its taps are used (the stack calls them).
   */
  hook: PacketHook | null = null;
  /** Told of ARP, address and DHCP events (/net/ipifc/N/events), null while nobody reads. */
  ev: IfcEventSink | null = null;

  private addrs: IfcAddress[] = [];
  private ipMtu: number;
  private readonly sub: Disposable | null;

  /**
   * @internal Created by Stack.addInterface (attaches to `link` at once) or,
   * with `link` null, by Stack.addLoopback.
   */
  constructor(
    private readonly owner: IfcOwner,
    /** The Ethernet link, or null for a loopback interface. */
    readonly link: Link | null,
    /** Small stable number (lowest unused among bound interfaces). */
    readonly index: number,
    /** Device name, e.g. `ether0`, or `/dev/null` for the loopback (as Plan 9's ipconfig binds it). */
    readonly name: string,
  ) {
    this.mac = link === null ? 0 : macFromBytes(link.mac, 0);
    this.ipMtu = link === null ? LOOPBACK_MTU : link.mtu;
    this.sub = link === null ? null : link.attach(
      (frame) => {
        const h = this.hook;
        if (h !== null) h.in(frame, undefined);
        else this.owner.ifcInput(this, frame);
      },
      () => this.owner.ifcBatchEnd(this),
    );
  }

  /** True for a loopback interface (no link: output comes back as input). */
  get loopback(): boolean {
    return this.link === null;
  }

  /** Bytes of media header before each datagram: 14 on Ethernet, 0 on the loopback (Plan 9 Medium.hsize). */
  get hsize(): number {
    return this.link === null ? 0 : ETHER_HSIZE;
  }

  /** IP MTU: the largest IPv4 datagram sent without fragmenting (excludes the media header). */
  get mtu(): number {
    return this.ipMtu;
  }

  /** Sets the IP MTU; must be in [MIN_MTU, the medium's maximum], else StackError `bad arg in system call`. */
  set mtu(v: number) {
    const max = this.link === null ? LOOPBACK_MTU : this.link.mtu;
    if (!Number.isInteger(v) || v < MIN_MTU || v > max) throw new StackError(Ebadarg);
    this.ipMtu = v;
  }

  /** Counters, including the link's output drops in errout. */
  get counters(): IfcCounters {
    const ls = this.link?.stats;
    return {
      pktin: this.rxFrames,
      pktout: this.txFrames,
      errin: this.rxErrors,
      errout: this.txErrors + (ls === undefined ? 0 : ls.txDropped + ls.txErrors),
    };
  }

  /** Configured addresses, in the order added. */
  addresses(): readonly IfcAddress[] {
    return this.addrs;
  }

  /**
   * Adds an address (Plan 9 `add local mask [remote]`). Re-adding an
   * existing address is a no-op. Gratuitous ARP is sent by the Stack.
   * @param maskOrPrefix prefix length 0..32 or a u32 mask
   * @param remote network address (default `ip & mask`) or point-to-point peer
   * @throws StackError `interface not bound`, `bad arg in system call`
   */
  addAddress(ip: number, maskOrPrefix: number, remote?: number): IfcAddress {
    this.checkBound();
    const mask = toMask(maskOrPrefix);
    ip >>>= 0;
    const existing = this.addrs.find((a) => a.ip === ip);
    if (existing) return existing;
    this.ev?.(this.owner.now(), { kind: 'add', ip, mask });
    if (ip === 0) {
      this.acceptAny = true;
      const a: IfcAddress = { ip: 0, mask, prefixLen: maskPrefix(mask), remote: 0, bcast: 0, ptp: false };
      this.addrs.push(a);
      this.owner.ifcAddressesChanged(this, null);
      return a;
    }
    const net = (ip & mask) >>> 0;
    const rem = remote === undefined ? net : remote >>> 0;
    const ptp = mask === 0xffffffff && rem !== ip;
    const prefixLen = maskPrefix(mask);
    const hasBcast = mask !== 0 && (prefixLen < 0 || prefixLen < 31);
    const a: IfcAddress = {
      ip,
      mask,
      prefixLen,
      remote: rem,
      bcast: hasBcast ? (net | ~mask) >>> 0 : 0,
      ptp,
    };
    this.addrs.push(a);
    this.owner.ifcAddressesChanged(this, a);
    return a;
  }

  /**
   * Removes an address (Plan 9 `del local mask`); `mask` is checked when given.
   * @throws StackError `address not on this interface`
   */
  removeAddress(ip: number, maskOrPrefix?: number): void {
    ip >>>= 0;
    const mask = maskOrPrefix === undefined ? undefined : toMask(maskOrPrefix);
    const i = this.addrs.findIndex((a) => a.ip === ip && (mask === undefined || a.mask === mask));
    if (i < 0) throw new StackError(Enotonifc);
    this.ev?.(this.owner.now(), { kind: 'remove', ip, mask: this.addrs[i]!.mask });
    this.addrs.splice(i, 1);
    if (ip === 0) this.acceptAny = false;
    this.owner.ifcAddressesChanged(this, null);
  }

  /** Removes every address (Plan 9 `connect` on an ipifc does this before `add`). */
  removeAllAddresses(): void {
    if (this.addrs.length === 0) return;
    if (this.ev !== null) for (const a of this.addrs) this.ev(this.owner.now(), { kind: 'remove', ip: a.ip, mask: a.mask });
    this.addrs = [];
    this.acceptAny = false;
    this.owner.ifcAddressesChanged(this, null);
  }

  /**
   * The best local address for talking to `peer` over this interface: one
   * whose subnet (or point-to-point remote) contains it, else the first
   * address; 0 if there is none.
   */
  addressFor(peer: number): number {
    let first = 0;
    for (const a of this.addrs) {
      if (a.ip === 0) continue;
      if (a.ptp ? a.remote === peer : ((peer & a.mask) >>> 0) === ((a.ip & a.mask) >>> 0)) return a.ip;
      if (first === 0) first = a.ip;
    }
    return first;
  }

  /** True if `ip` is one of this interface's unicast addresses. */
  hasAddress(ip: number): boolean {
    for (const a of this.addrs) if (a.ip === ip && ip !== 0) return true;
    return false;
  }

  /** @internal Hands a finished frame to the link (a loopback has none: the Stack never calls this for one). */
  transmit(frame: Uint8Array): void {
    if (this.link === null) {
      this.txErrors++;
      return;
    }
    const h = this.hook;
    if (h !== null) {
      h.out(frame, undefined);
      return;
    }
    this.txFrames++;
    this.link.send(frame);
  }

  /** The interface's hook, made on first use with `clock` for its impairment's delays. */
  hookOn(clock: Clock): PacketHook {
    this.hook ??= new PacketHook({
      clock,
      send: (frame) => {
        if (!this.bound || this.link === null) return;
        this.txFrames++;
        this.link.send(frame);
      },
      deliver: (frame) => {
        if (this.bound) this.owner.ifcInput(this, frame);
      },
      afterInRelease: () => {
        if (this.bound) this.owner.ifcBatchEnd(this);
      },
      copyIn: true,
    });
    return this.hook;
  }

  /** Drops the hook once nothing is attached to it (the path is bare again). */
  dropIdleHook(): void {
    if (this.hook?.idle) this.hook = null;
  }

  /**
   * Removes all addresses and their routes, forgets ARP entries through this
   * interface and detaches from the link (Plan 9 `unbind`). The link itself
   * is not closed: its owner does that. Idempotent.
   */
  unbind(): void {
    if (!this.bound) return;
    this.addrs = [];
    this.acceptAny = false;
    this.bound = false;
    this.hook?.close();
    this.sub?.dispose();
    this.owner.ifcUnbound(this);
  }

  private checkBound(): void {
    if (!this.bound) throw new StackError('interface not bound');
  }
}
