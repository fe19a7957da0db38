/**
 * TCP segment headers and options over IPv4 (RFC 9293; options: MSS
 * RFC 9293 §3.2, window scale and timestamps RFC 7323, SACK RFC 2018).
 *
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |          Source Port          |       Destination Port        |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |                        Sequence Number                        |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |                    Acknowledgment Number                      |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |  Data |  Rsv  |C|E|U|A|P|R|S|F|                               |
 *     | Offset|       |W|C|R|C|S|S|Y|I|            Window             |
 *     |       |       |R|E|G|K|H|T|N|N|                               |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |           Checksum            |         Urgent Pointer        |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |                    Options                    |    Padding    |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |                             data                              |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 *     options (kind, length, value):
 *       0 EOL   1 NOP   2,4 MSS[2]   3,3 window-shift[1]   4,2 SACK-permitted
 *       5,2+8n SACK left/right edges[4+4] × n (1 ≤ n ≤ 4)   8,10 TSval[4] TSecr[4]
 *
 *     checksum pseudo-header: src[4] dst[4] zero[1] proto=6[1] tcp-length[2]
 *
 * Representation notes (a deliberate deviation from smoltcp's `TcpRepr`
 * `control` enum, see style.md §4.3): flags are the raw 12-bit field
 * (reserved bits included) and `ack` is always the wire value, so any
 * segment, including odd flag combinations the state machine must reject,
 * is representable and round-trips; test `flags & TCP_ACK` before using `ack`.
 *
 * Options are parsed into typed fields; unknown kinds are skipped by their
 * length; an option whose length is < 2, runs past the data offset, or is
 * wrong for its kind makes the segment `bad option`. EOL ends parsing.
 * One emitter, emitTcpHeader, writes every segment: emitTcp (for a
 * TcpRepr, as the goldens and fuzz tests use it) and the TCP layer's
 * segment writer (stack/tcp/segment.ts, the hot path) both go through it.
 * It uses Linux's canonical layout (tcp_options_write), so segments sent
 * by Linux re-emit byte-exactly and every option is 4-byte aligned:
 *
 *     MSS:            02 04 mm mm
 *     TS (+SACKOK):   04 02 08 0a <TSval> <TSecr>     (01 01 08 0a ... without SACKOK)
 *     SACKOK, no TS:  01 01 04 02
 *     window scale:   01 03 03 ss
 *     SACK blocks:    01 01 05 <2+8n> <left right>×n
 */
import { checkRoom, get16, get32, placePayload, put16, put32 } from './bytes.js';
import { checksum, onesSum, pseudoHeaderSum } from './checksum.js';
import { IP_PROTO_TCP } from './ipv4.js';
import { WireError } from './result.js';

/** Bytes in a TCP header without options. */
export const TCP_HEADER_LEN = 20;
/** Largest TCP header (data offset 15). */
export const TCP_MAX_HEADER_LEN = 60;

/** Flag bits of {@link TcpRepr.flags}. */
export const TCP_FIN = 0x001;
export const TCP_SYN = 0x002;
export const TCP_RST = 0x004;
export const TCP_PSH = 0x008;
export const TCP_ACK = 0x010;
export const TCP_URG = 0x020;
export const TCP_ECE = 0x040;
export const TCP_CWR = 0x080;
/** Lowest reserved bit (AccECN "AE", formerly NS); bits 0x200..0x800 are reserved too. */
export const TCP_AE = 0x100;

/** Option kinds. */
export const TCP_OPT_EOL = 0;
export const TCP_OPT_NOP = 1;
export const TCP_OPT_MSS = 2;
export const TCP_OPT_WS = 3;
export const TCP_OPT_SACK_PERMITTED = 4;
export const TCP_OPT_SACK = 5;
export const TCP_OPT_TIMESTAMP = 8;

/** Shared empty SACK list for segments without SACK blocks. */
export const NO_SACK: readonly number[] = Object.freeze([]);

