/**
 * /net/cs carried by the lower server's cs (ndb/cs.c).
 *
 * Per open fid, as ndb/cs: a write sends the query (dial strings and
 * general `!attr=val ...` queries alike, one trailing newline dropped) to
 * the lower /net/cs (on a fid of its own, opened for that query) and fails
 * with the lower's error text; the answers are read from the lower at once
 * (≤ MAX_ANSWERS, cs.c's Nreply) and then handed out one per read, 0 bytes
 * when there are no more. The clone paths in the answers are rewritten to
 * our mount point (`/net.alt/tcp/clone` → `/net/tcp/clone`), as dial(2)
 * itself does with cs answers; other answers (ndb tuples) pass unchanged.
 *
 * When the lower server has no cs (or cannot be reached), we answer as dial
 * does without cs: literal addresses and numeric or well-known services
 * only, and general queries from our fs/ndb; host names other than
 * fs/ndb's (`localhost`) fail with `cs: can't translate address`.
 */
import type { File } from '../../ninep/client.js';
import { Interrupted, NinepError } from '../../ninep/error.js';
import type { Node, Signal } from '../../ninep/node.js';
import { ORDWR } from '../../ninep/types.js';
import { ConnectionServer, Eaddress, MAX_ANSWERS } from '../../netfs/cs.js';
import { Ndb } from '../../netfs/ndb.js';
import { asNinep, linked } from './lower.js';
import type { LowerPool } from './lower.js';

/** Longest answer read. */
const MAX_ANSWER = 8192;

export interface OverCsOptions {
  pool: LowerPool;
  /** The lower /net's path on the lower server ('' when its root is the /net). */
  prefix?: string;
  /** Our protocol directories (for the fallback translation). */
  protocols(): string[];
  /** Where our answers say the clone files are (default /net). */
  mountpoint?: string;
}

export class OverCs {
  private readonly fallback: ConnectionServer;
  private readonly server: ConnectionServer;

  constructor(private readonly opts: OverCsOptions) {
    const mountpoint = opts.mountpoint ?? '/net';
    const base = {
      protocols: opts.protocols,
      haveFamily: () => true,
      ndb: Ndb.builtin(),
      mountpoint,
      resolve: () => Promise.reject(new NinepError(Eaddress)),
    };
    this.fallback = new ConnectionServer(base);
    // Our own cs file (per-fid queries and answers), answering from the lower cs.
    this.server = new ConnectionServer({ ...base, lookup: (q, signal) => this.query(q, signal) });
  }

  /** The file as `user` sees it (owned by the attaching user, as cs's). */
  node(user = 'network'): Node {
    return this.server.node(user);
  }

  private async query(text: string, signal: Signal): Promise<string[]> {
    try {
      return await this.queryLower(text, signal);
    } catch (e) {
      throw asNinep(e);
    }
  }

  private async queryLower(text: string, signal: Signal): Promise<string[]> {
    const prefix = this.opts.prefix ?? '';
    let f: File;
    try {
      const lower = await this.opts.pool.any(signal);
      f = await linked(signal, (s) => lower.client.open(`${prefix}/cs`, ORDWR, s));
    } catch (e) {
      if (e instanceof Interrupted) throw e;
      return this.fallback.answer(text);
    }
    try {
      await linked(signal, (s) => f.write(text, s));
      const out: string[] = [];
      let b = await linked(signal, (s) => f.read(MAX_ANSWER, s, 0n));
      while (b.length > 0 && out.length < MAX_ANSWERS) {
        out.push(this.rewrite(b.toString()));
        if (out.length === MAX_ANSWERS) break;
        b = await linked(signal, (s) => f.read(MAX_ANSWER, s));
      }
      return out;
    } finally {
      void f.close();
    }
  }

  /** `/anything/<proto>/clone rest` → `<mountpoint>/<proto>/clone rest`. */
  private rewrite(answer: string): string {
    const sp = answer.indexOf(' ');
    const path = sp < 0 ? answer : answer.slice(0, sp);
    const m = /^\/(?:.*\/)?([^/]+)\/clone$/.exec(path);
    if (!m) return answer;
    return `${this.opts.mountpoint ?? '/net'}/${m[1]}/clone${sp < 0 ? '' : answer.slice(sp)}`;
  }
}
