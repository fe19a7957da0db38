/**
 * /net/cs (ndb/cs.c): one query per
 * fid, one answer per read without a newline, then 0 bytes; failed queries
 * fail the write with `cs: ` and cs.c's text. Dial strings and general
 * (`!attr=val`) queries; names from fs/ndb (localhost), then an injected
 * resolver.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIp } from '../../src/netfs/ipaddr.js';
import type { Ip } from '../../src/netfs/ipaddr.js';
import type { Client } from '../../src/ninep/client.js';
import { ORDWR } from '../../src/ninep/types.js';
import { ask, failure, loopbackBoth, loopbackV4 } from './cs-helpers.js';
import { errorOf, startNet } from './harness.js';
import type { NetFixture } from './harness.js';

const names: Record<string, string[]> = {
  'plan9.example': ['192.0.2.7', '2001:db8::7'],
  'v6only.example': ['2001:db8::9'],
  'many.example': Array.from({ length: 30 }, (_, i) => `192.0.2.${i + 1}`),
};

/** Every name the resolver was asked for. */
const asked: string[] = [];

async function resolve(host: string): Promise<Ip[]> {
  asked.push(host);
  const a = names[host];
  if (!a) throw new Error(`ENOTFOUND ${host}`);
  return a.map((t) => parseIp(t)!);
}

let fx: NetFixture;
let fx4: NetFixture;

beforeAll(async () => {
  fx = await startNet({ resolve, interfaces: loopbackBoth });
  fx4 = await startNet({ resolve, interfaces: loopbackV4 });
});

afterAll(async () => {
  await fx.close();
  await fx4.close();
});

describe('/net/cs', () => {
  it('translates literal addresses and numeric ports', async () => {
    const c = await fx.client();
    const f = await c.open('/cs', ORDWR);
    expect(await f.write('tcp!127.0.0.1!80')).toBe(16);
    expect((await f.read(512, undefined, 0n)).toString()).toBe('/net/tcp/clone 127.0.0.1!80');
    expect((await f.read(512, undefined, 0n)).length).toBe(0);
    await f.close();
    expect(await ask(c, 'udp!127.0.0.1!53')).toEqual(['/net/udp/clone 127.0.0.1!53']);
    expect(await ask(c, 'tcp!::1!80')).toEqual(['/net/tcp/clone ::1!80']);
    expect(await ask(c, 'tcp![::1]!80')).toEqual(['/net/tcp/clone ::1!80']);
    expect(await ask(c, 'tcp!127.0.0.1!80!r')).toEqual(['/net/tcp/clone 127.0.0.1!80!r']);
  });

  it('translates services and *', async () => {
    const c = await fx.client();
    expect(await ask(c, 'tcp!*!echo')).toEqual(['/net/tcp/clone 7']);
    expect(await ask(c, 'tcp!*!8080')).toEqual(['/net/tcp/clone 8080']);
    expect(await ask(c, 'tcp!*!*')).toEqual(['/net/tcp/clone *']);
    expect(await ask(c, 'net!127.0.0.1!9fs')).toEqual(['/net/tcp/clone 127.0.0.1!564']);
    expect(await ask(c, 'udp!127.0.0.1!domain')).toEqual(['/net/udp/clone 127.0.0.1!53']);
  });

  it('fails the write for what it cannot translate', async () => {
    const c = await fx.client();
    const f = await c.open('/cs', ORDWR);
    expect(await errorOf(f.write('tcp!127.0.0.1!nosuchsvc'))).toBe("cs: can't translate service");
    expect(await errorOf(f.write('tcp!127.0.0.1'))).toBe("cs: can't translate service");
    expect(await errorOf(f.write('127.0.0.1'))).toBe("cs: can't translate service");
    expect(await errorOf(f.write('tcp!no.such.name.example!80'))).toBe("cs: can't translate address");
    await f.close();
  });

  it('passes other networks through untranslated', async () => {
    const c = await fx.client();
    expect(await ask(c, 'ether0!0x800')).toEqual(['/net/ether0/clone 0x800']);
  });

  it('resolves names with the injected resolver, one answer per read', async () => {
    const c = await fx.client();
    expect(await ask(c, 'tcp!plan9.example!http')).toEqual([
      '/net/tcp/clone 192.0.2.7!80',
      '/net/tcp/clone 2001:db8::7!80',
    ]);
    // A read shorter than the answer gets its start; the next read the rest of it (cs.c rread).
    const f = await c.open('/cs', ORDWR);
    await f.write('tcp!plan9.example!80');
    expect((await f.read(9, undefined, 0n)).toString()).toBe('/net/tcp/');
    expect((await f.read(512)).toString()).toBe('clone 192.0.2.7!80');
    expect((await f.read(512)).toString()).toBe('/net/tcp/clone 2001:db8::7!80');
    expect((await f.read(512, undefined, 0n)).length).toBe(0);
    await f.close();
  });

  it('drops addresses of an IP version no interface has', async () => {
    const c = await fx4.client();
    expect(await ask(c, 'tcp!plan9.example!80')).toEqual(['/net/tcp/clone 192.0.2.7!80']);
    const f = await c.open('/cs', ORDWR);
    expect(await errorOf(f.write('tcp!v6only.example!80'))).toBe("cs: can't translate address");
    await f.close();
  });

  it('keeps state per fid', async () => {
    const c = await fx.client();
    const f1 = await c.open('/cs', ORDWR);
    const f2 = await c.open('/cs', ORDWR);
    await f1.write('tcp!127.0.0.1!80');
    await f2.write('udp!127.0.0.2!53');
    expect((await f2.read(512, undefined, 0n)).toString()).toBe('/net/udp/clone 127.0.0.2!53');
    expect((await f1.read(512, undefined, 0n)).toString()).toBe('/net/tcp/clone 127.0.0.1!80');
    expect((await f1.read(512, undefined, 0n)).length).toBe(0);
    // A new query on a fid replaces its answers.
    await f2.write('tcp!127.0.0.3!7');
    expect((await f2.read(512, undefined, 0n)).toString()).toBe('/net/tcp/clone 127.0.0.3!7');
    await f1.close();
    await f2.close();
  });

  it('is a 0666 file owned by the attaching user', async () => {
    const c = await fx.client('carol');
    const d = (await c.ls('/')).find((e) => e.name === 'cs');
    expect(d).toBeDefined();
    expect(d!.uid).toBe('carol');
    expect(d!.mode & 0o777).toBe(0o666);
    expect((await c.stat('/cs')).uid).toBe('carol');
  });
});

