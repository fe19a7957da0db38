/**
 * Host-socket TCP beyond what test/netfs/tcp.test.ts covers: `hangupxmit`
 * (tcp.c tcpxmitclose: FIN, reads go on until the peer's FIN; in
 * Syn_sent see test/netfs/tcp.test.ts), the receive side after a refused
 * connect (tcp.c localclose: EOF at once; after a flushed one see
 * test/netfs/tcp.test.ts), and
 * calls beyond the listener's queue left waiting instead of reset (a burst
 * of 40 simultaneous clients). Loopback only; every peer is a local socket.
 */
import type * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORDWR } from '../../../src/ninep/types.js';
import {
  TcpPeer, clone, closedTcpPort, errorOf, readText, startNet, tcpConnect, waitFor,
} from '../../netfs/harness.js';
import type { NetFixture } from '../../netfs/harness.js';
import { answerThenHangupxmit, burst, expectClosedData, requestThenReply } from './scenarios.js';

let fx: NetFixture;
const peers: TcpPeer[] = [];

async function peer(opts: net.ServerOpts = {}): Promise<TcpPeer> {
  const p = await TcpPeer.start(undefined, opts);
  peers.push(p);
  return p;
}

beforeAll(async () => {
  fx = await startNet();
});

afterAll(async () => {
  await fx.close();
  for (const p of peers) await p.close();
});

describe('hangupxmit', () => {
  it('Established: FIN, Finwait1, writes fail, the reply is still read, then EOF', async () => {
    const c = await fx.client();
    const dir = await requestThenReply(c, await peer({ allowHalfOpen: true }));
    expect(fx.logs.filter((l) => l.includes('internal error'))).toEqual([]);
    expect(await readText(c, `${dir}/status`)).toMatch(/^Closed /);
  });

  it('Close_wait: FIN after the peer\'s, Last_ack, then Closed', async () => {
    const c = await fx.client();
    const after = await answerThenHangupxmit(c, await peer({ allowHalfOpen: true }), (n) => fx.net.tcp.status(fx.net.tcpDir.convs[n]!));
    expect(after).toMatch(/^(Last_ack|Closed) /);
  });

  it('Listen: the announcement is hung up, a pending listen fails with listen hungup', async () => {
    const c = await fx.client();
    const a = await clone(c);
    await a.ctl.write('announce 0');
    const P = Number(/!(\d+)\n$/.exec(await readText(c, `${a.dir}/local`))![1]);
    const lp = c.open(`${a.dir}/listen`, ORDWR);
    await waitFor(() => fx.net.tcpDir.convs[a.n]!.listeners.length === 1, 'the pending listen');
    await a.ctl.write('hangupxmit');
    expect(await errorOf(lp)).toBe('listen hungup');
    expect(await readText(c, `${a.dir}/status`)).toMatch(/^Closed /);
    expect(await errorOf(tcpConnect(P))).toMatch(/ECONNREFUSED/);
    await a.ctl.close();
  });
});

describe('reads after a failed connect (tcp.c localclose)', () => {
  it('connection refused: data reads give EOF at once', async () => {
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    expect(await errorOf(ctl.write(`connect 127.0.0.1!${await closedTcpPort()}`))).toBe('connection refused');
    await expectClosedData(c, dir);
    await ctl.close();
  });

  it('port 0 (refused before any socket): EOF at once', async () => {
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    expect(await errorOf(ctl.write('connect 127.0.0.1!0'))).toBe('connection refused');
    await expectClosedData(c, dir);
    await ctl.close();
  });

  it('a read already waiting when the connect fails gets EOF', async () => {
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    const data = await c.open(`${dir}/data`, ORDWR);
    const r = data.read(100);
    expect(await errorOf(ctl.write(`connect 127.0.0.1!${await closedTcpPort()}`))).toBe('connection refused');
    expect((await r).length).toBe(0);
    await data.close();
    await ctl.close();
  });
});

describe('calls beyond the listener\'s queue wait in the kernel\'s accept backlog', () => {
  it('a burst of 40 simultaneous clients: all connect and are delivered by listen, none reset', async () => {
    const c = await fx.client();
    await burst(c, { count: 40, queued: (n) => fx.net.tcpDir.convs[n]!.incall.length });
  }, 60_000);

  it('with backlog 8, all 40 still complete as listens take calls; at most 8 wait for listen', async () => {
    const c = await fx.client();
    await burst(c, { count: 40, backlog: 8, queued: (n) => fx.net.tcpDir.convs[n]!.incall.length });
  }, 60_000);

  it('calls waiting below the queue are reset when the announcement goes', async () => {
    const c = await fx.client();
    const a = await clone(c);
    await a.ctl.write('backlog 1');
    await a.ctl.write('announce 0');
    const P = Number(/!(\d+)\n$/.exec(await readText(c, `${a.dir}/local`))![1]);
    const clients = [await tcpConnect(P), await tcpConnect(P), await tcpConnect(P)];
    const closed = clients.map((s) => new Promise<void>((r) => { s.once('close', () => r()); s.resume(); }));
    await waitFor(() => fx.net.tcpDir.convs[a.n]!.incall.length === 1, 'one queued call');
    const sockets0 = fx.net.tcp.liveSockets;
    await a.ctl.close();
    await Promise.all(closed);
    await waitFor(() => fx.net.tcp.liveSockets === sockets0 - 3, 'the calls\' sockets to close');
  });
});
