/**
 * /net/ether0 with netif semantics (port/netif.c, port/devether.c) over a fake device,
 * through 9P: slots, connect types, demultiplexing, promiscuous mode,
 * local loopback, readnum formats, write size limits, permissions.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { EtherDir } from '../../src/netfs/ether.js';
import type { EtherCounters, EtherDevice } from '../../src/link/etherport.js';
import { netRoot } from '../../src/netfs/net.js';
import { Client } from '../../src/ninep/client.js';
import { Server } from '../../src/ninep/server.js';
import { ORDWR, OREAD } from '../../src/ninep/types.js';

class FakeDevice implements EtherDevice {
  mac = Uint8Array.from([0x02, 0, 0, 0, 0, 0x01]);
  mtu = 1500;
  stats: EtherCounters = { rxFrames: 0, txFrames: 0, rxErrors: 0, txErrors: 0, rxDropped: 0 };
  sent: Uint8Array[] = [];
  local: Uint8Array[] = [];
  private fns: ((f: Uint8Array, d: 'in' | 'out') => void)[] = [];
  transmit(frame: Uint8Array): void { this.sent.push(frame); this.stats.txFrames++; }
  deliverLocal(frame: Uint8Array): void { this.local.push(frame); }
  tap(fn: (f: Uint8Array, d: 'in' | 'out') => void) { this.fns.push(fn); return { dispose: () => { this.fns = this.fns.filter((x) => x !== fn); } }; }
  heldTypes(): number[] { return [0x800, 0x806]; }
  receive(frame: Uint8Array): void { this.stats.rxFrames++; for (const f of this.fns) f(frame, 'in'); }
  stackSends(frame: Uint8Array): void { for (const f of this.fns) f(frame, 'out'); }
}

function frame(dst: number[], type: number, len = 60, fill = 0xaa): Uint8Array {
  const f = new Uint8Array(len).fill(fill);
  f.set(dst, 0);
  f.set([0x02, 9, 9, 9, 9, 9], 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  return f;
}
const US = [0x02, 0, 0, 0, 0, 0x01];
const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const OTHER = [0x02, 7, 7, 7, 7, 7];

let dev: FakeDevice;
let server: Server;
let addr = '';
const clients: Client[] = [];

beforeAll(async () => {
  dev = new FakeDevice();
  const ether = new EtherDir('ether0', 0, dev, 'eve', new ManualClock(5000));
  const root = netRoot('eve', () => [ether.node]);
  server = new Server({ root: () => root, log: () => {} });
  const l = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
  addr = `tcp!127.0.0.1!${(l.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const c of clients) c.close();
  await server.close();
});

async function client(uname = 'glenda'): Promise<Client> {
  const c = await Client.dial(addr, { uname });
  clients.push(c);
  return c;
}

async function slot(c: Client, type: string): Promise<{ n: number; ctl: Awaited<ReturnType<Client['open']>>; data: Awaited<ReturnType<Client['open']>> }> {
  const ctl = await c.open('/ether0/clone', ORDWR);
  const text = (await ctl.read(64)).toString();
  expect(text).toMatch(/^ {10}\d $/);
  const n = Number(text.trim());
  await ctl.write(`connect ${type}`);
  const data = await c.open(`/ether0/${n}/data`, ORDWR);
  return { n, ctl, data };
}

describe('/net/ether0', () => {
  it('serves addr, stats and the slot files in netif formats', async () => {
    const c = await client();
    expect((await c.readFile('/ether0/addr')).toString()).toBe('020000000001');
    const stats = (await c.readFile('/ether0/stats')).toString();
    expect(stats).toMatch(/^in: \d+\nlink: 1\nout: \d+\n/);
    expect(stats).toContain('addr: 020000000001\n');
    const s = await slot(c, '-1');
    expect((await c.readFile(`/ether0/${s.n}/type`)).toString()).toBe(' 4294967295 ');
    expect((await c.ls('/ether0')).map((d) => d.name)).toEqual(['clone', 'addr', 'stats', 'ifstats', String(s.n)]);
    expect((await c.ls(`/ether0/${s.n}`)).map((d) => d.name)).toEqual(['data', 'ctl', 'stats', 'type', 'ifstats']);
    await s.data.close();
    await s.ctl.close();
  });

  it('demultiplexes by type, one frame per read, truncating short reads', async () => {
    const c = await client();
    const all = await slot(c, '-1');
    const typed = await slot(c, '0x88b5');
    const first64 = await slot(c, '-2');
    dev.receive(frame(US, 0x88b5, 100, 1));
    dev.receive(frame(BCAST, 0x0806, 60, 2));
    dev.receive(frame(OTHER, 0x88b5, 60, 3)); // not for us, nobody promiscuous
    expect((await all.data.read(2000)).length).toBe(100);
    expect((await all.data.read(2000))[14]).toBe(2);
    const t = await typed.data.read(20);
    expect(t.length).toBe(20);
    expect((await first64.data.read(2000)).length).toBe(64);
    // Only the type-0x88b5 frame reached the typed slot; the next read waits.
    const ac = new AbortController();
    const pending = typed.data.read(2000, ac.signal);
    setTimeout(() => ac.abort(), 50);
    await expect(pending).rejects.toThrow('interrupted');
    for (const s of [all, typed, first64]) { await s.data.close(); await s.ctl.close(); }
  });

  it('lets one slot hold a positive type, and refuses the stack\'s types', async () => {
    const c = await client();
    const a = await slot(c, '0x9000');
    const ctl = await c.open('/ether0/clone', ORDWR);
    await expect(ctl.write('connect 36864')).rejects.toThrow('device or object already in use');
    await expect(ctl.write('connect 0x800')).rejects.toThrow('device or object already in use');
    await expect(ctl.write('bogus')).rejects.toThrow('bad process or channel control request');
    await ctl.close();
    await a.data.close();
    await a.ctl.close();
  });

  it('sees other hosts\' frames and outgoing frames only when promiscuous', async () => {
    const c = await client();
    const s = await slot(c, '-1');
    await s.ctl.write('promiscuous');
    dev.receive(frame(OTHER, 0x88b5, 60, 7));
    dev.stackSends(frame(OTHER, 0x0800, 60, 8));
    expect((await s.data.read(2000))[14]).toBe(7);
    expect((await s.data.read(2000))[14]).toBe(8);
    await s.data.close();
    await s.ctl.close();
  });

  it('writes frames with our source MAC; loops back frames to us and broadcasts; checks sizes', async () => {
    const c = await client();
    const w = await slot(c, '0x88b6');
    const r = await slot(c, '-1');
    dev.sent.length = 0;
    dev.local.length = 0;
    await w.data.write(frame(OTHER, 0x88b6, 60, 1));
    expect(dev.sent).toHaveLength(1);
    expect(Array.from(dev.sent[0]!.subarray(6, 12))).toEqual(US);
    await w.data.write(frame(US, 0x88b6, 60, 2));
    expect(dev.sent).toHaveLength(1);
    expect(dev.local).toHaveLength(1);
    await w.data.write(frame(BCAST, 0x88b6, 60, 3));
    expect(dev.sent).toHaveLength(2);
    expect((await r.data.read(2000))[14]).toBe(2);
    expect((await r.data.read(2000))[14]).toBe(3);
    // The writer's own slot sees the broadcast too (not in bridge mode).
    expect((await w.data.read(2000))[14]).toBe(2);
    expect((await w.data.read(2000))[14]).toBe(3);
    await expect(w.data.write(new Uint8Array(59))).rejects.toThrow('read or write too small');
    await expect(w.data.write(new Uint8Array(1515))).rejects.toThrow('read or write too large');
    for (const s of [w, r]) { await s.data.close(); await s.ctl.close(); }
  });

  it('gives a slot to its opener: others are refused, eve gets the group bits', async () => {
    const a = await client('alice');
    const s = await slot(a, '-1');
    const b = await client('bob');
    await expect(b.open(`/ether0/${s.n}/data`, OREAD)).rejects.toThrow('permission denied');
    const eve = await client('eve');
    const f = await eve.open(`/ether0/${s.n}/data`, OREAD);
    await f.close();
    await s.data.close();
    await s.ctl.close();
  });

  it('recycles a slot after its last close and runs out at 8', async () => {
    const c = await client();
    const held = [];
    for (let i = 0; i < 8; i++) held.push(await c.open('/ether0/clone', ORDWR));
    await expect(c.open('/ether0/clone', ORDWR)).rejects.toThrow('no free devices');
    await held[3]!.close();
    const again = await c.open('/ether0/clone', ORDWR);
    expect((await again.read(64)).toString().trim()).toBe('3');
    for (const h of [...held.filter((_, i) => i !== 3), again]) await h.close();
  });
});
