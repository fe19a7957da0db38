/**
 * PcapLink: a Link over an existing interface through our packet-socket
 * addon (native/pcap.cc; libpcap compiles its kernel filter). The stack
 * becomes one more station on the interface's segment, with its own MAC: the
 * socket is promiscuous (frames for our MAC arrive although the NIC's own
 * MAC differs), incoming only (we do not see what we send, nor what the host
 * transmits), non-blocking and polled on the event loop. Each wakeup drains
 * up to `batch` frames into one shared buffer and makes ONE call into JS.
 *
 * By default a kernel BPF filter keeps only frames for our MAC, broadcast
 * and multicast, so a busy promiscuous interface costs little.
 *
 * Offloads: a frame from a local sender with checksum offload (a veth peer)
 * has an unfinished TCP/UDP checksum, and with TSO or GRO one frame may be
 * up to 64 KiB of TCP. The kernel says so per frame (a virtio-net header on
 * the socket) and the addon does what the NIC would: it finishes the
 * checksum or cuts the frame into pieces of the sender's segment size
 * (counters csumFinished, split, pieces; unsplit for kinds it cannot cut,
 * which count as rxErrors). LRO on a real NIC may still merge frames without
 * saying so: 9net warns, turn it off (ethtool -K IFACE lro off). The host's
 * own IP stack on IFACE is not reachable from us (its frames are outgoing).
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
  /** Longest frame delivered, MIN_SNAPLEN..MAX_SNAPLEN (64..65539); default 1518. Longer frames are dropped (counted as truncated). */
  snaplen?: number;
  /** Promiscuous mode (default true). */
  promisc?: boolean;
  /** Max frames per wakeup (one JS call), 1..MAX_BATCH (1024); default 64. batch * snaplen <= MAX_RX_BUFFER (16 MiB). */
  batch?: number;
  /** Socket receive (and send) buffer in bytes, 64 KiB..256 MiB; default 4 MiB (beyond net.core.rmem_max only with CAP_NET_ADMIN). */
  bufferSize?: number;
}

export interface NativePcapCounters {
  /** Calls into JS (one per wakeup that captured frames). */
  batches: number;
  frames: number;
  /** Frames (or pieces of a split frame) longer than snaplen: dropped, never delivered partially. */
  truncated: number;
  /** Frames shorter than an Ethernet header (dropped). */
  runts: number;
  /** Frames that did not fit the shared buffer (a guard; should stay 0). */
  overflow: number;
  /** Times the interface went down (the capture resumes when it is up again; fails if it is deleted). */
  downs: number;
  /** Frames the kernel dropped because the socket's receive buffer was full (PACKET_STATISTICS). */
  kernelDrops: number;
  /** Drops reported by the interface since open (its rx_dropped). */
  ifDrops: number;
  /** Frames whose TCP/UDP checksum the sender's kernel left to the hardware, finished here. */
  csumFinished: number;
  /** GSO frames (TSO from a local sender, or merged by GRO) cut into wire-sized pieces. */
  split: number;
  /** The pieces they were cut into. */
  pieces: number;
  /** Offloaded frames the addon cannot finish or cut (not IPv4 TCP/UDP, bad offsets): dropped. */
  unsplit: number;
}

