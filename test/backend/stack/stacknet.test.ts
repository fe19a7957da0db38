/**
 * /net served by our own stack, through 9P only: two stacks on an
 * in-memory hub. ipifc, arp, iproute, icmp (ping as Plan 9's ip/ping does
 * it), udp connected/announced/headers, and ether0 slots seeing ARP.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackNet } from '../../../src/backend/stack/backend.js';
import { RealClock } from '../../../src/lib/clock.js';
import { SeededRng } from '../../../src/lib/rng.js';
import { Hub } from '../../../src/link/hub.js';
import { Client } from '../../../src/ninep/client.js';
import type { File } from '../../../src/ninep/client.js';
import { Server } from '../../../src/ninep/server.js';
import { ORDWR, OWRITE } from '../../../src/ninep/types.js';

interface Host { net: StackNet; server: Server; c: Client; mac: string }
let a: Host;
let b: Host;

async function host(hub: Hub, seed: number, ip: string): Promise<Host> {
  const net = new StackNet({ eve: 'eve', clock: new RealClock(), rng: new SeededRng(seed) });
  const port = net.addEther(hub.port());
  net.configure(port, ip, 24);
  const server = new Server({ root: () => net.tree, log: () => {} });
  const l = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
  const c = await Client.dial(`tcp!127.0.0.1!${(l.address() as AddressInfo).port}`, { uname: 'eve' });
  return { net, server, c, mac: Buffer.from(port.mac).toString('hex') };
}

beforeAll(async () => {
  const hub = new Hub({ rng: new SeededRng(7) });
  a = await host(hub, 1, '10.9.0.1');
  b = await host(hub, 2, '10.9.0.2');
});

afterAll(async () => {
  for (const h of [a, b]) {
    h.c.close();
    await h.server.close();
    await h.net.close();
  }
});

async function clone(c: Client, proto: string): Promise<{ n: string; ctl: File }> {
  const ctl = await c.open(`/${proto}/clone`, ORDWR);
  return { n: (await ctl.read(20)).toString(), ctl };
}

describe('/net over our stack', () => {
  it('lists the Plan 9 files', async () => {
    expect((await a.c.ls('/')).map((d) => d.name)).toEqual(['tcp', 'udp', 'ipifc', 'icmp', 'arp', 'ndb', 'iproute', 'ether0', 'cs', 'dns']);
  });

  it('shows the interface in ipifc and its routes in iproute', async () => {
    const st = (await a.c.readFile('/ipifc/1/status')).toString();
    expect(st).toMatch(/^device \/net\/ether0 maxtu 1514 /);
    expect(st).toContain('\t10.9.0.1                                 /120       10.9.0.0 ');
    const routes = (await a.c.readFile('/iproute')).toString();
    expect(routes).toMatch(/^10\.9\.0\.0\s+\/120 10\.9\.0\.0\s+4i\s+ifc\s+1 /m);
  });

  it('has the loopback as interface 0 from the start, as Plan 9 shows `bind loopback /dev/null`', async () => {
    const st = (await a.c.readFile('/ipifc/0/status')).toString().split('\n');
    expect(st[0]).toMatch(/^device \/dev\/null maxtu 16384 sendra 0 recvra 0 .* pktin \d+ pktout \d+ errin 0 errout 0 speed 0 delay 40$/);
    expect(st[1]).toBe(`\t${'127.0.0.1'.padEnd(40)} ${'/104'.padEnd(10)} ${'127.0.0.0'.padEnd(40)} ${'4294967295'.padEnd(12)} ${'4294967295'.padEnd(12)}`);
    expect(st).toHaveLength(3);
    expect((await a.c.readFile('/ipifc/0/local')).toString()).toBe(`${'127.0.0.1'.padEnd(40)} -> ${'127.0.0.1'.padEnd(40)}\n`);
    const routes = (await a.c.readFile('/iproute')).toString();
    expect(routes).toMatch(/^127\.0\.0\.0\s+\/104 127\.0\.0\.0\s+4i\s+ifc\s+0 /m);
    expect(routes).toMatch(/^127\.0\.0\.1\s+\/128 127\.0\.0\.1\s+4u\s+ifc\s+0 /m);
  });

  it('pings through /net/icmp as ip/ping does, and learns the peer in /net/arp', async () => {
    const { n, ctl } = await clone(a.c, 'icmp');
    await ctl.write('connect 10.9.0.2!1');
    const data = await a.c.open(`/icmp/${n}/data`, ORDWR);
    const msg = Buffer.alloc(64);
    msg[20] = 8; // echo request
    msg.writeUInt16BE(42, 26); // sequence
    msg.write('ping from a', 28);
    await data.write(msg);
    const reply = await data.read(2000);
    expect(reply[9]).toBe(1); // protocol ICMP in the 20-byte IP header
    expect([...reply.subarray(12, 16)]).toEqual([10, 9, 0, 2]);
    expect(reply[20]).toBe(0); // echo reply
    expect(reply.readUInt16BE(26)).toBe(42);
    expect(reply.subarray(28, 39).toString()).toBe('ping from a');
    const arp = (await a.c.readFile('/arp')).toString();
    expect(arp).toContain(`ether  OK   10.9.0.2                                 ${b.mac}     10.9.0.1\n`);
    await data.close();
    await ctl.close();
  });

  it('carries UDP: headers mode on one side, a connected conversation on the other', async () => {
    const srv = await clone(b.c, 'udp');
    await srv.ctl.write('announce 7');
    await srv.ctl.write('headers');
    const sd = await b.c.open(`/udp/${srv.n}/data`, ORDWR);
    const cli = await clone(a.c, 'udp');
    await cli.ctl.write('connect 10.9.0.2!7');
    const cd = await a.c.open(`/udp/${cli.n}/data`, ORDWR);
    expect((await a.c.readFile(`/udp/${cli.n}/local`)).toString()).toMatch(/^10\.9\.0\.1!\d+\n$/);
    await cd.write('hello b');
    const got = await sd.read(2000);
    expect(got.length).toBe(52 + 7);
    expect([...got.subarray(0, 16)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 9, 0, 1]);
    expect([...got.subarray(16, 32)].slice(12)).toEqual([10, 9, 0, 2]);
    expect(got.readUInt16BE(50)).toBe(7);
    expect(got.subarray(52).toString()).toBe('hello b');
    const back = Buffer.concat([got.subarray(0, 52), Buffer.from('hello a')]);
    await sd.write(back);
    expect((await cd.read(2000)).toString()).toBe('hello a');
    for (const f of [sd, srv.ctl, cd, cli.ctl]) await f.close();
  });

  it('hands each new UDP peer to listen when announced without headers', async () => {
    const srv = await clone(b.c, 'udp');
    await srv.ctl.write('announce 9');
    const cli = await clone(a.c, 'udp');
    await cli.ctl.write('connect 10.9.0.2!9');
    const cd = await a.c.open(`/udp/${cli.n}/data`, ORDWR);
    const listening = b.c.open(`/udp/${srv.n}/listen`, ORDWR);
    await cd.write('first');
    const lctl = await listening;
    const m = (await lctl.read(20)).toString();
    expect(m).not.toBe(srv.n);
    expect((await b.c.readFile(`/udp/${m}/remote`)).toString()).toMatch(/^10\.9\.0\.1!\d+\n$/);
    const md = await b.c.open(`/udp/${m}/data`, ORDWR);
    expect((await md.read(100)).toString()).toBe('first');
    await cd.write('second');
    expect((await md.read(100)).toString()).toBe('second');
    await md.write('reply');
    expect((await cd.read(100)).toString()).toBe('reply');
    for (const f of [md, lctl, srv.ctl, cd, cli.ctl]) await f.close();
  });

  it('carries TCP: listen and accept on one stack, dial on the other, data both ways, EOF', async () => {
    const srv = await clone(b.c, 'tcp');
    await srv.ctl.write('announce 5555');
    expect((await b.c.readFile(`/tcp/${srv.n}/status`)).toString()).toMatch(/^Listen /);
    const listening = b.c.open(`/tcp/${srv.n}/listen`, ORDWR);
    const cli = await clone(a.c, 'tcp');
    await cli.ctl.write('connect 10.9.0.2!5555');
    expect((await a.c.readFile(`/tcp/${cli.n}/status`)).toString()).toMatch(/^Established qin 0 qout 0 rq 0\.0 srtt \d+ /);
    const lctl = await listening;
    const m = (await lctl.read(20)).toString();
    expect((await b.c.readFile(`/tcp/${m}/remote`)).toString()).toMatch(/^10\.9\.0\.1!\d+\n$/);
    expect((await b.c.readFile(`/tcp/${m}/local`)).toString()).toBe('10.9.0.2!5555\n');
    const md = await b.c.open(`/tcp/${m}/data`, ORDWR);
    const cd = await a.c.open(`/tcp/${cli.n}/data`, ORDWR);
    await cd.write('hello over our tcp');
    expect((await md.read(100)).toString()).toBe('hello over our tcp');
    const big = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const writing = md.write(big);
    const got: Buffer[] = [];
    let n = 0;
    while (n < big.length) {
      const part = await cd.read(65536);
      got.push(part);
      n += part.length;
    }
    await writing;
    expect(Buffer.concat(got).equals(big)).toBe(true);
    // B closes: A reads EOF three times, then the hangup error.
    await md.close();
    await lctl.close();
    expect((await cd.read(100)).length).toBe(0);
    expect((await cd.read(100)).length).toBe(0);
    expect((await cd.read(100)).length).toBe(0);
    await expect(cd.read(100)).rejects.toThrow('i/o on hungup channel');
    await cd.close();
    await cli.ctl.close();
    await srv.ctl.close();
    const stats = (await a.c.readFile('/tcp/stats')).toString();
    expect(stats).toMatch(/^ActiveOpens: [1-9]/m);
  });

  it('refuses a TCP connect to a closed port with Plan 9\'s error', async () => {
    const cli = await clone(a.c, 'tcp');
    await expect(cli.ctl.write('connect 10.9.0.2!5556')).rejects.toThrow('connection refused');
    await expect(cli.ctl.write('connect 10.9.0.2!5556')).rejects.toThrow('connection in use');
    await cli.ctl.close();
  });

  it('reports port unreachable on a connected UDP conversation', async () => {
    const cli = await clone(a.c, 'udp');
    await cli.ctl.write('connect 10.9.0.2!4444');
    const cd = await a.c.open(`/udp/${cli.n}/data`, ORDWR);
    await cd.write('anyone?');
    await expect(cd.read(100)).rejects.toThrow('port unreachable');
    await cd.close();
    await cli.ctl.close();
  });

  it('lets an ether0 slot of type -1 see the ARP exchange', async () => {
    const w = await a.c.open('/arp', OWRITE);
    await w.write('flush');
    await w.close();
    const { n, ctl } = await clone(a.c, 'ether0');
    await ctl.write('connect -1');
    const d = await a.c.open(`/ether0/${n.trim()}/data`, ORDWR);
    // Trigger resolution with a ping.
    const ping = await clone(a.c, 'icmp');
    await ping.ctl.write('connect 10.9.0.2!1');
    const pd = await a.c.open(`/icmp/${ping.n}/data`, ORDWR);
    const msg = Buffer.alloc(40);
    msg[20] = 8;
    await pd.write(msg);
    // ARP request (broadcast, looped back), ARP reply, echo reply; our own
    // unicast echo request is not looped back to a non-promiscuous slot (netif).
    const types: number[] = [];
    for (let i = 0; i < 3; i++) {
      const f = await d.read(2000);
      types.push(f.readUInt16BE(12));
    }
    expect(types).toEqual([0x0806, 0x0806, 0x0800]);
    for (const f of [pd, ping.ctl, d, ctl]) await f.close();
  });

  it('refuses ether types the stack holds, and ipifc ctl errors are Plan 9\'s', async () => {
    const { ctl } = await clone(a.c, 'ether0');
    await expect(ctl.write('connect 0x800')).rejects.toThrow('device or object already in use');
    await ctl.close();
    const ifc = await a.c.open('/ipifc/1/ctl', ORDWR);
    await expect(ifc.write('bind ether /net/ether0')).rejects.toThrow('interface already bound');
    await expect(ifc.write('remove 10.9.9.9 /24')).rejects.toThrow('address not on this interface');
    await expect(ifc.write('add bogus')).rejects.toThrow('bad ip address syntax');
    await expect(ifc.write('frob')).rejects.toThrow('unsupported ctl');
    await ifc.write('add 10.9.1.1 255.255.255.0');
    expect((await a.c.readFile('/ipifc/1/status')).toString()).toContain('\t10.9.1.1 ');
    await ifc.write('remove 10.9.1.1 /24');
    expect((await a.c.readFile('/ipifc/1/status')).toString()).not.toContain('10.9.1.1');
    await ifc.close();
    const fresh = await clone(a.c, 'ipifc');
    await expect(fresh.ctl.write('add 10.9.2.1 /24')).rejects.toThrow('interface not bound');
    await fresh.ctl.close();
  });

  it('dials 127.0.0.1 through /net/tcp to a listener in the same stack, and pings 127.0.0.1', async () => {
    const srv = await clone(a.c, 'tcp');
    await srv.ctl.write('announce 7010');
    const listening = a.c.open(`/tcp/${srv.n}/listen`, ORDWR);
    const cli = await clone(a.c, 'tcp');
    await cli.ctl.write('connect 127.0.0.1!7010');
    const lctl = await listening;
    const m = (await lctl.read(20)).toString().trim();
    expect((await a.c.readFile(`/tcp/${cli.n}/local`)).toString()).toMatch(/^127\.0\.0\.1!\d+\n$/);
    expect((await a.c.readFile(`/tcp/${m}/local`)).toString()).toBe('127.0.0.1!7010\n');
    const cd = await a.c.open(`/tcp/${cli.n}/data`, ORDWR);
    const sd = await a.c.open(`/tcp/${m}/data`, ORDWR);
    await cd.write('over the loopback');
    expect((await sd.read(100)).toString()).toBe('over the loopback');
    await sd.write('and back');
    expect((await cd.read(100)).toString()).toBe('and back');
    for (const f of [cd, sd, lctl, cli.ctl, srv.ctl]) await f.close();
    const p = await clone(a.c, 'icmp');
    await p.ctl.write('connect 127.0.0.1!1');
    const pd = await a.c.open(`/icmp/${p.n}/data`, ORDWR);
    const msg = Buffer.alloc(40);
    msg[20] = 8;
    await pd.write(msg);
    const r = await pd.read(200);
    expect([...r.subarray(12, 16)].join('.')).toBe('127.0.0.1');
    expect(r[20]).toBe(0);
    for (const f of [pd, p.ctl]) await f.close();
  });

  it('keeps arp and iproute writes for the host owner', async () => {
    const other = await Client.dial(`tcp!127.0.0.1!${(a.server as unknown as { listeners: Set<{ address(): AddressInfo }> }).listeners.values().next().value!.address().port}`, { uname: 'glenda' });
    await expect(other.open('/arp', OWRITE)).rejects.toThrow('permission denied');
    await expect(other.open('/iproute', OWRITE)).rejects.toThrow('permission denied');
    other.close();
  });
});
