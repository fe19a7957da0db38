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
import { DEFAULT_MTU, ETH_HEADER_LEN } from './link.js';
import { checkMac, randomMac } from './mac.js';
import { NativeLink } from './native-link.js';
import { loadTapAddon } from './native.js';
import type { NativeTap, NativeTapCounters, TapMode } from './native.js';
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

export class TapLink extends NativeLink<NativeTapCounters, NativeTap> {
  /** The kernel side's MAC at open time (null if unknown). */
  readonly peerMac: Uint8Array | null;

  private constructor(tap: NativeTap, opts: TapLinkOptions, mtu: number, peerMac: Uint8Array | null) {
    const hdr = tap.vnetHdrSize;
    super(tap, {
      mtu,
      mac: opts.mac ? checkMac(opts.mac) : randomMac(opts.rng ?? new CryptoRng()),
      txDropErrnos: TX_DROP_ERRNOS,
      rxHeader: hdr,
      onError: opts.onError,
    });
    this.peerMac = peerMac;
    if (hdr) {
      // Frames that would need offload handling (GSO, unfinished checksum) are rxErrors.
      this.rxCheck = (bytes, off) => {
        if (vnetFrameComplete(bytes.subarray(off, off + hdr))) return true;
        this.jsRxErrors++;
        return false;
      };
    }
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
}
