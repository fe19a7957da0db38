/**
 * 9P2000 and 9P2000.u message types, constants and the stat record.
 *
 * Every message is one interface with a `type` discriminator whose value is
 * the wire type number (Tversion = 100 ... Rwstat = 127). 64-bit fields
 * (qid.path, offsets, lengths) are bigint so they round-trip exactly.
 * See intro(5).
 */

export const NOTAG = 0xffff;
export const NOFID = 0xffffffff;
/** Most names in one Twalk, most qids in one Rwalk. */
export const MAXWELEM = 16;
/** Bytes of Twrite/Rread header: data per message is at most msize - IOHDRSZ. */
export const IOHDRSZ = 24;
/** Fixed bytes of a 9P2000 stat entry, including its own size field. */
export const STATFIXLEN = 49;
/** Largest encoded error string we send (Plan 9 keeps 127 bytes, Linux ~128). */
export const ERRMAX_SEND = 126;

export const VERSION_9P2000 = '9P2000';
export const VERSION_9P2000U = '9P2000.u';

/** Dialect of a connection: plain 9P2000, or 9P2000.u (Unix extensions). */
export type Dialect = '9P2000' | '9P2000.u';

export enum MsgType {
  Tversion = 100, Rversion = 101,
  Tauth = 102, Rauth = 103,
  Tattach = 104, Rattach = 105,
  Rerror = 107,
  Tflush = 108, Rflush = 109,
  Twalk = 110, Rwalk = 111,
  Topen = 112, Ropen = 113,
  Tcreate = 114, Rcreate = 115,
  Tread = 116, Rread = 117,
  Twrite = 118, Rwrite = 119,
  Tclunk = 120, Rclunk = 121,
  Tremove = 122, Rremove = 123,
  Tstat = 124, Rstat = 125,
  Twstat = 126, Rwstat = 127,
}

// Open modes (low two bits) and flags.
export const OREAD = 0;
export const OWRITE = 1;
export const ORDWR = 2;
export const OEXEC = 3;
export const OTRUNC = 0x10;
export const OCEXEC = 0x20;
export const ORCLOSE = 0x40;
/** 9P2000.u: sent by Linux for O_APPEND. */
export const OAPPEND = 0x80;

// Qid types (top byte of mode).
export const QTDIR = 0x80;
export const QTAPPEND = 0x40;
export const QTEXCL = 0x20;
export const QTMOUNT = 0x10;
export const QTAUTH = 0x08;
export const QTTMP = 0x04;
export const QTFILE = 0x00;

// Mode bits.
export const DMDIR = 0x80000000;
export const DMAPPEND = 0x40000000;
export const DMEXCL = 0x20000000;
export const DMMOUNT = 0x10000000;
export const DMAUTH = 0x08000000;
export const DMTMP = 0x04000000;

/** "Don't touch" values of a Twstat. */
export const NOCHANGE16 = 0xffff;
export const NOCHANGE32 = 0xffffffff;
export const NOCHANGE64 = 0xffffffffffffffffn;

export interface Qid {
  type: number;
  vers: number;
  path: bigint;
}

/** A stat entry (directory entry). The .u fields are present only on .u connections. */
export interface Dir {
  type: number;
  dev: number;
  qid: Qid;
  mode: number;
  atime: number;
  mtime: number;
  length: bigint;
  name: string;
  uid: string;
  gid: string;
  muid: string;
  /** 9P2000.u */
  extension?: string;
  nUid?: number;
  nGid?: number;
  nMuid?: number;
}

export interface Tversion { type: MsgType.Tversion; tag: number; msize: number; version: string }
export interface Rversion { type: MsgType.Rversion; tag: number; msize: number; version: string }
export interface Tauth { type: MsgType.Tauth; tag: number; afid: number; uname: string; aname: string; nUname?: number }
export interface Rauth { type: MsgType.Rauth; tag: number; aqid: Qid }
export interface Tattach { type: MsgType.Tattach; tag: number; fid: number; afid: number; uname: string; aname: string; nUname?: number }
export interface Rattach { type: MsgType.Rattach; tag: number; qid: Qid }
export interface Rerror { type: MsgType.Rerror; tag: number; ename: string; errno?: number }
export interface Tflush { type: MsgType.Tflush; tag: number; oldtag: number }
export interface Rflush { type: MsgType.Rflush; tag: number }
export interface Twalk { type: MsgType.Twalk; tag: number; fid: number; newfid: number; wnames: string[] }
export interface Rwalk { type: MsgType.Rwalk; tag: number; qids: Qid[] }
export interface Topen { type: MsgType.Topen; tag: number; fid: number; mode: number }
export interface Ropen { type: MsgType.Ropen; tag: number; qid: Qid; iounit: number }
export interface Tcreate { type: MsgType.Tcreate; tag: number; fid: number; name: string; perm: number; mode: number; extension?: string }
export interface Rcreate { type: MsgType.Rcreate; tag: number; qid: Qid; iounit: number }
export interface Tread { type: MsgType.Tread; tag: number; fid: number; offset: bigint; count: number }
/** `data` may be a view into a larger buffer; the encoder copies it. */
export interface Rread { type: MsgType.Rread; tag: number; data: Uint8Array }
/** `data` is a view into the received frame (no copy). */
export interface Twrite { type: MsgType.Twrite; tag: number; fid: number; offset: bigint; data: Uint8Array }
export interface Rwrite { type: MsgType.Rwrite; tag: number; count: number }
export interface Tclunk { type: MsgType.Tclunk; tag: number; fid: number }
export interface Rclunk { type: MsgType.Rclunk; tag: number }
export interface Tremove { type: MsgType.Tremove; tag: number; fid: number }
export interface Rremove { type: MsgType.Rremove; tag: number }
export interface Tstat { type: MsgType.Tstat; tag: number; fid: number }
export interface Rstat { type: MsgType.Rstat; tag: number; stat: Dir }
export interface Twstat { type: MsgType.Twstat; tag: number; fid: number; stat: Dir }
export interface Rwstat { type: MsgType.Rwstat; tag: number }

export type TMessage =
  | Tversion | Tauth | Tattach | Tflush | Twalk | Topen | Tcreate
  | Tread | Twrite | Tclunk | Tremove | Tstat | Twstat;
export type RMessage =
  | Rversion | Rauth | Rattach | Rerror | Rflush | Rwalk | Ropen | Rcreate
  | Rread | Rwrite | Rclunk | Rremove | Rstat | Rwstat;
export type Fcall = TMessage | RMessage;

/** A qid for a directory or plain file. */
export function qid(type: number, path: bigint, vers = 0): Qid {
  return { type, vers, path };
}

/** A Dir whose every field is "don't touch" (what Linux sends for fsync). */
export function nochangeDir(): Dir {
  return {
    type: NOCHANGE16, dev: NOCHANGE32,
    qid: { type: 0xff, vers: NOCHANGE32, path: NOCHANGE64 },
    mode: NOCHANGE32, atime: NOCHANGE32, mtime: NOCHANGE32, length: NOCHANGE64,
    name: '', uid: '', gid: '', muid: '',
  };
}
