/**
 * Many stacks in one process, through 9P only: a topology file with four
 * leaf stacks on two hubs and a router stack between them; each stack is
 * its own tree, selected by the attach name. Ping, TCP and UDP cross the
 * router; iproute, arp and ipifc/stats show what a user expects; the
 * control tree (aname `topo`) makes a stack at run time.
 */
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/lib/clock.js';
import { SeededRng } from '../../src/lib/rng.js';
import { createPair } from '../../src/link/pair.js';
import type { Link } from '../../src/link/link.js';
import { StackNet } from '../../src/backend/stack/backend.js';
import { Client } from '../../src/ninep/client.js';
import type { File } from '../../src/ninep/client.js';
import { Server } from '../../src/ninep/server.js';
import { ORDWR, OREAD, OWRITE } from '../../src/ninep/types.js';
import { Topology, MAX_STACKS } from '../../src/topo/topology.js';
import { checkTopology } from '../../src/topo/topofile.js';

const FILE = {
  default: 'a',
  stacks: {
    a: { ifaces: [{ hub: 'lan1', ip: '10.1.0.2/24', gw: '10.1.0.1' }] },
    b: { ifaces: [{ hub: 'lan1', ip: '10.1.0.3/24', gw: '10.1.0.1' }] },
    c: { ifaces: [{ hub: 'lan2', ip: '10.2.0.2/24', gw: '10.2.0.1' }] },
    d: { ifaces: [{ hub: 'lan2', ip: '10.2.0.3/24', gw: '10.2.0.1' }] },
    r: { forwarding: true, ifaces: [{ hub: 'lan1', ip: '10.1.0.1/24' }, { hub: 'lan2', ip: '10.2.0.1/24' }] },
  },
  hubs: { lan1: {}, lan2: {} },
  routes: { a: [{ target: '10.2.0.0/16', via: '10.1.0.1' }] },
};

let topo: Topology;
let server: Server;
let addr: string;
let dir: string;
const clients = new Map<string, Client>();

async function attach(aname: string): Promise<Client> {
  let c = clients.get(aname);
  if (!c) {
    c = await Client.dial(addr, { uname: 'eve', aname });
    clients.set(aname, c);
  }
  return c;
}

async function clone(c: Client, proto: string): Promise<{ n: string; ctl: File }> {
  const ctl = await c.open(`/${proto}/clone`, ORDWR);
  return { n: (await ctl.read(20)).toString().trim(), ctl };
}

function macOf(stack: string, ether = 'ether0'): string {
  return Buffer.from(topo.stack(stack).port(ether)!.mac).toString('hex');
}

