/**
 * Transport stacking beyond tcp.test.ts: `hangupxmit` passed down to the
 * lower conversation (FIN there, reads go on until the peer's FIN), the
 * receive side after a failed connect (EOF at once, as tcp.c's localclose),
 * and calls beyond the upper announcement's queue left waiting at the
 * lower server (a burst of 40 simultaneous clients).
 * Loopback only; every peer is a local socket.
 */
import type * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Interrupted } from '../../../src/ninep/error.js';
import { ORDWR } from '../../../src/ninep/types.js';
import type { Client } from '../../../src/ninep/client.js';
import { TcpPeer, clone, closedTcpPort, errorOf, readFull, readN, readText, stuckListener, waitFor } from '../../netfs/harness.js';
import { burst, requestThenReply } from '../host/scenarios.js';
import { lowerConvByPort, startOver } from './harness.js';
import type { OverFixture } from './harness.js';

const Ehungup = 'i/o on hungup channel';

let fx: OverFixture;
const peers: TcpPeer[] = [];

async function peer(opts: net.ServerOpts = {}): Promise<TcpPeer> {
  const p = await TcpPeer.start(undefined, opts);
  peers.push(p);
  return p;
}

beforeAll(async () => {
  fx = await startOver();
});

afterAll(async () => {
  await fx.close();
  for (const p of peers) await p.close();
});

async function expectEof(c: Client, dir: string): Promise<void> {
  const data = await c.open(`${dir}/data`, ORDWR);
  for (let i = 0; i < 3; i++) expect((await data.read(100)).length).toBe(0);
  expect(await errorOf(data.read(100))).toBe(Ehungup);
  expect(await errorOf(data.write('x'))).toBe(Ehungup);
  await data.close();
}

describe('hangupxmit through the lower /net', () => {
  it('reaches the lower conversation: FIN to the peer, the reply still read, then EOF', async () => {
    const p = await peer({ allowHalfOpen: true });
    const c = await fx.client();
    let lowerState = '';
    p.server.once('connection', (s) => {
      s.once('end', () => {
        const ln = lowerConvByPort(fx, 'tcp', s.remotePort!);
        lowerState = fx.lower.net.tcp.status(fx.lower.net.tcpDir.convs[ln]!);
      });
    });
    const dir = await requestThenReply(c, p);
    expect(lowerState).toMatch(/^Finwait1 /);
    expect(await readText(c, `${dir}/status`)).toMatch(/^Closed /);
  });

  it('in Close_wait: the answer and our FIN reach the peer, the conversation is Closed', async () => {
    const p = await peer({ allowHalfOpen: true });
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    const s = await p.accepted();
    s.end('question');
    expect((await readFull(data, 8)).toString()).toBe('question');
    expect((await data.read(100)).length).toBe(0);
    expect(await readText(c, `${dir}/status`)).toMatch(/^Close_wait /);
    await data.write('answer');
    const ended = new Promise<void>((r) => s.once('end', () => r()));
    await ctl.write('hangupxmit');
    expect(await readText(c, `${dir}/status`)).toMatch(/^Closed /);
    expect(await errorOf(data.write('x'))).toBe(Ehungup);
    expect((await readN(s, 6)).toString()).toBe('answer');
    await ended;
    await data.close();
    await ctl.close();
  });

  it('on an idle conversation it opens nothing below', async () => {
    const c = await fx.client();
    const { ctl, n } = await clone(c);
    const lower0 = fx.lower.net.tcpDir.convs.filter((cv) => cv.refs > 0).length;
    await ctl.write('hangupxmit');
    expect(fx.lower.net.tcpDir.convs.filter((cv) => cv.refs > 0).length).toBe(lower0);
    expect(fx.over.tcp.status(fx.over.tcpDir.convs[n]!)).toMatch(/^Closed /);
    await ctl.close();
  });
});

describe('reads after a failed connect', () => {
  it('connection refused at the lower server: EOF at once', async () => {
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    expect(await errorOf(ctl.write(`connect 127.0.0.1!${await closedTcpPort()}`))).toBe('connection refused');
    await expectEof(c, dir);
    await ctl.close();
  });

  it('a connect flushed while pending at the lower server: EOF at once', async () => {
    const stuck = await stuckListener();
    try {
      const c = await fx.client();
      const { ctl, dir } = await clone(c);
      const ac = new AbortController();
      const p = ctl.write(`connect 127.0.0.1!${stuck.port}`, ac.signal);
      await waitFor(
        () => fx.lower.net.tcpDir.convs.some((cv) => cv.rport === stuck.port && /^Syn_sent/.test(fx.lower.net.tcp.status(cv))),
        'the lower connect in Syn_sent',
      );
      ac.abort();
      await expect(p).rejects.toBeInstanceOf(Interrupted);
      await expectEof(c, dir);
      await ctl.close();
    } finally {
      await stuck.close();
    }
  });
});

describe('calls beyond the upper queue wait at the lower server', () => {
  it('a burst of 40 simultaneous clients: all delivered by the upper listen, none reset', async () => {
    const c = await fx.client();
    await burst(c, { count: 40, queued: (n) => fx.over.tcpDir.convs[n]!.incall.length });
  }, 60_000);

  it('with backlog 8 above, all 40 complete; meanwhile the rest wait in the lower queue', async () => {
    const c = await fx.client();
    let lowerWaiting = 0;
    await burst(c, {
      count: 40,
      backlog: 8,
      queued: (n) => fx.over.tcpDir.convs[n]!.incall.length,
      sample: (port) => {
        const ln = fx.lower.net.tcpDir.convs.findIndex((cv) => cv.state === 'Announced' && cv.lport === port);
        if (ln >= 0) lowerWaiting = Math.max(lowerWaiting, fx.lower.net.tcpDir.convs[ln]!.incall.length);
      },
    });
    expect(lowerWaiting).toBeGreaterThan(0);
  }, 60_000);
});
