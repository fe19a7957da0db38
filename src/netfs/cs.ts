/**
 * The connection server, /net/cs (ndb/cs.c).
 *
 * Per open fid: write one query, then each read returns one answer (or as
 * much of it as fits; the next read continues it) without a newline, and
 * 0 bytes when there are no more. A failed query fails the write, with
 * cs.c's text after `cs: ` as cs sends it. Queries:
 *
 *  - `net!host!service[!extra]` (what dial(2) writes): answers
 *    `/net/<proto>/clone <addr>!<port>`, one per address;
 *  - `!attr=val attr2=val2 ...` and `!ipinfo ...` (what csgetvalue and
 *    csipinfo write): ndb tuples, genquery.ts.
 *
 * One trailing newline is dropped, so `echo 'tcp!host!http' >/net/cs`
 * works from a shell (Plan 9's cs would take it as part of the service).
 * Host names are looked up in fs/ndb first (`localhost`), then given to an
 * injected resolver (the host's for the host backend); service names come
 * from fs/ndb/common.
 */
import { Interrupted, NinepError } from '../ninep/error.js';
import type { MaybePromise, Node, OpenFile, Signal } from '../ninep/node.js';
import { ctlText } from './ctl.js';
import { genquery, hostAddresses } from './genquery.js';
import type { QueryContext } from './genquery.js';
import { formatIp, isUnspecified, isV4, parseIp } from './ipaddr.js';
import type { Ip } from './ipaddr.js';
import type { Ndb } from './ndb.js';
import { QSPACE_CS } from './qid.js';
import { SynthFile } from '../ninep/synth.js';
import { qid, QTFILE } from '../ninep/types.js';

/** Networks translated as IP (cs's table); `net` means the default ones. */
const IP_NETS = new Set(['tcp', 'udp', 'il', 'icmp', 'icmpv6', 'rudp', 'ssh']);
/** A write of this many bytes or more is `request too long` (cs.c Maxrequest). */
export const MAX_REQUEST = 128;
/** Answers kept per query (cs.c Nreply). */
export const MAX_ANSWERS = 20;

// cs.c's texts (sent after `cs: `).
export const Eaddress = "can't translate address";
export const Eservice = "can't translate service";
const Etoolong = 'request too long';
const Ebusy = 'query already in progress';

export interface CsOptions {
  /** Protocol directories present under /net (their clone files exist). */
  protocols(): string[];
  /** Addresses of a host name (not a literal, not in fs/ndb). */
  resolve(host: string): Promise<Ip[]>;
  /** Whether any interface has an address of this family (9front drops the others). */
  haveFamily(v4: boolean): boolean;
  /** Host names and services (fs/ndb: Ndb.builtin()). */
  ndb: Ndb;
  /** Where answers say the clone files are (default /net). */
  mountpoint?: string;
  /**
   * Answers for a query (newline already dropped), in place of our own
   * (e.g. a lower server's cs); its errors reach the client unchanged.
   */
  lookup?(query: string, signal: Signal): MaybePromise<string[]>;
}

/** An error as cs sends it: `cs: ` and the text (cs.c sendmsg). */
export function csError(e: unknown): unknown {
  if (!(e instanceof NinepError) || e instanceof Interrupted || e.ename.startsWith('cs: ')) return e;
  return new NinepError(`cs: ${e.ename}`);
}

/** The query text of a write: one trailing newline dropped. */
export function queryText(data: Uint8Array): string {
  const q = ctlText(data);
  return q.endsWith('\n') ? q.slice(0, -1) : q;
}

export class ConnectionServer {
  private readonly ctx: QueryContext;

  constructor(private readonly opts: CsOptions) {
    this.ctx = {
      ndb: opts.ndb,
      resolve: opts.resolve,
      // 127/8 is always ours (every stack has loopback).
      usable: (ip) => !isUnspecified(ip) && ((isV4(ip) && ip[12] === 127) || opts.haveFamily(isV4(ip))),
    };
  }

