/**
 * /net/udp on every backend (9/ip/udp.c):
 * connected mode with one datagram per read, empty datagrams, hangup,
 * announce with `headers` (the 52-byte header both ways), announce without
 * it (a conversation per peer through listen), ICMP advice and
 * `ignoreadvice`, and issue 8 item 6 (`headers` on a connected
 * conversation; a bad destination port is a Plan 9 error).
 */
import { expect, it } from 'vitest';
import { ORDWR } from '../../src/ninep/types.js';
import type { Client, File } from '../../src/ninep/client.js';
import { udpHeader, v4mapped } from './peer.js';
import { Ehungup, clone, convOf, errorOf, expectEof, later, onEveryBackend, prompt, readText, until } from './suite.js';

/** The errors a UDP write may give for a destination it cannot send to (never `i/o error`). */
const UNSENDABLE = ['bad numeric port', 'bad arg in system call'];

async function announced(c: Client, headers: boolean): Promise<{ ctl: File; dir: string; n: number; P: number }> {
  const a = await clone(c, 'udp');
  await a.ctl.write('announce 0');
  const m = /^::!(\d+)\n$/.exec(await readText(c, `${a.dir}/local`));
  expect(m).not.toBeNull();
  if (headers) await a.ctl.write('headers');
  return { ...a, P: Number(m![1]) };
}

/** Wait until `n` bytes of datagrams are queued on data (its length, as stat shows). */
function queued(data: File, n: number): Promise<void> {
  return until(`${n} bytes queued`, async () => Number((await data.stat()).length) >= n);
}