describe('/net/cs general queries (cs.c genquery)', () => {
  it('answers !attr=val rattr=* with the matching fs/ndb entry', async () => {
    const c = await fx.client();
    expect(await ask(c, '!port=7 tcp=*')).toEqual(['tcp=echo port=7']);
    expect(await ask(c, '!port=7 udp=*')).toEqual(['udp=echo port=7']);
    expect(await ask(c, '!port=564 tcp=*')).toEqual(['tcp=9fs port=564']);
    expect(await ask(c, '!tcp=http port=*')).toEqual(['tcp=http port=80']);
    expect(await ask(c, '!tcp=http port=80')).toEqual(['tcp=http port=80']);
    // Blanks between pairs do not count (getfields with multiple separators).
    expect(await ask(c, '!port=53  udp=*')).toEqual(['udp=domain port=53']);
  });

  it('fails with cs: no match and cs: bad query as cs.c does', async () => {
    const c = await fx.client();
    expect(await failure(c, '!port=40000 tcp=*')).toBe('cs: no match');
    expect(await failure(c, '!tcp=http port=81')).toBe('cs: no match');
    expect(await failure(c, '!port=7 il=*')).toBe('cs: no match');
    expect(await failure(c, '!sys=nosuch ip=*')).toBe('cs: no match');
    expect(await failure(c, '!')).toBe('cs: bad query');
    expect(await failure(c, '!port')).toBe('cs: bad query');
    expect(await failure(c, '!port=7 tcp')).toBe('cs: bad query');
  });

  it('answers host names from fs/ndb first, one line of the entry per read', async () => {
    const c = await fx.client();
    asked.length = 0;
    expect(await ask(c, '!sys=localhost ip=*')).toEqual(['ip=127.0.0.1 sys=localhost dom=localhost', 'ip=::1']);
    expect(await ask(c, '!dom=localhost ip=*')).toEqual(['ip=127.0.0.1 sys=localhost dom=localhost', 'ip=::1']);
    expect(await ask(c, '!ip=127.0.0.1 dom=*')).toEqual(['ip=127.0.0.1 sys=localhost dom=localhost', 'ip=::1']);
    expect(await failure(c, '!sys=localhost ipv6=*')).toBe('cs: no match');
    expect(asked).toEqual([]);
    // Without IPv6 on any interface the ::1 line is left out (9front drops the family).
    const c4 = await fx4.client();
    expect(await ask(c4, '!sys=localhost ip=*')).toEqual(['ip=127.0.0.1 sys=localhost dom=localhost']);
  });

  it('then asks the resolver for dom= and sys= names, one address per line as Plan 9 dns gives them', async () => {
    const c = await fx.client();
    expect(await ask(c, '!dom=plan9.example ip=*')).toEqual(['dom=plan9.example ip=192.0.2.7', 'dom=plan9.example ip=2001:db8::7']);
    expect(await ask(c, '!sys=plan9.example ip=*')).toEqual(['sys=plan9.example ip=192.0.2.7', 'sys=plan9.example ip=2001:db8::7']);
    expect(await ask(c, '!dom=plan9.example ip=192.0.2.7')).toHaveLength(2);
    expect(await failure(c, '!dom=plan9.example ip=192.0.2.8')).toBe('cs: no match');
    expect(await failure(c, '!dom=no.such.name.example ip=*')).toBe('cs: no match');
    // No reverse resolver: an address not in fs/ndb has no name.
    expect(await failure(c, '!ip=192.0.2.7 dom=*')).toBe('cs: no match');
    const c4 = await fx4.client();
    expect(await ask(c4, '!dom=plan9.example ip=*')).toEqual(['dom=plan9.example ip=192.0.2.7']);
  });

  it('answers !ipinfo from the entry', async () => {
    const c = await fx.client();
    expect(await ask(c, '!ipinfo sys=localhost ip dom')).toEqual(['ip=127.0.0.1 ip=::1 dom=localhost']);
    expect(await ask(c, '!ipinfo sys=localhost @dom')).toEqual(['dom=127.0.0.1 dom=::1']);
    expect(await failure(c, '!ipinfo sys=localhost auth')).toBe('cs: no match');
    expect(await failure(c, '!ipinfo sys=nosuch ip')).toBe('cs: no match');
    expect(await failure(c, '!ipinfo')).toBe('cs: bad query');
    expect(await failure(c, '!ipinfo sys=localhost')).toBe('cs: bad query');
  });
});

