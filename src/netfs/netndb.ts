/**
 * /net/ndb: ndb(6) text (parsed by ndb.ts as libndb does) holding what
 * ip/ipconfig learned, one entry per configured address, in the form its
 * putndb writes (9front sys/src/cmd/ip/ipconfig/main.c):
 *
 *     ip=10.0.2.15 ipmask=/120 ipgw=10.0.2.2
 *     	sys=gnot
 *     	dom=gnot.example
 *     	dns=10.0.2.3
 *
 * The file is devip's (9/ip/devip.c ndbopen/ndbwrite/ndbread): anyone may
 * read it, only the host owner may open it for writing, OTRUNC empties it,
 * a write lands at its offset, and one beyond the end or past 32 KiB fails
 * with `i/o error`. Its qid version counts the changes, as devip's does.
 */
import { Eio, Eperm, NinepError } from '../ninep/error.js';
import { makeDir, readSlice } from '../ninep/node.js';
import type { Node, OpenFile, OpenRequest } from '../ninep/node.js';
import { wantsWrite } from '../ninep/synth.js';
import { OTRUNC, QTFILE } from '../ninep/types.js';
import type { Dir, Qid } from '../ninep/types.js';
import { formatIp, formatMask } from './ipaddr.js';
import type { Ip } from './ipaddr.js';
import { Ndb, values } from './ndb.js';
import type { Entry, Tuple } from './ndb.js';
import { Q, ipQid } from './qid.js';

/** devip's bound on /net/ndb. */
export const NDB_MAX = 32 * 1024;

/** A value as ndb text: quoted with `"` when it holds blanks, `#` or `=` (libndb reads it back, ndbparse.c). */
export function ndbValue(v: string): string {
  return /[ \t#="\n]/.test(v) || v === '' ? `"${v.replace(/"/g, '')}"` : v;
}

/** An entry as text: tuples of a line joined by blanks, continuation lines indented by a tab. */
export function formatEntry(e: Entry): string {
  return e.map((line, i) => `${i === 0 ? '' : '\t'}${line.map((t) => `${t.attr}=${ndbValue(t.val)}`).join(' ')}\n`).join('');
}

/** What ipconfig learned for one address: the entry putndb writes. */
export interface IpConfig {
  ip: Ip;
  mask: Ip;
  /** The gateway (IPnoaddr when none: putndb writes `ipgw=::`). */
  gw: Ip;
  /** Our name (`sys=`), if known; a name with dots gives `dom=` too, as putndb splits it. */
  sys?: string | null;
  /** The domain (`dom=sys.domain`). */
  domain?: string | null;
  dns?: Ip[];
}

/** putndb's entry for `c`. */
export function ipconfigEntry(c: IpConfig): Entry {
  const e: Tuple[][] = [[{ attr: 'ip', val: formatIp(c.ip) }, { attr: 'ipmask', val: formatMask(c.mask) }, { attr: 'ipgw', val: formatIp(c.gw) }]];
  let sys = c.sys ?? '';
  let domain = c.domain ?? '';
  const dot = sys.indexOf('.');
  if (dot >= 0) {
    if (domain === '') domain = sys.slice(dot + 1);
    sys = sys.slice(0, dot);
  }
  if (sys !== '') e.push([{ attr: 'sys', val: sys }]);
  if (domain !== '' && sys !== '') e.push([{ attr: 'dom', val: `${sys}.${domain}` }]);
  for (const d of c.dns ?? []) e.push([{ attr: 'dns', val: formatIp(d) }]);
  return e;
}

/**
 * /net/ndb after ipconfig configured (`add`) or removed `addr`, as putndb
 * rewrites it: the new entry first, then the old entries that have no
 * `ip=`, an `ipnet=`, or an `ip=` that is another of our addresses (`mine`).
 */
export function putNdb(old: string, addr: string, entry: Entry | null, mine: (ip: string) => boolean): string {
  const kept = Ndb.parse(old).entries.filter((e) => {
    if (values(e, 'ipnet').length > 0) return true;
    const ip = values(e, 'ip')[0];
    return ip === undefined || (ip !== addr && mine(ip));
  });
  return [...(entry ? [entry] : []), ...kept].map(formatEntry).join('\n');
}

/** The /net/ndb file: devip's buffer. */
export class NdbFile {
  private buf: Uint8Array = new Uint8Array(0);
  private vers = 0;
  private mtime = Math.floor(Date.now() / 1000);

  /** `onChange` runs after every change (the resolver's servers come from here). */
  constructor(private readonly eve: string, private readonly onChange?: () => void) {}

  /** The text now. */
  text(): string {
    return Buffer.from(this.buf).toString('utf8');
  }

  /** Replaces the text (what ipconfig's open with OTRUNC and write do). */
  set(text: string): void {
    const b = Buffer.from(text, 'utf8');
    this.buf = Uint8Array.from(b.subarray(0, NDB_MAX - 1));
    this.changed();
  }

  /** The file node. */
  readonly node: Node = ((): Node => {
    const self = this;
    return {
      get qid(): Qid {
        const q = ipQid(Q.ndb);
        return { type: QTFILE, vers: self.vers, path: q.path };
      },
      stat(): Dir {
        return makeDir(this.qid, 'ndb', 0o666, 'network', { length: BigInt(self.buf.length), mtime: self.mtime });
      },
      open: (req: OpenRequest): OpenFile => this.open(req),
    };
  })();

  private changed(): void {
    this.vers = (this.vers + 1) >>> 0;
    this.mtime = Math.floor(Date.now() / 1000);
    this.onChange?.();
  }

  private open(req: OpenRequest): OpenFile {
    if (wantsWrite(req.mode) && req.user !== this.eve) throw new NinepError(Eperm);
    if ((req.mode & OTRUNC) !== 0) {
      this.buf = new Uint8Array(0);
      this.changed();
    }
    return {
      read: (offset, count) => readSlice(this.buf, offset, count),
      write: (offset, data) => {
        const off = Number(offset);
        if (offset > BigInt(this.buf.length) || off + data.length >= NDB_MAX) throw new NinepError(Eio);
        if (data.length > 0) {
          const end = Math.max(this.buf.length, off + data.length);
          const b = new Uint8Array(end);
          b.set(this.buf);
          b.set(data, off);
          this.buf = b;
          this.changed();
        }
        return data.length;
      },
    };
  }
}
