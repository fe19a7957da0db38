/**
 * PcapLink: a Link over an existing interface through libpcap (our addon,
 * native/pcap.cc, linked against the system libpcap). The stack becomes one
 * more station on the interface's segment, with its own MAC: the capture is
 * promiscuous (frames for our MAC arrive although the NIC's own MAC differs),
 * incoming only (PCAP_D_IN: we do not see what we inject, nor what the host
 * transmits), in immediate mode, non-blocking and polled on the event loop.
 * Each wakeup drains up to `batch` frames with pcap_dispatch into one shared
 * buffer and makes ONE call into JS; frames go out with pcap_inject.
 *
 * By default a kernel BPF filter keeps only frames for our MAC, broadcast
 * and multicast, so a busy promiscuous interface costs little.
 *
 * Caveats (reported in `warnings` where detectable): with GRO/LRO on, the
 * kernel may merge received TCP segments beyond the MTU before the capture
 * sees them (such frames are dropped or refused by the stack), so turn them
 * off (ethtool -K IFACE gro off lro off). Frames sent by a local kernel with
 * checksum offload (e.g. over a veth) carry unfinished checksums: turn off tx
 * checksumming on that sender (ethtool -K PEER tx off). The host's own IP
 * stack on IFACE is not reachable from us (its frames are outgoing).
 *
 * Capturing needs CAP_NET_RAW; without it open() throws
 * "EPERM: capturing on IFACE needs CAP_NET_RAW (...)". The interface must be
 * up at open ("ENETDOWN: IFACE is down ..."); if it goes down later the
 * capture pauses and resumes when it is up again (isDown), and if it is
 * deleted the link fails (onError) and closes.
 */
import { CryptoRng } from '../lib/rng.js';
import type { Rng } from '../lib/rng.js';
import { DEFAULT_MTU, ETH_HEADER_LEN } from './link.js';
import type { LinkStats } from './link.js';
import { checkMac, formatMac, randomMac } from './mac.js';
import { NativeLink } from './native-link.js';
import { loadPcapAddon } from './native.js';

// ---- the addon's contract (native/pcap.cc) ---------------------------------

export interface NativePcapOptions {
  /** Interface name, 1-15 characters. */
  iface: string;
  /** Capture length, MIN_SNAPLEN..MAX_SNAPLEN (64..65539); default 1518. Longer frames are dropped (counted as truncated). */
  snaplen?: number;
  /** Promiscuous mode (default true). */
  promisc?: boolean;
  /** Max frames per wakeup (one JS call), 1..MAX_BATCH (1024); default 64. batch * snaplen <= MAX_RX_BUFFER (16 MiB). */
  batch?: number;
  /** Kernel ring size in bytes (pcap_set_buffer_size), 64 KiB..256 MiB; default 4 MiB. */
  bufferSize?: number;
}

export interface NativePcapCounters {
  /** Calls into JS (one per wakeup that captured frames). */
  batches: number;
  frames: number;
  /** Frames cut at snaplen (dropped, never delivered partially). */
  truncated: number;
  /** Frames shorter than an Ethernet header (dropped). */
  runts: number;
  /** Frames that did not fit the shared buffer (a guard; should stay 0). */
  overflow: number;
  /** Times the interface went down (the capture resumes when it is up again; fails if it is deleted). */
  downs: number;
  /** Frames the kernel dropped because the ring was full (pcap_stats ps_drop). */
  kernelDrops: number;
  /** Drops reported by the interface (pcap_stats ps_ifdrop). */
  ifDrops: number;
}

/** An activated capture with its poller. */
export interface NativePcap {
  readonly fd: number;
  readonly name: string;
  readonly snaplen: number;
  readonly batch: number;
  /** True if the capture is incoming-only (PCAP_D_IN); else our own frames may come back. */
  readonly directionIn: boolean;
  readonly promisc: boolean;
  /** pcap_activate's warning, if any (e.g. promiscuous mode not supported). */
  readonly warning: string | null;
  readonly closed: boolean;
  /** Started and not stopped (JS wants frames). */
  readonly polling: boolean;
  /** The interface went down: capture pauses, and resumes (checked every 200 ms) when it is up again. */
  readonly down: boolean;
  /** Shared rx buffer: during onBatch(count), frame i is rxLengths[i] bytes right after frame i-1. */
  readonly rxBuffer: ArrayBuffer;
  readonly rxLengths: Uint32Array;
  /** errno of the last failed write/writeBatch frame, 0 if none. */
  readonly lastWriteErrno: number;
  /** onBatch(count) once per wakeup with up to `batch` frames; onError(code, message) once if the capture fails. */
  start(onBatch: (count: number) => void, onError: (code: string, message: string) => void): void;
  /** Stop polling; frames queue in the kernel ring (then are dropped and counted). */
  stop(): void;
  /** pcap_inject one frame; returns 0 or an errno. */
  write(frame: Uint8Array): number;
  /** Inject frames[start..] in order; returns how many went out. Stops at the first failure or after TX_BATCH_MAX (1024). */
  writeBatch(frames: readonly Uint8Array[], start?: number): number;
  /** Kernel BPF filter in pcap syntax ("" = none); throws "EINVAL: bad filter ..." when it does not compile. */
  setFilter(expression: string): void;
  /** Stop polling and pcap_close. Idempotent. */
  close(): void;
  ref(): void;
  unref(): void;
  counters(): NativePcapCounters;
}

