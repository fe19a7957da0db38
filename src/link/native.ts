/**
 * Types for, and the lazy loader of, our TAP addon (native/tap.cc, built to
 * native/build/Release/tap.node by `npm run build:native`). Nothing native
 * is loaded at import time, so the rest of 9net runs without the addon;
 * loadTapAddon() throws one clear error when it is missing. Also the loader
 * of the libpcap addon (native/pcap.cc -> pcap.node; types in ./pcap.ts),
 * which is built only where libpcap-dev is installed: loadPcapAddon().
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { PcapAddon } from './pcap.js';

/** Version of the JS <-> C++ contract; must equal the addon's constants.ABI. */
export const TAP_ADDON_ABI = 1;

/** auto: attach if NAME exists, else create; create: must not exist; attach: must exist. */
export type TapMode = 'auto' | 'create' | 'attach';

export interface NativeTapOptions {
  /** Interface name, 1-15 chars; may contain %d for the kernel to number. */
  name: string;
  mode?: TapMode;
  /** 0 (default): no virtio-net header; 10 or 12: IFF_VNET_HDR with that header size. */
  vnetHdrSize?: 0 | 10 | 12;
  /** TUN_F_* offload flags (needs vnetHdrSize); default 0, set on every open. */
  offload?: number;
  /** Max frames read per wakeup, 1..MAX_BATCH (1024); default 64. */
  batch?: number;
  /** Rx window per frame in bytes incl. vnet header, 64..MAX_FRAME_MAX; default 1518 + vnetHdrSize. */
  frameMax?: number;
}

export interface NativeTapCounters {
  /** Calls into JS (one per wakeup that read frames). */
  batches: number;
  frames: number;
  /** Frames longer than frameMax (dropped). */
  truncated: number;
  /** Frames shorter than an Ethernet header (dropped). */
  runts: number;
}

/** An open TAP file descriptor with its poller. */
export interface NativeTap {
  readonly fd: number;
  /** The actual device name (the kernel fills in %d). */
  readonly name: string;
  readonly vnetHdrSize: number;
  readonly batch: number;
  readonly frameMax: number;
  readonly closed: boolean;
  readonly polling: boolean;
  /**
   * Shared receive buffer: during onBatch(count), frame i occupies
   * rxLengths[i] bytes right after frame i-1 (the first at offset 0). With a
   * vnet header, each frame starts with it. Overwritten by the next batch.
   */
  readonly rxBuffer: ArrayBuffer;
  readonly rxLengths: Uint32Array;
  /** errno of the last failed write/writeBatch frame, 0 if none. */
  readonly lastWriteErrno: number;
  /**
   * Start polling: onBatch(count) once per wakeup with up to `batch` frames;
   * onError(code, message) once if the fd fails (polling stops, fd stays open).
   */
  start(onBatch: (count: number) => void, onError: (code: string, message: string) => void): void;
  /** Stop polling; frames queue in the kernel (up to the device's txqueuelen). */
  stop(): void;
  /** Write one frame (without vnet header; a zero one is prepended). Returns 0 or an errno. */
  write(frame: Uint8Array): number;
  /**
   * Write frames[start..] in order; returns how many were written. Stops at
   * the first failure (lastWriteErrno) or after TX_BATCH_MAX (1024) frames.
   */
  writeBatch(frames: readonly Uint8Array[], start?: number): number;
  /** Stop polling and close the fd. Idempotent. */
  close(): void;
  /** Let the poller keep the event loop alive (default) or not. */
  ref(): void;
  unref(): void;
  counters(): NativeTapCounters;
}

export interface InterfaceInfo {
  index: number;
  mtu: number | null;
  mac: Uint8Array | null;
}

