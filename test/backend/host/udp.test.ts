/**
 * Host-socket UDP beyond test/netfs/udp.test.ts: `headers` on a connected
 * conversation (udp.c: every datagram read carries the 52-byte header,
 * every write's destination comes from its header, and only the connected
 * peer is heard), and host socket errors on writes as Plan 9 strings, never
 * `i/o error` or an internal error. Loopback only.
 */
import * as dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, File } from '../../../src/ninep/client.js';
import { ORDWR } from '../../../src/ninep/types.js';
import { clone, errorOf, readText, startNet } from '../../netfs/harness.js';
import type { NetFixture } from '../../netfs/harness.js';

let fx: NetFixture;
const socks: dgram.Socket[] = [];

/** A udp4 socket on 127.0.0.1 that queues what it receives. */
class Peer {
  readonly got: { msg: Buffer; port: number }[] = [];
  private waiters: (() => void)[] = [];
  private constructor(readonly sock: dgram.Socket) {
    sock.on('message', (msg, rinfo) => {
      this.got.push({ msg, port: rinfo.port });
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static async open(): Promise<Peer> {
    const s = dgram.createSocket('udp4');
    socks.push(s);
    s.on('error', () => {});
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return new Peer(s);
  }
  get port(): number {
    return this.sock.address().port;
  }
  send(msg: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.sock.send(msg, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  }
  async next(): Promise<{ msg: Buffer; port: number }> {
    while (this.got.length === 0) await new Promise<void>((r) => this.waiters.push(r));
    return this.got.shift()!;
  }
}

const loopback = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]);

/** A headers-mode datagram to 127.0.0.1!port. */
function toLoopback(port: number, payload: string | Buffer): Buffer {
  const h = Buffer.alloc(52);
  loopback.copy(h, 0);
  loopback.copy(h, 16);
  loopback.copy(h, 32);
  h.writeUInt16BE(port, 48);
  return Buffer.concat([h, Buffer.from(payload)]);
}

beforeAll(async () => {
  fx = await startNet();
});

afterAll(async () => {
  for (const s of socks) s.close();
  await fx.close();
});

function internalErrors(): string[] {
  return fx.logs.filter((l) => l.includes('internal error'));
}

async function connected(c: Client, port: number): Promise<{ ctl: File; data: File; lport: number }> {
  const { ctl, dir } = await clone(c, 'udp');
  await ctl.write(`connect 127.0.0.1!${port}`);
  const lport = Number(/!(\d+)\n$/.exec(await readText(c, `${dir}/local`))![1]);
  const data = await c.open(`${dir}/data`, ORDWR);
  return { ctl, data, lport };
}

describe('headers on a connected conversation (udp.c)', () => {
  it('reads carry the header; writes go where the header says; only the peer is heard', async () => {
    const a = await Peer.open();
    const b = await Peer.open();
    const c = await fx.client();
    const { ctl, data, lport } = await connected(c, a.port);
    await ctl.write('headers');
    await a.send('a1', lport);
    const d = await data.read(8192);
    expect(d.length).toBe(52 + 2);
    expect(d.subarray(0, 16)).toEqual(loopback);
    expect(d.subarray(16, 32)).toEqual(loopback);
    expect(d.readUInt16BE(48)).toBe(a.port);
    expect(d.readUInt16BE(50)).toBe(lport);
    expect(d.subarray(52).toString()).toBe('a1');
    // To the connected peer, then to another address: both from our port.
    expect(await data.write(toLoopback(a.port, 'to-a'))).toBe(52 + 4);
    expect(await a.next()).toEqual({ msg: Buffer.from('to-a'), port: lport });
    expect(await data.write(toLoopback(b.port, 'to-b'))).toBe(52 + 4);
    expect(await b.next()).toEqual({ msg: Buffer.from('to-b'), port: lport });
    // A connected conversation hears its peer only.
    await b.send('b1', lport);
    await a.send('a2', lport);
    const d2 = await data.read(8192);
    expect(d2.readUInt16BE(48)).toBe(a.port);
    expect(d2.subarray(52).toString()).toBe('a2');
    expect(await data.write(toLoopback(a.port, 'again'))).toBe(52 + 5);
    expect(await a.next()).toEqual({ msg: Buffer.from('again'), port: lport });
    expect(internalErrors()).toEqual([]);
    await data.close();
    await ctl.close();
  });
});

describe('host socket errors on writes are Plan 9 errors', () => {
  it('a header naming port 0 fails as a connect to port 0 does (the host cannot send there)', async () => {
    const c = await fx.client();
    const { ctl, dir } = await clone(c, 'udp');
    await ctl.write('announce 0');
    await ctl.write('headers');
    const data = await c.open(`${dir}/data`, ORDWR);
    expect(await errorOf(data.write(toLoopback(0, 'x')))).toBe('bad arg in system call');
    const a = await Peer.open();
    const conn = await connected(c, a.port);
    await conn.ctl.write('headers');
    expect(await errorOf(conn.data.write(toLoopback(0, 'x')))).toBe('bad arg in system call');
    expect(internalErrors()).toEqual([]);
    await conn.data.close();
    await conn.ctl.close();
    await data.close();
    await ctl.close();
  });

  it('a datagram larger than UDP allows: read or write too large', async () => {
    const a = await Peer.open();
    const c = await fx.client();
    const { ctl, data } = await connected(c, a.port);
    expect(data.iounit).toBeGreaterThanOrEqual(65536);
    expect(await errorOf(data.write(Buffer.alloc(65536)))).toBe('read or write too large');
    expect(internalErrors()).toEqual([]);
    await data.close();
    await ctl.close();
  });
});