export interface PcapInterfaceInfo {
  index: number;
  mtu: number | null;
  mac: Uint8Array | null;
  up: boolean | null;
  /** Generic receive offload on (null: the driver does not say). */
  gro: boolean | null;
  /** Large receive offload on (null: the driver does not say). */
  lro: boolean | null;
}

export interface PcapAddonConstants {
  ABI: number;
  MAX_BATCH: number;
  DEFAULT_BATCH: number;
  MIN_SNAPLEN: number;
  MAX_SNAPLEN: number;
  DEFAULT_SNAPLEN: number;
  MAX_FRAME_LEN: number;
  MAX_RX_BUFFER: number;
  TX_BATCH_MAX: number;
  MIN_KERNEL_BUFFER: number;
  MAX_KERNEL_BUFFER: number;
  DEFAULT_KERNEL_BUFFER: number;
  MAX_FILTER_LEN: number;
}

export interface PcapAddon {
  /** pcap_create + activate; throws an Error like "ENODEV: no interface veth9" or "EPERM: capturing on ...". */
  Pcap: new (opts: NativePcapOptions) => NativePcap;
  /** Index, MTU, MAC, up flag and receive offloads of a device in this namespace, or null. */
  interfaceInfo(name: string): PcapInterfaceInfo | null;
  /** pcap_lib_version(). */
  libVersion: string;
  constants: PcapAddonConstants;
}

// ---- the link ---------------------------------------------------------------

/** Room for one 802.1Q tag in the capture length. */
const VLAN_TAG_LEN = 4;
/** Largest IP MTU a link accepts (a frame must fit 65535 bytes). */
const MAX_MTU = 65535 - ETH_HEADER_LEN;

export interface PcapLinkOptions {
  /** The existing interface to run over, e.g. "eth0". */
  iface: string;
  /** Our MAC; default: random, locally administered, from `rng`. */
  mac?: Uint8Array;
  /** Randomness for the MAC; default CryptoRng. */
  rng?: Rng;
  /** IP MTU we use, 68..65521; default the interface's (else 1500). */
  mtu?: number;
  /** Capture length; default mtu + 18 (header and one VLAN tag), at most 65539. */
  snaplen?: number;
  /** Promiscuous capture (default true; needed unless `mac` is the interface's own). */
  promisc?: boolean;
  /** Max frames per wakeup, 1..1024 (default 64); lowered so batch * snaplen <= 16 MiB. */
  batch?: number;
  /** Kernel ring bytes, 64 KiB..256 MiB (default 4 MiB). */
  bufferSize?: number;
  /**
   * Kernel BPF filter: only frames to our MAC, broadcast and multicast
   * (default true). false: every incoming frame reaches the receiver.
   */
  filter?: boolean;
  /** Called once if the capture fails (e.g. interface deleted); the link is then closed. */
  onError?: (err: Error) => void;
}

/** Send errnos that mean "could not send now" rather than "bad frame". */
const TX_DROP_ERRNOS = new Set([
  'EAGAIN', 'EWOULDBLOCK', 'ENOBUFS', 'ENOMEM', 'EIO', 'EBADF', 'ENETDOWN', 'ENXIO', 'ENODEV',
]);

export class PcapLink extends NativeLink<NativePcapCounters, NativePcap> {
  /** The interface's own MAC (the host's address on the segment), null if unknown. */
  readonly ifaceMac: Uint8Array | null;
  /** Conditions found at open that may hurt (GRO/LRO on, no promiscuous mode, ...): one line each. */
  readonly warnings: readonly string[];
  private jsRxDropped = 0;

  private constructor(pc: NativePcap, mac: Uint8Array, mtu: number, ifaceMac: Uint8Array | null, warnings: string[], onError?: (err: Error) => void) {
    super(pc, { mtu, mac, txDropErrnos: TX_DROP_ERRNOS, onError });
    this.ifaceMac = ifaceMac;
    this.warnings = warnings;
    // Without PCAP_D_IN our own frames come back: skip those from our MAC.
    if (!pc.directionIn) this.rxCheck = (bytes, off, len) => !this.fromUs(bytes, off, len);
  }

