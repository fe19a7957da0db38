/**
 * /net/cs carried by the lower server's cs (plan9-net.md §12).
 *
 * Per open fid, as ndb/cs: a write sends the query to the lower /net/cs
 * (on a fid of its own, opened for that query) and fails with the lower's
 * error text; the answers are read from the lower at once (≤ MAX_ANSWERS)
 * and then handed out one per read, 0 bytes when there are no more. The
 * clone paths in the answers are rewritten to our mount point
 * (`/net.alt/tcp/clone` → `/net/tcp/clone`), as dial(2) itself does with
 * cs answers; other answers (ndb tuples) pass unchanged.
 *
 * When the lower server has no cs (or cannot be reached), we translate as
 * dial does without cs: literal addresses and numeric or well-known
 * services only, host names fail with `can't translate address`.
 */
import type { File } from '../ninep/client.js';
import { Interrupted, NinepError } from '../ninep/error.js';
import type { MaybePromise, Node, OpenFile, Signal } from '../ninep/node.js';
import { ORDWR, QTFILE, qid } from '../ninep/types.js';
import { ConnectionServer, ServiceTable } from '../netfs/cs.js';
import { ctlText } from '../netfs/ctl.js';
import { QSPACE_CS, SynthFile } from '../netfs/tree.js';
import { asNinep, linked } from './lower.js';
import type { LowerPool } from './lower.js';

/** Longest query accepted (as our own cs). */
const MAX_QUERY = 1024;
/** Answers kept per query. */
export const MAX_ANSWERS = 64;
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

  constructor(private readonly opts: OverCsOptions) {
    this.fallback = new ConnectionServer({
      protocols: opts.protocols,
      resolve: () => Promise.reject(new NinepError("can't translate address")),
      haveFamily: () => true,
      services: ServiceTable.builtin(),
      mountpoint: opts.mountpoint ?? '/net',
    });
  }

  /** The file as `user` sees it (owned by the attaching user, as cs's). */
  node(user = 'network'): Node {
    return new SynthFile(
      qid(QTFILE, QSPACE_CS | 1n),
      () => ({ name: 'cs', uid: user, mode: 0o666 }),
      () => this.open(),
    );
  }

  private open(): OpenFile {
    let answers: string[] = [];
    let next = 0;
    let busy = false;
    return {
      write: (_off, data, signal) => {
        if (busy) throw new NinepError('query already in progress');
        if (data.length > MAX_QUERY) throw new NinepError('request too long');
        answers = [];
        next = 0;
        busy = true;
        return this.query(data, signal).then(
          (a) => {
            busy = false;
            answers = a;
            return data.length;
          },
          (e: unknown) => {
            busy = false;
            throw asNinep(e);
          },
        );
      },
      read: (_off, count) => {
        if (next >= answers.length) return new Uint8Array(0);
        return Buffer.from(answers[next++]!).subarray(0, count);
      },
    };
  }

  private async query(data: Uint8Array, signal: Signal): Promise<string[]> {
    const prefix = this.opts.prefix ?? '';
    let f: File;
    try {
      const lower = await this.opts.pool.any(signal);
      f = await linked(signal, (s) => lower.client.open(`${prefix}/cs`, ORDWR, s));
    } catch (e) {
      if (e instanceof Interrupted) throw e;
      return this.translateLocally(ctlText(data));
    }
    try {
      await linked(signal, (s) => f.write(data, s));
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

  private translateLocally(query: string): MaybePromise<string[]> {
    return this.fallback.translate(query);
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
