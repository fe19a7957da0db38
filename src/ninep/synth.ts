/**
 * A kit for synthetic file trees (lib9p's file.c role): directories whose
 * children are computed on demand, files with an open handler, and
 * snapshot text files.
 */
import { Eperm, NinepError } from './error.js';
import { makeDir, readSlice } from './node.js';
import type { MaybePromise, Node, OpenFile, OpenRequest } from './node.js';
import { DMDIR, OTRUNC } from './types.js';
import type { Dir, Qid } from './types.js';

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
