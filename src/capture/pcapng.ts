/**
 * The pcapng format (draft-ietf-opsawg-pcapng) as our capture files write
 * it and `9net snoop` reads it: a Section Header Block, one Interface
 * Description Block (link type, snap length, name, microsecond
 * timestamps), then one Enhanced Packet Block per packet with its
 * direction (epb_flags) and, after losses, how many packets were lost
 * since the previous one (epb_dropcount, what tshark shows as
 * frame.drop_count). Little-endian, as the byte-order magic says.
 *
 * The reader is incremental (push bytes, take records), validates every
 * length against what it was given and returns errors as values.
 */
import type { PacketDir } from '../link/packethook.js';

/** LINKTYPE_ETHERNET: frames with their 14-byte header. */
export const LINKTYPE_ETHERNET = 1;
/** LINKTYPE_RAW: IPv4 (or IPv6) packets without a link header. */
export const LINKTYPE_RAW = 101;
/** Largest packet kept whole (a 64 KiB IP datagram). */
export const SNAPLEN = 65535;
/** Largest block the reader takes (a packet block holds at most SNAPLEN bytes, plus options). */
export const MAX_BLOCK = SNAPLEN + 1024;

const SHB = 0x0a0d0d0a;
const IDB = 1;
const EPB = 6;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_END = 0;
const IF_NAME = 2;
const IF_TSRESOL = 9;
const EPB_FLAGS = 2;
const EPB_DROPCOUNT = 4;
const EPB_FLAG_IN = 1;
const EPB_FLAG_OUT = 2;

const pad4 = (n: number): number => (n + 3) & ~3;

/** The Section Header Block followed by the one Interface Description Block: the stream's header. */
export function pcapngHeader(linktype: number, name: string): Uint8Array {
  const nameBytes = Buffer.from(name.slice(0, 64));
  const idbLen = 20 + 4 + pad4(nameBytes.length) + 8 + 4;
  const out = new Uint8Array(28 + idbLen);
  const v = new DataView(out.buffer);
  v.setUint32(0, SHB, true);
  v.setUint32(4, 28, true);
  v.setUint32(8, BYTE_ORDER_MAGIC, true);
  v.setUint16(12, 1, true); // version 1.0
  v.setUint16(14, 0, true);
  v.setInt32(16, -1, true); // section length unknown
  v.setInt32(20, -1, true);
  v.setUint32(24, 28, true);
  let o = 28;
  v.setUint32(o, IDB, true);
  v.setUint32(o + 4, idbLen, true);
  v.setUint16(o + 8, linktype, true);
  v.setUint32(o + 12, SNAPLEN, true);
  let p = o + 16;
  v.setUint16(p, IF_NAME, true);
  v.setUint16(p + 2, nameBytes.length, true);
  out.set(nameBytes, p + 4);
  p += 4 + pad4(nameBytes.length);
  v.setUint16(p, IF_TSRESOL, true);
  v.setUint16(p + 2, 1, true);
  out[p + 4] = 6; // 10^-6 s
  p += 8;
  v.setUint32(p, OPT_END, true);
  v.setUint32(o + idbLen - 4, idbLen, true);
  o += idbLen;
  return out;
}

/** Bytes of the packet block for a packet of `len` bytes (after snapping), with or without a drop count. */
export function packetBlockLen(len: number, drops: boolean): number {
  return 28 + pad4(Math.min(len, SNAPLEN)) + 8 + (drops ? 12 : 0) + 4 + 4;
}

/**
 * One Enhanced Packet Block: `pkt` (snapped to SNAPLEN) seen at `micros`
 * (µs on the stack's clock) going `dir`, after `drops` packets were lost.
 */
export function packetBlock(pkt: Uint8Array, micros: number, dir: PacketDir, drops: number): Uint8Array {
  const cap = Math.min(pkt.length, SNAPLEN);
  const len = packetBlockLen(cap, drops > 0);
  const out = new Uint8Array(len);
  const v = new DataView(out.buffer);
  const us = Math.max(0, Math.floor(micros));
  v.setUint32(0, EPB, true);
  v.setUint32(4, len, true);
  v.setUint32(8, 0, true); // interface 0
  v.setUint32(12, Math.floor(us / 2 ** 32), true);
  v.setUint32(16, us % 2 ** 32, true);
  v.setUint32(20, cap, true);
  v.setUint32(24, pkt.length, true);
  out.set(cap === pkt.length ? pkt : pkt.subarray(0, cap), 28);
  let p = 28 + pad4(cap);
  v.setUint16(p, EPB_FLAGS, true);
  v.setUint16(p + 2, 4, true);
  v.setUint32(p + 4, dir === 'in' ? EPB_FLAG_IN : EPB_FLAG_OUT, true);
  p += 8;
  if (drops > 0) {
    v.setUint16(p, EPB_DROPCOUNT, true);
    v.setUint16(p + 2, 8, true);
    v.setUint32(p + 4, drops % 2 ** 32, true);
    v.setUint32(p + 8, Math.floor(drops / 2 ** 32), true);
    p += 12;
  }
  v.setUint32(p, OPT_END, true);
  v.setUint32(len - 4, len, true);
  return out;
}

