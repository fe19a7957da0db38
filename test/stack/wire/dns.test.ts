/**
 * DNS messages (src/stack/wire/dns.ts): goldens both ways, every record
 * layout, compression on emit, truncation to a size with TC, and malformed
 * input — compression loops and forward pointers, long labels and names,
 * truncated records, counts larger than the message, RDATA of the wrong
 * length — always an error value, never a throw (prefixes and 100 000
 * seeded mutations).
 */
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../../src/lib/rng.js';
import {
  DNS_CLASS_IN,
  DNS_QR,
  DNS_RA,
  DNS_RD,
  DNS_TC,
  DNS_TYPE,
  dnsQuery,
  dnsRcode,
  emitDns,
  nameLabels,
  parseDns,
  ptrName4,
  ptrName6,
  sameName,
} from '../../../src/stack/wire/dns.js';
import type { DnsMessage, DnsRecord } from '../../../src/stack/wire/dns.js';
import { WireError } from '../../../src/stack/wire/result.js';
import { hex, toHex } from './util.js';

/** `example.com A?`, id 0x1234, RD. */
const QUERY = hex(`
  1234 0100 0001 0000 0000 0000
  07 6578616d706c65 03 636f6d 00  0001 0001`);

/**
 * The answer: example.com CNAME www.example.com (ttl 3600), www.example.com
 * A 93.184.216.34 (ttl 300); names compressed (c00c = the question's name,
 * c029 = "www" inside the CNAME's RDATA at offset 41).
 */
const ANSWER = hex(`
  1234 8180 0001 0002 0000 0000
  07 6578616d706c65 03 636f6d 00  0001 0001
  c00c 0005 0001 00000e10 0006 03 777777 c00c
  c029 0001 0001 0000012c 0004 5db8d822`);

function bytes(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s));
}

function record(name: string, type: number, data: DnsRecord['data'], ttl = 60): DnsRecord {
  return { name, type, class: DNS_CLASS_IN, ttl, data };
}

function message(answers: DnsRecord[], extra: Partial<DnsMessage> = {}): DnsMessage {
  return { id: 7, flags: DNS_QR | DNS_RD | DNS_RA, questions: [{ name: 'q.example', type: DNS_TYPE.ANY, class: DNS_CLASS_IN }], answers, authority: [], additional: [], ...extra };
}

function ok(b: Uint8Array): DnsMessage {
  const m = parseDns(b);
  if (m instanceof WireError) throw new Error(`parse failed: ${m.reason}`);
  return m;
}

describe('DNS goldens', () => {
  it('parses and emits a query byte for byte', () => {
    const m = ok(QUERY);
    expect(m).toEqual(dnsQuery(0x1234, 'example.com', DNS_TYPE.A));
    expect(toHex(emitDns(m))).toBe(toHex(QUERY));
  });

  it('parses a compressed answer and emits the same bytes', () => {
    const m = ok(ANSWER);
    expect(m.id).toBe(0x1234);
    expect(dnsRcode(m.flags)).toBe(0);
    expect(m.answers).toEqual([
      record('example.com', DNS_TYPE.CNAME, { kind: 'name', name: 'www.example.com' }, 3600),
      record('www.example.com', DNS_TYPE.A, { kind: 'a', address: 0x5db8d822 }, 300),
    ]);
    expect(toHex(emitDns(m))).toBe(toHex(ANSWER));
  });

  it('emits without compression when asked and parses back to the same message', () => {
    const m = ok(ANSWER);
    const plain = emitDns(m, { compress: false });
    expect(plain.length).toBeGreaterThan(ANSWER.length);
    expect(plain.includes(0xc0)).toBe(false);
    expect(ok(plain)).toEqual(m);
  });
});