/** ip/ping's exchange on /net/icmp; resolves to the reply with its IP header. */
async function ping(from: string, to: string, seq: number): Promise<Buffer> {
  const c = await attach(from);
  const { n, ctl } = await clone(c, 'icmp');
  await ctl.write(`connect ${to}!1`);
  const data = await c.open(`/icmp/${n}/data`, ORDWR);
  const msg = Buffer.alloc(64);
  msg[20] = 8; // echo request
  msg.writeUInt16BE(seq, 26);
  msg.write(`ping from ${from}`, 28);
  await data.write(msg);
  const reply = await data.read(2000);
  await data.close();
  await ctl.close();
  return reply;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), '9net-topo-'));
  const path = join(dir, 'topo.json');
  writeFileSync(path, JSON.stringify(FILE));
  topo = await Topology.fromFile(path, { eve: 'eve', clock: new RealClock(), rng: new SeededRng(5) });
  server = new Server({ root: (aname, uname) => topo.root(aname, uname), log: () => {} });
  const l = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
  addr = `tcp!127.0.0.1!${(l.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const c of clients.values()) c.close();
  await server?.close();
  await topo?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a topology of five stacks, two hubs and a router', () => {
  it('serves each stack as its own complete /net, by attach name', async () => {
    const names = ['tcp', 'udp', 'ipifc', 'icmp', 'arp', 'ndb', 'iproute'];
    expect((await (await attach('a')).ls('/')).map((d) => d.name)).toEqual([...names, 'ether0', 'cs', 'dns']);
    expect((await (await attach('r')).ls('/')).map((d) => d.name)).toEqual([...names, 'ether0', 'ether1', 'cs', 'dns']);
    // aname '' is the default stack (a); an unknown aname is refused.
    const dflt = await attach('');
    expect((await dflt.readFile('/ipifc/1/status')).toString()).toContain('\t10.1.0.2 '); // 0 is the loopback
    await expect(Client.dial(addr, { uname: 'eve', aname: 'nosuch' })).rejects.toThrow();
    expect((await (await attach('r')).readFile('/ipifc/2/status')).toString()).toMatch(/^device \/net\/ether1 maxtu 1514 /);
  });

  it('pings across the router; the reply arrives with TTL one less than sent', async () => {
    const reply = await ping('a', '10.2.0.2', 7);
    expect(reply[9]).toBe(1); // ICMP
    expect([...reply.subarray(12, 16)]).toEqual([10, 2, 0, 2]);
    expect(reply[8]).toBe(254); // c sends with TTL 255; r forwards with 254
    expect(reply[20]).toBe(0); // echo reply
    expect(reply.readUInt16BE(26)).toBe(7);
    expect(reply.subarray(28, 39).toString()).toBe('ping from a');
    // Same subnet: no router in between, TTL untouched.
    expect((await ping('a', '10.1.0.3', 8))[8]).toBe(255);
    // The router's far address answers directly.
    expect((await ping('d', '10.1.0.1', 9))[8]).toBe(255);
  });

  it('carries TCP across the router, a few MB byte-exact both ways', async () => {
    const b = await attach('b');
    const d = await attach('d');
    const srv = await clone(d, 'tcp');
    await srv.ctl.write('announce 5555');
    const listening = d.open(`/tcp/${srv.n}/listen`, ORDWR);
    const cli = await clone(b, 'tcp');
    await cli.ctl.write('connect 10.2.0.3!5555');
    const lctl = await listening;
    const m = (await lctl.read(20)).toString().trim();
    expect((await d.readFile(`/tcp/${m}/remote`)).toString()).toMatch(/^10\.1\.0\.3!\d+\n$/);
    const md = await d.open(`/tcp/${m}/data`, ORDWR);
    const cd = await b.open(`/tcp/${cli.n}/data`, ORDWR);
    const big = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 131 + (i >> 12)) & 0xff;
    const readAll = async (f: File, n: number): Promise<Buffer> => {
      const got: Buffer[] = [];
      let have = 0;
      while (have < n) {
        const part = await f.read(65536);
        if (part.length === 0) break;
        got.push(part);
        have += part.length;
      }
      return Buffer.concat(got);
    };
    const up = Buffer.from(big.subarray(0, 2 * 1024 * 1024)).reverse();
    const writes = Promise.all([cd.write(up), md.write(big)]);
    const [atD, atB] = await Promise.all([readAll(md, up.length), readAll(cd, big.length)]);
    await writes;
    expect(atD.equals(up)).toBe(true);
    expect(atB.equals(big)).toBe(true);
    await md.close();
    await lctl.close();
    expect((await cd.read(100)).length).toBe(0);
    await cd.close();
    await cli.ctl.close();
    await srv.ctl.close();
  }, 60_000);

  it('carries UDP across the router', async () => {
    const c = await attach('c');
    const a = await attach('a');
    const srv = await clone(c, 'udp');
    await srv.ctl.write('announce 7');
    await srv.ctl.write('headers');
    const sd = await c.open(`/udp/${srv.n}/data`, ORDWR);
    const cli = await clone(a, 'udp');
    await cli.ctl.write('connect 10.2.0.2!7');
    const cd = await a.open(`/udp/${cli.n}/data`, ORDWR);
    await cd.write('hello c');
    const got = await sd.read(2000);
    expect([...got.subarray(12, 16)]).toEqual([10, 1, 0, 2]); // raddr: a
    expect(got.subarray(52).toString()).toBe('hello c');
    await sd.write(Buffer.concat([got.subarray(0, 52), Buffer.from('hello a')]));
    expect((await cd.read(2000)).toString()).toBe('hello a');
    for (const f of [sd, srv.ctl, cd, cli.ctl]) await f.close();
  });

  it('shows interface routes, the file\'s route and the default route via the router in a leaf\'s /net/iproute', async () => {
    const routes = (await (await attach('a')).readFile('/iproute')).toString();
    expect(routes).toMatch(/^0\.0\.0\.0\s+\/96\s+10\.1\.0\.1\s+4\s+none\s+/m);
    expect(routes).toMatch(/^10\.2\.0\.0\s+\/112 10\.1\.0\.1\s+4\s+none\s+/m);
    expect(routes).toMatch(/^10\.1\.0\.0\s+\/120 10\.1\.0\.0\s+4i\s+ifc\s+1 /m);
    expect(routes).toMatch(/^10\.1\.0\.2\s+\/128 10\.1\.0\.2\s+4u\s+ifc\s+1 /m);
    // The router has both connected networks, on interfaces 1 and 2 (0 is the loopback), and no default route.
    const rr = (await (await attach('r')).readFile('/iproute')).toString();
    expect(rr).toMatch(/^10\.1\.0\.0\s+\/120 10\.1\.0\.0\s+4i\s+ifc\s+1 /m);
    expect(rr).toMatch(/^10\.2\.0\.0\s+\/120 10\.2\.0\.0\s+4i\s+ifc\s+2 /m);
    expect(rr).not.toMatch(/^0\.0\.0\.0 /m);
  });

  it('shows the hosts of both sides in the router\'s /net/arp after traffic', async () => {
    const arp = (await (await attach('r')).readFile('/arp')).toString();
    expect(arp).toContain(`ether  OK   10.1.0.2                                 ${macOf('a')}     10.1.0.1\n`);
    expect(arp).toContain(`ether  OK   10.1.0.3                                 ${macOf('b')}     10.1.0.1\n`);
    expect(arp).toContain(`ether  OK   10.2.0.2                                 ${macOf('c')}     10.2.0.1\n`);
    expect(arp).toContain(`ether  OK   10.2.0.3                                 ${macOf('d')}     10.2.0.1\n`);
    // A leaf knows the router (its gateway), not the hosts behind it.
    const la = (await (await attach('a')).readFile('/arp')).toString();
    expect(la).toContain(`ether  OK   10.1.0.1                                 ${macOf('r', 'ether0')}     10.1.0.2\n`);
    expect(la).not.toContain('10.2.0.');
  });

  it('counts forwarded datagrams in the router\'s /net/ipifc/stats', async () => {
    const st = (await (await attach('r')).readFile('/ipifc/stats')).toString();
    expect(st).toMatch(/^Forwarding: 1$/m);
    expect(Number(/^ForwDatagrams: (\d+)$/m.exec(st)![1])).toBeGreaterThan(1000);
    const leaf = (await (await attach('a')).readFile('/ipifc/stats')).toString();
    expect(leaf).toMatch(/^Forwarding: 2$/m);
    expect(leaf).toMatch(/^ForwDatagrams: 0$/m);
  });

  it('stops forwarding when the router\'s iprouting is turned off through its ipifc ctl', async () => {
    const r = await attach('r');
    const ctl = await r.open('/ipifc/0/ctl', ORDWR);
    await ctl.write('iprouting 0');
    const a = await attach('a');
    const { n, ctl: ic } = await clone(a, 'icmp');
    await ic.write('connect 10.2.0.2!1');
    const data = await a.open(`/icmp/${n}/data`, ORDWR);
    const msg = Buffer.alloc(40);
    msg[20] = 8;
    await data.write(msg);
    const t = new Promise<string>((res) => setTimeout(() => res('timeout'), 300));
    expect(await Promise.race([data.read(2000).then(() => 'reply', () => 'closed'), t])).toBe('timeout');
    await ctl.write('iprouting');
    await data.close();
    await ic.close();
    await ctl.close();
    expect((await ping('a', '10.2.0.2', 10))[8]).toBe(254);
  });

  it('lists stacks, hubs and links in the control tree', async () => {
    const t = await attach('topo');
    expect((await t.ls('/')).map((d) => d.name)).toEqual(['ctl', 'stacks', 'hubs', 'pairs', 'links']);
    expect((await t.readFile('/stacks')).toString()).toBe(
      'a iprouting 0 ethers 1\nb iprouting 0 ethers 1\nc iprouting 0 ethers 1\nd iprouting 0 ethers 1\nr iprouting 1 ethers 2\n',
    );
    expect((await t.readFile('/hubs')).toString()).toMatch(/^lan1 ports 3 tap - forwarded \d+ flooded \d+ dropped 0\nlan2 ports 3 tap - /);
    const links = (await t.readFile('/links')).toString();
    expect(links).toContain(`a ether0 hub lan1 ${macOf('a')} 10.1.0.2/24\n`);
    expect(links).toContain(`r ether1 hub lan2 ${macOf('r', 'ether1')} 10.2.0.1/24\n`);
    await expect(t.open('/stacks', OWRITE)).rejects.toThrow('permission denied');
  });

  it('makes a stack at run time through the ctl file, attachable at once, and pings it across the router', async () => {
    const t = await attach('topo');
    const ctl = await t.open('/ctl', ORDWR);
    await ctl.write('stack e');
    await ctl.write('connect e lan2');
    expect((await ctl.read(100, undefined, 0n)).toString()).toBe('ether0\n');
    await ctl.write('ipconfig e ether0 10.2.0.9/24 10.2.0.1');
    const e = await attach('e');
    expect((await e.ls('/')).map((d) => d.name)).toContain('ether0');
    expect((await e.readFile('/iproute')).toString()).toMatch(/^0\.0\.0\.0\s+\/96\s+10\.2\.0\.1 /m);
    const reply = await ping('a', '10.2.0.9', 11);
    expect([...reply.subarray(12, 16)]).toEqual([10, 2, 0, 9]);
    expect(reply[8]).toBe(254);
    // A pair between two new stacks, configured through their own /net files.
    await ctl.write('pair p1');
    await ctl.write('stack f');
    await ctl.write('connect e p1');
    expect((await ctl.read(100, undefined, 0n)).toString()).toBe('ether1\n');
    await ctl.write('connect f p1');
    await expect(ctl.write('connect a p1')).rejects.toThrow('pair p1 has no free end');
    const f = await attach('f');
    const ic = await clone(f, 'ipifc');
    await ic.ctl.write('bind ether /net/ether0');
    await ic.ctl.write('add 10.9.0.2 255.255.255.252');
    await ctl.write('ipconfig e ether1 10.9.0.1/30');
    expect((await ping('f', '10.9.0.1', 12))[8]).toBe(255);
    expect((await t.readFile('/pairs')).toString()).toBe('p1 e f\n');
    // Deleting: in-use segments are refused; stacks go away with their aname.
    await expect(ctl.write('delete hub lan2')).rejects.toThrow('hub lan2 is in use by c d r e');
    await ctl.write('hub spare');
    await ctl.write('delete hub spare');
    await ic.ctl.close();
    clients.get('f')!.close();
    clients.delete('f');
    await ctl.write('delete stack f');
    await expect(Client.dial(addr, { uname: 'eve', aname: 'f' })).rejects.toThrow();
    expect((await t.readFile('/pairs')).toString()).toBe('p1 e !\n');
    expect((await t.readFile('/stacks')).toString()).toContain('e iprouting 0 ethers 2\n');
    await ctl.close();
  });

  it('refuses bad ctl commands with one-line errors', async () => {
    const t = await attach('topo');
    const ctl = await t.open('/ctl', OWRITE);
    await expect(ctl.write('stack a')).rejects.toThrow('name a is already a stack');
    await expect(ctl.write('stack topo')).rejects.toThrow('stack name topo is reserved');
    await expect(ctl.write('stack bad/name')).rejects.toThrow(/^bad stack name "bad\/name"/);
    await expect(ctl.write('connect a nosuch')).rejects.toThrow('no hub or pair nosuch');
    await expect(ctl.write('connect zz lan1')).rejects.toThrow('no stack zz');
    await expect(ctl.write('ipconfig a ether0 10.1.0.300/24')).rejects.toThrow('bad address 10.1.0.300/24 (want A.B.C.D/N)');
    await expect(ctl.write('route a 10.7.0.0 10.1.0.1')).rejects.toThrow('bad route target 10.7.0.0 (want A.B.C.D/N)');
    await expect(ctl.write('connect a')).rejects.toThrow('usage: connect STACK HUB|PAIR');
    await expect(ctl.write('frobnicate')).rejects.toThrow('unknown topology command frobnicate');
    await expect(ctl.write('bridge nosuch tap0')).rejects.toThrow('no hub nosuch');
    await ctl.close();
    // Only eve may write the ctl file.
    const other = await Client.dial(addr, { uname: 'glenda', aname: 'topo' });
    await expect(other.open('/ctl', OWRITE)).rejects.toThrow('permission denied');
    await other.open('/ctl', OREAD).then((f) => f.close());
    other.close();
  });
});

describe('bridging a hub to a TAP (with a stand-in for the TAP)', () => {
  it('copies frames both ways between the hub and the TAP', async () => {
    // The "kernel" is another stack on the far end of a pair standing in for the TAP.
    const [tapEnd, kernelEnd] = createPair();
    const opened: string[] = [];
    const t = new Topology({
      eve: 'eve', clock: new RealClock(), rng: new SeededRng(9),
      openTap: (name): Link => { opened.push(name); return tapEnd; },
    });
    const kernel = new StackNet({ eve: 'eve', clock: new RealClock(), rng: new SeededRng(10) });
    kernel.configure(kernel.addEther(kernelEnd), '10.5.0.1', 24);
    t.addHub('lan');
    t.addStack('x');
    t.configure('x', t.connect('x', 'lan'), '10.5.0.2/24');
    t.bridgeToTap('lan', 'tap9');
    expect(opened).toEqual(['tap9']);
    expect(() => t.bridgeToTap('lan', 'tap8')).toThrow('hub lan is already bridged to tap9');
    const srv = new Server({ root: (a) => (a === 'kernel' ? kernel.tree : t.root(a)), log: () => {} });
    const l = await srv.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    const k = await Client.dial(`tcp!127.0.0.1!${(l.address() as AddressInfo).port}`, { uname: 'eve', aname: 'kernel' });
    const tc = await Client.dial(`tcp!127.0.0.1!${(l.address() as AddressInfo).port}`, { uname: 'eve', aname: 'topo' });
    try {
      const { n, ctl } = await clone(k, 'icmp');
      await ctl.write('connect 10.5.0.2!1');
      const data = await k.open(`/icmp/${n}/data`, ORDWR);
      const msg = Buffer.alloc(40);
      msg[20] = 8;
      await data.write(msg);
      const reply = await data.read(2000);
      expect([...reply.subarray(12, 16)]).toEqual([10, 5, 0, 2]);
      expect(reply[20]).toBe(0);
      expect((await tc.readFile('/hubs')).toString()).toMatch(/^lan ports 2 tap tap9 /);
      expect((await tc.readFile('/links')).toString()).toContain('tap tap9 hub lan\n');
      await data.close();
      await ctl.close();
      await t.unbridge('lan');
      expect(t.hubInfo()[0]!.tap).toBeNull();
    } finally {
      k.close();
      tc.close();
      await srv.close();
      await t.close();
      await kernel.close();
    }
  });
});

describe('topology files', () => {
  const opts = { eve: 'eve', clock: new RealClock(), rng: new SeededRng(3) };
  const bad: [unknown, string][] = [
    [[], 'topology: (top): want an object'],
    [{ stack: {} }, 'topology: (top): unknown field "stack" (want default, stacks, hubs, pairs, routes)'],
    [{ stacks: { a: { ifaces: [{ hub: 'lan9' }] } } }, 'topology: stacks.a.ifaces[0].hub: no hub "lan9" in hubs'],
    [{ hubs: { h: {} }, stacks: { a: { ifaces: [{ hub: 'h', ip: '10.1.0.300/24' }] } } },
      'topology: stacks.a.ifaces[0].ip: bad address "10.1.0.300/24" (want A.B.C.D/N)'],
    [{ hubs: { h: {} }, stacks: { a: { ifaces: [{ hub: 'h', ip: '10.1.0.3' }] } } },
      'topology: stacks.a.ifaces[0].ip: bad address "10.1.0.3" (want A.B.C.D/N)'],
    [{ hubs: { h: {} }, stacks: { a: { ifaces: [{ hub: 'h', gw: '10.1.0.1' }] } } }, 'topology: stacks.a.ifaces[0].gw: needs "ip"'],
    [{ hubs: { h: {} }, pairs: { p: {} }, stacks: { a: { ifaces: [{ hub: 'h', pair: 'p' }] } } },
      'topology: stacks.a.ifaces[0]: want exactly one of "hub" or "pair"'],
    [{ pairs: { p: {} }, stacks: { a: { ifaces: [{ pair: 'p' }, { pair: 'p' }] }, b: { ifaces: [{ pair: 'p' }] } } },
      'topology: stacks.b.ifaces[0].pair: pair p has only two ends'],
    [{ stacks: { a: { forwarding: 'yes' } } }, 'topology: stacks.a.forwarding: want true or false'],
    [{ stacks: { a: { ifaces: {} } } }, 'topology: stacks.a.ifaces: want an array'],
    [{ hubs: { a: {} }, stacks: { a: {} } }, 'topology: stacks.a: name already used in hubs'],
    [{ stacks: { topo: {} } }, 'topology: stacks.topo: name is reserved'],
    [{ stacks: { 'a b': {} } }, 'topology: stacks["a b"]: bad name (want [A-Za-z0-9][A-Za-z0-9_.-]*, at most 32)'],
    [{ hubs: { h: { tap: 'way-too-long-tap-name' } } }, 'topology: hubs.h.tap: bad tap name "way-too-long-tap-name"'],
    [{ hubs: { h: { delay: 3 } } }, 'topology: hubs.h: unknown field "delay" (want tap)'],
    [{ routes: { z: [] } }, 'topology: routes.z: no stack "z" in stacks'],
    [{ stacks: { a: {} }, routes: { a: [{ target: '10.0.0.0/8', via: 'router' }] } },
      'topology: routes.a[0].via: bad address "router" (want A.B.C.D)'],
    [{ stacks: { a: {} }, routes: { a: [{ target: '10.0.0.0/8' }] } }, 'topology: routes.a[0].via: want a string'],
    [{ stacks: { a: {} }, default: 'b' }, 'topology: default: no stack "b" in stacks'],
    [{ stacks: Object.fromEntries(Array.from({ length: MAX_STACKS + 1 }, (_, i) => [`s${i}`, {}])) },
      `topology: stacks: too many (at most ${MAX_STACKS})`],
  ];
  it.each(bad)('refuses %j', async (obj, msg) => {
    expect(() => checkTopology(obj)).toThrow(msg);
    await expect(Topology.fromJson(obj, opts)).rejects.toThrow(msg);
  });

  it('refuses unreadable files and bad JSON with one line', async () => {
    const d = mkdtempSync(join(tmpdir(), '9net-topo-'));
    try {
      const p = join(d, 'bad.json');
      writeFileSync(p, '{ "stacks": ');
      await expect(Topology.fromFile(p, opts)).rejects.toThrow(/^topology .*bad\.json: bad JSON: [^\n]+$/);
      await expect(Topology.fromFile(join(d, 'none.json'), opts)).rejects.toThrow(/^topology .*none\.json: ENOENT/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('fails the build naming the field when a TAP cannot be opened', async () => {
    await expect(Topology.fromJson({ hubs: { h: { tap: 'x' } } }, { ...opts, openTap: () => { throw new Error('EPERM: no'); } }))
      .rejects.toThrow('topology: hubs.h.tap: bridge h x: EPERM: no');
  });

  it('builds with no stacks: aname \'\' is the control tree then', async () => {
    const t = await Topology.fromJson({ hubs: { h: {} } }, opts);
    expect(t.root('')).toBe(t.controlRoot());
    expect(t.root('topo')).toBe(t.controlRoot());
    t.addStack('s');
    expect(t.root('')).toBe(t.stack('s').tree);
    expect(t.root('net')).toBe(t.stack('s').tree);
    expect(t.root('nosuch')).toBeNull();
    await t.close();
    expect(t.root('s')).toBeNull();
  });
});
