/**
 * The DNS resolver (src/stack/dns.ts) over our own UDP and TCP, against a
 * DNS server on another of our stacks, under simulated time: answers and
 * CNAME chains, caching by TTL and the cache bound, negative caching by
 * the SOA minimum, retries with doubling waits over several servers,
 * random ids and ports, answers with the wrong id ignored, truncated
 * answers repeated over TCP, identical questions sharing one query.
 */
import { describe, expect, it } from 'vitest';
import { DNS_FIRST_WAIT_MS, DNS_ROUNDS, DnsResolver } from '../../src/stack/dns.js';
import type { DnsAnswer } from '../../src/stack/dns.js';
import { DNS_RCODE, DNS_TYPE } from '../../src/stack/wire/dns.js';
import { ip } from './helpers.js';
import { TestDnsServer } from './servers.js';
import { B, tcpNet } from './tcp/net.js';

function world(opts: { servers?: number[]; cacheSize?: number } = {}) {
  const net = tcpNet({ seed: 5 });
  const server = new TestDnsServer(net.b, net.tb);
  const resolver = new DnsResolver({ stack: net.a, tcp: net.ta, servers: () => opts.servers ?? [B], ...(opts.cacheSize ? { cacheSize: opts.cacheSize } : {}) });
  /** Runs simulated time until the lookup settles (microtasks drained between timer steps). */
  const lookup = async (name: string, type: number, limitMs = 60_000): Promise<{ a: DnsAnswer; at: number }> => {
    let done: DnsAnswer | null = null;
    const start = net.clock.now();
    void resolver.lookup(name, type).then((a) => { done = a; });
    for (;;) {
      await new Promise((r) => setImmediate(r));
      if (done !== null) return { a: done, at: net.clock.now() - start };
      const d = net.clock.nextDeadline();
      if (d === null || d - start > limitMs) throw new Error(`lookup of ${name} did not settle`);
      net.clock.runUntil(d);
    }
  };
  return { net, server, resolver, lookup };
}

const a4 = (n: number) => ({ kind: 'a' as const, address: n });

