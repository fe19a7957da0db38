/**
 * 9P2000 / 9P2000.u message codec: one whole frame <-> one Fcall (intro(5)).
 *
 * decode() is strict and total: every length is checked before it is read, the
 * fields must consume exactly size-7 body bytes, strings must be NUL-free valid
 * UTF-8, and any failure is returned (with the frame's type and tag when they
 * are readable) instead of thrown. Twrite/Rread data are views into the frame.
 *
 * encode() computes the exact size first and fills one Buffer. It throws only on
 * programmer error (a string over 65535 bytes or with a NUL, an out-of-range
 * integer, more than 16 walk elements, a stat over 65535 bytes).
 */
import { Buffer } from 'node:buffer';
import type { Dialect, Dir, Fcall, Qid } from './types.js';
import { ERRMAX_SEND, MAXWELEM, MsgType } from './types.js';
import { putQid, putStr, readStatEntry, statSize, strBytes, WireError, WireReader, writeStat } from './stat.js';

export type DecodeResult =
  | { ok: true; msg: Fcall }
  | { ok: false; error: string; type: number; tag: number };

const HDR = 7;
const NONE = 0xffffffff;

// ---------------------------------------------------------------------------
// Decoding

/** Decode one whole frame (size[4] included). Never throws, on any input. */
export function decode(frame: Uint8Array, dialect: Dialect): DecodeResult {
  const len = frame.length;
  if (len < HDR) {
    return { ok: false, error: `frame of ${len} bytes is shorter than the 7-byte header`, type: -1, tag: -1 };
  }
  const buf = Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, len);
  const size = buf.readUInt32LE(0);
  const type = buf[4]!;
  const tag = buf.readUInt16LE(5);
  if (size !== len) {
    return { ok: false, error: `size field ${size} != frame length ${len}`, type, tag };
  }
  const r = new WireReader(buf, HDR, len);
  let msg: Fcall | null;
  try {
    msg = decodeBody(type, tag, r, dialect);
  } catch (e) {
    const why = e instanceof WireError ? e.message : `internal decoder error: ${String(e)}`;
    return { ok: false, error: `${typeName(type)}: ${why}`, type, tag };
  }
  if (msg === null) return { ok: false, error: `unknown message type ${type}`, type, tag };
  if (r.pos !== len) {
    return { ok: false, error: `${typeName(type)}: ${len - r.pos} trailing bytes`, type, tag };
  }
  return { ok: true, msg };
}

function typeName(type: number): string {
  return MsgType[type] ?? `type ${type}`;
}

/** Checks that a count[4] field equals the bytes left and returns a view of them. */
function countedData(r: WireReader): Buffer {
  const count = r.u32();
  if (count !== r.end - r.pos) {
    throw new WireError(`count ${count} but ${r.end - r.pos} data bytes present`);
  }
  const start = r.pos;
  r.pos = r.end;
  return r.buf.subarray(start, r.end);
}

/** n[2] stat[n] where n must be exactly the rest of the frame and stat.size = n-2. */
function wrappedStat(r: WireReader, dialect: Dialect): Dir {
  const n = r.u16();
  if (n !== r.end - r.pos) throw new WireError(`stat length n=${n} but ${r.end - r.pos} bytes present`);
  if (n < 2) throw new WireError(`stat length n=${n} too small`);
  const inner = r.buf.readUInt16LE(r.pos);
  if (inner !== n - 2) throw new WireError(`stat size ${inner} != n-2 (${n - 2})`);
  return readStatEntry(r, dialect);
}