/** A parsed or to-be-emitted TCP segment. All 32-bit fields are unsigned numbers. */
export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  /** Sequence number (u32). */
  seq: number;
  /** Acknowledgment number (u32), as on the wire; meaningful only with `TCP_ACK`. */
  ack: number;
  /** The 12 flag bits (`TCP_FIN` … `TCP_CWR`, plus reserved bits 0x100..0x800). */
  flags: number;
  /** Window field, unscaled. */
  window: number;
  /** Urgent pointer field. */
  urgent: number;
  /** MSS option value, or null if absent. */
  mss: number | null;
  /** Window scale shift count as sent (not clamped to 14), or null if absent. */
  windowScale: number | null;
  /** SACK-permitted option present. */
  sackPermitted: boolean;
  /**
   * SACK blocks as a flat list of u32 edges `[left0, right0, left1, right1, …]`
   * (0 to 4 pairs); {@link NO_SACK} when absent.
   */
  sackBlocks: readonly number[];
  /** Timestamp option TSval, or null if absent (then `tsEcr` is null too). */
  tsVal: number | null;
  /** Timestamp option TSecr, or null if absent; emitted as 0 when null but `tsVal` is set. */
  tsEcr: number | null;
  /** Segment data, a view. */
  payload: Uint8Array;
}

/**
 * Parses a TCP segment (`buf` is the whole IPv4 payload). Never throws.
 * Checks: ≥ 20 bytes (`truncated`), data offset ≥ 5 (`bad header length`)
 * and within `buf` (`truncated`), the checksum over `buf` with the
 * pseudo-header for `src`/`dst` (`bad checksum`, unless `verifyChecksum` is
 * false), then the options (`bad option`).
 */
export function parseTcp(buf: Uint8Array, src: number, dst: number, verifyChecksum = true): TcpRepr | WireError {
  const len = buf.length;
  if (len < TCP_HEADER_LEN) return WireError.truncated;
  const hlen = (buf[12]! >>> 4) << 2;
  if (hlen < TCP_HEADER_LEN) return WireError.badHeaderLength;
  if (hlen > len) return WireError.truncated;
  if (verifyChecksum && onesSum(buf, pseudoHeaderSum(src, dst, IP_PROTO_TCP, len)) !== 0xffff) {
    return WireError.badChecksum;
  }

  let mss: number | null = null;
  let windowScale: number | null = null;
  let sackPermitted = false;
  let sackBlocks: readonly number[] = NO_SACK;
  let tsVal: number | null = null;
  let tsEcr: number | null = null;
  let i = TCP_HEADER_LEN;
  while (i < hlen) {
    const kind = buf[i]!;
    if (kind === TCP_OPT_EOL) break;
    if (kind === TCP_OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= hlen) return WireError.badOption;
    const olen = buf[i + 1]!;
    if (olen < 2 || i + olen > hlen) return WireError.badOption;
    switch (kind) {
      case TCP_OPT_MSS:
        if (olen !== 4) return WireError.badOption;
        mss = get16(buf, i + 2);
        break;
      case TCP_OPT_WS:
        if (olen !== 3) return WireError.badOption;
        windowScale = buf[i + 2]!;
        break;
      case TCP_OPT_SACK_PERMITTED:
        if (olen !== 2) return WireError.badOption;
        sackPermitted = true;
        break;
      case TCP_OPT_SACK: {
        if (olen < 10 || (olen - 2) % 8 !== 0) return WireError.badOption;
        const edges = (olen - 2) >>> 2;
        const blocks: number[] = new Array<number>(edges);
        for (let k = 0; k < edges; k++) blocks[k] = get32(buf, i + 2 + 4 * k);
        sackBlocks = blocks;
        break;
      }
      case TCP_OPT_TIMESTAMP:
        if (olen !== 10) return WireError.badOption;
        tsVal = get32(buf, i + 2);
        tsEcr = get32(buf, i + 6);
        break;
      default:
        break; // unknown kind: skipped by its length
    }
    i += olen;
  }

  return {
    srcPort: get16(buf, 0),
    dstPort: get16(buf, 2),
    seq: get32(buf, 4),
    ack: get32(buf, 8),
    flags: ((buf[12]! & 0x0f) << 8) | buf[13]!,
    window: get16(buf, 14),
    urgent: get16(buf, 18),
    mss,
    windowScale,
    sackPermitted,
    sackBlocks,
    tsVal,
    tsEcr,
    payload: buf.subarray(hlen),
  };
}

