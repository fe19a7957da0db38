/**
 * /net/dns and /net/ndb carried by the lower server's (ndb/dns.c, 9/ip/devip.c;
 * the cs sibling is cs.ts). Each upper open is one lower open of the same
 * file, so the lower keeps the per-fid state (ndb/dns's query and answers);
 * reads and writes go down with their offsets, and the lower's answers and
 * errors come back unchanged. We check our own permissions first: only our
 * host owner opens /net/ndb for writing, as devip allows only eve.
 */
import type { File } from '../../ninep/client.js';
import { Eperm, NinepError } from '../../ninep/error.js';
import type { Node, OpenFile, OpenRequest } from '../../ninep/node.js';
import { SynthFile, wantsWrite } from '../../ninep/synth.js';
import type { Qid } from '../../ninep/types.js';
import { asNinep, linked } from './lower.js';
import type { LowerPool } from './lower.js';

export interface OverFileOptions {
  pool: LowerPool;
  /** The lower /net's path on the lower server ('' when its root is the /net). */
  prefix?: string;
  /** `dns` or `ndb`. */
  name: string;
  qid: Qid;
  /** Our host owner. */
  eve: string;
  /** Writers must be the host owner (/net/ndb). */
  writeNeedsEve: boolean;
  /** The file shows the attaching user as owner (ndb/dns does), else `network`. */
  ownedByUser: boolean;
}

export class OverFile {
  constructor(private readonly opts: OverFileOptions) {}

  node(user = 'network'): Node {
    const o = this.opts;
    return new SynthFile(o.qid, () => ({ name: o.name, uid: o.ownedByUser ? user : 'network', mode: 0o666 }), (req) => this.open(req));
  }

  private async open(req: OpenRequest): Promise<OpenFile> {
    const o = this.opts;
    if (o.writeNeedsEve && wantsWrite(req.mode) && req.user !== o.eve) throw new NinepError(Eperm);
    let f: File;
    try {
      const lower = await o.pool.any(req.signal);
      f = await linked(req.signal, (s) => lower.client.open(`${o.prefix ?? ''}/${o.name}`, req.mode, s));
    } catch (e) {
      throw asNinep(e);
    }
    const down = <T>(p: Promise<T>): Promise<T> => p.catch((e: unknown) => { throw asNinep(e); });
    return {
      read: (offset, count, signal) => down(linked(signal, (s) => f.read(count, s, offset))),
      write: (offset, data, signal) => {
        f.offset = offset;
        return down(linked(signal, (s) => f.write(data, s)));
      },
      clunk: () => {
        f.close().catch(() => { /* the lower connection is gone: nothing to clunk */ });
      },
    };
  }
}