describe('DNS record layouts', () => {
  const v6 = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1]);
  const all: DnsRecord[] = [
    record('h.example', DNS_TYPE.A, { kind: 'a', address: 0x0a000001 }),
    record('h.example', DNS_TYPE.AAAA, { kind: 'aaaa', address: v6 }),
    record('alias.example', DNS_TYPE.CNAME, { kind: 'name', name: 'h.example' }),
    record('example', DNS_TYPE.NS, { kind: 'name', name: 'ns.example' }),
    record('1.0.0.10.in-addr.arpa', DNS_TYPE.PTR, { kind: 'name', name: 'h.example' }),
    record('example', DNS_TYPE.MX, { kind: 'mx', preference: 10, exchange: 'mail.example' }),
    record('example', DNS_TYPE.TXT, { kind: 'txt', strings: [bytes('v=spf1 -all'), bytes(''), bytes('x')] }),
    record('example', DNS_TYPE.SOA, { kind: 'soa', mname: 'ns.example', rname: 'root.example', serial: 2024010101, refresh: 3600, retry: 600, expire: 86400, minimum: 300 }),
    record('_9fs._tcp.example', DNS_TYPE.SRV, { kind: 'srv', priority: 1, weight: 5, port: 564, target: 'fs.example' }),
    record('example', 99, { kind: 'raw', data: Uint8Array.from([1, 2, 3]) }),
    { name: '', type: DNS_TYPE.OPT, class: 1232, ttl: 0, data: { kind: 'raw', data: new Uint8Array(0) } },
  ];

  it('round-trips every layout, compressed and not', () => {
    const m = message(all.slice(0, 9), { authority: [all[7]!], additional: all.slice(9) });
    expect(ok(emitDns(m))).toEqual(m);
    expect(ok(emitDns(m, { compress: false }))).toEqual(m);
  });

  it('escapes odd label bytes so that names round-trip', () => {
    const raw = hex('0000 8000 0000 0001 0000 0000  05 612e625c20 00 0001 0001 00000000 0004 01020304');
    const m = ok(raw);
    expect(m.answers[0]!.name).toBe('a\\.b\\\\\\032');
    expect(nameLabels(m.answers[0]!.name)!.map((l) => [...l])).toEqual([[0x61, 0x2e, 0x62, 0x5c, 0x20]]);
    expect(toHex(emitDns(m))).toBe(toHex(raw));
  });

  it('compares names without case and makes reverse names', () => {
    expect(sameName('WWW.Example.COM', 'www.example.com')).toBe(true);
    expect(ptrName4(0x0a000102)).toBe('2.1.0.10.in-addr.arpa');
    const v6name = ptrName6(Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1]));
    expect(v6name).toBe(`1.0.${'0.'.repeat(22)}8.b.d.0.1.0.0.2.ip6.arpa`);
  });

  it('cuts a message that does not fit, whole records only, and sets TC', () => {
    const many = Array.from({ length: 60 }, (_, i) => record(`host${i}.example`, DNS_TYPE.A, { kind: 'a', address: 0x0a000000 + i }));
    const b = emitDns(message(many), { maxLength: 512 });
    expect(b.length).toBeLessThanOrEqual(512);
    const m = ok(b);
    expect(m.flags & DNS_TC).toBe(DNS_TC);
    expect(m.answers.length).toBeGreaterThan(5);
    expect(m.answers.length).toBeLessThan(60);
    expect(m.answers).toEqual(many.slice(0, m.answers.length));
    // Additional records that do not fit are dropped without TC (RFC 2181 §9).
    const extra = ok(emitDns(message(many.slice(0, 2), { additional: many }), { maxLength: 512 }));
    expect(extra.flags & DNS_TC).toBe(0);
    expect(extra.answers.length).toBe(2);
  });

  it('refuses to emit names that cannot be sent', () => {
    expect(() => emitDns(dnsQuery(1, `${'a'.repeat(64)}.example`, 1))).toThrow(RangeError);
    expect(() => emitDns(dnsQuery(1, Array(130).fill('ab').join('.'), 1))).toThrow(RangeError);
    expect(() => emitDns(dnsQuery(1, 'a..b', 1))).toThrow(RangeError);
  });
});