/** Hot-path accessor: `[srcPort, dstPort]` packed as `src * 65536 + dst` (caller checked ≥ 4 bytes). */
export function tcpPorts(buf: Uint8Array): number {
  return get16(buf, 0) * 0x10000 + get16(buf, 2);
}

/**
 * A segment's header as emitTcpHeader takes it: numbers and flags only,
 * -1 for an absent MSS or window-scale option, the SACK edges (flat) in
 * `sack` with their count in `sackEdges`. The TCP layer keeps the segment
 * it is sending in this form (stack/tcp/segment.ts: no null-or-number
 * fields on the hot path); emitTcp converts a TcpRepr into it.
 */
export interface TcpHeaderFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgent: number;
  /** MSS option value, -1 = absent. */
  mss: number;
  /** Window-scale option value, -1 = absent. */
  windowScale: number;
  sackPermitted: boolean;
  /** Timestamp option present (with tsVal and tsEcr). */
  timestamps: boolean;
  tsVal: number;
  tsEcr: number;
  /** SACK edges `[left0, right0, …]`; the first `sackEdges` (even, ≤ 8) are sent. */
  sack: ArrayLike<number>;
  sackEdges: number;
}

/** Bytes of options emitTcpHeader writes for `h` (a multiple of 4). */
export function tcpOptionsLen(h: TcpHeaderFields): number {
  let n = 0;
  if (h.mss >= 0) n += 4;
  if (h.timestamps) n += 12;
  else if (h.sackPermitted) n += 4;
  if (h.windowScale >= 0) n += 4;
  if (h.sackEdges > 0) n += 4 + 4 * h.sackEdges;
  return n;
}

/** emitTcp's conversion of a repr (one at a time: emitters do not nest). */
const reprFields: TcpHeaderFields = {
  srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0, urgent: 0, mss: -1, windowScale: -1,
  sackPermitted: false, timestamps: false, tsVal: 0, tsEcr: 0, sack: NO_SACK, sackEdges: 0,
};

/** `repr` as TcpHeaderFields (the shared scratch object, valid until the next call). */
function fieldsOf(repr: TcpRepr): TcpHeaderFields {
  const h = reprFields;
  h.srcPort = repr.srcPort;
  h.dstPort = repr.dstPort;
  h.seq = repr.seq;
  h.ack = repr.ack;
  h.flags = repr.flags;
  h.window = repr.window;
  h.urgent = repr.urgent;
  h.mss = repr.mss ?? -1;
  h.windowScale = repr.windowScale ?? -1;
  h.sackPermitted = repr.sackPermitted;
  h.timestamps = repr.tsVal !== null;
  h.tsVal = repr.tsVal ?? 0;
  h.tsEcr = repr.tsEcr ?? 0;
  h.sack = repr.sackBlocks;
  h.sackEdges = repr.sackBlocks.length & ~1;
  return h;
}

/** Header length including options in the canonical layout: 20..60, a multiple of 4. */
export function tcpHeaderLen(repr: TcpRepr): number {
  return TCP_HEADER_LEN + tcpOptionsLen(fieldsOf(repr));
}

/** Header plus payload length (the TCP length in the pseudo-header). */
export function tcpBufferLen(repr: TcpRepr): number {
  return tcpHeaderLen(repr) + repr.payload.length;
}

/** Sequence space the segment occupies: payload length, +1 for SYN, +1 for FIN. */
export function tcpSeqLen(repr: TcpRepr): number {
  return repr.payload.length + (repr.flags & TCP_SYN ? 1 : 0) + (repr.flags & TCP_FIN ? 1 : 0);
}

/** Throws RangeError unless a segment of header `hlen`, total `len` is possible and fits `out` at `offset`. */
function checkSegment(hlen: number, len: number, out: Uint8Array, offset: number): void {
  if (hlen > TCP_MAX_HEADER_LEN) throw new RangeError(`emit tcp: ${hlen - TCP_HEADER_LEN} option bytes`);
  if (len > 0xffff) throw new RangeError(`emit tcp: length ${len}`);
  checkRoom(out, offset, len, 'tcp');
}

/**
 * Writes TCP options in Linux's layout (MSS; SACK-permitted + timestamps;
 * window scale; SACK blocks), each 4-byte aligned, at `p`; returns the end.
 * `mss` or `windowScale` < 0: absent.
 */
