/**
 * Building blocks for the synthetic /net tree: directories whose children
 * are computed on demand, files with an open handler, snapshot text files,
 * and devip's qid packing.
 */
import { Eperm, NinepError } from '../ninep/error.js';
import { makeDir, readSlice } from '../ninep/node.js';
import type { MaybePromise, Node, OpenFile, OpenRequest } from '../ninep/node.js';
import { DMDIR, OTRUNC, QTDIR, QTFILE, qid } from '../ninep/types.js';
import type { Dir, Qid } from '../ninep/types.js';

/** devip qid types (plan9-net.md §1.3). */
export enum Q {
  topdir = 1, arp = 2, bootp = 3, ndb = 4, iproute = 5, ipselftab = 6, log = 7,
  protodir = 8, clone = 9, stats = 10, convdir = 11, ctl = 12, data = 13, err = 14,
  listen = 15, local = 16, remote = 17, status = 18, snoop = 19,
}

/** devip's packing: proto<<17 | conv<<5 | type. */
export function ipQid(type: Q, proto = 0, conv = 0): Qid {
  const dir = type === Q.topdir || type === Q.protodir || type === Q.convdir;
  return qid(dir ? QTDIR : QTFILE, (BigInt(proto) << 17n) | (BigInt(conv) << 5n) | BigInt(type));
}

/** Qid spaces of the other /net parts, above devip's. */
export const QSPACE_CS = 1n << 40n;
export const QSPACE_ETHER = 2n << 40n;
export const QSPACE_IPIFC = 3n << 40n;

export interface NodeInfo {
  name: string;
  uid: string;
  gid?: string;
  /** Permission bits (DMDIR is added for directories). */
  mode: number;
  length?: bigint;
}

/** A directory whose children are computed on every walk and read. */
export class SynthDir implements Node {
  constructor(
    readonly qid: Qid,
    private readonly info: () => NodeInfo,
    private readonly children: (user: string) => Node[],
    private readonly lookup?: (name: string, user: string) => Node | null,
  ) {}
  stat(): Dir {
    const i = this.info();
    return makeDir(this.qid, i.name, (i.mode | DMDIR) >>> 0, i.uid, { gid: i.gid ?? i.uid });
  }
  walk(name: string, user: string): Node | null {
    if (this.lookup) return this.lookup(name, user);
    return this.children(user).find((k) => k.stat().name === name) ?? null;
  }
  list(user: string): Node[] {
    return this.children(user);
  }
}

/** A file with its own open handler. */
export class SynthFile implements Node {
  constructor(
    readonly qid: Qid,
    private readonly info: () => NodeInfo,
    private readonly opener: (req: OpenRequest) => MaybePromise<OpenFile>,
    wstatFn?: (changes: Dir, user: string) => MaybePromise<void>,
  ) {
    if (wstatFn) this.wstat = wstatFn;
  }
  wstat?: (changes: Dir, user: string) => MaybePromise<void>;
  stat(): Dir {
    const i = this.info();
    return makeDir(this.qid, i.name, i.mode, i.uid, { gid: i.gid ?? i.uid, length: i.length ?? 0n });
  }
  open(req: OpenRequest): MaybePromise<OpenFile> {
    return this.opener(req);
  }
}

/** True when an open mode asks to write (or truncate). */
export function wantsWrite(mode: number): boolean {
  const rw = mode & 3;
  return rw === 1 || rw === 2 || (mode & OTRUNC) !== 0;
}

/** Refuse an open that asks for more than reading. */
export function readOnly(mode: number): void {
  if (wantsWrite(mode)) throw new NinepError(Eperm);
}

/**
 * An OpenFile over generated text: the text is generated at the read at
 * offset 0 and later offsets are served from that snapshot, so a reader
 * that needs several reads never sees a torn line.
 */
export function snapshotText(gen: () => string | Uint8Array): OpenFile {
  let snap: Uint8Array | null = null;
  return {
    read(offset: bigint, count: number): Uint8Array {
      if (offset === 0n || snap === null) {
        const t = gen();
        snap = typeof t === 'string' ? Buffer.from(t) : t;
      }
      return readSlice(snap, offset, count);
    },
  };
}

/** A read-only text file regenerated per open (devip's readstr files). */
export function textFile(q: Qid, info: () => NodeInfo, gen: () => string | Uint8Array): SynthFile {
  return new SynthFile(q, info, (req) => {
    readOnly(req.mode);
    return snapshotText(gen);
  });
}