/** One packet as read back. */
export interface PcapRecord {
  /** Microseconds on the capturing stack's clock. */
  micros: number;
  dir: PacketDir | null;
  /** Packets lost between the previous record and this one. */
  drops: number;
  linktype: number;
  /** The interface's name (if_name), or ''. */
  ifname: string;
  data: Uint8Array;
  /** Length on the wire (data may be snapped). */
  origLen: number;
}

/** A malformed stream: what is wrong with it. */
export class PcapError {
  constructor(readonly reason: string) {}
}

interface Iface {
  linktype: number;
  name: string;
}

/** Reads pcapng incrementally: push() what arrived, then next() until it returns null (needs more). */
export class PcapngReader {
  private buf: Uint8Array = new Uint8Array(0);
  private ifaces: Iface[] = [];
  private sawHeader = false;
  private failed: PcapError | null = null;
  /** Bytes of the stream taken so far (up to the end of the last block next() took). */
  offset = 0;

  push(chunk: Uint8Array): void {
    if (this.failed) return;
    if (this.buf.length === 0) {
      this.buf = new Uint8Array(chunk); // a copy (a Buffer's slice() would be a view)
      return;
    }
    const b = new Uint8Array(this.buf.length + chunk.length);
    b.set(this.buf);
    b.set(chunk, this.buf.length);
    this.buf = b;
  }

  /** The next packet, null when more bytes are needed, or the error (for good). */
  next(): PcapRecord | PcapError | null {
    for (;;) {
      if (this.failed) return this.failed;
      const b = this.buf;
      if (b.length < 12) return null;
      const v = new DataView(b.buffer, b.byteOffset, b.length);
      const type = v.getUint32(0, true);
      if (!this.sawHeader && type !== SHB) return this.fail('not a pcapng stream');
      if (type === SHB && v.getUint32(8, true) !== BYTE_ORDER_MAGIC) return this.fail('not a little-endian pcapng section');
      const len = v.getUint32(4, true);
      if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK) return this.fail(`bad block length ${len}`);
      if (b.length < len) return null;
      const block = b.subarray(0, len);
      this.buf = b.subarray(len);
      this.offset += len;
      if (v.getUint32(len - 4, true) !== len) return this.fail('block lengths differ');
      const bv = new DataView(block.buffer, block.byteOffset, len);
      if (type === SHB) {
        this.sawHeader = true;
        this.ifaces = [];
      } else if (type === IDB) {
        if (len < 20) return this.fail('short interface block');
        if (this.ifaces.length >= 256) return this.fail('too many interfaces');
        let name = '';
        this.options(block, 16, (code, val) => { if (code === IF_NAME) name = Buffer.from(val).toString(); });
        this.ifaces.push({ linktype: bv.getUint16(8, true), name });
      } else if (type === EPB) {
        if (len < 32) return this.fail('short packet block');
        const ifc = this.ifaces[bv.getUint32(8, true)];
        if (ifc === undefined) return this.fail('packet of an undescribed interface');
        const cap = bv.getUint32(20, true);
        if (28 + pad4(cap) + 4 > len) return this.fail('packet longer than its block');
        let dir: PacketDir | null = null;
        let drops = 0;
        this.options(block, 28 + pad4(cap), (code, val) => {
          if (code === EPB_FLAGS && val.length === 4) {
            const d = (val[0]! & 3);
            dir = d === EPB_FLAG_IN ? 'in' : d === EPB_FLAG_OUT ? 'out' : null;
          } else if (code === EPB_DROPCOUNT && val.length === 8) {
            const dv = new DataView(val.buffer, val.byteOffset, 8);
            drops = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
          }
        });
        return {
          micros: bv.getUint32(12, true) * 2 ** 32 + bv.getUint32(16, true),
          dir,
          drops,
          linktype: ifc.linktype,
          ifname: ifc.name,
          data: block.slice(28, 28 + cap),
          origLen: bv.getUint32(24, true),
        };
      }
      // Other blocks (statistics, name resolution, ...) are skipped.
    }
  }

  private fail(reason: string): PcapError {
    this.failed = new PcapError(reason);
    return this.failed;
  }

  /** Calls `fn` for each option from `o` to the block's trailing length; stops at a malformed one. */
  private options(block: Uint8Array, o: number, fn: (code: number, val: Uint8Array) => void): void {
    const end = block.length - 4;
    const v = new DataView(block.buffer, block.byteOffset, block.length);
    while (o + 4 <= end) {
      const code = v.getUint16(o, true);
      const n = v.getUint16(o + 2, true);
      if (code === OPT_END || o + 4 + n > end) return;
      fn(code, block.subarray(o + 4, o + 4 + n));
      o += 4 + pad4(n);
    }
  }
}
