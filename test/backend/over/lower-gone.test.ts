/**
 * A lower server that goes away: the upper conversations it carried turn
 * into Plan 9 errors (EOF then `i/o on hungup channel` on data, errors on
 * ctl, `listen hungup` on a pending listen), nothing crashes, the upper
 * server keeps serving its other trees, and a lower server that comes back
 * (or a lost connection to a live one) is dialed again at the next connect.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overNet } from '../../../src/backend/over/backend.js';
import type { OverNet } from '../../../src/backend/over/backend.js';
import { ORDWR } from '../../../src/ninep/types.js';
import { EVE, TcpPeer, clone, errorOf, readFull, readText, startNet, waitFor } from '../../netfs/harness.js';
import type { NetFixture } from '../../netfs/harness.js';
import { startUpper } from './harness.js';
import type { UpperFixture } from './harness.js';

const Ehungup = 'i/o on hungup channel';

let echo: TcpPeer;
const peers: TcpPeer[] = [];

beforeAll(async () => {
  echo = await TcpPeer.echo();
});

afterAll(async () => {
  await echo.close();
  for (const p of peers) await p.close();
});

interface Two {
  lowerA: NetFixture;
  lowerB: NetFixture;
  overA: OverNet;
  overB: OverNet;
  upper: UpperFixture;
  logs: string[];
}

/** One upper server with two trees: aname '' over lower A, aname 'b' over lower B. */
async function two(): Promise<Two> {
  const lowerA = await startNet();
  const lowerB = await startNet();
  const logs: string[] = [];
  const overA = await overNet({ eve: EVE, lower: `tcp!127.0.0.1!${lowerA.port}`, log: (l) => logs.push(l) });
  const overB = await overNet({ eve: EVE, lower: `tcp!127.0.0.1!${lowerB.port}`, log: (l) => logs.push(l) });
  const upper = await startUpper((aname) => (aname === 'b' ? overB.tree : aname === '' ? overA.tree : null));
  return { lowerA, lowerB, overA, overB, upper, logs };
}

async function closeTwo(t: Two): Promise<void> {
  await t.upper.close();
  await t.overA.close();
  await t.overB.close();
  await t.lowerA.close();
  await t.lowerB.close();
}