  /**
   * Opens a capture on `iface`. Throws a one-line Error (with .code) if it
   * cannot, e.g. "ENODEV: no interface veth9", "EPERM: capturing on veth0
   * needs CAP_NET_RAW (run as root or setcap cap_net_raw+ep $(which node))",
   * or "libpcap addon not built: install libpcap-dev, then run npm run build:native".
   */
  static open(opts: PcapLinkOptions): PcapLink {
    const addon = loadPcapAddon();
    const k = addon.constants;
    if (typeof opts.iface !== 'string') throw new TypeError('iface must be a string');
    if (opts.mtu !== undefined && !(Number.isInteger(opts.mtu) && opts.mtu >= 68 && opts.mtu <= MAX_MTU)) {
      throw new RangeError(`mtu must be an integer in [68, ${MAX_MTU}], got ${opts.mtu}`);
    }
    const mac = opts.mac ? checkMac(opts.mac) : randomMac(opts.rng ?? new CryptoRng());
    const info = addon.interfaceInfo(opts.iface); // validates the name; null if absent
    if (!info) throw Object.assign(new Error(`ENODEV: no interface ${opts.iface}`), { code: 'ENODEV' });
    const ifMtu = info.mtu !== null && info.mtu >= 68 ? Math.min(info.mtu, MAX_MTU) : DEFAULT_MTU;
    const mtu = opts.mtu ?? ifMtu;
    const snaplen = opts.snaplen ?? Math.min(mtu + ETH_HEADER_LEN + VLAN_TAG_LEN, k.MAX_SNAPLEN);
    let batch = opts.batch ?? k.DEFAULT_BATCH;
    if (Number.isInteger(snaplen) && snaplen >= k.MIN_SNAPLEN && snaplen <= k.MAX_SNAPLEN) {
      batch = Math.min(batch, Math.floor(k.MAX_RX_BUFFER / snaplen)); // >= 256: snaplen <= MAX_SNAPLEN
    }
    const pc = new addon.Pcap({ iface: opts.iface, snaplen, promisc: opts.promisc ?? true, batch, bufferSize: opts.bufferSize });
    try {
      if (opts.filter ?? true) pc.setFilter(`ether dst ${formatMac(mac)} or ether multicast`);
    } catch (e) {
      pc.close();
      throw e;
    }
    const warnings: string[] = [];
    if (pc.warning) warnings.push(pc.warning);
    const iface = pc.name;
    if (info.gro) warnings.push(`${iface} has GRO on: received TCP may be merged beyond the MTU; turn it off with ethtool -K ${iface} gro off`);
    if (info.lro) warnings.push(`${iface} has LRO on: received TCP may be merged beyond the MTU; turn it off with ethtool -K ${iface} lro off`);
    if (opts.mtu !== undefined && info.mtu !== null && opts.mtu > info.mtu) {
      warnings.push(`mtu ${opts.mtu} is larger than ${iface}'s ${info.mtu}: large frames will not go out`);
    }
    return new PcapLink(pc, mac, mtu, info.mac ? Uint8Array.from(info.mac) : null, warnings, opts.onError);
  }

  /** The addon's raw counters (kernel ring drops, interface downs, ...). */
  get counters(): NativePcapCounters {
    return this.handle.counters();
  }

  /** True if the capture is incoming-only; otherwise frames from our own MAC are skipped in JS. */
  get directionIn(): boolean {
    return this.handle.directionIn;
  }

  /** The interface is down: nothing arrives until it is up again (the link notices within 200 ms). */
  get isDown(): boolean {
    return !this.isClosed && this.handle.down;
  }

  /** rxDropped: frames dropped in JS, by the kernel ring (full) and the addon's overflow guard. */
  protected override addCounters(s: LinkStats, c: NativePcapCounters): void {
    s.rxDropped = this.jsRxDropped + c.kernelDrops + c.overflow;
  }

  protected override dropRx(n: number): void {
    this.jsRxDropped += n;
  }

  /** True if the frame at bytes[off, off + len) has our source MAC. */
  private fromUs(bytes: Uint8Array, off: number, len: number): boolean {
    const m = this.mac;
    return (
      len >= 12 &&
      bytes[off + 6] === m[0] && bytes[off + 7] === m[1] && bytes[off + 8] === m[2] &&
      bytes[off + 9] === m[3] && bytes[off + 10] === m[4] && bytes[off + 11] === m[5]
    );
  }
}
