/**
 * What only the host-socket backend's /net/udp has to show, beyond the
 * conformance suite (test/conformance): port 0, which the host cannot
 * send to; the InErrors count of ignored ICMP advice; host sockets closed
 * after a dropped 9P connection.
 */
import * as dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORDWR } from '../../../src/ninep/types.js';
import { clone, closedUdpPort, errorOf, readText, startNet, waitFor } from '../../netfs/harness.js';
import type { NetFixture } from '../../netfs/harness.js';

let fx: NetFixture;
const socks: dgram.Socket[] = [];

/** A udp4 socket bound to 127.0.0.1 that queues what it receives. */
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

beforeAll(async () => {
  fx = await startNet();
});

afterAll(async () => {
  for (const s of socks) s.close();
  await fx.close();
});

describe('connected mode', () => {
  it('port 0 cannot be used on the host', async () => {
    const c = await fx.client();
    const { ctl } = await clone(c, 'udp');
    expect(await errorOf(ctl.write('connect 127.0.0.1!0'))).toBe('bad arg in system call');
    await ctl.close();
  });

});

describe('ICMP advice (§5.5)', () => {
  it('ignoreadvice keeps the conversation usable', async () => {
    const port = await closedUdpPort();
    const c = await fx.client();
    const { ctl, dir, n } = await clone(c, 'udp');
    await ctl.write('ignoreadvice');
    await ctl.write(`connect 127.0.0.1!${port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    const inErrors = async (): Promise<number> => Number(/InErrors: (\d+)/.exec(await readText(c, '/udp/stats'))![1]);
    const before = await inErrors();
    await data.write('anyone?');
    // Wait until the host reported the ICMP error to the socket.
    let now = before;
    const deadline = Date.now() + 5000;
    while (now === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      now = await inErrors();
    }
    expect(now).toBeGreaterThan(before);
    expect(fx.net.udpDir.convs[n]!.rq.isHungup).toBe(false);
    expect(await data.write('still fine')).toBe(10);
    await data.close();
    await ctl.close();
  });
});

describe('a dropped 9P connection', () => {
  it('closes every host socket its UDP conversations held', async () => {
    const own = await startNet();
    try {
      const udp = own.net.udp;
      const before = udp.liveSockets;
      const c = await own.client();
      const conn = await clone(c, 'udp');
      await conn.ctl.write(`connect 127.0.0.1!${await closedUdpPort()}`);
      const a = await clone(c, 'udp');
      await a.ctl.write('announce 0');
      const P = Number(/^::!(\d+)\n$/.exec(await readText(c, `${a.dir}/local`))![1]);
      const data = await c.open(`${conn.dir}/data`, ORDWR);
      const rd = data.read(100);
      // One call queued (not yet listened for), then a pending listen.
      const p1 = await Peer.open();
      await p1.send('queued', P);
      await waitFor(() => own.net.udpDir.convs[a.n]!.incall.length === 1, 'the queued call');
      const lctl = await c.open(`${a.dir}/listen`, ORDWR);
      const lp = c.open(`${a.dir}/listen`, ORDWR);
      await waitFor(() => own.net.udpDir.convs[a.n]!.listeners.length === 1, 'the pending listen');
      expect(udp.liveSockets).toBe(before + 2);
      void lctl;
      c.close();
      await expect(rd).rejects.toThrow();
      await expect(lp).rejects.toThrow();
      await waitFor(() => udp.liveSockets === before, 'host sockets to close');
      for (const cv of own.net.udpDir.convs) {
        expect(cv.refs).toBe(0);
        expect(cv.state).toBe('Idle');
      }
    } finally {
      await own.close();
    }
  });
});