describe('malformed DNS messages are error values', () => {
  const header = (qd: number, an: number): string => `0001 8180 ${qd.toString(16).padStart(4, '0')} ${an.toString(16).padStart(4, '0')} 0000 0000`;

  it('refuses compression loops and forward pointers', () => {
    // A question whose name points at itself, and two pointers pointing at each other.
    expect(parseDns(hex(`${header(1, 0)} c00c 0001 0001`))).toBe(WireError.badPointer);
    expect(parseDns(hex(`${header(1, 0)} 01 61 c00c 0001 0001`))).toBe(WireError.badPointer);
    expect(parseDns(hex(`${header(1, 1)} 01 61 00 0001 0001  c015 c013 0001 0001 00000000 0000`))).toBe(WireError.badPointer);
    // A pointer forward, past the name.
    expect(parseDns(hex(`${header(1, 0)} c020 0001 0001 ${'00'.repeat(30)}`))).toBe(WireError.badPointer);
  });

  it('refuses long labels, long names and unknown label types', () => {
    expect(parseDns(hex(`${header(1, 0)} 40 ${'61'.repeat(64)} 00 0001 0001`))).toBe(WireError.badName);
    const long = Array(64).fill(`03 ${'61'.repeat(3)}`).join(' ');
    expect(parseDns(hex(`${header(1, 0)} ${long} 00 0001 0001`))).toBe(WireError.badName);
    expect(parseDns(hex(`${header(1, 0)} 41 00 0001 0001`))).toBe(WireError.badName);
    expect(parseDns(hex(`${header(1, 0)} 81 00 0001 0001`))).toBe(WireError.badName);
  });

  it('refuses truncated records and counts the message cannot hold', () => {
    expect(parseDns(hex('0001 8180 0001'))).toBe(WireError.truncated);
    expect(parseDns(hex(`0001 8180 0000 ffff 0000 0000 ${'00'.repeat(40)}`))).toBe(WireError.truncated);
    expect(parseDns(hex(`0001 8180 ffff ffff ffff ffff ${'00'.repeat(400)}`))).toBe(WireError.truncated);
    // RDLENGTH past the end.
    expect(parseDns(hex(`${header(0, 1)} 00 0001 0001 00000000 0008 01020304`))).toBe(WireError.truncated);
    for (let n = 0; n < ANSWER.length; n++) {
      const r = parseDns(ANSWER.subarray(0, n));
      expect(r).toBeInstanceOf(WireError);
    }
  });

  it('refuses RDATA that does not match its type', () => {
    expect(parseDns(hex(`${header(0, 1)} 00 0001 0001 00000000 0005 0102030405`))).toBe(WireError.badLength);
    expect(parseDns(hex(`${header(0, 1)} 00 001c 0001 00000000 0004 01020304`))).toBe(WireError.badLength);
    // A CNAME whose name ends before its RDATA does, and a TXT string past the RDATA.
    expect(parseDns(hex(`${header(0, 1)} 00 0005 0001 00000000 0004 01 61 00 00`))).toBe(WireError.badLength);
    expect(parseDns(hex(`${header(0, 1)} 00 0010 0001 00000000 0003 05 6162`))).toBe(WireError.badLength);
    // An MX too short for its preference and a name.
    expect(parseDns(hex(`${header(0, 1)} 00 000f 0001 00000000 0002 000a`))).toBe(WireError.badLength);
  });
});

describe('DNS fuzz', () => {
  const SEEDS = [
    QUERY,
    ANSWER,
    emitDns(message([
      record('h.example', DNS_TYPE.MX, { kind: 'mx', preference: 1, exchange: 'h.example' }),
      record('h.example', DNS_TYPE.SOA, { kind: 'soa', mname: 'ns.h.example', rname: 'r.h.example', serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5 }),
      record('h.example', DNS_TYPE.TXT, { kind: 'txt', strings: [bytes('hello world')] }),
      record('h.example', DNS_TYPE.SRV, { kind: 'srv', priority: 0, weight: 0, port: 53, target: 'h.example' }),
    ])),
  ];
  const EDGES = [0, 1, 2, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xff];

  it('never throws on 100 000 mutated messages; what parses re-emits to the same message', () => {
    const rng = new SeededRng(53);
    let parsed = 0;
    for (let i = 0; i < 100_000; i++) {
      let b: Uint8Array = SEEDS[i % SEEDS.length]!.slice();
      for (let r = 1 + (rng.u32() % 3); r > 0; r--) {
        const at = rng.u32() % b.length;
        switch (rng.u32() % 5) {
          case 0: b[at]! ^= 1 << (rng.u32() % 8); break;
          case 1: b[at] = EDGES[rng.u32() % EDGES.length]!; break;
          case 2: b = b.subarray(0, at); break;
          case 3: b[at] = rng.u32() & 0xff; break;
          default: if (at < 12) b[at | 1] = rng.u32() & 0x0f; // small counts
        }
        if (b.length === 0) break;
      }
      const m = parseDns(b);
      if (m instanceof WireError) continue;
      parsed++;
      expect(ok(emitDns(m))).toEqual(m);
    }
    expect(parsed).toBeGreaterThan(1000);
  });
});
