/**
 * /net/ipifc on the host backend (9/ip/ipifc.c):
 * read-only interfaces in 9front's status and local formats, the 19 IP
 * counters, and writes refused.
 */
import * as os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostInterfaces } from '../../src/backend/host/interfaces.js';
import { parseIp, parseMask } from '../../src/netfs/ipaddr.js';
import { DMDIR, OREAD, ORDWR, OWRITE } from '../../src/ninep/types.js';
import { errorOf, readText, startNet } from './harness.js';
import type { NetFixture } from './harness.js';

const STAT_NAMES = [
  'Forwarding', 'DefaultTTL', 'InReceives', 'InHdrErrors', 'InAddrErrors', 'ForwDatagrams', 'InUnknownProtos',
  'InDiscards', 'InDelivers', 'OutRequests', 'OutDiscards', 'OutNoRoutes', 'ReasmTimeout', 'ReasmReqds', 'ReasmOKs',
  'ReasmFails', 'FragOKs', 'FragFails', 'FragCreates',
];

/** A fixed host: lo with 127.0.0.1/8 and ::1, eth0 with a /24 and a /64, and an interface without addresses. */
const fixed: HostInterfaces = {
  list: () => [
    { name: 'lo', mtu: 65536, addrs: [
      { ip: parseIp('127.0.0.1')!, mask: parseMask('/8')! },
      { ip: parseIp('::1')!, mask: parseMask('/128', false)! },
    ] },
    { name: 'eth0', mtu: 1500, addrs: [
      { ip: parseIp('192.0.2.2')!, mask: parseMask('/24')! },
      { ip: parseIp('2001:db8:0:1::2')!, mask: parseMask('/64', false)! },
    ] },
    { name: 'dummy0', mtu: 1500, addrs: [] },
  ],
  isLocal: () => false,
};

let fx: NetFixture;
let host: NetFixture;

beforeAll(async () => {
  fx = await startNet({ interfaces: fixed });
  host = await startNet();
});

afterAll(async () => {
  await fx.close();
  await host.close();
});

describe('/net/ipifc', () => {
  it('lists one directory per interface, then clone and stats', async () => {
    const c = await fx.client();
    const ls = await c.ls('/ipifc');
    expect(ls.map((d) => d.name)).toEqual(['0', '1', '2', 'clone', 'stats']);
    expect(ls[0]!.mode & DMDIR).not.toBe(0);
    expect((await c.ls('/ipifc/0')).map((d) => d.name)).toEqual(['ctl', 'local', 'remote', 'status']);
    const ctl = await c.open('/ipifc/1/ctl', OREAD);
    expect((await ctl.read(64, undefined, 0n)).toString()).toBe('1');
    await ctl.close();
  });

  it('status is 9front\'s: a device line, then one tab-led line per address with /N masks over 128 bits', async () => {
    const c = await fx.client();
    const lo = (await readText(c, '/ipifc/0/status')).split('\n');
    expect(lo[0]).toMatch(/^device lo maxtu 65536 sendra 0 recvra 0 .* pktin \d+ pktout \d+ errin \d+ errout \d+ speed 0 delay 40$/);
    expect(lo[1]).toBe(`\t${'127.0.0.1'.padEnd(40)} ${'/104'.padEnd(10)} ${'127.0.0.0'.padEnd(40)} ${'4294967295'.padEnd(12)} ${'4294967295'.padEnd(12)}`);
    expect(lo[2]).toMatch(/^\t::1 +\/128 +::1 +4294967295 +4294967295 +$/);
    expect(lo[3]).toBe('');
    expect(lo).toHaveLength(4);
    const eth = (await readText(c, '/ipifc/1/status')).split('\n');
    expect(eth[0]).toMatch(/^device eth0 maxtu 1514 /);
    expect(eth[1]).toMatch(/^\t192\.0\.2\.2 +\/120 +192\.0\.2\.0 +/);
    expect(eth[2]).toMatch(/^\t2001:db8:0:1::2 +\/64 +2001:db8:0:1:: +/);
    // No addresses: a single empty line follows the device line.
    expect(await readText(c, '/ipifc/2/status')).toMatch(/^device dummy0 maxtu 1514 [^\n]*\n\n$/);
  });

  it('local lists each address and its self address; remote is ::!0', async () => {
    const c = await fx.client();
    expect(await readText(c, '/ipifc/1/local')).toBe(
      `${'192.0.2.2'.padEnd(40)} -> ${'192.0.2.2'.padEnd(40)}\n${'2001:db8:0:1::2'.padEnd(40)} -> ${'2001:db8:0:1::2'.padEnd(40)}\n`,
    );
    expect(await readText(c, '/ipifc/1/remote')).toBe('::!0\n');
  });

  it('the host\'s own interfaces print in the same format', async () => {
    const c = await host.client();
    const dirs = (await c.ls('/ipifc')).filter((d) => /^\d+$/.test(d.name));
    expect(dirs.length).toBe(Object.keys(os.networkInterfaces()).length);
    let sawLoopback = false;
    for (const d of dirs) {
      const lines = (await readText(c, `/ipifc/${d.name}/status`)).split('\n');
      expect(lines[0]).toMatch(/^device \S+ maxtu \d+ /);
      for (const l of lines.slice(1, -1)) {
        if (l === '') continue;
        expect(l.startsWith('\t')).toBe(true);
        const [addr, mask] = l.slice(1).trim().split(/ +/);
        expect(mask).toMatch(/^\/\d+$/);
        if (addr!.includes('.')) expect(Number(mask!.slice(1))).toBeGreaterThanOrEqual(96);
        if (addr === '127.0.0.1') {
          sawLoopback = true;
          expect(mask).toBe('/104');
        }
      }
    }
    expect(sawLoopback).toBe(true);
  });

  it('stats has the 19 IP counters', async () => {
    const c = await fx.client();
    const lines = (await readText(c, '/ipifc/stats')).split('\n').filter((l) => l !== '');
    expect(lines.map((l) => l.split(':')[0])).toEqual(STAT_NAMES);
    for (const l of lines) expect(l).toMatch(/^\w+: \d+$/);
  });

  it('is read-only: ctl writes, clone and writable opens of the text files are refused', async () => {
    const c = await fx.client();
    const ctl = await c.open('/ipifc/0/ctl', ORDWR);
    expect(await errorOf(ctl.write('add 10.0.0.1 /120'))).toBe('permission denied');
    expect(await errorOf(ctl.write('unbind'))).toBe('permission denied');
    await ctl.close();
    expect(await errorOf(c.open('/ipifc/clone', ORDWR))).toBe('permission denied');
    expect(await errorOf(c.open('/ipifc/0/status', OWRITE))).toBe('permission denied');
    expect(await errorOf(c.open('/ipifc/stats', ORDWR))).toBe('permission denied');
  });
});
