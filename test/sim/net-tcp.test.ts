// /net/tcp on our stack, through its files, under a ManualClock: the
// `hangupxmit` ctl (FIN, then the reply is still read to its EOF), data
// writes after close and writes waiting for send-buffer room when close,
// hangup, hangupxmit or a reset arrive, a connect with `ttl 1` through a
// router, and a burst of calls to a listener with a small `backlog`.
import { afterEach, describe, expect, it } from 'vitest';
import { Ehungup } from '../../src/netfs/errors.js';
import { drive, errorOf, lan, routed, runFor } from './netfs-sim.js';
import type { SimClient, SimFile, SimNet } from './netfs-sim.js';

let net: SimNet | null = null;
afterEach(async () => {
  await net?.close();
  net = null;
});

const text = (b: Uint8Array): string => Buffer.from(b).toString();

/** Reads `f` to its EOF (a 0-byte read). */
async function readAll(n: SimNet, f: SimFile): Promise<string> {
  let s = '';
  for (;;) {
    const b = await drive(n.clock, f.read());
    if (b.length === 0) return s;
    s += text(b);
  }
}

/** Announces `port` on `srv` (after `ctls`); returns the announcer's ctl and number. */
async function announce(n: SimNet, srv: SimClient, port: number, ...ctls: string[]): Promise<{ ctl: SimFile; n: string }> {
  const a = await srv.clone();
  for (const m of ctls) await drive(n.clock, a.ctl.write(m));
  await drive(n.clock, a.ctl.write(`announce ${port}`));
  return { ctl: a.ctl, n: a.n };
}

/** Dials `addr` from `cli`; returns the conversation's ctl, data and directory. */
async function dial(n: SimNet, cli: SimClient, addr: string, ...ctls: string[]): Promise<{ ctl: SimFile; data: SimFile; dir: string }> {
  const c = await cli.clone();
  for (const m of ctls) await drive(n.clock, c.ctl.write(m));
  await drive(n.clock, c.ctl.write(`connect ${addr}`));
  return { ctl: c.ctl, data: await cli.open(`${c.dir}/data`), dir: c.dir };
}

/** Takes the next call of an announced conversation: its ctl, data and directory. */
async function take(n: SimNet, srv: SimClient, ann: string): Promise<{ ctl: SimFile; data: SimFile; dir: string }> {
  const ctl = await srv.open(`/tcp/${ann}/listen`);
  const m = text(await drive(n.clock, ctl.read(32))).trim();
  return { ctl, data: await srv.open(`/tcp/${m}/data`), dir: `/tcp/${m}` };
}

describe('/net/tcp hangupxmit on our stack', () => {
  it('sends end of input and still reads the reply, to EOF', async () => {
    net = lan(2);
    const [cli, srv] = net.clients as [SimClient, SimClient];
    const ann = await announce(net, srv, 7000);
    const c = await dial(net, cli, '10.0.0.2!7000');
    const s = await take(net, srv, ann.n);
    await drive(net.clock, c.data.write('the whole request'));
    await drive(net.clock, c.ctl.write('hangupxmit'));
    expect(await cli.text(`${c.dir}/status`)).toMatch(/^Finwait[12] /);
    expect(await errorOf(net.clock, c.data.write('more'))).toBe(Ehungup);
    // The server reads the request to its EOF, then answers and closes.
    expect(await readAll(net, s.data)).toBe('the whole request');
    await runFor(net.clock, 100);
    expect(await cli.text(`${c.dir}/status`)).toMatch(/^Finwait2 /);
    await drive(net.clock, s.data.write('17 bytes received'));
    await drive(net.clock, s.ctl.write('close'));
    expect(await readAll(net, c.data)).toBe('17 bytes received');
    expect(await cli.text(`${c.dir}/status`)).toMatch(/^(Time_wait|Closed) /);
    for (const f of [c.data, c.ctl, s.data, s.ctl, ann.ctl]) f.close();
  });

  it('takes no arguments, as tcp.c', async () => {
    net = lan(2);
    const [cli, srv] = net.clients as [SimClient, SimClient];
    const ann = await announce(net, srv, 7001);
    const c = await dial(net, cli, '10.0.0.2!7001');
    expect(await errorOf(net.clock, c.ctl.write('hangupxmit now'))).toBe('unknown control request');
    for (const f of [c.data, c.ctl, ann.ctl]) f.close();
  });
});

