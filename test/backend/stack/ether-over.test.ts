/**
 * Link stacking: a stack whose network card is another server's /net/ether0
 * over 9P (9front's `bind ether <dir>` with an imported ether). A lower
 * stack A and a peer stack C share an in-memory hub; an upper stack B uses
 * A's ether0 and talks to C by ping and TCP:
 *
 *  - on a 9net card B has its own MAC (a `learn` bridge slot);
 *  - on a card that behaves as Plan 9's devether (EtherDir netif 'plan9':
 *    source MACs rewritten, unicast for other MACs only to promiscuous
 *    slots, no `learn`) B uses the card's MAC and one slot per IP type, as
 *    ip/ethermedium.c does, or one `connect -1` slot when A's own IP stack
 *    holds those types — also when that card carries B's 9P connection;
 *  - when A's server goes away and comes back, B re-attaches.
 */
import type { AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackNet } from '../../../src/backend/stack/backend.js';
import { announce, dial, listen } from '../../../src/cli/netcall.js';
import { ManualClock, RealClock } from '../../../src/lib/clock.js';
import { SeededRng } from '../../../src/lib/rng.js';
import { Hub } from '../../../src/link/hub.js';
import type { Link } from '../../../src/link/link.js';
import { NinePEtherLink, REDIAL_MAX_MS, REDIAL_MIN_MS } from '../../../src/link/ninep-ether.js';
import { Client } from '../../../src/ninep/client.js';
import { closedTcpPort } from '../../netfs/harness.js';
import type { File } from '../../../src/ninep/client.js';
import { Server } from '../../../src/ninep/server.js';
import { ORDWR } from '../../../src/ninep/types.js';

interface Host { net: StackNet; server: Server; addr: string; c: Client }

async function serve(net: StackNet, port = 0): Promise<Host> {
  const server = new Server({ root: () => net.tree, log: () => {} });
  const l = await server.listen({ kind: 'tcp', host: '127.0.0.1', port });
  const addr = `tcp!127.0.0.1!${(l.address() as AddressInfo).port}`;
  return { net, server, addr, c: await Client.dial(addr, { uname: 'eve' }) };
}

async function stop(h: Host): Promise<void> {
  h.c.close();
  await h.server.close();
  await h.net.close();
}

const mk = (seed: number): StackNet => new StackNet({ eve: 'eve', clock: new RealClock(), rng: new SeededRng(seed), log: () => {} });

/** A stack on `hub` with address ip/24 (and its ether0 as Plan 9's devether when plan9). */
function onHub(hub: Hub, seed: number, ip: string | null, plan9 = false, mac?: Uint8Array): StackNet {
  const n = mk(seed);
  const port = n.addEther(hub.port(mac ? { mac } : {}), plan9 ? { netif: 'plan9' } : {});
  if (ip) n.configure(port, ip, 24);
  return n;
}

async function clone(h: Host, proto: string): Promise<{ n: string; ctl: File }> {
  const ctl = await h.c.open(`/${proto}/clone`, ORDWR);
  return { n: (await ctl.read(20)).toString().trim(), ctl };
}

/** One echo request from h to ip through /net/icmp; resolves with the reply's source. */
async function ping(h: Host, ip: string, seq = 1): Promise<string> {
  const { n, ctl } = await clone(h, 'icmp');
  try {
    await ctl.write(`connect ${ip}!1`);
    const d = await h.c.open(`/icmp/${n}/data`, ORDWR);
    try {
      const msg = Buffer.alloc(64);
      msg[20] = 8;
      msg.writeUInt16BE(seq, 26);
      await d.write(msg);
      const r = await d.read(2000);
      expect(r[20]).toBe(0);
      expect(r.readUInt16BE(26)).toBe(seq);
      return [...r.subarray(12, 16)].join('.');
    } finally {
      await d.close();
    }
  } finally {
    await ctl.close();
  }
}

