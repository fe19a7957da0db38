/**
 * The file tree a 9P server serves.
 *
 * A Node is a file or directory with a stable qid. Opening a node yields an
 * OpenFile whose read/write may complete later (a blocking `data` read, a
 * `listen` open); every potentially blocking call gets an AbortSignal that
 * fires when the request is flushed or the connection goes away, and must
 * then settle promptly (usually by rejecting with Interrupted).
 *
 * Handlers return plain values when they can answer at once and promises
 * only when they must wait, so the common path costs no microtask.
 * Errors are thrown as NinepError with the exact text for the client.
 */
import { Interrupted } from './error.js';
import type { Dir, Qid } from './types.js';
import { DMDIR, OEXEC, ORDWR, OTRUNC, OWRITE } from './types.js';

export type MaybePromise<T> = T | Promise<T>;

/**
 * What a handler may do with a request's cancellation: look at it and
 * listen for it. A real AbortSignal satisfies it; the server passes a
 * cheaper object, so requests that never wait allocate nothing for it.
 */
export interface Signal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', fn: () => void, opts?: { once?: boolean }): void;
  removeEventListener(type: 'abort', fn: () => void): void;
}

export interface OpenRequest {
  /** The 9P open mode (OREAD/OWRITE/ORDWR/OEXEC plus OTRUNC, ORCLOSE...). */
  mode: number;
  /** The attach name of the fid being opened. */
  user: string;
  signal: Signal;
}

export interface Node {
  readonly qid: Qid;
  /** The current stat entry; its qid must equal `qid`. */
  stat(): Dir;
  /** Directories: the child called `name` (never '', '.', '..' or containing '/'), or null. */
  walk?(name: string, user: string): MaybePromise<Node | null>;
  /** Directories: the children, in listing order. */
  list?(user: string): MaybePromise<Node[]>;
  /** Files: open. Permission checks are the node's job (see permits()). Directories need not implement it. */
  open?(req: OpenRequest): MaybePromise<OpenFile>;
  /**
   * A Twstat that changes more than length/atime/mtime (those alone are
   * accepted as no-ops on files, as Linux sends them after O_TRUNC).
   * Absent: the server answers "permission denied".
   */
  wstat?(changes: Dir, user: string): MaybePromise<void>;
}

export interface OpenFile {
  /** The node the fid refers to after the open, when it differs (clone → N/ctl). */
  node?: Node;
  read?(offset: bigint, count: number, signal: Signal): MaybePromise<Uint8Array>;
  /** Returns the count written; 0 for a non-empty write is turned into an error. */
  write?(offset: bigint, data: Uint8Array, signal: Signal): MaybePromise<number>;
  /**
   * One write whose data arrived in several pieces (a large Twrite, passed
   * on without copying). Optional: without it the pieces are joined and
   * given to write().
   */
  writev?(offset: bigint, parts: Uint8Array[], signal: Signal): MaybePromise<number>;
  /** The fid was clunked (or its connection closed) and no request is running on it. */
  clunk?(): void;
}

/** Permission bits needed for an open mode: 4 read, 2 write, 1 exec. */
export function openBits(mode: number): number {
  let bits: number;
  switch (mode & 3) {
    case OWRITE: bits = 2; break;
    case ORDWR: bits = 6; break;
    case OEXEC: bits = 1; break;
    default: bits = 4;
  }
  if (mode & OTRUNC) bits |= 2;
  return bits;
}

/**
 * lib9p's simple permission model: the owner gets the owner bits, a user
 * whose name is the file's group gets the group bits, everyone else the
 * other bits.
 */
export function permits(d: Dir, user: string, need: number): boolean {
  const perm = d.mode & 0o777;
  let have = perm & 7;
  if (user === d.uid) have |= (perm >> 6) & 7;
  if (user === d.gid) have |= (perm >> 3) & 7;
  return (have & need) === need;
}

export function isDir(n: Node): boolean {
  return (n.qid.type & 0x80) !== 0;
}

/** A stat entry for a synthetic file with the usual defaults filled in. */
export function makeDir(q: Qid, name: string, mode: number, uid: string, opts: { gid?: string; length?: bigint; mtime?: number; atime?: number } = {}): Dir {
  const now = Math.floor(Date.now() / 1000);
  return {
    type: 0,
    dev: 0,
    qid: q,
    mode: ((q.type & 0x80) !== 0 ? mode | DMDIR : mode) >>> 0,
    atime: opts.atime ?? now,
    mtime: opts.mtime ?? now,
    length: opts.length ?? 0n,
    name,
    uid,
    gid: opts.gid ?? uid,
    muid: uid,
  };
}

/** Bytes [offset, offset+count) of a text, as devip's readstr does. */
export function readSlice(data: Uint8Array, offset: bigint, count: number): Uint8Array {
  if (offset >= BigInt(data.length)) return data.subarray(0, 0);
  const o = Number(offset);
  return data.subarray(o, Math.min(data.length, o + count));
}

/** Race a promise against a request's cancellation: Interrupted when `signal` fires first. */
export function abortable<T>(p: Promise<T>, signal?: Signal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new Interrupted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Interrupted());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}
