/**
 * Host-socket TCP beyond what test/netfs/tcp.test.ts covers: `hangupxmit`
 * (tcp.c tcpxmitclose: FIN, reads go on until the peer's FIN), the
 * receive side after a failed connect (tcp.c localclose: EOF at once), and
 * calls beyond the listener's queue left waiting instead of reset (a burst
 * of 40 simultaneous clients). Loopback only; every peer is a local socket.
 */
import type * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Interrupted } from '../../../src/ninep/error.js';
import { ORDWR } from '../../../src/ninep/types.js';
import {
  TcpPeer, clone, closedTcpPort, errorOf, readN, readText, startNet, stuckListener, tcpConnect, waitFor,
} from '../../netfs/harness.js';
import type { NetFixture } from '../../netfs/harness.js';
import { burst, requestThenReply } from './scenarios.js';

const Ehungup = 'i/o on hungup channel';

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

/** Reads of a conversation whose connect failed: EOF at once (0 ×3, then the hangup error). */
async function expectEof(c: Awaited<ReturnType<NetFixture['client']>>, dir: string): Promise<void> {
  const data = await c.open(`${dir}/data`, ORDWR);
  for (let i = 0; i < 3; i++) expect((await data.read(100)).length).toBe(0);
  expect(await errorOf(data.read(100))).toBe(Ehungup);
  expect(await errorOf(data.write('x'))).toBe(Ehungup);
  await data.close();
}

describe('hangupxmit', () => {
  it('Established: FIN, Finwait1, writes fail, the reply is still read, then EOF', async () => {
    const c = await fx.client();
    const dir = await requestThenReply(c, await peer({ allowHalfOpen: true }));
    expect(fx.logs.filter((l) => l.includes('internal error'))).toEqual([]);
    expect(await readText(c, `${dir}/status`)).toMatch(/^Closed /);
  });

  it('Close_wait: FIN after the peer\'s, Last_ack, then Closed', async () => {
    const p = await peer({ allowHalfOpen: true });
    const c = await fx.client();
    const { ctl, dir, n } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    const s = await p.accepted();
    s.end('question');
    expect((await data.read(100)).toString()).toBe('question');
    expect((await data.read(100)).length).toBe(0);
    expect(await readText(c, `${dir}/status`)).toMatch(/^Close_wait /);
    await data.write('answer');
    const ended = new Promise<void>((r) => s.once('end', () => r()));
    await ctl.write('hangupxmit');
    expect(fx.net.tcp.status(fx.net.tcpDir.convs[n]!)).toMatch(/^(Last_ack|Closed) /);
    expect((await readN(s, 6)).toString()).toBe('answer');
    await ended;
    expect(await errorOf(data.write('x'))).toBe(Ehungup);
    await waitFor(() => /^Closed /.test(fx.net.tcp.status(fx.net.tcpDir.convs[n]!)), 'Closed');
    // A second hangupxmit changes nothing.
    await ctl.write('hangupxmit');
    await data.close();
    await ctl.close();
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

  it('Syn_sent: the pending connect returns and the conversation is closed, as after hangup', async () => {
    const stuck = await stuckListener();
    try {
      const c = await fx.client();
      const { ctl, dir, n } = await clone(c);
      const p = ctl.write(`connect 127.0.0.1!${stuck.port}`);
      await waitFor(() => /^Syn_sent/.test(fx.net.tcp.status(fx.net.tcpDir.convs[n]!)), 'Syn_sent');
      const ctl2 = await c.open(`${dir}/ctl`, ORDWR);
      await ctl2.write('hangupxmit');
      await p;
      await expectEof(c, dir);
      await ctl2.close();
      await ctl.close();
    } finally {
      await stuck.close();
    }
  });
});

describe('reads after a failed connect (tcp.c localclose)', () => {
  it('connection refused: data reads give EOF at once', async () => {
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    expect(await errorOf(ctl.write(`connect 127.0.0.1!${await closedTcpPort()}`))).toBe('connection refused');
    await expectEof(c, dir);
    await ctl.close();
  });

  it('port 0 (refused before any socket): EOF at once', async () => {
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    expect(await errorOf(ctl.write('connect 127.0.0.1!0'))).toBe('connection refused');
    await expectEof(c, dir);
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

  it('a flushed connect (the host socket is abandoned): EOF at once, the conversation stays in use', async () => {
    const stuck = await stuckListener();
    try {
      const c = await fx.client();
      const { ctl, dir, n } = await clone(c);
      const ac = new AbortController();
      const p = ctl.write(`connect 127.0.0.1!${stuck.port}`, ac.signal);
      await waitFor(() => /^Syn_sent/.test(fx.net.tcp.status(fx.net.tcpDir.convs[n]!)), 'Syn_sent');
      ac.abort();
      await expect(p).rejects.toBeInstanceOf(Interrupted);
      await expectEof(c, dir);
      expect(await errorOf(ctl.write('connect 127.0.0.1!1'))).toBe('connection in use');
      await ctl.close();
    } finally {
      await stuck.close();
    }
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