/** An activated capture with its poller. */
export interface NativePcap {
  readonly fd: number;
  readonly name: string;
  readonly snaplen: number;
  readonly batch: number;
  /** True if the kernel leaves outgoing frames out (PACKET_IGNORE_OUTGOING); else the addon skips them by packet type. */
  readonly directionIn: boolean;
  readonly promisc: boolean;
  /** A condition found at open, if any (promiscuous mode not supported). */
  readonly warning: string | null;
  readonly closed: boolean;
  /** Started and not stopped (JS wants frames). */
  readonly polling: boolean;
  /** The interface went down: capture pauses, and resumes (checked every 200 ms) when it is up again. */
  readonly down: boolean;
  /**
   * Shared rx buffer: during onBatch(count), frame i is rxLengths[i] bytes
   * right after frame i-1. count < batch + MAX_SPLIT (the last frame of a
   * wakeup may be cut into up to MAX_SPLIT pieces); rxLengths has that many entries.
   */
  readonly rxBuffer: ArrayBuffer;
  readonly rxLengths: Uint32Array;
  /** errno of the last failed write/writeBatch frame, 0 if none. */
  readonly lastWriteErrno: number;
  /** onBatch(count) once per wakeup with up to `batch` frames (see rxLengths); onError(code, message) once if the capture fails. */
  start(onBatch: (count: number) => void, onError: (code: string, message: string) => void): void;
  /** Stop polling; frames queue in the socket's receive buffer (then are dropped and counted). */
  stop(): void;
  /** Send one frame; returns 0 or an errno. */
  write(frame: Uint8Array): number;
  /** Inject frames[start..] in order; returns how many went out. Stops at the first failure or after TX_BATCH_MAX (1024). */
  writeBatch(frames: readonly Uint8Array[], start?: number): number;
  /** Kernel BPF filter in pcap syntax, compiled by libpcap ("" = none); throws "EINVAL: bad filter ..." when it does not compile. */
  setFilter(expression: string): void;
  /** Stop polling and close the socket. Idempotent. */
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
  /** Pieces one GSO frame may be cut into. */
  MAX_SPLIT: number;
}

export interface PcapAddon {
  /** Opens the packet socket; throws an Error like "ENODEV: no interface veth9" or "EPERM: capturing on ...". */
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
  /** Longest frame delivered; default mtu + 18 (header and one VLAN tag), at most 65539. */
  snaplen?: number;
  /** Promiscuous capture (default true; needed unless `mac` is the interface's own). */
  promisc?: boolean;
  /** Max frames per wakeup, 1..1024 (default 64); lowered so batch * snaplen <= 16 MiB. */
  batch?: number;
  /** Socket buffer bytes, 64 KiB..256 MiB (default 4 MiB). */
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
  /** Conditions found at open that may hurt (LRO on, no promiscuous mode, ...): one line each. */
  readonly warnings: readonly string[];
  private jsRxDropped = 0;

  private constructor(pc: NativePcap, mac: Uint8Array, mtu: number, ifaceMac: Uint8Array | null, warnings: string[], onError?: (err: Error) => void) {
    super(pc, { mtu, mac, txDropErrnos: TX_DROP_ERRNOS, onError });
    this.ifaceMac = ifaceMac;
    this.warnings = warnings;
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
    if (info.lro) warnings.push(`${iface} has LRO on: received TCP may be merged beyond the MTU; turn it off with ethtool -K ${iface} lro off`);
    if (opts.mtu !== undefined && info.mtu !== null && opts.mtu > info.mtu) {
      warnings.push(`mtu ${opts.mtu} is larger than ${iface}'s ${info.mtu}: large frames will not go out`);
    }
    return new PcapLink(pc, mac, mtu, info.mac ? Uint8Array.from(info.mac) : null, warnings, opts.onError);
  }

  /** The addon's raw counters (kernel drops, interface downs, offload work, ...). */
  get counters(): NativePcapCounters {
    return this.handle.counters();
  }

  /** True if the kernel leaves outgoing frames out; otherwise the addon skips them by packet type. */
  get directionIn(): boolean {
    return this.handle.directionIn;
  }

  /** The interface is down: nothing arrives until it is up again (the link notices within 200 ms). */
  get isDown(): boolean {
    return !this.isClosed && this.handle.down;
  }

  /**
   * rxDropped: frames dropped in JS, by the kernel (socket buffer full) and
   * the addon's overflow guard; rxErrors also counts offloaded frames the
   * addon could not finish or cut.
   */
  protected override addCounters(s: LinkStats, c: NativePcapCounters): void {
    s.rxDropped = this.jsRxDropped + c.kernelDrops + c.overflow;
    s.rxErrors += c.unsplit;
  }

  protected override dropRx(n: number): void {
    this.jsRxDropped += n;
  }
}
