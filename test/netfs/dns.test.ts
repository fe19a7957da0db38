/**
 * /net/dns (src/netfs/dns.ts) with ndb/dns's semantics, over 9P on the host
 * backend with an injected DnsSource: one record per read in dn.c's
 * formats (and the `!` attribute form), reads from offset 0 starting over,
 * rooted names, reverse names for literal addresses, ndb/dns's error
 * texts, a failed query clearing the answers, the record bound; and the
 * host's own resolver answering `localhost ip`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DnsReply, DnsSource } from '../../src/netfs/dns.js';
import { MAX_RRS } from '../../src/netfs/dns.js';
import { parseIp } from '../../src/netfs/ipaddr.js';
import type { Client } from '../../src/ninep/client.js';
import { ORDWR } from '../../src/ninep/types.js';
import { DNS_CLASS_IN, DNS_RCODE, DNS_TYPE } from '../../src/stack/wire/dns.js';
import type { DnsRecord } from '../../src/stack/wire/dns.js';
import { queryFile } from '../helpers/query.js';
import { errorOf, startNet } from './harness.js';
import type { NetFixture } from './harness.js';

const rec = (name: string, type: number, data: DnsRecord['data']): DnsRecord => ({ name, type, class: DNS_CLASS_IN, ttl: 60, data });
const bytes = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s));

const TABLE: DnsRecord[] = [
  rec('h.example', DNS_TYPE.A, { kind: 'a', address: 0x0a000009 }),
  rec('h.example', DNS_TYPE.A, { kind: 'a', address: 0x0a00000a }),
  rec('h.example', DNS_TYPE.AAAA, { kind: 'aaaa', address: parseIp('2001:db8::9')! }),
  rec('alias.example', DNS_TYPE.CNAME, { kind: 'name', name: 'h.example' }),
  rec('example', DNS_TYPE.MX, { kind: 'mx', preference: 10, exchange: 'mail.example' }),
  rec('example', DNS_TYPE.NS, { kind: 'name', name: 'ns.example' }),
  rec('example', DNS_TYPE.TXT, { kind: 'txt', strings: [bytes('hello '), bytes('world')] }),
  rec('example', DNS_TYPE.SOA, { kind: 'soa', mname: 'ns.example', rname: 'root.example', serial: 7, refresh: 3600, retry: 600, expire: 86400, minimum: 300 }),
  rec('_9fs._tcp.example', DNS_TYPE.SRV, { kind: 'srv', priority: 1, weight: 2, port: 564, target: 'fs.example' }),
  rec('9.0.0.10.in-addr.arpa', DNS_TYPE.PTR, { kind: 'name', name: 'h.example' }),
  ...Array.from({ length: 40 }, (_, i) => rec('many.example', DNS_TYPE.A, { kind: 'a', address: 0x0a010000 + i })),
];

const asked: { name: string; type: number; rooted: boolean }[] = [];

const source: DnsSource = {
  query(name: string, type: number, rooted: boolean): Promise<DnsReply> {
    asked.push({ name, type, rooted });
    if (name === 'gone.example') return Promise.resolve({ rcode: DNS_RCODE.NXDOMAIN, records: [] });
    if (name === 'broken.example') return Promise.resolve({ rcode: DNS_RCODE.SERVFAIL, records: [] });
    if (name === 'refused.example') return Promise.resolve({ rcode: DNS_RCODE.REFUSED, records: [] });
    const records = TABLE.filter((r) => r.name === name && (r.type === type || type === DNS_TYPE.ANY));
    return Promise.resolve({ rcode: 0, records });
  },
};

let fx: NetFixture;
let host: NetFixture;
let c: Client;

beforeAll(async () => {
  fx = await startNet({ dns: source });
  host = await startNet();
  c = await fx.client();
});

afterAll(async () => {
  await fx.close();
  await host.close();
});

const ask = (query: string, cl: Client = c): Promise<string[]> => queryFile(cl, '/dns', query);

describe('/net/dns', () => {
  it('is a 0666 file owned by the attaching user', async () => {
    const d = await c.stat('/dns');
    expect(d.mode & 0o777).toBe(0o666);
    expect(d.uid).toBe('alice');
  });

  it('answers one record per read in ndb/dns text', async () => {
    expect(await ask('h.example ip')).toEqual(['h.example ip\t10.0.0.9', 'h.example ip\t10.0.0.10']);
    expect(await ask('h.example ipv6')).toEqual(['h.example ipv6\t2001:db8::9']);
    expect(await ask('alias.example cname')).toEqual(['alias.example cname\th.example']);
    expect(await ask('example mx')).toEqual(['example mx\t10 mail.example']);
    expect(await ask('example ns')).toEqual(['example ns\tns.example']);
    expect(await ask('example txt')).toEqual(['example txt\thello world']);
    expect(await ask('example soa')).toEqual(['example soa\tns.example root.example 7 3600 600 86400 300']);
    expect(await ask('_9fs._tcp.example srv')).toEqual(['_9fs._tcp.example srv\t1 2 564 fs.example']);
    expect(await ask('example all')).toHaveLength(4);
    expect(await ask('example any')).toHaveLength(4);
    expect(await ask('example 15')).toEqual(['example mx\t10 mail.example']);
  });

  it('answers in attribute=value form for a name starting with !', async () => {
    expect(await ask('!h.example ip')).toEqual(['dom=h.example ip=10.0.0.9', 'dom=h.example ip=10.0.0.10']);
    expect(await ask('!example mx')).toEqual(['dom=example pref=10 mx=mail.example']);
    expect(await ask('!example txt')).toEqual(['dom=example txt="hello world"']);
    expect(await ask('!9.0.0.10.in-addr.arpa ptr')).toEqual(['ptr=9.0.0.10.in-addr.arpa dom=h.example']);
  });

  it('reverses a literal address for ptr and passes rooted names on', async () => {
    asked.length = 0;
    expect(await ask('10.0.0.9 ptr')).toEqual(['9.0.0.10.in-addr.arpa ptr\th.example']);
    expect(asked[0]).toEqual({ name: '9.0.0.10.in-addr.arpa', type: DNS_TYPE.PTR, rooted: false });
    await ask('h.example. ip');
    expect(asked[1]).toEqual({ name: 'h.example', type: DNS_TYPE.A, rooted: true });
    await errorOf(ask('2001:db8::1 ptr'));
    expect(asked[2]!.name).toBe(`1.0.${'0.'.repeat(22)}8.b.d.0.1.0.0.2.ip6.arpa`);
  });

  it('starts again from the first record on a read at offset 0', async () => {
    const f = await c.open('/dns', ORDWR);
    await f.write('h.example ip');
    expect((await f.read(512, undefined, 0n)).toString()).toBe('h.example ip\t10.0.0.9');
    expect((await f.read(512, undefined, 0n)).toString()).toBe('h.example ip\t10.0.0.9');
    // A short read then continues within the record.
    expect((await f.read(4, undefined, 0n)).toString()).toBe('h.ex');
    expect((await f.read(512, undefined, 4n)).toString()).toBe('ample ip\t10.0.0.9');
    await f.close();
  });

  it("fails with ndb/dns's errors and forgets the previous answers", async () => {
    expect(await errorOf(ask('gone.example ip'))).toBe('dns: name does not exist');
    expect(await errorOf(ask('broken.example ip'))).toBe('dns: dns failure');
    expect(await errorOf(ask('v6less.example ipv6'))).toBe('dns: resource does not exist; negrcode 0');
    expect(await errorOf(ask('refused.example ip'))).toBe('dns: resource does not exist; negrcode 5');
    expect(await errorOf(ask('h.example'))).toBe('dns: illegal request h.example');
    expect(await errorOf(ask('h.example bogus'))).toBe('dns: unknown type bogus');
    expect(await errorOf(ask(`${'x'.repeat(1020)} ipv6`))).toBe('dns: request too long');
    // A C string: the request ends at a NUL; a long error is cut as 9P sends errors (ERRMAX).
    expect(await errorOf(ask('h.example\0 ip'))).toBe('dns: illegal request h.example');
    const long = await errorOf(ask(`h.example ${'t'.repeat(500)}`));
    expect(long).toBe(`dns: unknown type ${'t'.repeat(126 - 18)}`);
    const f = await c.open('/dns', ORDWR);
    await f.write('h.example ip');
    f.offset = 0n;
    expect(await errorOf(f.write('gone.example ip'))).toBe('dns: name does not exist');
    expect((await f.read(512, undefined, 0n)).length).toBe(0);
    f.offset = 5n;
    expect(await errorOf(f.write('h.example ip'))).toBe('dns: writing at non-zero offset');
    await f.close();
  });

  it('keeps at most 31 records, as ndb/dns', async () => {
    expect(await ask('many.example ip')).toHaveLength(MAX_RRS);
  });

  it("answers from the host's resolver on the host backend", async () => {
    const hc = await host.client();
    expect(await ask('localhost ip', hc)).toContain('localhost ip\t127.0.0.1');
  });
});