/** Returns null for a type that is not a 9P2000 message. Throws WireError. */
function decodeBody(type: number, tag: number, r: WireReader, dialect: Dialect): Fcall | null {
  const u = dialect === '9P2000.u';
  switch (type) {
    case MsgType.Tversion: {
      const msize = r.u32();
      return { type: MsgType.Tversion, tag, msize, version: r.str() };
    }
    case MsgType.Rversion: {
      const msize = r.u32();
      return { type: MsgType.Rversion, tag, msize, version: r.str() };
    }
    case MsgType.Tauth: {
      const afid = r.u32();
      const uname = r.str();
      const aname = r.str();
      if (u) return { type: MsgType.Tauth, tag, afid, uname, aname, nUname: r.u32() };
      return { type: MsgType.Tauth, tag, afid, uname, aname };
    }
    case MsgType.Rauth:
      return { type: MsgType.Rauth, tag, aqid: r.qid() };
    case MsgType.Tattach: {
      const fid = r.u32();
      const afid = r.u32();
      const uname = r.str();
      const aname = r.str();
      if (u) return { type: MsgType.Tattach, tag, fid, afid, uname, aname, nUname: r.u32() };
      return { type: MsgType.Tattach, tag, fid, afid, uname, aname };
    }
    case MsgType.Rattach:
      return { type: MsgType.Rattach, tag, qid: r.qid() };
    case MsgType.Rerror: {
      const ename = r.str();
      if (u) return { type: MsgType.Rerror, tag, ename, errno: r.u32() };
      return { type: MsgType.Rerror, tag, ename };
    }
    case MsgType.Tflush:
      return { type: MsgType.Tflush, tag, oldtag: r.u16() };
    case MsgType.Rflush:
      return { type: MsgType.Rflush, tag };
    case MsgType.Twalk: {
      const fid = r.u32();
      const newfid = r.u32();
      const n = r.u16();
      if (n > MAXWELEM) throw new WireError(`nwname ${n} > ${MAXWELEM}`);
      const wnames: string[] = [];
      for (let i = 0; i < n; i++) wnames.push(r.str());
      return { type: MsgType.Twalk, tag, fid, newfid, wnames };
    }
    case MsgType.Rwalk: {
      const n = r.u16();
      if (n > MAXWELEM) throw new WireError(`nwqid ${n} > ${MAXWELEM}`);
      if (n * 13 > r.end - r.pos) throw new WireError(`nwqid ${n} but only ${r.end - r.pos} bytes present`);
      const qids: Qid[] = [];
      for (let i = 0; i < n; i++) qids.push(r.qid());
      return { type: MsgType.Rwalk, tag, qids };
    }
    case MsgType.Topen: {
      const fid = r.u32();
      return { type: MsgType.Topen, tag, fid, mode: r.u8() };
    }
    case MsgType.Ropen: {
      const qid = r.qid();
      return { type: MsgType.Ropen, tag, qid, iounit: r.u32() };
    }
    case MsgType.Tcreate: {
      const fid = r.u32();
      const name = r.str();
      const perm = r.u32();
      const mode = r.u8();
      if (u) return { type: MsgType.Tcreate, tag, fid, name, perm, mode, extension: r.str() };
      return { type: MsgType.Tcreate, tag, fid, name, perm, mode };
    }
    case MsgType.Rcreate: {
      const qid = r.qid();
      return { type: MsgType.Rcreate, tag, qid, iounit: r.u32() };
    }
    case MsgType.Tread: {
      const fid = r.u32();
      const offset = r.u64();
      return { type: MsgType.Tread, tag, fid, offset, count: r.u32() };
    }
    case MsgType.Rread:
      return { type: MsgType.Rread, tag, data: countedData(r) };
    case MsgType.Twrite: {
      const fid = r.u32();
      const offset = r.u64();
      return { type: MsgType.Twrite, tag, fid, offset, data: countedData(r) };
    }
    case MsgType.Rwrite:
      return { type: MsgType.Rwrite, tag, count: r.u32() };
    case MsgType.Tclunk:
      return { type: MsgType.Tclunk, tag, fid: r.u32() };
    case MsgType.Rclunk:
      return { type: MsgType.Rclunk, tag };
    case MsgType.Tremove:
      return { type: MsgType.Tremove, tag, fid: r.u32() };
    case MsgType.Rremove:
      return { type: MsgType.Rremove, tag };
    case MsgType.Tstat:
      return { type: MsgType.Tstat, tag, fid: r.u32() };
    case MsgType.Rstat:
      return { type: MsgType.Rstat, tag, stat: wrappedStat(r, dialect) };
    case MsgType.Twstat: {
      const fid = r.u32();
      return { type: MsgType.Twstat, tag, fid, stat: wrappedStat(r, dialect) };
    }
    case MsgType.Rwstat:
      return { type: MsgType.Rwstat, tag };
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------
// Encoding

/** Rerror text as sent: at most ERRMAX_SEND bytes of UTF-8, cut on a character boundary. */
function clipEname(ename: string): string {
  if (ename.length * 3 <= ERRMAX_SEND) return ename;
  const b = Buffer.from(ename, 'utf8');
  if (b.length <= ERRMAX_SEND) return ename;
  let cut = ERRMAX_SEND;
  while (cut > 0 && (b[cut]! & 0xc0) === 0x80) cut--;
  return b.toString('utf8', 0, cut);
}

/** Size in bytes encode() would produce. */
export function encodedSize(msg: Fcall, dialect: Dialect): number {
  const u = dialect === '9P2000.u';
  switch (msg.type) {
    case MsgType.Tversion:
    case MsgType.Rversion:
      return 13 + strBytes(msg.version);
    case MsgType.Tauth:
      return 15 + strBytes(msg.uname) + strBytes(msg.aname) + (u ? 4 : 0);
    case MsgType.Tattach:
      return 19 + strBytes(msg.uname) + strBytes(msg.aname) + (u ? 4 : 0);
    case MsgType.Rauth:
    case MsgType.Rattach:
      return 20;
    case MsgType.Rerror:
      return 9 + strBytes(clipEname(msg.ename)) + (u ? 4 : 0);
    case MsgType.Tflush:
      return 9;
    case MsgType.Twalk: {
      let n = 17;
      for (const w of msg.wnames) n += 2 + strBytes(w);
      return n;
    }
    case MsgType.Rwalk:
      return 9 + 13 * msg.qids.length;
    case MsgType.Topen:
      return 12;
    case MsgType.Ropen:
    case MsgType.Rcreate:
      return 24;
    case MsgType.Tcreate:
      return 18 + strBytes(msg.name) + (u ? 2 + strBytes(msg.extension ?? '') : 0);
    case MsgType.Tread:
      return 23;
    case MsgType.Rread:
      return 11 + msg.data.length;
    case MsgType.Twrite:
      return 23 + msg.data.length;
    case MsgType.Rwrite:
    case MsgType.Tclunk:
    case MsgType.Tremove:
    case MsgType.Tstat:
      return 11;
    case MsgType.Rstat:
      return 9 + statSize(msg.stat, dialect);
    case MsgType.Twstat:
      return 13 + statSize(msg.stat, dialect);
    case MsgType.Rflush:
    case MsgType.Rclunk:
    case MsgType.Rremove:
    case MsgType.Rwstat:
      return HDR;
    default:
      return unknownType(msg);
  }
}

function unknownType(msg: never): never {
  throw new RangeError(`cannot encode message type ${(msg as { type: unknown }).type}`);
}

/** n[2] stat[n]; returns the new offset. */
function putWrappedStat(buf: Buffer, off: number, d: Dir, dialect: Dialect): number {
  const n = statSize(d, dialect);
  if (n > 0xffff) throw new RangeError(`stat of ${n} bytes does not fit its 16-bit length`);
  buf.writeUInt16LE(n, off);
  return writeStat(d, dialect, buf, off + 2);
}

/** Encode one message into a fresh Buffer of exactly its size. */
export function encode(msg: Fcall, dialect: Dialect): Buffer {
  const size = encodedSize(msg, dialect);
  if (size > 0xffffffff) throw new RangeError(`message of ${size} bytes exceeds 2^32-1`);
  const u = dialect === '9P2000.u';
  const b = Buffer.allocUnsafe(size);
  b.writeUInt32LE(size, 0);
  b.writeUInt8(msg.type, 4);
  b.writeUInt16LE(msg.tag, 5);
  let o = HDR;
  switch (msg.type) {
    case MsgType.Tversion:
    case MsgType.Rversion:
      b.writeUInt32LE(msg.msize, o);
      o = putStr(b, o + 4, msg.version);
      break;
    case MsgType.Tauth:
      b.writeUInt32LE(msg.afid, o);
      o = putStr(b, o + 4, msg.uname);
      o = putStr(b, o, msg.aname);
      if (u) o = b.writeUInt32LE(msg.nUname ?? NONE, o);
      break;
    case MsgType.Tattach:
      b.writeUInt32LE(msg.fid, o);
      b.writeUInt32LE(msg.afid, o + 4);
      o = putStr(b, o + 8, msg.uname);
      o = putStr(b, o, msg.aname);
      if (u) o = b.writeUInt32LE(msg.nUname ?? NONE, o);
      break;
    case MsgType.Rauth:
      o = putQid(b, o, msg.aqid);
      break;
    case MsgType.Rattach:
      o = putQid(b, o, msg.qid);
      break;
    case MsgType.Rerror:
      o = putStr(b, o, clipEname(msg.ename));
      if (u) o = b.writeUInt32LE(msg.errno ?? 0, o);
      break;
    case MsgType.Tflush:
      o = b.writeUInt16LE(msg.oldtag, o);
      break;
    case MsgType.Twalk: {
      const n = msg.wnames.length;
      if (n > MAXWELEM) throw new RangeError(`Twalk with ${n} names (max ${MAXWELEM})`);
      b.writeUInt32LE(msg.fid, o);
      b.writeUInt32LE(msg.newfid, o + 4);
      o = b.writeUInt16LE(n, o + 8);
      for (let i = 0; i < n; i++) o = putStr(b, o, msg.wnames[i]!);
      break;
    }
    case MsgType.Rwalk: {
      const n = msg.qids.length;
      if (n > MAXWELEM) throw new RangeError(`Rwalk with ${n} qids (max ${MAXWELEM})`);
      o = b.writeUInt16LE(n, o);
      for (let i = 0; i < n; i++) o = putQid(b, o, msg.qids[i]!);
      break;
    }
    case MsgType.Topen:
      b.writeUInt32LE(msg.fid, o);
      o = b.writeUInt8(msg.mode, o + 4);
      break;
    case MsgType.Ropen:
    case MsgType.Rcreate:
      o = putQid(b, o, msg.qid);
      o = b.writeUInt32LE(msg.iounit, o);
      break;
    case MsgType.Tcreate:
      b.writeUInt32LE(msg.fid, o);
      o = putStr(b, o + 4, msg.name);
      b.writeUInt32LE(msg.perm, o);
      o = b.writeUInt8(msg.mode, o + 4);
      if (u) o = putStr(b, o, msg.extension ?? '');
      break;
    case MsgType.Tread:
      b.writeUInt32LE(msg.fid, o);
      b.writeBigUInt64LE(msg.offset, o + 4);
      o = b.writeUInt32LE(msg.count, o + 12);
      break;
    case MsgType.Rread:
      o = b.writeUInt32LE(msg.data.length, o);
      b.set(msg.data, o);
      o += msg.data.length;
      break;
    case MsgType.Twrite:
      b.writeUInt32LE(msg.fid, o);
      b.writeBigUInt64LE(msg.offset, o + 4);
      o = b.writeUInt32LE(msg.data.length, o + 12);
      b.set(msg.data, o);
      o += msg.data.length;
      break;
    case MsgType.Rwrite:
      o = b.writeUInt32LE(msg.count, o);
      break;
    case MsgType.Tclunk:
    case MsgType.Tremove:
    case MsgType.Tstat:
      o = b.writeUInt32LE(msg.fid, o);
      break;
    case MsgType.Rstat:
      o = putWrappedStat(b, o, msg.stat, dialect);
      break;
    case MsgType.Twstat:
      b.writeUInt32LE(msg.fid, o);
      o = putWrappedStat(b, o + 4, msg.stat, dialect);
      break;
    case MsgType.Rflush:
    case MsgType.Rclunk:
    case MsgType.Rremove:
    case MsgType.Rwstat:
      break;
    default:
      return unknownType(msg);
  }
  if (o !== size) throw new RangeError(`${MsgType[msg.type]}: encoded ${o} bytes, expected ${size}`);
  return b;
}
