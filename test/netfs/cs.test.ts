/**
 * /net/cs (plan9-net.md §12, G18, §18 T15/T16): one query per fid, one
 * answer per read without a newline, then 0 bytes; failed translations
 * fail the write. Names go to an injected resolver.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostInterfaces } from '../../src/backend/host/interfaces.js';
import { parseIp, parseMask } from '../../src/netfs/ipaddr.js';
import type { Ip } from '../../src/netfs/ipaddr.js';
import type { Client } from '../../src/ninep/client.js';
import { ORDWR } from '../../src/ninep/types.js';
import { errorOf, startNet } from './harness.js';
import type { NetFixture } from './harness.js';

const names: Record<string, string[]> = {
  'plan9.example': ['192.0.2.7', '2001:db8::7'],
  'v6only.example': ['2001:db8::9'],
};

async function resolve(host: string): Promise<Ip[]> {
  const a = names[host];
  if (!a) throw new Error(`ENOTFOUND ${host}`);
  return a.map((t) => parseIp(t)!);
}

/** Only IPv4 interfaces: 9front cs drops IPv6 answers (G12). */
const v4only: HostInterfaces = {
  list: () => [{ name: 'lo', mtu: 65536, addrs: [{ ip: parseIp('127.0.0.1')!, mask: parseMask('/8')! }] }],
  isLocal: (ip) => ip[12] === 127,
};

const both: HostInterfaces = {
  list: () => [{
    name: 'lo',
    mtu: 65536,
    addrs: [
      { ip: parseIp('127.0.0.1')!, mask: parseMask('/8')! },
      { ip: parseIp('::1')!, mask: parseMask('/128', false)! },
    ],
  }],
  isLocal: () => false,
};

let fx: NetFixture;
let fx4: NetFixture;

beforeAll(async () => {
  fx = await startNet({ resolve, interfaces: both });
  fx4 = await startNet({ resolve, interfaces: v4only });
});

afterAll(async () => {
  await fx.close();
  await fx4.close();
});

/** Write a query on a fresh fid and read every answer (reads at offset 0, as after a seek). */
async function ask(c: Client, query: string): Promise<string[]> {
  const f = await c.open('/cs', ORDWR);
  try {
    await f.write(query);
    const out: string[] = [];
    for (;;) {
      const b = await f.read(512, undefined, 0n);
      if (b.length === 0) return out;
      out.push(b.toString());
    }
  } finally {
    await f.close();
  }
}

describe('/net/cs', () => {
  it('translates literal addresses and numeric ports (T15)', async () => {
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

  it('translates services and * (T16)', async () => {
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
    expect(await errorOf(f.write('tcp!127.0.0.1!nosuchsvc'))).toBe("can't translate service");
    expect(await errorOf(f.write('tcp!127.0.0.1'))).toBe("can't translate service");
    expect(await errorOf(f.write('127.0.0.1'))).toBe("can't translate service");
    expect(await errorOf(f.write('tcp!no.such.name.example!80'))).toBe("can't translate address");
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
    // A read shorter than the answer gets its start; the next read the next answer.
    const f = await c.open('/cs', ORDWR);
    await f.write('tcp!plan9.example!80');
    expect((await f.read(9, undefined, 0n)).toString()).toBe('/net/tcp/');
    expect((await f.read(512, undefined, 0n)).toString()).toBe('/net/tcp/clone 2001:db8::7!80');
    expect((await f.read(512, undefined, 0n)).length).toBe(0);
    await f.close();
  });

  it('drops addresses of an IP version no interface has (G12)', async () => {
    const c = await fx4.client();
    expect(await ask(c, 'tcp!plan9.example!80')).toEqual(['/net/tcp/clone 192.0.2.7!80']);
    const f = await c.open('/cs', ORDWR);
    expect(await errorOf(f.write('tcp!v6only.example!80'))).toBe("can't translate address");
    await f.close();
  });

  it('keeps state per fid (G18)', async () => {
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
