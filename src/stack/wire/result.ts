/**
 * The result convention shared by every parser in `src/stack/wire/`.
 *
 * A parser returns either its plain `XRepr` record or a {@link WireError}:
 *
 *     const ip = parseIpv4(frame);
 *     if (ip instanceof WireError) { stats.count(ip.reason); return; }
 *     use(ip.src, ip.payload);
 *
 * Parsers never throw on untrusted bytes (smoltcp `src/wire/mod.rs` contract:
 * every length is checked before any field is read). Errors are preallocated,
 * frozen singletons (one per reason), so the error path allocates nothing and
 * `err === WireError.truncated` comparisons work; `err.reason` is a short
 * string suitable as a statistics key.
 *
 * Emitters are different: they take trusted reprs, and a buffer too small for
 * `xBufferLen(repr)` or an out-of-range field is a programmer error, reported
 * by throwing a `RangeError`.
 */

/** Why a frame was rejected; short, stable strings usable as stats keys. */
export type WireErrorReason =
  | 'truncated'
  | 'bad checksum'
  | 'bad version'
  | 'bad header length'
  | 'bad length'
  | 'bad option'
  | 'bad name'
  | 'bad pointer'
  | 'unsupported';

/** Every reason, in a fixed order (for stats tables). */
export const WIRE_ERROR_REASONS: readonly WireErrorReason[] = Object.freeze([
  'truncated',
  'bad checksum',
  'bad version',
  'bad header length',
  'bad length',
  'bad option',
  'bad name',
  'bad pointer',
  'unsupported',
]);

/**
 * A parse failure. Only the static singletons exist; never construct one.
 * Reprs are plain objects, so `x instanceof WireError` narrows `XRepr | WireError`.
 */
export class WireError {
  /** The buffer ends before a length it (or the layer below) announced. */
  static readonly truncated = new WireError('truncated');
  /** A checksum the layer owns does not verify. */
  static readonly badChecksum = new WireError('bad checksum');
  /** IPv4 version field is not 4. */
  static readonly badVersion = new WireError('bad version');
  /** IHL / data offset below the minimum header. */
  static readonly badHeaderLength = new WireError('bad header length');
  /** A length field is inconsistent (e.g. IPv4 total length < header length). */
  static readonly badLength = new WireError('bad length');
  /** A TCP, DHCP or DNS option with an impossible or wrong length. */
  static readonly badOption = new WireError('bad option');
  /** A DNS name with a bad label type, a label over 63 bytes or over 255 bytes in all (RFC 1035 §2.3.4). */
  static readonly badName = new WireError('bad name');
  /** A DNS compression pointer that does not point back into the message (loops included; RFC 1035 §4.1.4). */
  static readonly badPointer = new WireError('bad pointer');
  /** Well-formed but outside what this layer handles (e.g. non-Ethernet/IPv4 ARP). */
  static readonly unsupported = new WireError('unsupported');

  private constructor(readonly reason: WireErrorReason) {
    Object.freeze(this);
  }

  toString(): string {
    return `wire: ${this.reason}`;
  }
}

/** Type guard equivalent to `x instanceof WireError`. */
export function isWireError(x: unknown): x is WireError {
  return x instanceof WireError;
}
