/**
 * cs general queries (ndb/cs.c genquery, ipinfoquery), what libndb's
 * csgetvalue and csipinfo write to /net/cs:
 *
 *  - `!attr=val attr2=val2 ...`: the first entry that has attr=val and,
 *    for every further pair, a tuple attr2=val2 (`*` matches any value).
 *    The answer is that entry, one line per read, `attr=val attr=val`
 *    (`!port=7 tcp=*` → `tcp=echo port=7`); no entry fails with `no match`.
 *  - `!ipinfo [attr=val] attr1 [@]attr2 ...`: the values of those
 *    attributes in the entry with attr=val, as one line; `@` asks for the
 *    value resolved to addresses.
 *
 * We look in fs/ndb first, so `localhost` never reaches the host's
 * resolver; then, for a `dom=` or `sys=` key that is a name, the resolver
 * (which stands for Plan 9's dns and the hosts of its /lib/ndb/local),
 * whose addresses come back as one line each, `dom=NAME ip=A` (the form
 * Plan 9's dns gives cs; `sys=NAME ip=A` for a sys key). There is no
 * reverse resolver: `!ip=A dom=*` answers from fs/ndb only.
 */
import { NinepError } from '../ninep/error.js';
import type { MaybePromise } from '../ninep/node.js';
import { formatIp, parseIp } from './ipaddr.js';
import type { Ip } from './ipaddr.js';
import { formatLines, values } from './ndb.js';
import type { Entry, Ndb, Tuple } from './ndb.js';

/** Pairs read from one query; further ones are ignored (cs.c Maxattr). */
export const MAX_PAIRS = 32;

export const Ebadquery = 'bad query';
export const Enomatch = 'no match';

export interface QueryContext {
  ndb: Ndb;
  /** Addresses of a host name (not a literal). */
  resolve(host: string): Promise<Ip[]>;
  /** Whether an address may be answered (9front drops IP versions no interface has). */
  usable(ip: Ip): boolean;
}

/** The entry without the addresses that may not be answered (a line left empty goes). */
export function usableEntry(e: Entry, usable: (ip: Ip) => boolean): Entry {
  const keep = (t: Tuple): boolean => {
    if (t.attr !== 'ip') return true;
    const ip = parseIp(t.val);
    return ip === null || usable(ip);
  };
  return e.map((l) => l.filter(keep)).filter((l) => l.length > 0);
}

/** The usable addresses of a host name in the database (sys= or dom=, as ipattr), or null. */
function ndbAddresses(ctx: QueryContext, host: string): Ip[] | null {
  const attr = host.includes('.') ? 'dom' : 'sys';
  for (const e of ctx.ndb.search(attr, host)) {
    const ips = values(e, 'ip').map((v) => parseIp(v)).filter((ip): ip is Ip => ip !== null);
    if (ips.length > 0) return ips.filter((ip) => ctx.usable(ip));
  }
  return null;
}

/** A name's usable addresses: the database's, else the resolver's (empty when it knows none). */
export async function hostAddresses(ctx: QueryContext, host: string): Promise<Ip[]> {
  const local = ndbAddresses(ctx, host);
  if (local) return local;
  try {
    return (await ctx.resolve(host)).filter((ip) => ctx.usable(ip));
  } catch {
    return [];
  }
}

/** Answers (at most `max`) for the text after `!`; fails with `bad query` or `no match`. */
export function genquery(ctx: QueryContext, query: string, max: number): MaybePromise<string[]> {
  const fields = query.split(' ').filter((f) => f !== '').slice(0, MAX_PAIRS);
  if (fields.length === 0) throw new NinepError(Ebadquery);
  if (fields[0] === 'ipinfo') return ipinfo(ctx, fields.slice(1), max);
  const pairs: Tuple[] = [];
  for (const f of fields) {
    const eq = f.indexOf('=');
    if (eq < 0) throw new NinepError(Ebadquery);
    pairs.push({ attr: f.slice(0, eq), val: f.slice(eq + 1) });
  }
  const [key, ...rest] = pairs as [Tuple, ...Tuple[]];
  for (const e of ctx.ndb.search(key.attr, key.val)) {
    const u = usableEntry(e, ctx.usable);
    if (matches(u, rest)) return formatLines(u).slice(0, max);
  }
  if ((key.attr !== 'dom' && key.attr !== 'sys') || key.val === '' || parseIp(key.val)) throw new NinepError(Enomatch);
  return hostAddresses(ctx, key.val).then((ips) => {
    const e: Entry = ips.map((ip) => [{ attr: key.attr, val: key.val }, { attr: 'ip', val: formatIp(ip) }]);
    if (e.length === 0 || !matches(e, rest)) throw new NinepError(Enomatch);
    return formatLines(e).slice(0, max);
  });
}

/** Every pair has a tuple in the entry with its attribute and value (or any value for `*`): cs.c qmatch. */
function matches(e: Entry, pairs: readonly Tuple[]): boolean {
  return pairs.every((p) => e.some((l) => l.some((t) => t.attr === p.attr && (p.val === '*' || t.val === p.val))));
}

/**
 * `ipinfo attr=val attr1 ...` (cs.c ipinfoquery) over our database, which
 * has no ipnet entries: the attributes of the entry itself. Without
 * attr=val the key would be our own address, which fs/ndb does not list.
 */
async function ipinfo(ctx: QueryContext, list: string[], max: number): Promise<string[]> {
  if (list.length < 1) throw new NinepError(Ebadquery);
  const eq = list[0]!.indexOf('=');
  if (eq < 0) throw new NinepError(Enomatch);
  const [attr, val] = [list[0]!.slice(0, eq), list[0]!.slice(eq + 1)];
  const wanted = list.slice(1);
  if (wanted.length < 1) throw new NinepError(Ebadquery);
  const entry = ctx.ndb.search(attr, val).next().value;
  if (!entry) throw new NinepError(Enomatch);
  const e = usableEntry(entry, ctx.usable);
  const line: string[] = [];
  for (const w of wanted) {
    const resolve = w.startsWith('@');
    const name = resolve ? w.slice(1) : w;
    for (const v of values(e, name)) {
      if (!resolve || parseIp(v)) line.push(`${name}=${v}`);
      else for (const ip of await hostAddresses(ctx, v)) line.push(`${name}=${formatIp(ip)}`);
    }
  }
  if (line.length === 0) throw new NinepError(Enomatch);
  return [line.join(' ')].slice(0, max);
}
