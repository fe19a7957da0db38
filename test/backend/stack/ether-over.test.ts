/**
 * Link stacking: a stack whose network card is another server's /net/ether0
 * over 9P (9front's `bind ether <dir>` with an imported ether). Lower stack A
 * and a peer stack C share an in-memory hub; upper stack B uses A's ether0.
 * B has its own MAC and IP on that wire and talks to C by ping, UDP and TCP.
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
import { ORDWR } from '../../../src/ninep/types.js';

interface Host { net: StackNet; server: Server; addr: string; c: Client }

async function serve(net: StackNet): Promise<Host> {
  const server = new Server({ root: () => net.tree, log: () => {} });
  const l = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
  const addr = `tcp!127.0.0.1!${(l.address() as AddressInfo).port}`;
  return { net, server, addr, c: await Client.dial(addr, { uname: 'eve' }) };
}

const mk = (seed: number): StackNet => new StackNet({ eve: 'eve', clock: new RealClock(), rng: new SeededRng(seed) });
let a: Host;
let b: Host;
let c: Host;

beforeAll(async () => {
  const hub = new Hub({ rng: new SeededRng(3) });
  const na = mk(1);
  na.configure(na.addEther(hub.port()), '10.8.0.1', 24);
  a = await serve(na);
  const nc = mk(3);
  nc.configure(nc.addEther(hub.port()), '10.8.0.3', 24);
  c = await serve(nc);
  const nb = mk(2);
  const port = await nb.etherOver(a.addr, '/ether0');
  nb.configure(port, '10.8.0.2', 24);
  b = await serve(nb);
});

afterAll(async () => {
  for (const h of [b, c, a]) {
    h.c.close();
    await h.server.close();
    await h.net.close();
  }
});

async function clone(h: Host, proto: string): Promise<{ n: string; ctl: File }> {
  const ctl = await h.c.open(`/${proto}/clone`, ORDWR);
  return { n: (await ctl.read(20)).toString().trim(), ctl };
}

describe('a stack on another server\'s ether0', () => {
  it('holds a bridge slot (not promiscuous) on the lower ether0', async () => {
    expect((await a.c.ls('/ether0')).map((d) => d.name)).toContain('0');
    expect((await a.c.readFile('/ether0/0/type')).toString()).toBe(' 4294967295 ');
    expect((await a.c.readFile('/ether0/stats')).toString()).toContain('prom: 0\n');
  });

  it('pings a third stack on the lower wire with its own address and MAC', async () => {
    const { n, ctl } = await clone(b, 'icmp');
    await ctl.write('connect 10.8.0.3!1');
    const d = await b.c.open(`/icmp/${n}/data`, ORDWR);
    const msg = Buffer.alloc(64);
    msg[20] = 8;
    msg.writeUInt16BE(7, 26);
    await d.write(msg);
    const r = await d.read(2000);
    expect([...r.subarray(12, 16)].join('.')).toBe('10.8.0.3');
    expect(r[20]).toBe(0);
    // C learnt B's own MAC, not A's.
    const bmac = (await b.c.readFile('/ether0/addr')).toString();
    const amac = (await a.c.readFile('/ether0/addr')).toString();
    expect(bmac).not.toBe(amac);
    expect((await c.c.readFile('/arp')).toString()).toMatch(new RegExp(`10\\.8\\.0\\.2\\s+${bmac}`));
    await d.close();
    await ctl.close();
  });

  it('carries TCP between the upper stack and the peer, byte-exact', async () => {
    const srv = await clone(c, 'tcp');
    await srv.ctl.write('announce 7777');
    const listening = c.c.open(`/tcp/${srv.n}/listen`, ORDWR);
    const cli = await clone(b, 'tcp');
    await cli.ctl.write('connect 10.8.0.3!7777');
    const lctl = await listening;
    const m = (await lctl.read(20)).toString();
    const md = await c.c.open(`/tcp/${m}/data`, ORDWR);
    const cd = await b.c.open(`/tcp/${cli.n}/data`, ORDWR);
    const payload = Buffer.alloc(512 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 17) & 0xff;
    const w = cd.write(payload);
    const got: Buffer[] = [];
    let n = 0;
    while (n < payload.length) {
      const part = await md.read(65536);
      got.push(part);
      n += part.length;
    }
    await w;
    expect(Buffer.concat(got).equals(payload)).toBe(true);
    for (const f of [md, lctl, srv.ctl, cd, cli.ctl]) await f.close();
  });

  it('binds at run time through ipifc ctl with a lower server\'s ether path', async () => {
    const nd = mk(4);
    const d = await serve(nd);
    try {
      const { ctl } = await clone(d, 'ipifc');
      await ctl.write(`bind ether ${a.addr}!/ether0`);
      await ctl.write('add 10.8.0.4 255.255.255.0');
      expect((await d.c.readFile('/ipifc/0/status')).toString()).toMatch(/^device \/net\/ether0 /);
      const p = await clone(d, 'icmp');
      await p.ctl.write('connect 10.8.0.3!1');
      const data = await d.c.open(`/icmp/${p.n}/data`, ORDWR);
      const msg = Buffer.alloc(40);
      msg[20] = 8;
      await data.write(msg);
      expect((await data.read(2000))[20]).toBe(0);
      await data.close();
      await p.ctl.close();
      await ctl.close();
      await expect((async () => {
        const x = await clone(d, 'ipifc');
        try { await x.ctl.write('bind ether tcp!127.0.0.1!1!/ether0'); } finally { await x.ctl.close(); }
      })()).rejects.toThrow(/bind ether: dial tcp!127.0.0.1!1: connection refused/);
    } finally {
      d.c.close();
      await d.server.close();
      await d.net.close();
    }
  });
});
