/**
 * A client that tries to wedge a connection or take the server's memory:
 * more blocked requests than the in-flight bound, a Tflush and a
 * disconnect behind them; incomplete messages held on many connections;
 * a message that never completes.
 */
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { hostNet } from '../../src/backend/host/backend.js';
import { ManualClock } from '../../src/lib/clock.js';
import { Ebusy } from '../../src/ninep/connection.js';
import { Server } from '../../src/ninep/server.js';
import { MsgType, ORDWR, OREAD } from '../../src/ninep/types.js';
import type { Rread } from '../../src/ninep/types.js';
import { SynthDir } from '../../src/ninep/synth.js';
import { QTDIR, qid } from '../../src/ninep/types.js';
import { Raw9p } from '../helpers/raw9p.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function serve(server: Server): Promise<number> {
  const l = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
  cleanup.push(() => server.close());
  return (l.address() as AddressInfo).port;
}

/** Resolves when cond() holds; polls the event loop, fails after `what` never happens. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 3000) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '::', ipv6Only: false }, () => s.close(() => resolve(true)));
  });
}

describe('more requests than the in-flight bound', () => {
  it('1,280 blocked listens: Tflush is answered, extra requests get an error, a disconnect releases everything', async () => {
    const hn = hostNet({ eve: 'eve' });
    const logs: string[] = [];
    const server = new Server({ root: hn.root, log: (l) => logs.push(l) });
    const port = await serve(server);
    const p = await Raw9p.connect(port);
    await p.start({ uname: 'alice', msize: 65536 });
    // A conversation announced on a free port.
    p.send({ type: MsgType.Twalk, tag: 2, fid: 0, newfid: 1, wnames: ['tcp', 'clone'] });
    await p.reply(2);
    expect((await p.rpc({ type: MsgType.Topen, tag: 3, fid: 1, mode: ORDWR })).type).toBe(MsgType.Ropen);
    const n = (await p.rpc({ type: MsgType.Tread, tag: 4, fid: 1, offset: 0n, count: 32 })) as Rread;
    const conv = Buffer.from(n.data).toString();
    expect((await p.rpc({ type: MsgType.Twrite, tag: 5, fid: 1, offset: 0n, data: Buffer.from('announce 0') })).type).toBe(MsgType.Rwrite);
    const lport = hn.tcpDir.convs[Number(conv)]!.lport;
    expect(lport).toBeGreaterThan(0);

    // 1,280 listen opens, each on its own fid: they all block.
    const N = 1280;
    for (let i = 0; i < N; i++) {
      p.send({ type: MsgType.Twalk, tag: 100 + 2 * i, fid: 0, newfid: 100 + i, wnames: ['tcp', conv, 'listen'] });
      p.send({ type: MsgType.Topen, tag: 101 + 2 * i, fid: 100 + i, mode: OREAD });
    }
    // Walks answer; the first listens block: 1,024 requests in flight.
    await until(() => server.connections.size === 1 && [...server.connections][0]!.inflight >= 1024, 'the in-flight bound');
    // A Tflush still gets through and is answered.
    const flushed = 101;
    p.send({ type: MsgType.Tflush, tag: 9000, oldtag: flushed });
    expect((await p.reply(9000)).type).toBe(MsgType.Rflush);
    // Requests beyond the held ones are refused at once, not left unread.
    for (let i = 0; i < 300; i++) p.send({ type: MsgType.Tstat, tag: 10000 + i, fid: 0 });
    const r = await p.reply(10299);
    expect(r.type).toBe(MsgType.Rerror);
    expect((r as { ename: string }).ename).toBe(Ebusy);

    // The client goes away with everything still pending.
    p.sock.destroy();
    await until(() => server.connections.size === 0, 'the server to see the disconnect');
    await until(() => hn.tcp.liveServers === 0, 'the announcement to close');
    expect(hn.tcpDir.convs.every((c) => c.refs === 0 && c.state === 'Idle')).toBe(true);
    expect(await portFree(lport)).toBe(true);
    expect(logs.filter((l) => l.includes('internal error'))).toEqual([]);
  }, 30_000);
});

describe('incomplete messages', () => {
  const root = new SynthDir(qid(QTDIR, 0n), () => ({ name: '/', uid: 'glenda', mode: 0o555 }), () => []);

  /** A Twrite header announcing `size` bytes of frame, and that many bytes minus `short`. */
  function partialTwrite(size: number, short: number): Buffer {
    const b = Buffer.alloc(size - short);
    b.writeUInt32LE(size, 0);
    b[4] = MsgType.Twrite;
    b.writeUInt16LE(7, 5);
    b.writeUInt32LE(0, 7);
    b.writeUInt32LE(size - 23, 19);
    return b;
  }

  it('are bounded across connections: the oldest holder is disconnected, others go on', async () => {
    const server = new Server({ root: () => root, log: () => {}, maxIncompleteBytes: 8 * 1024 * 1024 });
    const port = await serve(server);
    const holders: Raw9p[] = [];
    for (let i = 0; i < 10; i++) {
      const p = await Raw9p.connect(port);
      cleanup.push(() => p.close());
      await p.start({ msize: 2 * 1024 * 1024 });
      p.sendBytes(partialTwrite(2 * 1024 * 1024, 1));
      holders.push(p);
      // Each connection's bytes arrive before the next one's.
      await until(() => server.incompleteBytes >= Math.min(i + 1, 4) * (2 * 1024 * 1024 - 1) || holders[0]!.closed, 'the bytes to arrive');
    }
    await until(() => server.incompleteBytes <= 8 * 1024 * 1024 && holders.filter((h) => !h.closed).length <= 4, 'eviction');
    expect(server.incompleteBytes).toBeLessThanOrEqual(8 * 1024 * 1024);
    // The oldest went first; the newest is still there.
    expect(holders[0]!.closed).toBe(true);
    expect(holders[9]!.closed).toBe(false);
    // A good client is unaffected.
    const good = await Raw9p.connect(port);
    cleanup.push(() => good.close());
    await good.start();
    expect((await good.rpc({ type: MsgType.Tstat, tag: 2, fid: 0 })).type).toBe(MsgType.Rstat);
    for (const h of holders) h.close();
    await until(() => server.incompleteBytes === 0, 'the held bytes to be released');
  }, 30_000);

  it('that never complete time out', async () => {
    const clock = new ManualClock(0);
    const logs: string[] = [];
    const server = new Server({ root: () => root, log: (l) => logs.push(l), clock, limits: { messageTimeoutMs: 60_000 } });
    const port = await serve(server);
    const p = await Raw9p.connect(port);
    cleanup.push(() => p.close());
    await p.start();
    p.sendBytes(partialTwrite(4096, 100));
    await until(() => server.incompleteBytes > 0, 'the partial message to arrive');
    clock.advance(59_000);
    expect(p.closed).toBe(false);
    clock.advance(2_000);
    await p.closedP;
    expect(server.incompleteBytes).toBe(0);
    expect(logs.some((l) => l.includes('incomplete message timed out'))).toBe(true);
  });

  it('a message trickled in small pieces is held compactly and still arrives whole', async () => {
    const server = new Server({ root: () => root, log: () => {} });
    const port = await serve(server);
    const p = await Raw9p.connect(port);
    cleanup.push(() => p.close());
    await p.start();
    const stat = Buffer.alloc(11);
    stat.writeUInt32LE(11, 0);
    stat[4] = MsgType.Tstat;
    stat.writeUInt16LE(77, 5);
    stat.writeUInt32LE(0, 7);
    p.sock.setNoDelay(true);
    for (let i = 0; i < stat.length; i++) {
      p.sendBytes(stat.subarray(i, i + 1));
      await new Promise((r) => setTimeout(r, 1));
    }
    expect((await p.reply(77)).type).toBe(MsgType.Rstat);
    expect(server.incompleteBytes).toBe(0);
  });
});