onEveryBackend('udp', (fx) => {
  it('connected: one datagram per read; a short read truncates and the next read gets the next datagram', async () => {
    const c = await fx().client();
    const echo = await fx().peer.udp();
    echo.echo();
    const { ctl, dir } = await clone(c, 'udp');
    await ctl.write(`connect ${fx().peer.addr}!${echo.port}`);
    expect(await readText(c, `${dir}/remote`)).toBe(`${fx().peer.addr}!${echo.port}\n`);
    expect(await readText(c, `${dir}/local`)).toMatch(new RegExp(`^${fx().addr.replace(/\./g, '\\.')}!([1-9]\\d*)\\n$`));
    expect(await readText(c, `${dir}/status`)).toMatch(/^Open qin \d+ qout \d+\n$/);
    const data = await c.open(`${dir}/data`, ORDWR);
    expect(await data.write('one')).toBe(3);
    expect((await data.read(100)).toString()).toBe('one');
    await data.write('aaaa');
    await data.write('bbbb');
    await queued(data, 8);
    expect((await data.read(2)).toString()).toBe('aa');
    expect((await data.read(100)).toString()).toBe('bbbb');
    await data.close();
    await ctl.close();
    expect(await readText(c, `${dir}/status`)).toMatch(/^Closed /);
    await echo.close();
  });

  it('an empty datagram is an empty read, not a stall or an end', async () => {
    const c = await fx().client();
    const peer = await fx().peer.udp();
    const { ctl, dir } = await clone(c, 'udp');
    await ctl.write(`connect ${fx().peer.addr}!${peer.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    await data.write('hi');
    const from = await peer.next();
    expect(from.data.toString()).toBe('hi');
    await peer.send(Buffer.alloc(0), fx().addr, from.port);
    await peer.send('next', fx().addr, from.port);
    expect((await data.read(100)).length).toBe(0);
    expect((await data.read(100)).toString()).toBe('next');
    for (const f of [data, ctl]) await f.close();
    await peer.close();
  });

  it('hangup ends reads with EOF (0 ×3, then i/o on hungup channel) and fails writes', async () => {
    const c = await fx().client();
    const peer = await fx().peer.udp();
    const { ctl, dir } = await clone(c, 'udp');
    await ctl.write(`connect ${fx().peer.addr}!${peer.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    const r = later(data.read(100));
    await ctl.write('hangup');
    expect((await r).length).toBe(0);
    await expectEof(data, 2);
    expect(await errorOf(data.write('x'))).toBe(Ehungup);
    for (const f of [data, ctl]) await f.close();
    await peer.close();
  });

  it('announce + headers: every datagram arrives with the 52-byte header, and a reply written with it reaches the sender', async () => {
    const c = await fx().client();
    const a = await announced(c, true);
    const data = await c.open(`${a.dir}/data`, ORDWR);
    const peer = await fx().peer.udp();
    await peer.send('hello', fx().addr, a.P);
    const b = await data.read(8192);
    expect(b.length).toBe(52 + 5);
    expect(b.subarray(0, 16)).toEqual(v4mapped(fx().peer.addr));
    expect(b.subarray(16, 32)).toEqual(v4mapped(fx().addr));
    expect(b.subarray(32, 48)).toEqual(v4mapped(fx().addr));
    expect(b.readUInt16BE(48)).toBe(peer.port);
    expect(b.readUInt16BE(50)).toBe(a.P);
    expect(b.subarray(52).toString()).toBe('hello');
    // The same header back, another payload; its local port is ignored.
    const back = Buffer.concat([b.subarray(0, 52), Buffer.from('world')]);
    back.writeUInt16BE(1, 50);
    await data.write(back);
    const r = await peer.next();
    expect(r.data.toString()).toBe('world');
    expect(r.port).toBe(a.P);
    // A write shorter than the header vanishes but succeeds.
    expect(await data.write(Buffer.alloc(10))).toBe(10);
    // A second sender lands on the announcer too.
    const peer2 = await fx().peer.udp();
    await peer2.send('two', fx().addr, a.P);
    const b2 = await data.read(8192);
    expect(b2.readUInt16BE(48)).toBe(peer2.port);
    expect(b2.subarray(52).toString()).toBe('two');
    for (const f of [data, a.ctl]) await f.close();
    await peer.close();
    await peer2.close();
  });

  it('announce without headers: each new peer becomes a conversation delivered by listen', async () => {
    const c = await fx().client('alice');
    const a = await announced(c, false);
    const p1 = await fx().peer.udp();
    const p2 = await fx().peer.udp();
    const lp = later(c.open(`${a.dir}/listen`, ORDWR));
    await p1.send('p1 first', fx().addr, a.P);
    const l1 = await lp;
    const m1 = await convOf(l1);
    expect(m1).not.toBe(a.n);
    expect(await readText(c, `/udp/${m1}/remote`)).toBe(`${fx().peer.addr}!${p1.port}\n`);
    expect(await readText(c, `/udp/${m1}/local`)).toBe(`${fx().addr}!${a.P}\n`);
    expect((await c.stat(`/udp/${m1}`)).uid).toBe('alice');
    const d1 = await c.open(`/udp/${m1}/data`, ORDWR);
    expect((await d1.read(100)).toString()).toBe('p1 first');
    await d1.write('to p1');
    const r1 = await p1.next();
    expect(r1.data.toString()).toBe('to p1');
    expect(r1.port).toBe(a.P);
    await p1.send('p1 second', fx().addr, a.P);
    expect((await d1.read(100)).toString()).toBe('p1 second');
    const lp2 = later(c.open(`${a.dir}/listen`, ORDWR));
    await p2.send('p2 first', fx().addr, a.P);
    const l2 = await lp2;
    const m2 = await convOf(l2);
    expect(m2).not.toBe(m1);
    expect(await readText(c, `/udp/${m2}/remote`)).toBe(`${fx().peer.addr}!${p2.port}\n`);
    const d2 = await c.open(`/udp/${m2}/data`, ORDWR);
    expect((await d2.read(100)).toString()).toBe('p2 first');
    // The announcer's own data receives nothing; a write on it has no destination and goes nowhere.
    const ad = await c.open(`${a.dir}/data`, ORDWR);
    expect(Number((await ad.stat()).length)).toBe(0);
    expect(await ad.write('nowhere')).toBe(7);
    for (const f of [ad, d1, d2, l1, l2, a.ctl]) await f.close();
    await p1.close();
    await p2.close();
  });

  it('a recycled announcer does not receive datagrams for its old port', async () => {
    const c = await fx().client();
    const a = await announced(c, false);
    // A per-peer conversation keeps the old port alive.
    const p1 = await fx().peer.udp();
    const lp = later(c.open(`${a.dir}/listen`, ORDWR));
    await p1.send('hold', fx().addr, a.P);
    const l1 = await lp;
    await a.ctl.close();
    const held: File[] = [];
    let b = await announced(c, true);
    while (b.n !== a.n) {
      held.push(b.ctl);
      b = await announced(c, true);
    }
    expect(b.P).not.toBe(a.P);
    const data = await c.open(`${b.dir}/data`, ORDWR);
    const stray = await fx().peer.udp();
    const wanted = await fx().peer.udp();
    await stray.send('to the old port', fx().addr, a.P);
    await wanted.send('to the new port', fx().addr, b.P);
    const got = await data.read(8192);
    expect(got.subarray(52).toString()).toBe('to the new port');
    expect(got.readUInt16BE(48)).toBe(wanted.port);
    for (const f of [data, b.ctl, l1, ...held]) await f.close();
    for (const p of [p1, stray, wanted]) await p.close();
  });

  it('ICMP advice: a connected conversation to a closed port fails reads and writes with port unreachable (§5.5)', async () => {
    const c = await fx().client();
    const { ctl, dir } = await clone(c, 'udp');
    await ctl.write(`connect ${fx().peer.addr}!${await fx().peer.closedUdpPort()}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    await data.write('anyone?');
    expect(await errorOf(prompt('a read awaiting the advice', (s) => data.read(100, s)))).toBe('port unreachable');
    expect(await errorOf(data.write('again'))).toBe('port unreachable');
    for (const f of [data, ctl]) await f.close();
  });

  it('ignoreadvice keeps a conversation usable after the same advice', async () => {
    const c = await fx().client();
    const port = await fx().peer.closedUdpPort();
    const deaf = await clone(c, 'udp');
    await deaf.ctl.write('ignoreadvice');
    await deaf.ctl.write(`connect ${fx().peer.addr}!${port}`);
    const told = await clone(c, 'udp');
    await told.ctl.write(`connect ${fx().peer.addr}!${port}`);
    const dd = await c.open(`${deaf.dir}/data`, ORDWR);
    const td = await c.open(`${told.dir}/data`, ORDWR);
    await dd.write('anyone?');
    await td.write('anyone?');
    // The advice for the second datagram arrived, so the first's had too.
    expect(await errorOf(prompt('a read awaiting the advice', (s) => td.read(100, s)))).toBe('port unreachable');
    expect(await dd.write('still fine')).toBe(10);
    for (const f of [dd, td, deaf.ctl, told.ctl]) await f.close();
  });

  it('item 6: headers on a connected conversation: writes carry the 52-byte header, reads too', async () => {
    const c = await fx().client();
    const peer = await fx().peer.udp();
    const { ctl, dir } = await clone(c, 'udp');
    await ctl.write(`connect ${fx().peer.addr}!${peer.port}`);
    await ctl.write('headers');
    const lport = Number(/!(\d+)\n$/.exec(await readText(c, `${dir}/local`))![1]);
    const data = await c.open(`${dir}/data`, ORDWR);
    const msg = Buffer.concat([udpHeader(fx().peer.addr, peer.port, lport), Buffer.from('with a header')]);
    expect(await data.write(msg)).toBe(msg.length);
    const got = await peer.next();
    expect(got.data.toString()).toBe('with a header');
    expect(got.port).toBe(lport);
    await peer.send('answer', fx().addr, lport);
    const b = await data.read(8192);
    expect(b.subarray(0, 16)).toEqual(v4mapped(fx().peer.addr));
    expect(b.readUInt16BE(48)).toBe(peer.port);
    expect(b.readUInt16BE(50)).toBe(lport);
    expect(b.subarray(52).toString()).toBe('answer');
    for (const f of [data, ctl]) await f.close();
    await peer.close();
  });

  it('item 6: a headers write to port 0 is sent as Plan 9 sends it or fails with a Plan 9 error, never i/o error; the conversation goes on', async () => {
    const c = await fx().client();
    const a = await announced(c, true);
    const data = await c.open(`${a.dir}/data`, ORDWR);
    const r = await errorOf(data.write(Buffer.concat([udpHeader(fx().peer.addr, 0), Buffer.from('to port 0')])));
    expect(['no error', ...UNSENDABLE]).toContain(r);
    const peer = await fx().peer.udp();
    await data.write(Buffer.concat([udpHeader(fx().peer.addr, peer.port), Buffer.from('to a port')]));
    expect((await peer.next()).data.toString()).toBe('to a port');
    for (const f of [data, a.ctl]) await f.close();
    await peer.close();
  });
});
