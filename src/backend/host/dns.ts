/**
 * /net/dns on the host backend: answers from the host's resolver (Node's
 * node:dns). `ip` and `ipv6` go through getaddrinfo (dns.lookup: the hosts
 * file, then DNS, as the host's own programs and our cs see names); the
 * other types through the host's configured DNS servers (c-ares). Node's
 * error codes become rcodes: ENOTFOUND is NXDOMAIN, ENODATA is an empty
 * answer (negrcode 0), anything else SERVFAIL (`dns failure`).
 */
import * as dns from 'node:dns/promises';
import type { DnsReply, DnsSource } from '../../netfs/dns.js';
import { isV4, parseIp, v4ToU32 } from '../../netfs/ipaddr.js';
import { DNS_CLASS_IN, DNS_RCODE, DNS_TYPE } from '../../stack/wire/dns.js';
import type { DnsRData, DnsRecord } from '../../stack/wire/dns.js';

/** What the host's resolver is asked through (node:dns by default; tests inject their own). */
export interface HostResolver {
  lookup(name: string, family: 4 | 6): Promise<string[]>;
  resolve(name: string, type: 'PTR' | 'MX' | 'TXT' | 'CNAME' | 'NS' | 'SOA' | 'SRV'): Promise<unknown>;
  reverse(ip: string): Promise<string[]>;
}

export const nodeResolver: HostResolver = {
  async lookup(name, family) {
    const r = await dns.lookup(name, { all: true, family });
    return r.map((a) => a.address);
  },
  resolve: (name, type) => dns.resolve(name, type),
  reverse: (ip) => dns.reverse(ip),
};

function rcodeOf(e: unknown): number {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ENOTFOUND') return DNS_RCODE.NXDOMAIN;
  if (code === 'ENODATA') return DNS_RCODE.NOERROR;
  return DNS_RCODE.SERVFAIL;
}

function rec(name: string, type: number, data: DnsRData): DnsRecord {
  return { name, type, class: DNS_CLASS_IN, ttl: 0, data };
}

function addrRecord(name: string, text: string): DnsRecord | null {
  const ip = parseIp(text);
  if (!ip) return null;
  return isV4(ip) ? rec(name, DNS_TYPE.A, { kind: 'a', address: v4ToU32(ip) }) : rec(name, DNS_TYPE.AAAA, { kind: 'aaaa', address: ip });
}

/** The PTR name's address, when it is one of ours to ask dns.reverse for. */
function reverseOf(name: string): string | null {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\.in-addr\.arpa$/i.exec(name);
  if (m) return `${m[4]}.${m[3]}.${m[2]}.${m[1]}`;
  const n = /^((?:[0-9a-f]\.){32})ip6\.arpa$/i.exec(name);
  if (!n) return null;
  const nib = n[1]!.split('.').filter(Boolean).reverse().join('');
  return nib.match(/.{4}/g)!.join(':');
}

async function records(r: HostResolver, name: string, type: number): Promise<DnsRecord[]> {
  const str = (s: string): Uint8Array => Buffer.from(s, 'utf8');
  switch (type) {
    case DNS_TYPE.A:
    case DNS_TYPE.AAAA:
      return (await r.lookup(name, type === DNS_TYPE.A ? 4 : 6)).flatMap((a) => addrRecord(name, a) ?? []);
    case DNS_TYPE.PTR: {
      const ip = reverseOf(name);
      const names = ip !== null ? await r.reverse(ip) : ((await r.resolve(name, 'PTR')) as string[]);
      return names.map((n) => rec(name, type, { kind: 'name', name: n }));
    }
    case DNS_TYPE.CNAME:
    case DNS_TYPE.NS:
      return ((await r.resolve(name, type === DNS_TYPE.CNAME ? 'CNAME' : 'NS')) as string[]).map((n) => rec(name, type, { kind: 'name', name: n }));
    case DNS_TYPE.MX:
      return ((await r.resolve(name, 'MX')) as { priority: number; exchange: string }[]).map((m) =>
        rec(name, type, { kind: 'mx', preference: m.priority, exchange: m.exchange }));
    case DNS_TYPE.TXT:
      return ((await r.resolve(name, 'TXT')) as string[][]).map((t) => rec(name, type, { kind: 'txt', strings: t.map(str) }));
    case DNS_TYPE.SRV:
      return ((await r.resolve(name, 'SRV')) as { priority: number; weight: number; port: number; name: string }[]).map((s) =>
        rec(name, type, { kind: 'srv', priority: s.priority, weight: s.weight, port: s.port, target: s.name }));
    case DNS_TYPE.SOA: {
      const s = (await r.resolve(name, 'SOA')) as { nsname: string; hostmaster: string; serial: number; refresh: number; retry: number; expire: number; minttl: number };
      return [rec(name, type, { kind: 'soa', mname: s.nsname, rname: s.hostmaster, serial: s.serial, refresh: s.refresh, retry: s.retry, expire: s.expire, minimum: s.minttl })];
    }
    case DNS_TYPE.ANY: {
      // c-ares' ANY is refused by most servers (RFC 8482): ask for the common types instead.
      const out: DnsRecord[] = [];
      let last: unknown = null;
      for (const t of [DNS_TYPE.A, DNS_TYPE.AAAA, DNS_TYPE.CNAME, DNS_TYPE.MX, DNS_TYPE.NS, DNS_TYPE.TXT]) {
        try {
          out.push(...(await records(r, name, t)));
        } catch (e) {
          last = e;
        }
      }
      if (out.length === 0 && last !== null) throw last;
      return out;
    }
    default:
      return [];
  }
}

/** A DnsSource on the host's resolver. */
export function hostDnsSource(r: HostResolver = nodeResolver): DnsSource {
  return {
    async query(name: string, type: number): Promise<DnsReply> {
      try {
        return { rcode: DNS_RCODE.NOERROR, records: await records(r, name, type) };
      } catch (e) {
        return { rcode: rcodeOf(e), records: [] };
      }
    },
  };
}
