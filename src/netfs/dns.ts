/**
 * /net/dns with ndb/dns's file semantics (sys/src/cmd/ndb/dns.c rwrite,
 * rread, respond; record text from dn.c rrfmt and rravfmt).
 *
 * Per open fid: write `name type` at offset 0, where type is one of
 * ndb/dns's names (`ip`, `ipv6`, `ptr`, `mx`, `txt`, `cname`, `ns`, `soa`,
 * `srv`, `all` or `any`, ... or a number); a name ending in `.` is rooted
 * (no search domains), a leading `!` asks for attribute=value answers. A
 * literal address with `ptr` is turned into its in-addr.arpa / ip6.arpa
 * name, as ndb/dnsquery and libndb do before asking. Then each read
 * returns one record, `owner type\tdata` without a newline, and 0 bytes
 * after the last; reads at offset 0 start again (ndb/dns hands out the
 * record that contains the read offset). The write fails, and the previous
 * answers are gone, when there is nothing: `dns: name does not exist`,
 * `dns: dns failure`, `dns: resource does not exist; negrcode N`, and
 * `dns: illegal request X`, `dns: unknown type X`, `dns: request too long`,
 * `dns: writing at non-zero offset` for bad writes. At most MAX_RRS records
 * and MAX_REPLY bytes of them are kept, as ndb/dns's Maxrrr and Maxreply.
 *
 * The records come from a DnsSource: our resolver on our stack, the host's
 * resolver on the host backend.
 */
import { NinepError } from '../ninep/error.js';
import { abortable } from '../ninep/node.js';
import type { Node, OpenFile, Signal } from '../ninep/node.js';
import { SynthFile } from '../ninep/synth.js';
import { qid, QTFILE } from '../ninep/types.js';
import { DNS_TYPE, ptrName4, ptrName6 } from '../stack/wire/dns.js';
import type { DnsRecord } from '../stack/wire/dns.js';
import { formatIp, isV4, parseIp, u32ToV4 } from './ipaddr.js';
import { QSPACE_DNS } from './qid.js';

/** ndb/dns's Maxrequest: writes this long or longer fail. */
export const MAX_REQUEST = 1024;
/** ndb/dns's Maxrrr - 1 records per answer. */
export const MAX_RRS = 31;
/** ndb/dns's Maxreply bytes per answer. */
export const MAX_REPLY = 8192;

/** An answer: records of the type asked for, or none and the rcode saying why. */
export interface DnsReply {
  rcode: number;
  records: DnsRecord[];
}

export interface DnsSource {
  /** Records of `type` for `name`; `rooted`: the name ended in `.` (no search domains). */
  query(name: string, type: number, rooted: boolean, signal: Signal): Promise<DnsReply>;
  /** The host owner wrote `refresh` (ndb/dns rereads its database; we forget cached answers). */
  refresh?(): void;
}

/** ndb/dns's type names (dn.c rrtname), by number. */
const TYPE_NAMES: Record<number, string> = {
  1: 'ip', 2: 'ns', 3: 'md', 4: 'mf', 5: 'cname', 6: 'soa', 7: 'mb', 8: 'mg', 9: 'mr', 10: 'null', 11: 'wks',
  12: 'ptr', 13: 'hinfo', 14: 'minfo', 15: 'mx', 16: 'txt', 17: 'rp', 18: 'afsdb', 19: 'x.25', 20: 'isdn',
  21: 'rt', 22: 'nsap', 23: 'nsap-ptr', 24: 'sig', 25: 'key', 26: 'px', 27: 'gpos', 28: 'ipv6', 29: 'loc',
  30: 'nxt', 31: 'eid', 32: 'nimrod', 33: 'srv', 34: 'atma', 35: 'naptr', 36: 'kx', 37: 'cert', 38: 'a6',
  39: 'dname', 40: 'sink', 41: 'opt', 42: 'apl', 43: 'ds', 44: 'sshfp', 45: 'ipseckey', 46: 'rrsig',
  47: 'nsec', 48: 'dnskey', 99: 'spf', 100: 'uinfo', 101: 'uid', 102: 'gid', 103: 'unspec', 249: 'tkey',
  250: 'tsig', 251: 'ixfr', 252: 'axfr', 253: 'mailb', 254: 'maila', 255: 'all',
};

/** dn.c rrtype: a name, `any` for all, or a decimal number; -1 if unknown. */
export function rrtype(name: string): number {
  for (const [n, t] of Object.entries(TYPE_NAMES)) if (t === name) return Number(n);
  if (name === 'any') return DNS_TYPE.ANY;
  if (/^\d/.test(name)) return Number.parseInt(name, 10) & 0xffff;
  return -1;
}

/** dn.c rrname. */
export function rrname(type: number): string {
  return TYPE_NAMES[type] ?? String(type);
}

function txt(strings: Uint8Array[]): string {
  return strings.map((s) => Buffer.from(s).toString('utf8')).join('');
}

function aaaa(b: Uint8Array): string {
  return formatIp(b);
}

