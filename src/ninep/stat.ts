/**
 * 9P stat entries (Dir): size, encode, strict decode, and directory-read
 * parsing, for both 9P2000 and 9P2000.u layouts (stat(5); read(5)).
 *
 * Also home of the small wire primitives shared with codec.ts (a bounds-checked
 * reader, string and qid writers), since the stat layer sits below the codec.
 * Strings are decoded strictly: NUL or invalid UTF-8 is an error, never lossy.
 */
import { Buffer } from 'node:buffer';
import type { Dialect, Dir, Qid } from './types.js';
import { STATFIXLEN } from './types.js';

// ---------------------------------------------------------------------------
// Shared wire primitives (internal to src/ninep; used by codec.ts)

/** Fatal: invalid UTF-8 throws. ignoreBOM: a leading U+FEFF is kept, not eaten. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const EMPTY = Buffer.alloc(0);
/** Strings of at most this many UTF-16 units are at most 65535 UTF-8 bytes. */
const SAFE_STR_UNITS = Math.floor(0xffff / 3);

/**
 * @internal Thrown by WireReader and the writers' checks and caught by the
 * decoders. Deliberately not an Error: no stack trace is captured.
 */
export class WireError {
  constructor(readonly message: string) {}
}

/** @internal A bounds-checked little-endian cursor over buf[pos, end). Throws WireError. */
export class WireReader {
  buf: Buffer = EMPTY;
  pos = 0;
  end = 0;