describe('DNS resolver', () => {
  it('answers from the server and then from the cache until the TTL runs out', async () => {
    const w = world();
    w.server.add('h.example', DNS_TYPE.A, a4(ip('10.0.0.9')), 30);
    const first = await w.lookup('h.example', DNS_TYPE.A);
    expect(first.a).toEqual({ rcode: 0, records: [{ name: 'h.example', type: 1, class: 1, ttl: 30, data: a4(ip('10.0.0.9')) }] });
    expect(w.server.seen).toHaveLength(1);
    w.net.clock.advance(10_000);
    const cached = await w.lookup('H.EXAMPLE.', DNS_TYPE.A);
    expect(cached.a.records[0]!.ttl).toBe(20);
    expect(w.server.seen).toHaveLength(1);
    w.net.clock.advance(20_000);
    await w.lookup('h.example', DNS_TYPE.A);
    expect(w.server.seen).toHaveLength(2);
  });

  it('keeps at most cacheSize answers, dropping the least recently used', async () => {
    const w = world({ cacheSize: 3 });
    for (let i = 0; i < 5; i++) w.server.add(`h${i}.example`, DNS_TYPE.A, a4(ip(`10.0.1.${i}`)), 3600);
    for (let i = 0; i < 3; i++) await w.lookup(`h${i}.example`, DNS_TYPE.A);
    await w.lookup('h0.example', DNS_TYPE.A); // h0 is now the most recent
    await w.lookup('h3.example', DNS_TYPE.A); // evicts h1
    await w.lookup('h4.example', DNS_TYPE.A); // evicts h2
    expect(w.resolver.cached).toBe(3);
    const before = w.server.seen.length;
    await w.lookup('h0.example', DNS_TYPE.A);
    expect(w.server.seen.length).toBe(before);
    await w.lookup('h1.example', DNS_TYPE.A);
    expect(w.server.seen.length).toBe(before + 1);
  });

  it('follows CNAMEs, in one answer or by asking again', async () => {
    const w = world();
    w.server.add('www.example', DNS_TYPE.CNAME, { kind: 'name', name: 'web.example' });
    w.server.add('web.example', DNS_TYPE.A, a4(ip('10.0.0.80')));
    const r = await w.lookup('www.example', DNS_TYPE.A);
    expect(r.a.records.map((x) => [x.name, x.type])).toEqual([['web.example', DNS_TYPE.A]]);
    const c = await w.lookup('www.example', DNS_TYPE.CNAME);
    expect(c.a.records).toMatchObject([{ name: 'www.example', data: { kind: 'name', name: 'web.example' } }]);
    // A server that answers an MX question for an alias with the CNAME only: we ask for the target.
    w.server.add('mail.example', DNS_TYPE.CNAME, { kind: 'name', name: 'mx.example' });
    w.server.add('mx.example', DNS_TYPE.MX, { kind: 'mx', preference: 5, exchange: 'mx.example' });
    const m = await w.lookup('mail.example', DNS_TYPE.MX);
    expect(m.a.records).toMatchObject([{ name: 'mx.example', data: { kind: 'mx', preference: 5 } }]);
  });

  it('reports NXDOMAIN and empty answers, caching them for the SOA minimum', async () => {
    const w = world();
    w.server.nx.add('gone.example');
    w.server.negTtl = 5;
    expect((await w.lookup('gone.example', DNS_TYPE.A)).a).toEqual({ rcode: DNS_RCODE.NXDOMAIN, records: [] });
    w.server.add('v4only.example', DNS_TYPE.A, a4(ip('10.0.0.4')));
    expect((await w.lookup('v4only.example', DNS_TYPE.AAAA)).a).toEqual({ rcode: DNS_RCODE.NOERROR, records: [] });
    const n = w.server.seen.length;
    await w.lookup('gone.example', DNS_TYPE.A);
    expect(w.server.seen.length).toBe(n);
    w.net.clock.advance(5000);
    await w.lookup('gone.example', DNS_TYPE.A);
    expect(w.server.seen.length).toBe(n + 1);
  });

  it('retries with doubling waits over the servers, new ids and ports each time, then fails', async () => {
    const other = ip('10.0.0.3'); // nobody: its queries stay in ARP and go nowhere
    const w = world({ servers: [B, other] });
    w.server.silent = true;
    const r = await w.lookup('slow.example', DNS_TYPE.A);
    expect(r.a).toEqual({ rcode: DNS_RCODE.SERVFAIL, records: [] });
    // Rounds of 1 s, 2 s, 4 s per server: B is asked at 0, 2, 6 s.
    expect(w.server.seen).toHaveLength(DNS_ROUNDS);
    let want = 0;
    for (let round = 0; round < DNS_ROUNDS; round++) want += 2 * DNS_FIRST_WAIT_MS * 2 ** round;
    expect(r.at).toBe(want);
    expect(new Set(w.server.seen.map((s) => s.id)).size).toBe(DNS_ROUNDS);
    expect(new Set(w.server.seen.map((s) => s.sport)).size).toBe(DNS_ROUNDS);
    expect(w.resolver.inFlight).toBe(0);
    expect(w.net.a.udp.size).toBe(0);
  });

  it('ignores an answer with the wrong id and takes the right one', async () => {
    const w = world();
    w.server.spoofFirst = true;
    w.server.add('h.example', DNS_TYPE.A, a4(ip('10.0.0.9')));
    const r = await w.lookup('h.example', DNS_TYPE.A);
    expect(r.a.records).toHaveLength(1);
    expect(w.server.seen).toHaveLength(1);
  });

  it('asks again over TCP when the UDP answer is truncated', async () => {
    const w = world();
    w.server.truncate.add('big.example');
    for (let i = 0; i < 60; i++) w.server.add('big.example', DNS_TYPE.A, a4(ip(`10.0.2.${i}`)));
    const r = await w.lookup('big.example', DNS_TYPE.A);
    expect(r.a.rcode).toBe(0);
    expect(r.a.records).toHaveLength(60);
    expect(w.server.seen.map((s) => s.over)).toEqual(['udp', 'tcp']);
  });

  it('moves on to the next server after SERVFAIL', async () => {
    const w = world({ servers: [B, B] });
    w.server.servfail.add('bad.example');
    const r = await w.lookup('bad.example', DNS_TYPE.A);
    expect(r.a.rcode).toBe(DNS_RCODE.SERVFAIL);
    expect(w.server.seen).toHaveLength(2 * DNS_ROUNDS);
  });

  it('shares one query among identical questions in flight', async () => {
    const w = world();
    w.server.add('h.example', DNS_TYPE.A, a4(ip('10.0.0.9')));
    const p = w.resolver.lookup('h.example', DNS_TYPE.A);
    const r = await w.lookup('h.example', DNS_TYPE.A);
    expect((await p).records).toEqual(r.a.records);
    expect(w.server.seen).toHaveLength(1);
  });

  it('fails at once without servers, and for names that cannot be sent', async () => {
    const w = world({ servers: [] });
    expect((await w.lookup('h.example', DNS_TYPE.A)).a.rcode).toBe(DNS_RCODE.SERVFAIL);
    expect((await w.lookup(`${'x'.repeat(70)}.example`, DNS_TYPE.A)).a.rcode).toBe(DNS_RCODE.NXDOMAIN);
  });
});
