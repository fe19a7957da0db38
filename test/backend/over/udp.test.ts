/**
 * /net/udp carried by a lower 9net server: connected mode (datagram
 * boundaries, truncating short reads, empty datagrams), announce with
 * headers, announce with per-peer conversations through listen, ICMP
 * advice and ignoreadvice passed through.
 */
import * as dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORDWR } from '../../../src/ninep/types.js';
import { clone, closedUdpPort, errorOf, readText, waitFor } from '../../netfs/harness.js';
import { lowerConvByPort, startOver } from './harness.js';
import type { OverFixture } from './harness.js';

let fx: OverFixture;
const socks: dgram.Socket[] = [];

class Peer {
  readonly got: { msg: Buffer; port: number }[] = [];
  private waiters: (() => void)[] = [];
  constructor(readonly sock: dgram.Socket) {
    sock.on('message', (msg, rinfo) => {
      this.got.push({ msg, port: rinfo.port });
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static async open(onMessage?: (s: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo) => void): Promise<Peer> {
    const s = dgram.createSocket('udp4');
    socks.push(s);
    s.on('error', () => {});
    if (onMessage) s.on('message', (m, r) => onMessage(s, m, r));
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return new Peer(s);
  }
  get port(): number {
    return this.sock.address().port;
  }
  send(msg: string | Buffer, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.sock.send(msg, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  }
  async next(): Promise<{ msg: Buffer; port: number }> {
    while (this.got.length === 0) await new Promise<void>((r) => this.waiters.push(r));
    return this.got.shift()!;
  }
}

function v4mapped(a: number, b: number, c: number, d: number): Buffer {
  return Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d]);
}

beforeAll(async () => {
  fx = await startOver();
});

afterAll(async () => {
  for (const s of socks) s.close();
  await fx.close();
});

describe('connected mode', () => {
  it('one datagram per read; a short read truncates; empty datagrams are empty reads', async () => {
    const echo = await Peer.open((s, m, r) => s.send(m, r.port, r.address));
    const c = await fx.client();
    const { ctl, dir, n } = await clone(c, 'udp');
    await ctl.write(`connect 127.0.0.1!${echo.port}`);
    expect(await readText(c, `${dir}/remote`)).toBe(`127.0.0.1!${echo.port}\n`);
    expect(await readText(c, `${dir}/local`)).toMatch(/^127\.0\.0\.1!([1-9]\d*)\n$/);
    expect(await readText(c, `${dir}/status`)).toMatch(/^Open qin \d+ qout \d+\n$/);
    const data = await c.open(`${dir}/data`, ORDWR);
    await data.write('one');
    expect((await data.read(100)).toString()).toBe('one');
    await data.write('aaaa');
    await data.write('bbbb');
    await waitFor(() => fx.over.udpDir.convs[n]!.rq.length === 8, 'both echoes queued');
    expect((await data.read(2)).toString()).toBe('aa');
    expect((await data.read(100)).toString()).toBe('bbbb');
    await data.write(Buffer.alloc(0));
    expect((await data.read(100)).length).toBe(0);
    await data.write('after');
    expect((await data.read(100)).toString()).toBe('after');
    await data.close();
    await ctl.close();
    expect(await readText(c, `${dir}/status`)).toMatch(/^Closed /);
  });

  it('hangup: reads give EOF, writes fail', async () => {
    const peer = await Peer.open();
    const c = await fx.client();
    const { ctl, dir } = await clone(c, 'udp');
    await ctl.write(`connect 127.0.0.1!${peer.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    const r = data.read(100);
    await ctl.write('hangup');
    expect((await r).length).toBe(0);
    for (let i = 0; i < 2; i++) expect((await data.read(100)).length).toBe(0);
    expect(await errorOf(data.read(100))).toBe('i/o on hungup channel');
    expect(await errorOf(data.write('x'))).toBe('i/o on hungup channel');
    expect(await errorOf(ctl.write('close'))).toBe('unknown control request');
    await data.close();
    await ctl.close();
  });

  it('errors of the lower host pass through (port 0)', async () => {
    const c = await fx.client();
    const { ctl } = await clone(c, 'udp');
    expect(await errorOf(ctl.write('connect 127.0.0.1!0'))).toBe('bad arg in system call');
    await ctl.close();
  });

  it('stats: the four UDP counters', async () => {
    const c = await fx.client();
    const names = (await readText(c, '/udp/stats')).split('\n').filter((l) => l).map((l) => l.split(':')[0]);
    expect(names).toEqual(['InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams']);
  });
});

describe('announce with headers', () => {
  it('every datagram arrives with the 52-byte header; a reply written with it reaches the sender', async () => {
    const c = await fx.client();
    const { ctl, dir } = await clone(c, 'udp');
    await ctl.write('announce 0');
    const P = Number(/^::!(\d+)\n$/.exec(await readText(c, `${dir}/local`))![1]);
    await ctl.write('headers');
    const data = await c.open(`${dir}/data`, ORDWR);
    const peer = await Peer.open();
    await peer.send('hello', P);
    const b = await data.read(8192);
    expect(b.length).toBe(52 + 5);
    expect(b.subarray(0, 16)).toEqual(v4mapped(127, 0, 0, 1));
    expect(b.readUInt16BE(48)).toBe(peer.port);
    expect(b.readUInt16BE(50)).toBe(P);
    expect(b.subarray(52).toString()).toBe('hello');
    await data.write(Buffer.concat([b.subarray(0, 52), Buffer.from('world')]));
    const r = await peer.next();
    expect(r.msg.toString()).toBe('world');
    expect(r.port).toBe(P);
    expect(await data.write(Buffer.alloc(10))).toBe(10);
    const peer2 = await Peer.open();
    await peer2.send('two', P);
    const b2 = await data.read(8192);
    expect(b2.readUInt16BE(48)).toBe(peer2.port);
    expect(b2.subarray(52).toString()).toBe('two');
    await data.close();
    await ctl.close();
  });
});

describe('announce without headers', () => {
  it('each new peer becomes an upper conversation delivered by listen', async () => {
    const c = await fx.client('alice');
    const a = await clone(c, 'udp');
    await a.ctl.write('announce 0');
    const P = Number(/^::!(\d+)\n$/.exec(await readText(c, `${a.dir}/local`))![1]);
    const p1 = await Peer.open();
    const p2 = await Peer.open();
    const lp = c.open(`${a.dir}/listen`, ORDWR);
    await p1.send('p1 first', P);
    const l1 = await lp;
    const m1 = Number((await l1.read(64, undefined, 0n)).toString());
    expect(m1).not.toBe(a.n);
    expect(await readText(c, `/udp/${m1}/remote`)).toBe(`127.0.0.1!${p1.port}\n`);
    expect(await readText(c, `/udp/${m1}/local`)).toBe(`127.0.0.1!${P}\n`);
    expect((await c.stat(`/udp/${m1}`)).uid).toBe('alice');
    const d1 = await c.open(`/udp/${m1}/data`, ORDWR);
    expect((await d1.read(100)).toString()).toBe('p1 first');
    await d1.write('to p1');
    const r1 = await p1.next();
    expect(r1.msg.toString()).toBe('to p1');
    expect(r1.port).toBe(P);
    await p1.send('p1 second', P);
    expect((await d1.read(100)).toString()).toBe('p1 second');
    const lp2 = c.open(`${a.dir}/listen`, ORDWR);
    await p2.send('p2 first', P);
    const l2 = await lp2;
    const m2 = Number((await l2.read(64, undefined, 0n)).toString());
    expect(await readText(c, `/udp/${m2}/remote`)).toBe(`127.0.0.1!${p2.port}\n`);
    const d2 = await c.open(`/udp/${m2}/data`, ORDWR);
    expect((await d2.read(100)).toString()).toBe('p2 first');
    expect(fx.over.udpDir.convs[a.n]!.rq.length).toBe(0);
    for (const f of [d1, d2, l1, l2, a.ctl]) await f.close();
  });
});

describe('ICMP advice', () => {
  it('a connected conversation to a closed port fails with port unreachable', async () => {
    const port = await closedUdpPort();
    const c = await fx.client();
    const { ctl, dir } = await clone(c, 'udp');
    await ctl.write(`connect 127.0.0.1!${port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    await data.write('anyone?');
    expect(await errorOf(data.read(100))).toBe('port unreachable');
    expect(await errorOf(data.write('again'))).toBe('port unreachable');
    await data.close();
    await ctl.close();
  });

  it('ignoreadvice reaches the lower conversation', async () => {
    const port = await closedUdpPort();
    const c = await fx.client();
    const { ctl, dir } = await clone(c, 'udp');
    await ctl.write('ignoreadvice');
    await ctl.write(`connect 127.0.0.1!${port}`);
    const lport = Number(/!(\d+)\n$/.exec(await readText(c, `${dir}/local`))![1]);
    const lc = fx.lower.net.udpDir.convs[lowerConvByPort(fx, 'udp', lport)]!;
    expect(lc.ignoreadvice).toBe(true);
    const data = await c.open(`${dir}/data`, ORDWR);
    const lc2 = await fx.lower.client();
    const inErrors = async (): Promise<number> => Number(/InErrors: (\d+)/.exec(await readText(lc2, '/udp/stats'))![1]);
    const before = await inErrors();
    await data.write('anyone?');
    // Wait until the lower host reported the ICMP error to its socket.
    let now = before;
    const deadline = Date.now() + 5000;
    while (now === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      now = await inErrors();
    }
    expect(now).toBeGreaterThan(before);
    expect(lc.rq.isHungup).toBe(false);
    expect(await data.write('still fine')).toBe(10);
    await data.close();
    await ctl.close();
  });
});