export interface TapAddonConstants {
  ABI: number;
  MAX_BATCH: number;
  DEFAULT_BATCH: number;
  MIN_FRAME_MAX: number;
  MAX_FRAME_MAX: number;
  MAX_FRAME_LEN: number;
  MAX_RX_BUFFER: number;
  TX_BATCH_MAX: number;
  TUN_F_CSUM: number;
  TUN_F_TSO4: number;
  TUN_F_TSO6: number;
  TUN_F_TSO_ECN: number;
}

export interface TapAddon {
  /** Opens /dev/net/tun and TUNSETIFF; throws an Error like "EPERM: creating tap0 needs ...". */
  Tap: new (opts: NativeTapOptions) => NativeTap;
  /** Index, MTU and MAC of a device in this network namespace, or null. */
  interfaceInfo(name: string): InterfaceInfo | null;
  constants: TapAddonConstants;
}

/** Where the addon is expected (same relative path from src/link and dist/link). */
export const TAP_ADDON_PATH = fileURLToPath(new URL('../../native/build/Release/tap.node', import.meta.url));

export class NativeAddonError extends Error {
  readonly code = 'ERR_9NET_NATIVE';
}

let cached: TapAddon | null = null;
let failure: NativeAddonError | null = null;

/** Loads the addon on first use; throws NativeAddonError with a one-line reason. */
export function loadTapAddon(): TapAddon {
  if (cached) return cached;
  if (failure) throw failure;
  if (!existsSync(TAP_ADDON_PATH)) {
    failure = new NativeAddonError('native addon not built: run npm run build:native');
    throw failure;
  }
  try {
    const addon = createRequire(import.meta.url)(TAP_ADDON_PATH) as TapAddon;
    if (addon.constants?.ABI !== TAP_ADDON_ABI) {
      throw new Error(`ABI ${String(addon.constants?.ABI)}, expected ${TAP_ADDON_ABI}`);
    }
    cached = addon;
    return addon;
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    failure = new NativeAddonError(`native addon failed to load (${why}): run npm run build:native`, { cause: e });
    throw failure;
  }
}

/** null when the addon loads, else the reason it does not. */
export function tapAddonUnavailable(): string | null {
  try {
    loadTapAddon();
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** Version of the JS <-> C++ contract of native/pcap.cc; must equal its constants.ABI. */
export const PCAP_ADDON_ABI = 2;

/** Where the libpcap addon is expected (built only where libpcap-dev is installed). */
export const PCAP_ADDON_PATH = fileURLToPath(new URL('../../native/build/Release/pcap.node', import.meta.url));

let pcapCached: PcapAddon | null = null;
let pcapFailure: NativeAddonError | null = null;

/**
 * Loads the libpcap addon (native/pcap.cc) on first use; throws
 * NativeAddonError with a one-line reason when it is not built or fails to
 * load (e.g. libpcap.so.0.8 missing at run time).
 */
export function loadPcapAddon(): PcapAddon {
  if (pcapCached) return pcapCached;
  if (pcapFailure) throw pcapFailure;
  if (!existsSync(PCAP_ADDON_PATH)) {
    pcapFailure = new NativeAddonError('libpcap addon not built: install libpcap-dev, then run npm run build:native');
    throw pcapFailure;
  }
  try {
    const addon = createRequire(import.meta.url)(PCAP_ADDON_PATH) as PcapAddon;
    if (addon.constants?.ABI !== PCAP_ADDON_ABI) {
      throw new Error(`ABI ${String(addon.constants?.ABI)}, expected ${PCAP_ADDON_ABI}`);
    }
    pcapCached = addon;
    return addon;
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    pcapFailure = new NativeAddonError(`libpcap addon failed to load (${why}): install libpcap, then run npm run build:native`, { cause: e });
    throw pcapFailure;
  }
}

/** null when the libpcap addon loads, else the reason it does not. */
export function pcapAddonUnavailable(): string | null {
  try {
    loadPcapAddon();
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

const errnoNames = new Map<number, string>(Object.entries(osConstants.errno).map(([k, v]) => [v, k]));

/** "EAGAIN" for 11, etc. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}
