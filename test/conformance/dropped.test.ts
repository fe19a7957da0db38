/**
 * A 9P connection that goes away without clunking, on every backend
 * (9/ip/devip.c): its fids are clunked by the server, so every
 * conversation it held is closed as by a last close — blocked reads,
 * pending listens and connects end, queued calls are closed, the peer sees
 * the end, the transports are released, the ports can be announced again,
 * and the server goes on serving others.
 */
import { expect, it } from 'vitest';
import { ORDWR } from '../../src/ninep/types.js';
import type { Client } from '../../src/ninep/client.js';
import { announce0, clone, later, onEveryBackend, until, untilText, waitFor } from './suite.js';
import type { Fixture } from './suite.js';

/** Wait until conversation `dir` is free again: owned by network, Closed. */
async function released(c: Client, dir: string): Promise<void> {
  await until(`${dir} to be released`, async () => (await c.stat(dir)).uid === 'network');
  await untilText(c, `${dir}/status`, /^Closed /);
}

/** Wait until nothing of the fixture is in use any more. */
function idle(fx: Fixture): Promise<void> {
  return waitFor(() => fx.live().length === 0, `everything released (left: ${fx.live().join('; ')})`, 15_000);
}

onEveryBackend('a dropped 9P connection', (fx) => {
  it('releases its TCP conversations: reads, listens and connects end, calls close, ports are free, others are served', async () => {
    const hole = await fx().blackHole();
    try {
      const c = await fx().client();
      const l = await fx().peer.listen();
      const conn = await clone(c);
      await conn.ctl.write(`connect ${fx().peer.addr}!${l.port}`);
      const call = await l.accepted();
      const data = await c.open(`${conn.dir}/data`, ORDWR);
      const rd = later(data.read(100));
      // An announcement with a pending listen, and one with a queued call.
      const ann = await clone(c);
      const P = await announce0(c, ann.ctl, ann.dir);
      const lp = later(c.open(`${ann.dir}/listen`, ORDWR));
      const q = await clone(c);
      const Q = await announce0(c, q.ctl, q.dir);
      const queuedCall = await fx().peer.dial(fx().addr, Q);
      // And a connect still in Syn_sent.
      const pend = await clone(c);
      const cp = later(pend.ctl.write(`connect ${hole.addr}`));
      await waitFor(() => fx().tcpDir.convs[ann.n]!.listeners.length === 1, 'the pending listen');
      await waitFor(() => fx().tcpDir.convs[q.n]!.incall.length === 1, 'the queued call');
      const other = await fx().client('carol');
      await untilText(other, `${pend.dir}/status`, /^Syn_sent /);
      c.close();
      await expect(lp).rejects.toThrow();
      await expect(rd).rejects.toThrow();
      await expect(cp).rejects.toThrow();
      for (const dir of [conn.dir, ann.dir, q.dir, pend.dir]) await released(other, dir);
      // Our last close sent FIN on the connection and on the call nobody took.
      expect((await call.readToEnd()).end).toBe('fin');
      expect((await queuedCall.readToEnd()).end).toBe('fin');
      await call.close();
      await queuedCall.close();
      await l.close();
      await idle(fx());
      // The ports are free again, and the server serves a new client from the lowest conversation.
      const again = await clone(other);
      expect(again.n).toBe(0);
      await again.ctl.write(`announce ${P}`);
      const again2 = await clone(other);
      await again2.ctl.write(`announce ${Q}`);
      await again.ctl.close();
      await again2.ctl.close();
    } finally {
      await hole.close();
    }
  });

  it('releases its UDP conversations: a blocked read, a queued peer and a pending listen end, the ports are free', async () => {
    const c = await fx().client();
    const peer = await fx().peer.udp();
    const conn = await clone(c, 'udp');
    await conn.ctl.write(`connect ${fx().peer.addr}!${peer.port}`);
    const data = await c.open(`${conn.dir}/data`, ORDWR);
    const rd = later(data.read(100));
    const a = await clone(c, 'udp');
    const P = await announce0(c, a.ctl, a.dir);
    const h = await clone(c, 'udp');
    const H = await announce0(c, h.ctl, h.dir);
    await h.ctl.write('headers');
    // One call queued (not yet listened for), then a pending listen.
    await peer.send('queued', fx().addr, P);
    await waitFor(() => fx().udpDir.convs[a.n]!.incall.length === 1, 'the queued call');
    const taken = await c.open(`${a.dir}/listen`, ORDWR);
    const lp = later(c.open(`${a.dir}/listen`, ORDWR));
    await waitFor(() => fx().udpDir.convs[a.n]!.listeners.length === 1, 'the pending listen');
    const M = Number((await taken.read(64, undefined, 0n)).toString());
    c.close();
    await expect(rd).rejects.toThrow();
    await expect(lp).rejects.toThrow();
    const other = await fx().client('carol');
    for (const dir of [conn.dir, a.dir, h.dir, `/udp/${M}`]) await released(other, dir);
    await peer.close();
    await idle(fx());
    for (const port of [P, H]) {
      const again = await clone(other, 'udp');
      await again.ctl.write(`announce ${port}`);
      await again.ctl.close();
    }
  });
});