  /** The file as `user` sees it: cs shows it owned by the attaching user. */
  node(user = 'network'): Node {
    return new SynthFile(
      qid(QTFILE, QSPACE_CS | 1n),
      () => ({ name: 'cs', uid: user, mode: 0o666 }),
      () => this.open(),
    );
  }

  private open(): OpenFile {
    let answers: Buffer[] = [];
    /** The answer the next read returns, and how much of it was read. */
    let next = 0;
    let at = 0;
    let busy = false;
    return {
      write: (_off, data, signal) => {
        if (busy) throw csError(new NinepError(Ebusy));
        if (data.length >= MAX_REQUEST) throw csError(new NinepError(Etoolong));
        // Start with a clean slate (cs.c cleanmf): a failed query leaves no answers.
        answers = [];
        next = 0;
        at = 0;
        busy = true;
        let r: MaybePromise<string[]>;
        try {
          const query = queryText(data);
          r = this.opts.lookup ? this.opts.lookup(query, signal) : this.answer(query);
        } catch (e) {
          busy = false;
          throw e;
        }
        const done = (a: string[]): number => {
          busy = false;
          answers = a.slice(0, MAX_ANSWERS).map((s) => Buffer.from(s));
          return data.length;
        };
        return r instanceof Promise
          ? r.then(done, (e: unknown) => { busy = false; throw e; })
          : done(r);
      },
      read: (_off, count) => {
        const a = answers[next];
        if (!a) return new Uint8Array(0);
        const part = a.subarray(at, at + count);
        at += part.length;
        if (at >= a.length) {
          next++;
          at = 0;
        }
        return part;
      },
    };
  }

  /** The answers to one query, failing as cs does (`cs: ...`). */
  answer(query: string): MaybePromise<string[]> {
    let r: MaybePromise<string[]>;
    try {
      r = query.startsWith('!') ? genquery(this.ctx, query.slice(1), MAX_ANSWERS) : this.translate(query);
    } catch (e) {
      throw csError(e);
    }
    return r instanceof Promise ? r.catch((e: unknown) => { throw csError(e); }) : r;
  }

  /** Translate one dial string into answer lines. */
  private translate(query: string): MaybePromise<string[]> {
    const f = query.split('!');
    if (f.length === 1) f.unshift('net');
    let [net, host, service, ...extra] = f as [string, string, string | undefined, ...string[]];
    const mnt = this.opts.mountpoint ?? '/net';
    const present = this.opts.protocols();
    const suffix = extra.length ? `!${extra.join('!')}` : '';
    if (net !== 'net' && !IP_NETS.has(net)) {
      // Not an IP network: passed through untranslated.
      return [`${mnt}/${net}/clone ${host}${service !== undefined ? `!${service}` : ''}${suffix}`];
    }
    const nets = net === 'net' ? ['tcp'].filter((n) => present.includes(n)) : [net];
    if (nets.length === 0 || !present.includes(nets[0]!)) throw new NinepError(Eaddress);
    if (service === undefined || service === '') throw new NinepError(Eservice);
    const port = this.port(nets[0]!, service);
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    if (host === '*' || host === '::') return nets.map((n) => `${mnt}/${n}/clone ${port}${suffix}`);
    if (host.startsWith('$')) throw new NinepError(Eaddress);
    const lines = (ips: Ip[]): string[] => {
      if (ips.length === 0) throw new NinepError(Eaddress);
      return nets.flatMap((n) => ips.map((ip) => `${mnt}/${n}/clone ${formatIp(ip)}!${port}${suffix}`));
    };
    const literal = parseIp(host);
    if (literal) return lines([literal]);
    return hostAddresses(this.ctx, host).then(lines);
  }

  private port(net: string, service: string): string {
    if (service === '*' || /^\d+$/.test(service)) return service;
    const p = this.opts.ndb.getvalue(net, service, 'port') ?? this.opts.ndb.getvalue('tcp', service, 'port');
    if (p === null || !/^\d+$/.test(p)) throw new NinepError(Eservice);
    return p;
  }
}