function pattern(size: number, mul: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * mul + (i >> 12)) & 0xff;
  return b;
}

async function readN(d: File, n: number): Promise<Buffer> {
  const got: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const part = await d.read(65536);
    if (part.length === 0) break;
    got.push(part);
    have += part.length;
  }
  return Buffer.concat(got);
}

/** A TCP connection from `from` to `to` (at toIp!port), `size` bytes each way, byte-exact. */
async function tcpBothWays(from: Host, to: Host, toIp: string, port: number, size: number): Promise<void> {
  const srv = await clone(to, 'tcp');
  await srv.ctl.write(`announce ${port}`);
  const listening = to.c.open(`/tcp/${srv.n}/listen`, ORDWR);
  const cli = await clone(from, 'tcp');
  await cli.ctl.write(`connect ${toIp}!${port}`);
  const lctl = await listening;
  const m = (await lctl.read(20)).toString().trim();
  const md = await to.c.open(`/tcp/${m}/data`, ORDWR);
  const cd = await from.c.open(`/tcp/${cli.n}/data`, ORDWR);
  const up = pattern(size, 17);
  const down = pattern(size, 29);
  const [, , gotUp, gotDown] = await Promise.all([cd.write(up), md.write(down), readN(md, size), readN(cd, size)]);
  expect(gotUp.equals(up)).toBe(true);
  expect(gotDown.equals(down)).toBe(true);
  for (const f of [md, lctl, srv.ctl, cd, cli.ctl]) await f.close();
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !(await cond()); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const hexMac = (l: Link): string => Buffer.from(l.mac).toString('hex');

describe('a stack on another server\'s 9net ether0', () => {
  let a: Host;
  let b: Host;
  let c: Host;

  beforeAll(async () => {
    const hub = new Hub({ rng: new SeededRng(3) });
    a = await serve(onHub(hub, 1, '10.8.0.1'));
    c = await serve(onHub(hub, 3, '10.8.0.3'));
    const nb = mk(2);
    nb.configure(await nb.etherOver(a.addr, '/ether0'), '10.8.0.2', 24);
    b = await serve(nb);
  });

  afterAll(async () => {
    for (const h of [b, c, a]) await stop(h);
  });

  it('holds one learning bridge slot (not promiscuous) on the lower ether0', async () => {
    expect((await a.c.ls('/ether0')).map((d) => d.name)).toContain('0');
    expect((await a.c.readFile('/ether0/0/type')).toString()).toBe(' 4294967295 ');
    expect((await a.c.readFile('/ether0/stats')).toString()).toContain('prom: 0\n');
  });

  it('pings a third stack on the lower wire with its own address and MAC', async () => {
    expect(await ping(b, '10.8.0.3')).toBe('10.8.0.3');
    // C learnt B's own MAC, not A's.
    const bmac = (await b.c.readFile('/ether0/addr')).toString();
    const amac = (await a.c.readFile('/ether0/addr')).toString();
    expect(bmac).not.toBe(amac);
    expect((await c.c.readFile('/arp')).toString()).toMatch(new RegExp(`10\\.8\\.0\\.2\\s+${bmac}`));
  });

  it('carries TCP between the upper stack and the peer, byte-exact both ways', async () => {
    await tcpBothWays(b, c, '10.8.0.3', 7777, 512 * 1024);
  });

  it('binds at run time through ipifc ctl with a lower server\'s ether path', async () => {
    const d = await serve(mk(4));
    try {
      const { n, ctl } = await clone(d, 'ipifc');
      await ctl.write(`bind ether ${a.addr}!/ether0`);
      await ctl.write('add 10.8.0.4 255.255.255.0');
      expect((await d.c.readFile(`/ipifc/${n}/status`)).toString()).toMatch(/^device \/net\/ether0 /);
      expect(await ping(d, '10.8.0.3')).toBe('10.8.0.3');
      await ctl.close();
      const closed = await closedTcpPort();
      await expect((async () => {
        const x = await clone(d, 'ipifc');
        try { await x.ctl.write(`bind ether tcp!127.0.0.1!${closed}!/ether0`); } finally { await x.ctl.close(); }
      })()).rejects.toThrow(`bind ether tcp!127.0.0.1!${closed}!/ether0: connection refused`);
    } finally {
      await stop(d);
    }
  });
});

describe('the Plan 9 card fixture (EtherDir netif plan9)', () => {
  let a: Host;
  beforeAll(async () => {
    a = await serve(onHub(new Hub({ rng: new SeededRng(5) }), 5, null, true));
  });
  afterAll(async () => {
    await stop(a);
  });

  it('fails learn as netif.c fails what it does not know, and rewrites the source of bridge slots\' frames', async () => {
    const s1 = await clone(a, 'ether0');
    await s1.ctl.write('connect -1');
    await expect(s1.ctl.write('learn')).rejects.toThrow(/^bad process or channel control request$/);
    await s1.ctl.write('bridge');
    const s2 = await clone(a, 'ether0');
    await s2.ctl.write('connect 0x88b5');
    const d1 = await a.c.open(`/ether0/${s1.n}/data`, ORDWR);
    const d2 = await a.c.open(`/ether0/${s2.n}/data`, ORDWR);
    const card = Buffer.from((await a.c.readFile('/ether0/addr')).toString(), 'hex');
    const f = Buffer.alloc(60);
    card.copy(f, 0);
    Buffer.from([0x02, 9, 9, 9, 9, 9]).copy(f, 6);
    f.writeUInt16BE(0x88b5, 12);
    await d1.write(f);
    const got = await d2.read(2000);
    expect(got.subarray(6, 12).equals(card)).toBe(true); // not 02:09:09:09:09:09
    for (const x of [d1, d2, s1.ctl, s2.ctl]) await x.close();
  });
});

describe('a stack on a Plan 9 card whose IP types are free', () => {
  let a: Host;
  let b: Host;
  let c: Host;
  let link: NinePEtherLink;

  beforeAll(async () => {
    const hub = new Hub({ rng: new SeededRng(6) });
    a = await serve(onHub(hub, 11, null, true));
    c = await serve(onHub(hub, 13, '10.8.1.3'));
    const nb = mk(12);
    const port = await nb.etherOver(a.addr);
    link = port.link as NinePEtherLink;
    nb.configure(port, '10.8.1.2', 24);
    b = await serve(nb);
  });

  afterAll(async () => {
    for (const h of [b, c, a]) await stop(h);
  });

  it('holds an IPv4 and an ARP slot, as ethermedium does, with the card\'s MAC', async () => {
    expect(link.mode).toBe('card');
    const types = await Promise.all(link.dirs.map(async (d) => (await a.c.readFile(`${d}/type`)).toString().trim()));
    expect(types).toEqual(['2048', '2054']);
    expect(hexMac(link)).toBe((await a.c.readFile('/ether0/addr')).toString());
    expect((await a.c.readFile('/ether0/stats')).toString()).toContain('prom: 0\n');
  });

  it('pings the peer, which knows it by the card\'s MAC', async () => {
    expect(await ping(b, '10.8.1.3')).toBe('10.8.1.3');
    expect((await c.c.readFile('/arp')).toString()).toMatch(new RegExp(`10\\.8\\.1\\.2\\s+${hexMac(link)}`));
  });

  it('carries TCP to and from the peer, byte-exact', async () => {
    await tcpBothWays(b, c, '10.8.1.3', 7001, 256 * 1024);
    await tcpBothWays(c, b, '10.8.1.2', 7002, 64 * 1024);
  });
});

/**
 * A Duplex over an open /net data file of a conversation (9P client side).
 * What is written while a Twrite is out goes in the next one, as a socket's
 * writev would send it.
 */
function dataStream(data: File): Duplex {
  let pumping = false;
  const d: Duplex = new Duplex({
    read() {
      if (pumping) return;
      pumping = true;
      void (async () => {
        for (;;) {
          let b: Buffer;
          try {
            b = await data.read(65536);
          } catch {
            d.destroy();
            return;
          }
          if (b.length === 0) {
            d.push(null);
            return;
          }
          if (!d.push(b)) {
            pumping = false;
            return;
          }
        }
      })();
    },
    writev(chunks: { chunk: Buffer }[], cb) {
      data.write(Buffer.concat(chunks.map((c) => c.chunk))).then(() => cb(), (e: Error) => cb(e));
    },
  });
  return d;
}

describe('a stack on the Plan 9 card that carries its own 9P connection', () => {
  let a: Host;
  let h: Host;
  let b: Host;
  let c: Host;
  let link: NinePEtherLink;
  const calls: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    const hub = new Hub({ rng: new SeededRng(7) });
    // A's IP stack holds its card's IP types and serves 9P on its own tcp!10.8.2.1!564.
    a = await serve(onHub(hub, 21, '10.8.2.1', true));
    const ann = await announce(a.c, 'tcp!*!564');
    void (async () => {
      for (;;) {
        let call;
        try {
          call = await listen(a.c, ann.dir);
        } catch {
          return;
        }
        calls.push(call.data, call.ctl);
        a.server.serve(dataStream(call.data));
      }
    })();
    calls.push(ann.ctl);
    // H is the upper machine's own stack: B's 9P connection to A goes through it and A's card.
    h = await serve(onHub(hub, 24, '10.8.2.4'));
    c = await serve(onHub(hub, 23, '10.8.2.3'));
    const nb = mk(22);
    link = await NinePEtherLink.open({
      dial: async () => {
        const call = await dial(h.c, 'tcp!10.8.2.1!564');
        calls.push(call.data, call.ctl);
        return Client.over(dataStream(call.data), undefined, { uname: 'eve' });
      },
      clock: new RealClock(),
      rng: new SeededRng(22),
    });
    nb.configure(nb.addEther(link), '10.8.2.2', 24);
    b = await serve(nb);
  });

  afterAll(async () => {
    await link?.close();
    for (const f of calls) await f.close().catch(() => {});
    for (const x of [b, c, h, a]) if (x) await stop(x);
  });

  it('shares the card through one connect -1 slot (its IP types are held), not promiscuous', async () => {
    expect(link.mode).toBe('shared');
    expect(link.dirs).toHaveLength(1);
    expect((await a.c.readFile(`${link.dirs[0]}/type`)).toString()).toBe(' 4294967295 ');
    expect((await a.c.readFile('/ether0/stats')).toString()).toContain('prom: 0\n');
    expect(hexMac(link)).toBe((await a.c.readFile('/ether0/addr')).toString());
  });

  it('pings the peer and carries TCP both ways, while the card\'s own stack goes on serving 9P', async () => {
    for (let i = 1; i <= 3; i++) expect(await ping(b, '10.8.2.3', i)).toBe('10.8.2.3');
    await tcpBothWays(b, c, '10.8.2.3', 7003, 64 * 1024);
    expect(await ping(a, '10.8.2.3')).toBe('10.8.2.3');
  });

  it('does not read its own 9P connection\'s frames back without end', async () => {
    // Each frame read is one 9P reply; frames of the connection itself come back through it.
    // Asked for in batches, they stay a small share of what is read.
    const before = link.stats.rxFrames + link.stats.rxDropped;
    for (let i = 1; i <= 10; i++) await ping(b, '10.8.2.3', 100 + i);
    const read = link.stats.rxFrames - before;
    expect(read).toBeLessThan(400);
  });
});