describe('the lower server goes away', () => {
  it('hangs up what it carried, fails ctl writes and new connects, and the upper server keeps serving', async () => {
    const t = await two();
    try {
      const p = await TcpPeer.start();
      peers.push(p);
      const c = await t.upper.client('alice');

      // 1: data queued in the upper, not read yet.
      const one = await clone(c);
      await one.ctl.write(`connect 127.0.0.1!${p.port}`);
      const d1 = await c.open(`${one.dir}/data`, ORDWR);
      const s1 = await p.accepted();
      s1.write('before');
      await waitFor(() => t.overA.tcpDir.convs[one.n]!.rq.length === 6, 'the data in the upper queue');
      // 2: a read pending.
      const two_ = await clone(c);
      await two_.ctl.write(`connect 127.0.0.1!${p.port}`);
      const d2 = await c.open(`${two_.dir}/data`, ORDWR);
      await p.accepted();
      const rd = d2.read(100);
      // 3: an announcement with a listen pending.
      const three = await clone(c);
      await three.ctl.write('announce 0');
      const lp = c.open(`${three.dir}/listen`, ORDWR);
      await waitFor(() => t.overA.tcpDir.convs[three.n]!.listeners.length === 1, 'the pending listen');
      // 4: UDP with a read pending.
      const four = await clone(c, 'udp');
      await four.ctl.write(`connect 127.0.0.1!${p.port}`);
      const d4 = await c.open(`${four.dir}/data`, ORDWR);
      const urd = d4.read(100);

      // The lower server goes away: listener and connections.
      await t.lowerA.server.close();

      expect((await rd).length).toBe(0);
      expect((await urd).length).toBe(0);
      expect(await errorOf(lp)).toBe('listen hungup');
      // Queued data is still delivered, then EOF, then the error.
      expect((await readFull(d1, 6)).toString()).toBe('before');
      for (let i = 0; i < 3; i++) expect((await d1.read(100)).length).toBe(0);
      expect(await errorOf(d1.read(100))).toBe(Ehungup);
      expect(await errorOf(d2.write('x'))).toBe(Ehungup);
      expect(await errorOf(d4.write('x'))).toBe(Ehungup);
      expect(await errorOf(two_.ctl.write('keepalive'))).toBe(Ehungup);
      expect(await errorOf(four.ctl.write('headers'))).toBe(Ehungup);
      expect(await readText(c, `${two_.dir}/status`)).toMatch(/^Closed /);
      expect(await readText(c, `${four.dir}/status`)).toMatch(/^Closed /);
      expect(await errorOf(c.open(`${three.dir}/listen`, ORDWR))).toBe('listen hungup');

      // New conversations: clone works (it is the upper's), connect fails.
      const five = await clone(c);
      expect(await errorOf(five.ctl.write(`connect 127.0.0.1!${echo.port}`))).toBe(Ehungup);
      await five.ctl.close();
      const six = await clone(c, 'udp');
      expect(await errorOf(six.ctl.write('announce 0'))).toBe(Ehungup);
      await six.ctl.close();

      // The upper server still answers: its tree, cs (translating itself now), stats.
      expect((await c.ls('/')).map((d) => d.name)).toEqual(['tcp', 'udp', 'ndb', 'cs', 'dns']);
      const cs = await c.open('/cs', ORDWR);
      await cs.write('tcp!127.0.0.1!80');
      expect((await cs.read(512, undefined, 0n)).toString()).toBe('/net/tcp/clone 127.0.0.1!80');
      await cs.close();
      expect((await readText(c, '/tcp/stats')).split('\n').filter((l) => l)).toHaveLength(28);

      // The other tree on the same upper server is untouched.
      const cb = await t.upper.client('alice', 'b');
      const b = await clone(cb);
      await b.ctl.write(`connect 127.0.0.1!${echo.port}`);
      const db = await cb.open(`${b.dir}/data`, ORDWR);
      await db.write('still serving');
      expect((await readFull(db, 13)).toString()).toBe('still serving');
      await db.close();
      await b.ctl.close();

      // Every upper conversation closes cleanly.
      for (const f of [d1, d2, d4, one.ctl, two_.ctl, three.ctl, four.ctl]) await f.close();
      for (const cv of [...t.overA.tcpDir.convs, ...t.overA.udpDir.convs]) expect(cv.refs).toBe(0);
      expect(t.logs.some((l) => /connection \d+ lost/.test(l))).toBe(true);
    } finally {
      await closeTwo(t);
    }
  });

  it('a lost connection to a live lower server is dialed again at the next connect', async () => {
    const lower = await startNet();
    const over = await overNet({ eve: EVE, lower: `tcp!127.0.0.1!${lower.port}` });
    const upper = await startUpper(() => over.tree);
    try {
      const c = await upper.client();
      const a = await clone(c);
      await a.ctl.write(`connect 127.0.0.1!${echo.port}`);
      const da = await c.open(`${a.dir}/data`, ORDWR);
      const rd = da.read(100);
      // Drop the 9P connections but keep listening.
      for (const conn of [...lower.server.connections]) conn.close();
      expect((await rd).length).toBe(0);
      await waitFor(() => over.lowerConnections === 0, 'the lost connection dropped');
      const b = await clone(c);
      await b.ctl.write(`connect 127.0.0.1!${echo.port}`);
      expect(over.lowerConnections).toBe(1);
      const db = await c.open(`${b.dir}/data`, ORDWR);
      await db.write('again');
      expect((await readFull(db, 5)).toString()).toBe('again');
      // The old conversation stays dead.
      expect(await errorOf(da.write('x'))).toBe(Ehungup);
      for (const f of [da, db, a.ctl, b.ctl]) await f.close();
    } finally {
      await upper.close();
      await over.close();
      await lower.close();
    }
  });

  it('a lower server that is not there fails overNet with a message', async () => {
    const s = await startNet();
    const port = s.port;
    await s.close();
    await expect(overNet({ eve: EVE, lower: `tcp!127.0.0.1!${port}` })).rejects.toThrow(/cannot reach the lower server/);
  });
});