function writeTcpOptions(
  out: Uint8Array, p: number, mss: number, sackPermitted: boolean, ts: boolean, tsVal: number, tsEcr: number,
  windowScale: number, sack: ArrayLike<number>, edges: number,
): number {
  if (mss >= 0) {
    out[p] = TCP_OPT_MSS;
    out[p + 1] = 4;
    put16(out, p + 2, mss);
    p += 4;
  }
  if (ts) {
    if (sackPermitted) {
      out[p] = TCP_OPT_SACK_PERMITTED;
      out[p + 1] = 2;
    } else {
      out[p] = TCP_OPT_NOP;
      out[p + 1] = TCP_OPT_NOP;
    }
    out[p + 2] = TCP_OPT_TIMESTAMP;
    out[p + 3] = 10;
    put32(out, p + 4, tsVal);
    put32(out, p + 8, tsEcr);
    p += 12;
  } else if (sackPermitted) {
    out[p] = TCP_OPT_NOP;
    out[p + 1] = TCP_OPT_NOP;
    out[p + 2] = TCP_OPT_SACK_PERMITTED;
    out[p + 3] = 2;
    p += 4;
  }
  if (windowScale >= 0) {
    out[p] = TCP_OPT_NOP;
    out[p + 1] = TCP_OPT_WS;
    out[p + 2] = 3;
    out[p + 3] = windowScale;
    p += 4;
  }
  if (edges > 0) {
    out[p] = TCP_OPT_NOP;
    out[p + 1] = TCP_OPT_NOP;
    out[p + 2] = TCP_OPT_SACK;
    out[p + 3] = 2 + 4 * edges;
    p += 4;
    for (let k = 0; k < edges; k++, p += 4) put32(out, p, sack[k]!);
  }
  return p;
}

/**
 * Writes the header and options of `h` at `out[offset..]` (canonical
 * Linux layout, see the module comment) in front of `payloadLen` bytes of
 * payload already in place after them, then the checksum over both with
 * the pseudo-header for `src`/`dst`. The emitter of the TCP layer's hot
 * path, and of emitTcp. Throws RangeError if `out` is too small, the
 * options exceed 40 bytes (e.g. timestamps with 4 SACK blocks) or the
 * segment exceeds 65535 bytes.
 * @returns bytes of the segment
 */
export function emitTcpHeader(h: TcpHeaderFields, payloadLen: number, out: Uint8Array, offset: number, src: number, dst: number): number {
  const hlen = TCP_HEADER_LEN + tcpOptionsLen(h);
  const len = hlen + payloadLen;
  checkSegment(hlen, len, out, offset);
  put16(out, offset, h.srcPort);
  put16(out, offset + 2, h.dstPort);
  put32(out, offset + 4, h.seq);
  put32(out, offset + 8, h.ack);
  out[offset + 12] = ((hlen >>> 2) << 4) | ((h.flags >>> 8) & 0x0f);
  out[offset + 13] = h.flags;
  put16(out, offset + 14, h.window);
  put16(out, offset + 16, 0);
  put16(out, offset + 18, h.urgent);
  writeTcpOptions(out, offset + TCP_HEADER_LEN, h.mss, h.sackPermitted, h.timestamps, h.tsVal, h.tsEcr, h.windowScale, h.sack, h.sackEdges);
  // Every option above is 4-byte aligned: the options end at offset + hlen, no padding needed.
  put16(out, offset + 16, checksum(out, pseudoHeaderSum(src, dst, IP_PROTO_TCP, len), offset, offset + len));
  return len;
}

/**
 * Writes the segment at `out[offset..]`: the payload (skipped when
 * `repr.payload` already views `out` after the header), then header,
 * options and checksum by emitTcpHeader. Throws RangeError as
 * emitTcpHeader does.
 * @returns bytes written: {@link tcpBufferLen}
 */
export function emitTcp(repr: TcpRepr, out: Uint8Array, offset: number, src: number, dst: number): number {
  const hlen = tcpHeaderLen(repr);
  checkSegment(hlen, hlen + repr.payload.length, out, offset);
  placePayload(out, offset + hlen, repr.payload);
  return emitTcpHeader(fieldsOf(repr), repr.payload.length, out, offset, src, dst);
}