describe('/net/tcp writes when the conversation ends', () => {
  it('fails a data write after ctl close with `i/o on hungup channel`', async () => {
    net = lan(2);
    const [cli, srv] = net.clients as [SimClient, SimClient];
    const ann = await announce(net, srv, 7002);
    const c = await dial(net, cli, '10.0.0.2!7002');
    await drive(net.clock, c.ctl.write('close'));
    expect(await errorOf(net.clock, c.data.write('after close'))).toBe(Ehungup);
    for (const f of [c.data, c.ctl, ann.ctl]) f.close();
  });

  // The server never reads: its window closes, then our send buffer fills, and a write waits.
  for (const how of ['close', 'hangup', 'hangupxmit', 'reset by the peer'] as const) {
    it(`settles a write waiting for room at once on ${how}`, async () => {
      net = lan(2, { tcp: { sendBuffer: 64 * 1024, recvBuffer: 64 * 1024 } });
      const [cli, srv] = net.clients as [SimClient, SimClient];
      const ann = await announce(net, srv, 7003);
      const c = await dial(net, cli, '10.0.0.2!7003');
      const s = await take(net, srv, ann.n);
      let settled: string | null = null;
      Promise.resolve(c.data.write(new Uint8Array(1024 * 1024))).then(
        (n) => (settled = `wrote ${n}`),
        (e: Error) => (settled = `failed: ${e.message}`),
      );
      await runFor(net.clock, 2000);
      expect(settled).toBeNull(); // waiting for room
      if (how === 'reset by the peer') {
        await drive(net.clock, s.ctl.write('hangup'));
        await runFor(net.clock, 10); // the RST crosses the hub
      } else {
        await drive(net.clock, c.ctl.write(how));
      }
      for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r)); // no simulated time passes
      // Part of it went into the send buffer: a short write, as a Plan 9 write cut by a hangup.
      expect(settled).toMatch(/^wrote \d+$/);
      expect(Number(settled!.slice(6))).toBeLessThan(1024 * 1024);
      expect(await errorOf(net.clock, c.data.write('again'))).toBe(Ehungup);
      for (const f of [c.data, c.ctl, s.data, s.ctl, ann.ctl]) f.close();
    });
  }
});

describe('/net/tcp ttl through a router', () => {
  it('fails a connect with ttl 1 with `ttl exceeded at` the router; with ttl 2 it connects', async () => {
    const r = routed();
    net = r;
    const [cli, srv] = net.clients as [SimClient, SimClient];
    const ann = await announce(net, srv, 80);
    const c = await cli.clone();
    await drive(net.clock, c.ctl.write('ttl 1'));
    expect(await errorOf(net.clock, c.ctl.write('connect 10.2.0.2!80'))).toBe('ttl exceeded at 10.1.0.1');
    c.ctl.close();
    const ok = await dial(net, cli, '10.2.0.2!80', 'ttl 2');
    const s = await take(net, srv, ann.n);
    await drive(net.clock, ok.data.write('over one hop'));
    expect(text(await drive(net.clock, s.data.read()))).toBe('over one hop');
    for (const f of [ok.data, ok.ctl, s.data, s.ctl, ann.ctl]) f.close();
  });

  it('ignores the advice after ignoreadvice: the connect times out instead', async () => {
    const r = routed();
    net = r;
    const [cli] = net.clients as [SimClient];
    const c = await cli.clone();
    await drive(net.clock, c.ctl.write('ttl 1'));
    await drive(net.clock, c.ctl.write('ignoreadvice'));
    expect(await errorOf(net.clock, c.ctl.write('connect 10.2.0.2!80'), 200_000)).toBe('connection timed out');
    c.ctl.close();
  });
});

describe('/net/tcp listen queue on our stack', () => {
  it('answers every call of a burst with backlog 2: the rest wait for room, none is reset', async () => {
    net = lan(2);
    const [cli, srv] = net.clients as [SimClient, SimClient];
    const ann = await announce(net, srv, 7004, 'backlog 2');
    const calls = 10;
    const dials = Array.from({ length: calls }, (_, i) => dial(net!, cli, '10.0.0.2!7004').then(async (d) => {
      await drive(net!.clock, d.data.write(`hello ${i}`));
      return d;
    }));
    const clients = await drive(net.clock, Promise.all(dials));
    await runFor(net.clock, 500);
    const tcp = net.nets[1]!.tcp;
    expect(tcp.listenOverflows).toBeGreaterThan(0); // 2 queued, the others held
    // One more call while the queue is full: its SYN goes unanswered (and is counted).
    const before = tcp.listenOverflows;
    const late = await cli.clone();
    const lateConnect = late.ctl.write('connect 10.0.0.2!7004');
    await runFor(net.clock, 10);
    expect(tcp.listenOverflows).toBe(before + 1);
    // Listens take the calls: every one completes, with its data.
    const got: string[] = [];
    for (let i = 0; i < calls + 1; i++) {
      const s = await take(net, srv, ann.n);
      if (i < calls) got.push(text(await drive(net.clock, s.data.read())));
      s.data.close();
      s.ctl.close();
    }
    expect(got.sort()).toEqual(Array.from({ length: calls }, (_, i) => `hello ${i}`).sort());
    await drive(net.clock, lateConnect);
    expect(tcp.stats.OutRsts).toBe(0);
    expect(net.nets[0]!.tcp.stats.EstabResets).toBe(0);
    for (const d of clients) {
      d.data.close();
      d.ctl.close();
    }
    late.ctl.close();
    ann.ctl.close();
  });

  it('queues a burst of 40 within the default backlog (64) without holding any', async () => {
    net = lan(2);
    const [cli, srv] = net.clients as [SimClient, SimClient];
    const ann = await announce(net, srv, 7005);
    const clients = await drive(net.clock, Promise.all(Array.from({ length: 40 }, () => dial(net!, cli, '10.0.0.2!7005'))));
    for (let i = 0; i < 40; i++) {
      const s = await take(net, srv, ann.n);
      s.data.close();
      s.ctl.close();
    }
    expect(net.nets[1]!.tcp.listenOverflows).toBe(0);
    for (const d of clients) {
      d.data.close();
      d.ctl.close();
    }
    ann.ctl.close();
  });
});