  constructor(buf?: Buffer, pos = 0, end = buf ? buf.length : 0) {
    if (buf) this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private short(n: number): WireError {
    return new WireError(`truncated: need ${n} bytes at offset ${this.pos}, have ${this.end - this.pos}`);
  }

  u8(): number {
    if (this.end - this.pos < 1) throw this.short(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    if (this.end - this.pos < 2) throw this.short(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    if (this.end - this.pos < 4) throw this.short(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    if (this.end - this.pos < 8) throw this.short(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  qid(): Qid {
    if (this.end - this.pos < 13) throw this.short(13);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 13;
    return { type: b[p]!, vers: b.readUInt32LE(p + 1), path: b.readBigUInt64LE(p + 5) };
  }

  /** len[2] then len bytes of strict UTF-8 without NUL. */
  str(): string {
    const n = this.u16();
    if (this.end - this.pos < n) {
      throw new WireError(`truncated: string of ${n} bytes at offset ${this.pos}, have ${this.end - this.pos}`);
    }
    const s = this.pos;
    this.pos = s + n;
    return decodeUtf8(this.buf, s, s + n);
  }
}

function decodeUtf8(b: Buffer, start: number, end: number): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (c === 0) throw new WireError(`NUL byte in string at offset ${i}`);
    if (c >= 0x80) ascii = false;
  }
  if (ascii) return b.toString('latin1', start, end);
  try {
    return utf8.decode(b.subarray(start, end));
  } catch {
    throw new WireError(`invalid UTF-8 in string at offset ${start}`);
  }
}

/** @internal UTF-8 byte length of a string field's contents (without its len[2]). */
export function strBytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/**
 * @internal Writes len[2] + UTF-8 of `s` at `off` (buf must have room, as sized
 * by strBytes); returns the new offset. Throws RangeError on a NUL or > 65535 bytes.
 */
export function putStr(buf: Buffer, off: number, s: string): number {
  if (s.length > SAFE_STR_UNITS && Buffer.byteLength(s, 'utf8') > 0xffff) {
    throw new RangeError(`9P string longer than 65535 bytes (${Buffer.byteLength(s, 'utf8')})`);
  }
  if (s.indexOf('\0') !== -1) throw new RangeError('9P string contains a NUL character');
  const n = s.length === 0 ? 0 : buf.write(s, off + 2, 'utf8');
  buf.writeUInt16LE(n, off);
  return off + 2 + n;
}

/** @internal Writes a 13-byte qid; returns the new offset. */
export function putQid(buf: Buffer, off: number, q: Qid): number {
  buf.writeUInt8(q.type, off);
  buf.writeUInt32LE(q.vers, off + 1);
  buf.writeBigUInt64LE(q.path, off + 5);
  return off + 13;
}

// ---------------------------------------------------------------------------
// Stat entries

/** Encoded bytes of one stat entry, including its own size[2]. */
export function statSize(d: Dir, dialect: Dialect): number {
  let n = STATFIXLEN + strBytes(d.name) + strBytes(d.uid) + strBytes(d.gid) + strBytes(d.muid);
  if (dialect === '9P2000.u') n += 2 + strBytes(d.extension ?? '') + 12;
  return n;
}

/**
 * Writes one stat entry at buf[off] and returns the offset just past it.
 * In .u, absent extension encodes as "" and absent n_uid/n_gid/n_muid as ~0;
 * in 9P2000 the .u fields are ignored. Throws RangeError if the entry does not
 * fit in buf or its size field would exceed 65535 (programmer error).
 */
export function writeStat(d: Dir, dialect: Dialect, buf: Buffer, off: number): number {
  const size = statSize(d, dialect);
  if (size - 2 > 0xffff) throw new RangeError(`stat entry too large (${size} bytes)`);
  if (off < 0 || buf.length - off < size) throw new RangeError(`stat entry of ${size} bytes does not fit in buffer`);
  const start = off;
  buf.writeUInt16LE(size - 2, off);
  buf.writeUInt16LE(d.type, off + 2);
  buf.writeUInt32LE(d.dev, off + 4);
  off = putQid(buf, off + 8, d.qid);
  buf.writeUInt32LE(d.mode, off);
  buf.writeUInt32LE(d.atime, off + 4);
  buf.writeUInt32LE(d.mtime, off + 8);
  buf.writeBigUInt64LE(d.length, off + 12);
  off = putStr(buf, off + 20, d.name);
  off = putStr(buf, off, d.uid);
  off = putStr(buf, off, d.gid);
  off = putStr(buf, off, d.muid);
  if (dialect === '9P2000.u') {
    off = putStr(buf, off, d.extension ?? '');
    buf.writeUInt32LE(d.nUid ?? 0xffffffff, off);
    buf.writeUInt32LE(d.nGid ?? 0xffffffff, off + 4);
    buf.writeUInt32LE(d.nMuid ?? 0xffffffff, off + 8);
    off += 12;
  }
  if (off - start !== size) throw new RangeError(`stat encoding size mismatch (${off - start} != ${size})`);
  return off;
}

/** One stat entry in a fresh Buffer of exactly statSize() bytes. */
export function encodeStat(d: Dir, dialect: Dialect): Buffer {
  const buf = Buffer.allocUnsafe(statSize(d, dialect));
  writeStat(d, dialect, buf, 0);
  return buf;
}

/**
 * @internal Reads one stat entry at r.pos. Its size[2] must not reach past r.end,
 * and the fields must consume exactly `size` bytes. Leaves r.pos after the entry.
 */
export function readStatEntry(r: WireReader, dialect: Dialect): Dir {
  const at = r.pos;
  const size = r.u16();
  if (size > r.end - r.pos) {
    throw new WireError(`stat at offset ${at}: size ${size} exceeds the ${r.end - r.pos} bytes present`);
  }
  const outerEnd = r.end;
  const end = r.pos + size;
  r.end = end;
  const type = r.u16();
  const dev = r.u32();
  const qid = r.qid();
  const mode = r.u32();
  const atime = r.u32();
  const mtime = r.u32();
  const length = r.u64();
  const name = r.str();
  const uid = r.str();
  const gid = r.str();
  const muid = r.str();
  let d: Dir;
  if (dialect === '9P2000.u') {
    const extension = r.str();
    const nUid = r.u32();
    const nGid = r.u32();
    const nMuid = r.u32();
    d = { type, dev, qid, mode, atime, mtime, length, name, uid, gid, muid, extension, nUid, nGid, nMuid };
  } else {
    d = { type, dev, qid, mode, atime, mtime, length, name, uid, gid, muid };
  }
  if (r.pos !== end) throw new WireError(`stat at offset ${at}: ${end - r.pos} bytes left over after the fields`);
  r.end = outerEnd;
  return d;
}

function failure(e: unknown): { ok: false; error: string } {
  return { ok: false, error: e instanceof WireError ? e.message : `internal stat decoder error: ${String(e)}` };
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Decodes exactly one stat entry. Strict (like Plan 9's statcheck): the size
 * field must equal buf.length - 2, with exactly the dialect's fields and nothing
 * left over. Never throws.
 */
export function decodeStat(buf: Uint8Array, dialect: Dialect): { ok: true; dir: Dir } | { ok: false; error: string } {
  try {
    const r = new WireReader(asBuffer(buf));
    if (buf.length < 2) return { ok: false, error: `stat of ${buf.length} bytes has no size field` };
    const size = r.buf.readUInt16LE(0);
    if (size !== buf.length - 2) {
      return { ok: false, error: `stat size field ${size} != ${buf.length - 2} bytes present` };
    }
    return { ok: true, dir: readStatEntry(r, dialect) };
  } catch (e) {
    return failure(e);
  }
}

/**
 * Parses the data of a directory Rread: stat entries back to back, no outer
 * count. Any malformed or truncated entry is an error. Never throws.
 */
export function decodeDirEntries(buf: Uint8Array, dialect: Dialect): { ok: true; dirs: Dir[] } | { ok: false; error: string } {
  try {
    const r = new WireReader(asBuffer(buf));
    const dirs: Dir[] = [];
    while (r.pos < r.end) dirs.push(readStatEntry(r, dialect));
    return { ok: true, dirs };
  } catch (e) {
    return failure(e);
  }
}