describe('re-attaching when the lower server comes back', () => {
  for (const plan9 of [false, true]) {
    it(`${plan9 ? 'on a Plan 9 card' : 'on a 9net card'}: reconnects, re-learns and works again`, async () => {
      const hub = new Hub({ rng: new SeededRng(9) });
      const cardMac = new Uint8Array([0x02, 0x99, 0, 0, 0, plan9 ? 2 : 1]);
      let a = await serve(onHub(hub, 31, '10.8.3.1', plan9, cardMac));
      const port = Number(a.addr.split('!')[2]);
      const c = await serve(onHub(hub, 33, '10.8.3.3'));
      const lines: string[] = [];
      const nb = new StackNet({ eve: 'eve', clock: new RealClock(), rng: new SeededRng(32), log: (l) => lines.push(l) });
      const ether = await nb.etherOver(a.addr);
      const link = ether.link as NinePEtherLink;
      nb.configure(ether, '10.8.3.2', 24);
      const b = await serve(nb);
      try {
        expect(await ping(b, '10.8.3.3')).toBe('10.8.3.3');
        // A goes away: server, stack and hub port; then comes back on the same address and card MAC.
        await stop(a);
        await until(() => link.mode === null, 'the loss noticed');
        expect(lines.some((l) => /^ether over tcp!127\.0\.0\.1!\d+\/ether0: lost \(.*\); re-attaching$/.test(l))).toBe(true);
        a = await serve(onHub(hub, 34, '10.8.3.1', plan9, cardMac), port);
        await until(() => link.reattaches === 1, 're-attach');
        expect(lines.at(-1)).toMatch(new RegExp(`re-attached \\(${plan9 ? 'shared' : 'bridge'}\\)$`));
        // C still has B in its ARP cache: its unicast must reach B through the new attachment.
        expect(await ping(c, '10.8.3.2')).toBe('10.8.3.2');
        expect(await ping(b, '10.8.3.3', 2)).toBe('10.8.3.3');
        await tcpBothWays(b, c, '10.8.3.3', 7004, 64 * 1024);
      } finally {
        for (const h of [b, c, a]) await stop(h);
      }
    }, 30_000);
  }

  it('redials after a bounded, doubling backoff on the injected clock, and stops when closed', async () => {
    const clock = new ManualClock(0);
    const hub = new Hub({ rng: new SeededRng(10) });
    const a = await serve(onHub(hub, 41, null));
    let up = true;
    let dials = 0;
    const clients: Client[] = [];
    const link = await NinePEtherLink.open({
      dial: async () => {
        dials++;
        if (!up) throw new Error('dial: ECONNREFUSED');
        const cl = await Client.dial(a.addr, { uname: 'eve' });
        clients.push(cl);
        return cl;
      },
      clock,
      rng: new SeededRng(42),
    });
    try {
      up = false;
      clients[0]!.close();
      await until(() => link.mode === null, 'the loss noticed');
      const at: number[] = [];
      for (let i = 0; i < 8; i++) {
        await until(() => clock.nextDeadline() !== null, 'the next attempt armed');
        const next = clock.nextDeadline()!;
        const d = dials;
        clock.runUntil(next);
        await until(() => dials > d, 'a dial');
        await new Promise((r) => setImmediate(r)); // the failed attempt settles and arms the next
        at.push(next);
      }
      const gaps = at.map((t, i) => t - (i === 0 ? 0 : at[i - 1]!));
      expect(gaps).toEqual([REDIAL_MIN_MS, 500, 1000, 2000, 4000, 8000, REDIAL_MAX_MS, REDIAL_MAX_MS]);
      up = true;
      await until(() => clock.nextDeadline() !== null, 'the next attempt armed');
      clock.runUntil(clock.nextDeadline()!);
      await until(() => link.reattaches === 1, 're-attach');
      expect(link.mode).toBe('bridge');
    } finally {
      await link.close();
      const d = dials;
      clock.advance(60_000);
      expect(dials).toBe(d);
      await stop(a);
    }
  });
});