describe('/net/cs queries from a shell and bounds', () => {
  it('takes a query that ends in one newline', async () => {
    const c = await fx.client();
    const f = await c.open('/cs', ORDWR);
    expect(await f.write('tcp!127.0.0.1!http\n')).toBe(19);
    expect((await f.read(512, undefined, 0n)).toString()).toBe('/net/tcp/clone 127.0.0.1!80');
    await f.close();
    expect(await ask(c, 'tcp!plan9.example!http\n')).toEqual(['/net/tcp/clone 192.0.2.7!80', '/net/tcp/clone 2001:db8::7!80']);
    expect(await ask(c, '!port=7 tcp=*\n')).toEqual(['tcp=echo port=7']);
    // Only one: a second newline is part of the service.
    expect(await failure(c, 'tcp!127.0.0.1!http\n\n')).toBe("cs: can't translate service");
  });

  it('resolves localhost from fs/ndb, never with the resolver', async () => {
    const c = await fx.client();
    asked.length = 0;
    expect(await ask(c, 'tcp!localhost!80')).toEqual(['/net/tcp/clone 127.0.0.1!80', '/net/tcp/clone ::1!80']);
    expect(await ask(c, 'net!localhost!9fs')).toEqual(['/net/tcp/clone 127.0.0.1!564', '/net/tcp/clone ::1!564']);
    expect(await ask(c, 'udp!localhost!domain')).toEqual(['/net/udp/clone 127.0.0.1!53', '/net/udp/clone ::1!53']);
    const c4 = await fx4.client();
    expect(await ask(c4, 'tcp!localhost!80')).toEqual(['/net/tcp/clone 127.0.0.1!80']);
    expect(asked).toEqual([]);
  });

  it('rejects a request of 128 bytes or more (cs.c Maxrequest) and keeps at most 20 answers (Nreply)', async () => {
    const c = await fx.client();
    const q127 = `tcp!${'a'.repeat(127 - 'tcp!!80'.length)}!80`;
    expect(q127.length).toBe(127);
    expect(await failure(c, q127)).toBe("cs: can't translate address");
    expect(await failure(c, `${q127}0`)).toBe('cs: request too long');
    expect(await failure(c, new Uint8Array(4096))).toBe('cs: request too long');
    const many = await ask(c, 'tcp!many.example!80');
    expect(many).toHaveLength(20);
    expect(many[19]).toBe('/net/tcp/clone 192.0.2.20!80');
  });
});