/** dn.c rrfmt: `owner type\tdata`. */
export function rrText(r: DnsRecord): string {
  const head = `${r.name} ${rrname(r.type)}`;
  const d = r.data;
  switch (d.kind) {
    case 'a':
      return `${head}\t${formatIp(u32ToV4(d.address))}`;
    case 'aaaa':
      return `${head}\t${aaaa(d.address)}`;
    case 'name':
      return `${head}\t${d.name}`;
    case 'mx':
      return `${head}\t${d.preference} ${d.exchange}`;
    case 'txt':
      return `${head}\t${txt(d.strings)}`;
    case 'soa':
      return `${head}\t${d.mname} ${d.rname} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    case 'srv':
      return `${head}\t${d.priority} ${d.weight} ${d.port} ${d.target}`;
    case 'raw':
      return r.type === DNS_TYPE.NULL ? `${head}\t${Buffer.from(d.data).toString('hex')}` : head;
  }
}

/** dn.c rravfmt: attribute=value form (`!name type`). */
export function rrAttrText(r: DnsRecord): string {
  const d = r.data;
  if (r.type === DNS_TYPE.PTR && d.kind === 'name') return `ptr=${r.name} dom=${d.name}`;
  const head = `dom=${r.name}`;
  switch (d.kind) {
    case 'a':
      return `${head} ip=${formatIp(u32ToV4(d.address))}`;
    case 'aaaa':
      return `${head} ip=${aaaa(d.address)}`;
    case 'name':
      if (r.type === DNS_TYPE.CNAME) return `${head} cname=${d.name}`;
      if (r.type === DNS_TYPE.NS) return `${head} ns=${d.name}`;
      return `${head} mbox=${d.name}`;
    case 'mx':
      return `${head} pref=${d.preference} mx=${d.exchange}`;
    case 'txt': {
      const t = txt(d.strings);
      return `${head} txt=${t.includes(' ') ? `"${t}"` : t}`;
    }
    case 'soa':
      return `${head} ns=${d.mname} mbox=${d.rname} serial=${d.serial} refresh=${d.refresh} retry=${d.retry} expire=${d.expire} ttl=${d.minimum}`;
    case 'srv':
      return `${head} pri=${d.priority} weight=${d.weight} port=${d.port} target=${d.target}`;
    case 'raw':
      return r.type === DNS_TYPE.NULL ? `${head} null=${Buffer.from(d.data).toString('hex')}` : head;
  }
}

/** The name a `ptr` query asks for: reverse names for literal addresses (ndb/dnsquery mkptrname). */
export function ptrQueryName(name: string): string {
  const lower = name.toLowerCase();
  if (lower.includes('in-addr.arpa') || lower.includes('ip6.arpa')) return name;
  const ip = parseIp(name);
  if (!ip) return name;
  return isV4(ip) ? ptrName4(((ip[12]! << 24) | (ip[13]! << 16) | (ip[14]! << 8) | ip[15]!) >>> 0) : ptrName6(ip);
}

/** dns.c respond: the error for an empty answer. */
export function emptyAnswerError(rcode: number): string {
  if (rcode === 3) return 'name does not exist';
  if (rcode === 2) return 'dns failure';
  return `resource does not exist; negrcode ${rcode}`;
}

function dnsError(text: string): NinepError {
  return new NinepError(`dns: ${text}`);
}

const decoder = new TextDecoder('utf-8', { fatal: false });

export class DnsFile {
  constructor(private readonly source: DnsSource, private readonly eve: string) {}

  /** The file as `user` sees it (ndb/dns shows it owned by the attaching user). */
  node(user = 'network'): Node {
    return new SynthFile(qid(QTFILE, QSPACE_DNS | 1n), () => ({ name: 'dns', uid: user, mode: 0o666 }), (req) => this.open(req.user));
  }

  private open(user: string): OpenFile {
    let reply = new Uint8Array(0);
    /** Record boundaries in `reply`: bounds[i] is where record i starts; the last is the end. */
    let bounds: number[] = [0];
    let gen = 0;
    return {
      write: (offset, data, signal) => {
        if (offset !== 0n) throw dnsError('writing at non-zero offset');
        if (data.length >= MAX_REQUEST) throw dnsError('request too long');
        // A C string, as ndb/dns sees the request: it ends at a NUL.
        let text = decoder.decode(data);
        const nul = text.indexOf('\0');
        if (nul >= 0) text = text.slice(0, nul);
        if (text.endsWith('\n')) text = text.slice(0, -1);
        if (user === this.eve && text === 'refresh' && this.source.refresh) {
          this.source.refresh();
          return data.length;
        }
        reply = new Uint8Array(0);
        bounds = [0];
        const my = ++gen;
        const sp = text.indexOf(' ');
        if (sp < 0) throw dnsError(`illegal request ${text}`);
        let name = text.slice(0, sp);
        const atype = text.slice(sp + 1);
        const type = rrtype(atype);
        if (type < 0) throw dnsError(`unknown type ${atype}`);
        const wantsav = name.startsWith('!');
        if (wantsav) name = name.slice(1);
        const rooted = name.endsWith('.') && name.length > 1;
        if (rooted) name = name.slice(0, -1);
        if (type === DNS_TYPE.PTR) name = ptrQueryName(name);
        return abortable(this.source.query(name, type, rooted, signal), signal).then((a) => {
          const records = type === DNS_TYPE.ANY ? a.records : a.records.filter((r) => r.type === type);
          if (records.length === 0) throw dnsError(emptyAnswerError(a.rcode));
          if (my !== gen) return data.length; // a later write owns the answers
          const parts: Buffer[] = [];
          const b: number[] = [0];
          let n = 0;
          for (const r of records) {
            if (b.length > MAX_RRS || n >= MAX_REPLY) break;
            const t = Buffer.from(wantsav ? rrAttrText(r) : rrText(r)).subarray(0, MAX_REPLY - n);
            parts.push(t);
            n += t.length;
            b.push(n);
          }
          reply = Buffer.concat(parts);
          bounds = b;
          return data.length;
        });
      },
      read: (offset, count) => {
        const off = Number(offset);
        let i = 1;
        while (i < bounds.length && bounds[i]! <= off) i++;
        if (i >= bounds.length) return new Uint8Array(0);
        return reply.subarray(off, Math.min(bounds[i]!, off + count));
      },
    };
  }
}
