/**
 * /net/tcp over 9P on the host backend (plan9-net.md §3, §4, §13, §16,
 * §18): clone, ctl verbs and their errors, connect/announce/listen, EOF and
 * reset semantics, hangup, Tflush of blocked reads/listens/connects,
 * concurrency, permissions, last close, a dropped 9P connection, keepalive
 * and flow control. Loopback only; every peer is a local socket.
 */
import { SEND_QUEUE } from '../../src/backend/host/tcp.js';
import { createHash, randomBytes } from 'node:crypto';
import type * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Interrupted } from '../../src/ninep/error.js';
import { DMDIR, OREAD, ORDWR } from '../../src/ninep/types.js';
import {
  EVE, TcpPeer, clone, closedTcpPort, errorOf, readFull, readN, readText, startNet, stuckListener, tcpConnect, waitFor,
} from './harness.js';
import type { NetFixture } from './harness.js';
import { expectClosedData } from '../backend/host/scenarios.js';

const Ehungup = 'i/o on hungup channel';

let fx: NetFixture;
let echo: TcpPeer;
const peers: TcpPeer[] = [];
const sockets: net.Socket[] = [];

/** A local server whose accepted sockets the test drives itself. */
async function peer(opts: net.ServerOpts = {}): Promise<TcpPeer> {
  const p = await TcpPeer.start(undefined, opts);
  peers.push(p);
  return p;
}

async function connectTo(port: number): Promise<net.Socket> {
  const s = await tcpConnect(port);
  sockets.push(s);
  return s;
}

async function announce0(ctl: { write(d: string): Promise<number> }, c: { readFile(p: string): Promise<Buffer> }, dir: string): Promise<number> {
  await ctl.write('announce 0');
  const local = (await c.readFile(`${dir}/local`)).toString();
  const m = /^::!(\d+)\n$/.exec(local);
  expect(m, `local of an announce 0: ${JSON.stringify(local)}`).not.toBeNull();
  return Number(m![1]);
}

beforeAll(async () => {
  fx = await startNet();
  echo = await TcpPeer.echo();
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await fx.close();
  await echo.close();
  for (const p of peers) await p.close();
});

describe('clone', () => {
  it('returns the ctl of a new conversation, listed and owned by the attacher', async () => {
    const c = await fx.client('alice');
    const ctl = await c.open('/tcp/clone', ORDWR);
    const text = (await ctl.read(64, undefined, 0n)).toString();
    expect(text).toMatch(/^(0|[1-9]\d*)$/);
    const n = Number(text);
    const st = await c.stat(`/tcp/${n}/ctl`);
    expect(ctl.qid.path).toBe(st.qid.path);
    expect(ctl.qid.type).toBe(st.qid.type);
    expect(ctl.qid.path).not.toBe((await c.stat('/tcp/clone')).qid.path);
    expect((await ctl.stat()).name).toBe('ctl');
    const ls = await c.ls('/tcp');
    const entry = ls.find((d) => d.name === String(n));
    expect(entry).toBeDefined();
    expect(entry!.uid).toBe('alice');
    expect(entry!.mode & DMDIR).not.toBe(0);
    expect(ls.map((d) => d.name).slice(-2)).toEqual(['clone', 'stats']);
    const ctlSt = await c.stat(`/tcp/${n}/ctl`);
    expect(ctlSt.uid).toBe('alice');
    expect(ctlSt.mode & 0o777).toBe(0o660);
    await ctl.close();
  });

  it('stats has the 28 TCP counters', async () => {
    const c = await fx.client();
    const lines = (await readText(c, '/tcp/stats')).split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(28);
    expect(lines[0]).toMatch(/^MaxConn: \d+$/);
    for (const l of lines) expect(l).toMatch(/^\w+: -?\d+$/);
  });
});

describe('connect', () => {
  it('dials a local echo server through clone, connect and data', async () => {
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    expect(await ctl.write(`connect 127.0.0.1!${echo.port}`)).toBe(`connect 127.0.0.1!${echo.port}`.length);
    const data = await c.open(`${dir}/data`, ORDWR);
    expect(await readText(c, `${dir}/status`)).toMatch(/^Established /);
    expect(await readText(c, `${dir}/local`)).toMatch(/^127\.0\.0\.1!([1-9]\d*)\n$/);
    expect(await readText(c, `${dir}/remote`)).toBe(`127.0.0.1!${echo.port}\n`);
    await data.write('hello, echo');
    expect((await readFull(data, 11)).toString()).toBe('hello, echo');
    await data.close();
    await ctl.close();
  });

  it('dials ::1 and prints IPv6 addresses', async () => {
    const p = await TcpPeer.start((s) => s.pipe(s), {}, '::1');
    peers.push(p);
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    await ctl.write(`connect ::1!${p.port}`);
    expect(await readText(c, `${dir}/remote`)).toBe(`::1!${p.port}\n`);
    expect(await readText(c, `${dir}/local`)).toMatch(/^::1!\d+\n$/);
    const data = await c.open(`${dir}/data`, ORDWR);
    await data.write('six');
    expect((await readFull(data, 3)).toString()).toBe('six');
    await data.close();
    await ctl.close();
  });

  it('rejects bad ctl messages with devip\'s error strings', async () => {
    const c = await fx.client();
    const { ctl } = await clone(c);
    expect(await errorOf(ctl.write('bogus'))).toBe('unknown control request');
    expect(await errorOf(ctl.write(''))).toBe('short control request');
    expect(await errorOf(ctl.write('\n'))).toBe('short control request');
    expect(await errorOf(ctl.write('connect 127.0.0.1'))).toBe('malformed address');
    expect(await errorOf(ctl.write('connect localhost!80'))).toBe('bad ip address syntax');
    expect(await errorOf(ctl.write('connect 127.0.0.1!http'))).toBe('bad numeric port');
    expect(await errorOf(ctl.write('connect 127.0.0.1!80x'))).toBe('bad numeric port');
    expect(await errorOf(ctl.write('connect a b c d'))).toBe('bad args to connect');
    expect(await errorOf(ctl.write('connect'))).toBe('bad args to connect');
    expect(await errorOf(ctl.write('announce'))).toBe('bad args to announce');
    expect(await errorOf(ctl.write('announce 1 2'))).toBe('bad args to announce');
    expect(await errorOf(ctl.write('announce 192.0.2.254!80'))).toBe('not a local IP address');
    expect(await errorOf(ctl.write('announce x'))).toBe('bad numeric port');
    expect(await errorOf(ctl.write('accept 1'))).toBe('unknown control request');
    // None of these changed the conversation: it is still Idle.
    expect(await readText(c, `/tcp/${(await ctl.read(64, undefined, 0n)).toString()}/status`)).toMatch(/^Closed /);
    await ctl.close();
  });

  it('connection refused, then connection in use on the same ctl (G6)', async () => {
    const c = await fx.client();
    const { ctl } = await clone(c);
    const port = await closedTcpPort();
    expect(await errorOf(ctl.write(`connect 127.0.0.1!${port}`))).toBe('connection refused');
    expect(await errorOf(ctl.write(`connect 127.0.0.1!${echo.port}`))).toBe('connection in use');
    expect(await errorOf(ctl.write('announce 0'))).toBe('connection in use');
    await ctl.close();
    const zero = await clone(c);
    expect(await errorOf(zero.ctl.write('connect 127.0.0.1!0'))).toBe('connection refused');
    await zero.ctl.close();
  });

  it('announce * (any port) is for eve only (G21)', async () => {
    const c = await fx.client('alice');
    const { ctl } = await clone(c);
    expect(await errorOf(ctl.write('announce *!*'))).toBe('permission denied');
    await ctl.close();
    const e = await fx.client(EVE);
    const a = await clone(e);
    await a.ctl.write('announce *!*');
    expect(await readText(e, `${a.dir}/status`)).toMatch(/^Listen /);
    await a.ctl.close();
  });

  it('keepalive needs an established connection', async () => {
    const c = await fx.client();
    const { ctl } = await clone(c);
    expect(await errorOf(ctl.write('keepalive'))).toBe('connection must be in Establised state');
    await ctl.write(`connect 127.0.0.1!${echo.port}`);
    await ctl.write('keepalive');
    await ctl.write('keepalive 1000');
    await ctl.write('ttl 64');
    await ctl.write('tos');
    await ctl.write('ignoreadvice');
    await ctl.close();
  });
});

describe('pending connect', () => {
  it('a connect still in Syn_sent is flushable; the conversation stays in use, its reads give EOF', async () => {
    const stuck = await stuckListener();
    try {
      const c = await fx.client();
      const { ctl, dir, n } = await clone(c);
      const ac = new AbortController();
      const p = ctl.write(`connect 127.0.0.1!${stuck.port}`, ac.signal);
      await waitFor(() => /^Syn_sent/.test(fx.net.tcp.status(fx.net.tcpDir.convs[n]!)), 'Syn_sent');
      expect(await readText(c, `${dir}/status`)).toMatch(/^Syn_sent /);
      ac.abort();
      await expect(p).rejects.toBeInstanceOf(Interrupted);
      // The 9P connection still works; the conversation cannot be reused.
      expect(await errorOf(ctl.write(`connect 127.0.0.1!${echo.port}`))).toBe('connection in use');
      // The host socket was abandoned: closed as tcp.c's localclose does.
      await expectClosedData(c, dir);
      await ctl.close();
    } finally {
      await stuck.close();
    }
  });

  it.each(['hangup', 'hangupxmit'])('%s from another ctl fid ends a pending connect as Plan 9 does (write returns, conversation closed)', async (verb) => {
    const stuck = await stuckListener();
    try {
      const c = await fx.client();
      const { ctl, dir, n } = await clone(c);
      const p = ctl.write(`connect 127.0.0.1!${stuck.port}`);
      await waitFor(() => /^Syn_sent/.test(fx.net.tcp.status(fx.net.tcpDir.convs[n]!)), 'Syn_sent');
      const ctl2 = await c.open(`${dir}/ctl`, ORDWR);
      await ctl2.write(verb);
      // localclose → Fsconnected(s, nil): the connect write completes without error.
      // (tcpxmitclose does the same in Syn_sent.)
      await p;
      const data = await c.open(`${dir}/data`, ORDWR);
      expect((await data.read(10)).length).toBe(0);
      expect(await errorOf(data.write('x'))).toBe(Ehungup);
      await data.close();
      await ctl2.close();
      await ctl.close();
    } finally {
      await stuck.close();
    }
  });
});

describe('announce and listen', () => {
  it('announce 0 reports ::!P, Listen, and a second announce of P is address in use', async () => {
    const c = await fx.client();
    const a = await clone(c);
    const P = await announce0(a.ctl, c, a.dir);
    expect(P).toBeGreaterThan(0);
    expect(P).toBeLessThanOrEqual(65535);
    expect(await readText(c, `${a.dir}/remote`)).toBe('::!0\n');
    expect(await readText(c, `${a.dir}/status`)).toMatch(/^Listen /);
    const b = await clone(c);
    expect(await errorOf(b.ctl.write(`announce ${P}`))).toBe('address in use');
    // The failed announce left b Idle: it can still announce elsewhere.
    await announce0(b.ctl, c, b.dir);
    const d = await clone(c);
    expect(await errorOf(c.open(`${d.dir}/listen`, ORDWR))).toBe('not announced');
    await d.ctl.close();
    await b.ctl.close();
    await a.ctl.close();
  });

  it('listen yields the ctl of a new connected conversation', async () => {
    const c = await fx.client('alice');
    const a = await clone(c);
    const P = await announce0(a.ctl, c, a.dir);
    const lp = c.open(`${a.dir}/listen`, ORDWR);
    const client = await connectTo(P);
    const lctl = await lp;
    const M = Number((await lctl.read(64, undefined, 0n)).toString());
    expect(M).not.toBe(a.n);
    expect(lctl.qid.path).toBe((await c.stat(`/tcp/${M}/ctl`)).qid.path);
    expect(await readText(c, `/tcp/${M}/local`)).toBe(`127.0.0.1!${P}\n`);
    expect(await readText(c, `/tcp/${M}/remote`)).toBe(`127.0.0.1!${client.localPort}\n`);
    expect(await readText(c, `/tcp/${M}/status`)).toMatch(/^Established /);
    expect((await c.stat(`/tcp/${M}`)).uid).toBe('alice');
    expect(await errorOf(lctl.write(`accept ${M}`))).toBe('unknown control request');
    const data = await c.open(`/tcp/${M}/data`, ORDWR);
    client.write('ping');
    expect((await readFull(data, 4)).toString()).toBe('ping');
    await data.write('pong');
    expect((await readN(client, 4)).toString()).toBe('pong');
    // The announcement is still there for the next call.
    expect(await readText(c, `${a.dir}/status`)).toMatch(/^Listen /);
    await data.close();
    await lctl.close();
    await a.ctl.close();
  });

  it('a call that arrives before the listen open is queued for it', async () => {
    const c = await fx.client();
    const a = await clone(c);
    const P = await announce0(a.ctl, c, a.dir);
    const client = await connectTo(P);
    await waitFor(() => fx.net.tcpDir.convs[a.n]!.incall.length === 1, 'the queued call');
    const lctl = await c.open(`${a.dir}/listen`, ORDWR);
    const M = Number((await lctl.read(64, undefined, 0n)).toString());
    expect(await readText(c, `/tcp/${M}/remote`)).toBe(`127.0.0.1!${client.localPort}\n`);
    await lctl.close();
    await a.ctl.close();
  });

  it('closing the announce ctl does not cancel a pending listen (G24)', async () => {
    const c = await fx.client();
    const a = await clone(c);
    const P = await announce0(a.ctl, c, a.dir);
    const lp = c.open(`${a.dir}/listen`, ORDWR);
    await waitFor(() => fx.net.tcpDir.convs[a.n]!.listeners.length === 1, 'the pending listen');
    await a.ctl.close();
    const client = await connectTo(P);
    const lctl = await lp;
    const M = Number((await lctl.read(64, undefined, 0n)).toString());
    expect(await readText(c, `/tcp/${M}/remote`)).toBe(`127.0.0.1!${client.localPort}\n`);
    // The listen was the last reference: the announcement is gone now.
    expect(fx.net.tcpDir.convs[a.n]!.state).toBe('Idle');
    await lctl.close();
  });

  it('hangup on the announce ctl wakes a pending listen with listen hungup', async () => {
    const c = await fx.client();
    const a = await clone(c);
    await announce0(a.ctl, c, a.dir);
    const lp = c.open(`${a.dir}/listen`, ORDWR);
    await waitFor(() => fx.net.tcpDir.convs[a.n]!.listeners.length === 1, 'the pending listen');
    await a.ctl.write('hangup');
    expect(await errorOf(lp)).toBe('listen hungup');
    await a.ctl.close();
  });
});

describe('end of a connection', () => {
  it('peer FIN: the data, then three 0-byte reads, then i/o on hungup channel; writes still work', async () => {
    const p = await peer();
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    const s = await p.accepted();
    s.end('last words');
    expect((await readFull(data, 10)).toString()).toBe('last words');
    for (let i = 0; i < 3; i++) expect((await data.read(100)).length).toBe(0);
    expect(await errorOf(data.read(100))).toBe(Ehungup);
    expect(await errorOf(data.read(100))).toBe(Ehungup);
    await data.close();
    await ctl.close();
  });

  it('peer FIN with allowHalfOpen: writes are still allowed in Close_wait', async () => {
    const p = await peer({ allowHalfOpen: true });
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    const s = await p.accepted();
    s.end();
    expect((await data.read(100)).length).toBe(0);
    expect(await readText(c, `${dir}/status`)).toMatch(/^Close_wait /);
    await data.write('still here');
    expect((await readN(s, 10)).toString()).toBe('still here');
    await data.close();
    await ctl.close();
  });

  it('peer RST: reads give EOF and writes fail with i/o on hungup channel', async () => {
    const p = await peer();
    const c = await fx.client();
    const { ctl, dir, n } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    const s = await p.accepted();
    s.resetAndDestroy();
    for (let i = 0; i < 3; i++) expect((await data.read(100)).length).toBe(0);
    expect(await errorOf(data.read(100))).toBe(Ehungup);
    await waitFor(() => /^Closed/.test(fx.net.tcp.status(fx.net.tcpDir.convs[n]!)), 'Closed');
    expect(await errorOf(data.write('x'))).toBe(Ehungup);
    await data.close();
    await ctl.close();
  });

  it('hangup ctl sends RST; reads give EOF, writes fail, the conversation stays until closed (G23)', async () => {
    const p = await peer();
    const c = await fx.client();
    const { ctl, dir, n } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    const s = await p.accepted();
    const reset = new Promise<string | undefined>((r) => s.once('error', (e: NodeJS.ErrnoException) => r(e.code)));
    await ctl.write('hangup');
    expect(await reset).toBe('ECONNRESET');
    expect((await data.read(10)).length).toBe(0);
    expect(await errorOf(data.write('x'))).toBe(Ehungup);
    expect(await readText(c, `${dir}/status`)).toMatch(/^Closed /);
    expect(fx.net.tcpDir.convs[n]!.refs).toBe(2);
    await data.close();
    await ctl.close();
    expect(fx.net.tcpDir.convs[n]!.refs).toBe(0);
  });

  it('close ctl sends FIN and hangs up the receive side (no half-close, G8)', async () => {
    const p = await peer({ allowHalfOpen: true });
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    const s = await p.accepted();
    const ended = new Promise<void>((r) => s.once('end', () => r()));
    await ctl.write('close');
    await ended;
    expect((await data.read(10)).length).toBe(0);
    expect(await errorOf(data.write('x'))).toBe(Ehungup);
    s.end();
    await data.close();
    await ctl.close();
  });

  it('last close sends FIN; the conversation is recycled by clone (lowest free)', async () => {
    const p = await peer();
    const c = await fx.client();
    const { ctl, dir, n } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    const s = await p.accepted();
    const ended = new Promise<void>((r) => s.once('end', () => r()));
    // Keeping either fid open keeps the connection alive.
    await ctl.close();
    await data.write('x');
    expect((await readN(s, 1)).toString()).toBe('x');
    await data.close();
    await ended;
    expect(fx.net.tcpDir.convs[n]!.owner).toBe('network');
    expect((await c.stat(dir)).uid).toBe('network');
    const lowest = fx.net.tcpDir.convs.findIndex((cv) => cv.refs === 0 && cv.state === 'Idle' && !cv.queued);
    expect(lowest).toBeLessThanOrEqual(n);
    const again = await clone(c);
    expect(again.n).toBe(lowest);
    await again.ctl.close();
  });

  it('a recycled conversation is not disturbed by its old socket closing late', async () => {
    // The peer keeps its side open after our FIN, so the old socket lingers.
    const p = await peer({ allowHalfOpen: true });
    const c = await fx.client();
    const first = await clone(c);
    await first.ctl.write(`connect 127.0.0.1!${p.port}`);
    const s = await p.accepted();
    const ended = new Promise<void>((r) => s.once('end', () => r()));
    await first.ctl.close();
    await ended;
    // Clone until we get the same conversation back (it is the lowest free one).
    const lowest = fx.net.tcpDir.convs.findIndex((cv) => cv.refs === 0 && cv.state === 'Idle' && !cv.queued);
    expect(lowest).toBeLessThanOrEqual(first.n);
    const held: { close(): Promise<void> }[] = [];
    let again = await clone(c);
    while (again.n !== first.n) {
      held.push(again.ctl);
      again = await clone(c);
    }
    await again.ctl.write(`connect 127.0.0.1!${echo.port}`);
    const data = await c.open(`${again.dir}/data`, ORDWR);
    // Now the old peer finally closes; our old socket sees its FIN.
    const live = fx.net.tcp.liveSockets;
    s.end();
    await waitFor(() => fx.net.tcp.liveSockets === live - 1, 'the old socket to close');
    await data.write('fresh');
    expect((await readFull(data, 5)).toString()).toBe('fresh');
    await data.close();
    await again.ctl.close();
    for (const h of held) await h.close();
  });
});

describe('Tflush', () => {
  it('a blocked data read is flushed; the connection keeps working and no data is lost', async () => {
    const p = await peer();
    const c = await fx.client();
    const { ctl, dir, n } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    const s = await p.accepted();
    const ac = new AbortController();
    const r = data.read(100, ac.signal);
    ac.abort();
    await expect(r).rejects.toBeInstanceOf(Interrupted);
    expect((await ctl.read(64, undefined, 0n)).toString()).toBe(String(n));
    s.write('after');
    expect((await readFull(data, 5)).toString()).toBe('after');
    await data.close();
    await ctl.close();
  });

  it('a blocked listen open is flushed; closing the announce ctl then frees the port', async () => {
    const c = await fx.client();
    const a = await clone(c);
    const P = await announce0(a.ctl, c, a.dir);
    const ac = new AbortController();
    const lp = c.open(`${a.dir}/listen`, ORDWR, ac.signal);
    await waitFor(() => fx.net.tcpDir.convs[a.n]!.listeners.length === 1, 'the pending listen');
    expect(fx.net.tcpDir.convs[a.n]!.refs).toBe(2);
    ac.abort();
    await expect(lp).rejects.toBeInstanceOf(Interrupted);
    expect(fx.net.tcpDir.convs[a.n]!.refs).toBe(1);
    expect(await readText(c, `${a.dir}/status`)).toMatch(/^Listen /);
    await a.ctl.close();
    expect(fx.net.tcpDir.convs[a.n]!.state).toBe('Idle');
    const b = await clone(c);
    await b.ctl.write(`announce ${P}`);
    expect(await readText(c, `${b.dir}/local`)).toBe(`::!${P}\n`);
    // And calls to P now reach b.
    const lp2 = c.open(`${b.dir}/listen`, ORDWR);
    const client = await connectTo(P);
    const lctl = await lp2;
    const M = Number((await lctl.read(64, undefined, 0n)).toString());
    expect(await readText(c, `/tcp/${M}/remote`)).toBe(`127.0.0.1!${client.localPort}\n`);
    await lctl.close();
    await b.ctl.close();
  });
});

describe('concurrency', () => {
  it('blocked reads on two clients do not delay a third client', async () => {
    const p = await peer();
    const [ca, cb, cc] = [await fx.client('a'), await fx.client('b'), await fx.client('c')];
    const convA = await clone(ca);
    const convB = await clone(cb);
    await convA.ctl.write(`connect 127.0.0.1!${p.port}`);
    const sa = await p.accepted();
    await convB.ctl.write(`connect 127.0.0.1!${p.port}`);
    const sb = await p.accepted();
    const da = await ca.open(`${convA.dir}/data`, ORDWR);
    const db = await cb.open(`${convB.dir}/data`, ORDWR);
    let settled = 0;
    const ra = da.read(100).finally(() => settled++);
    const rb = db.read(100).finally(() => settled++);
    expect((await readText(cc, '/tcp/stats')).split('\n')[0]).toMatch(/^MaxConn: /);
    const names = (await cc.ls('/tcp')).map((d) => d.name);
    expect(names).toContain(String(convA.n));
    expect(names).toContain(String(convB.n));
    expect(await readText(cc, `${convA.dir}/status`)).toMatch(/^Established /);
    expect(settled).toBe(0);
    sb.write('to b');
    sa.write('to a');
    expect((await ra).toString()).toBe('to a');
    expect((await rb).toString()).toBe('to b');
    await da.close();
    await db.close();
    await convA.ctl.close();
    await convB.ctl.close();
  });
});

describe('permissions (9front, G20)', () => {
  it('only the owner and eve may open a conversation\'s files', async () => {
    const alice = await fx.client('alice');
    const bob = await fx.client('bob');
    const eve = await fx.client(EVE);
    const { ctl, dir, n } = await clone(alice);
    expect(await errorOf(bob.open(`${dir}/data`, ORDWR))).toBe('permission denied');
    expect(await errorOf(bob.open(`${dir}/ctl`, ORDWR))).toBe('permission denied');
    expect(await errorOf(bob.open(`${dir}/ctl`, OREAD))).toBe('permission denied');
    expect(await errorOf(bob.open(`${dir}/err`, OREAD))).toBe('permission denied');
    // local/remote/status are 0444.
    expect(await readText(bob, `${dir}/local`)).toBe('::!0\n');
    expect(await errorOf(alice.open(`${dir}/local`, ORDWR))).toBe('permission denied');
    const ectl = await eve.open(`${dir}/ctl`, ORDWR);
    expect((await ectl.read(64, undefined, 0n)).toString()).toBe(String(n));
    await ectl.close();
    // Announced: bob may not listen on it either.
    await ctl.write('announce 0');
    expect(await errorOf(bob.open(`${dir}/listen`, ORDWR))).toBe('permission denied');
    // wstat: only the owner (or eve); then the new mode applies.
    expect(await errorOf(bob.wstat(`${dir}/ctl`, { mode: 0o666 }))).toBe('permission denied');
    await alice.wstat(`${dir}/ctl`, { mode: 0o666 });
    const bctl = await bob.open(`${dir}/ctl`, ORDWR);
    await bctl.close();
    await ctl.close();
  });
});

describe('a dropped 9P connection', () => {
  it('releases its conversations, listens and blocked reads', async () => {
    const own = await startNet();
    const stuck = await stuckListener();
    try {
      const tcp = own.net.tcp;
      const sockets0 = tcp.liveSockets;
      const servers0 = tcp.liveServers;
      const c = await own.client();
      const conn = await clone(c);
      await conn.ctl.write(`connect 127.0.0.1!${echo.port}`);
      const data = await c.open(`${conn.dir}/data`, ORDWR);
      const ann = await clone(c);
      await ann.ctl.write('announce 0');
      const lp = c.open(`${ann.dir}/listen`, ORDWR);
      const rd = data.read(100);
      // And a connect still in Syn_sent.
      const pend = await clone(c);
      const cp = pend.ctl.write(`connect 127.0.0.1!${stuck.port}`);
      await waitFor(() => own.net.tcpDir.convs[ann.n]!.listeners.length === 1, 'the pending listen');
      await waitFor(() => /^Syn_sent/.test(tcp.status(own.net.tcpDir.convs[pend.n]!)), 'Syn_sent');
      expect(tcp.liveSockets).toBe(sockets0 + 2);
      expect(tcp.liveServers).toBe(servers0 + 1);
      c.close();
      await expect(lp).rejects.toThrow();
      await expect(rd).rejects.toThrow();
      await expect(cp).rejects.toThrow();
      await waitFor(() => tcp.liveSockets === sockets0 && tcp.liveServers === servers0, 'host sockets to close');
      for (const n of [conn.n, ann.n, pend.n]) {
        expect(own.net.tcpDir.convs[n]!.refs).toBe(0);
        expect(own.net.tcpDir.convs[n]!.state).toBe('Idle');
      }
      // The server keeps serving others.
      const c2 = await own.client();
      const again = await clone(c2);
      expect(again.n).toBe(0);
      await again.ctl.close();
    } finally {
      await own.close();
      await stuck.close();
    }
  });
});

describe('flow control', () => {
  it('64 MiB toward a reader that is not reading: the writer waits, memory stays bounded, bytes arrive intact', async () => {
    const p = await peer();
    const c = await fx.client();
    const { ctl, dir, n } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const s = await p.accepted();
    const data = await c.open(`${dir}/data`, ORDWR);
    const MiB = 1024 * 1024;
    const total = 64 * MiB;
    const base = randomBytes(MiB);
    const sent = createHash('sha256');
    let written = 0;
    const writer = (async (): Promise<void> => {
      for (let i = 0; i < 64; i++) {
        const chunk = Buffer.from(base);
        chunk.writeUInt32BE(i, 0);
        sent.update(chunk);
        await data.write(chunk);
        written += chunk.length;
      }
    })();
    // The peer reads nothing: the server's socket fills and the write waits.
    const sock = (): net.Socket | null => (fx.net.tcpDir.convs[n]!.ptcl as { sock: net.Socket | null }).sock;
    await waitFor(() => sock()?.writableNeedDrain === true, 'the server to wait for drain', 20_000);
    expect(written).toBeLessThan(total);
    const qout = Number(/ qout (\d+) /.exec(await readText(c, `${dir}/status`))![1]);
    // Bounded: writes wait once the socket holds SEND_QUEUE bytes; one write may overshoot it.
    expect(qout).toBeLessThanOrEqual(SEND_QUEUE + MiB);
    // Now read it all.
    const got = createHash('sha256');
    let received = 0;
    const done = new Promise<void>((resolve) => {
      s.on('data', (b: Buffer) => {
        got.update(b);
        received += b.length;
        if (received >= total) resolve();
      });
    });
    await writer;
    await done;
    expect(received).toBe(total);
    expect(got.digest('hex')).toBe(sent.digest('hex'));
    await data.close();
    await ctl.close();
  }, 120_000);

  it('a conversation not being read pauses its socket at the receive queue bound', async () => {
    const p = await peer();
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const s = await p.accepted();
    const data = await c.open(`${dir}/data`, ORDWR);
    const MiB = 1024 * 1024;
    const total = 64 * MiB;
    const sent = createHash('sha256');
    const writer = (async (): Promise<void> => {
      for (let i = 0; i < 64; i++) {
        const chunk = randomBytes(MiB);
        sent.update(chunk);
        if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
      }
    })();
    await waitFor(() => s.writableNeedDrain && s.writableLength > 0, 'the peer to be held up', 20_000);
    const queued = (await data.stat()).length;
    expect(queued).toBeLessThanOrEqual(BigInt(5 * MiB));
    const got = createHash('sha256');
    let received = 0;
    while (received < total) {
      const b = await data.read();
      expect(b.length).toBeGreaterThan(0);
      got.update(b);
      received += b.length;
    }
    await writer;
    expect(received).toBe(total);
    expect(got.digest('hex')).toBe(sent.digest('hex'));
    await data.close();
    await ctl.close();
  }, 120_000);
});

describe('more conversation files and ctl verbs', () => {
  it('a conversation directory holds ctl data err listen local remote status', async () => {
    const c = await fx.client('alice');
    const { ctl, dir } = await clone(c);
    const ls = await c.ls(dir);
    expect(ls.map((d) => d.name)).toEqual(['ctl', 'data', 'err', 'listen', 'local', 'remote', 'status']);
    for (const d of ls) {
      expect(d.uid).toBe('alice');
      expect(d.gid).toBe(EVE);
      expect(d.mode & 0o777).toBe(['local', 'remote', 'status'].includes(d.name) ? 0o444 : 0o660);
    }
    expect(await errorOf(c.open(`/tcp/99999/ctl`, OREAD))).toBe('file does not exist');
    await ctl.close();
  });

  it('err cannot be written, and a read of it blocks until flushed (G9)', async () => {
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${echo.port}`);
    expect(await errorOf(c.open(`${dir}/err`, ORDWR))).toBe('permission denied');
    const err = await c.open(`${dir}/err`, OREAD);
    const ac = new AbortController();
    const r = err.read(100, ac.signal);
    // The conversation works meanwhile.
    const data = await c.open(`${dir}/data`, ORDWR);
    await data.write('e');
    expect((await readFull(data, 1)).toString()).toBe('e');
    ac.abort();
    await expect(r).rejects.toBeInstanceOf(Interrupted);
    await err.close();
    await data.close();
    await ctl.close();
  });

  it('connect with a local port as third field uses it', async () => {
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    const lport = await closedTcpPort();
    await ctl.write(`connect 127.0.0.1!${echo.port} ${lport}`);
    expect(await readText(c, `${dir}/local`)).toBe(`127.0.0.1!${lport}\n`);
    await ctl.close();
  });

  it('connect A!P!r takes a restricted local port (600-1023), which needs privileges on the host', async () => {
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    const r = await errorOf(ctl.write(`connect 127.0.0.1!${echo.port}!r`));
    if (process.getuid?.() === 0) {
      expect(r).toBe('no error');
      const port = Number(/!(\d+)\n$/.exec(await readText(c, `${dir}/local`))![1]);
      expect(port).toBeGreaterThanOrEqual(600);
      expect(port).toBeLessThanOrEqual(1023);
    } else {
      // Host limitation: unprivileged processes cannot bind ports below 1024.
      expect(r).toBe('permission denied');
    }
    await ctl.close();
  });

  it('bind only records the local side', async () => {
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    await ctl.write('bind 1234');
    expect(await readText(c, `${dir}/local`)).toBe('::!1234\n');
    expect(await errorOf(ctl.write('bind'))).toBe('bad args to bind');
    expect(await errorOf(ctl.write('bind 192.0.2.254!1'))).toBe('not a local IP address');
    await ctl.close();
  });

  it('at most backlog calls wait for listen; further calls wait below, none refused', async () => {
    const c = await fx.client();
    const a = await clone(c);
    await a.ctl.write('backlog 4');
    const P = await announce0(a.ctl, c, a.dir);
    const ports = new Set<string>();
    let closed = 0;
    for (let i = 0; i < 12; i++) {
      const s = await connectTo(P);
      s.once('close', () => closed++);
      s.resume();
      ports.add(`127.0.0.1!${s.localPort}\n`);
    }
    const queued = (): number => fx.net.tcpDir.convs[a.n]!.incall.length;
    await waitFor(() => queued() === 4, 'four queued calls');
    const remotes = new Set<string>();
    const calls: { close(): Promise<void> }[] = [];
    for (let i = 0; i < 12; i++) {
      expect(queued()).toBeLessThanOrEqual(4);
      const l = await c.open(`${a.dir}/listen`, ORDWR);
      calls.push(l);
      const M = Number((await l.read(64, undefined, 0n)).toString());
      remotes.add(await readText(c, `/tcp/${M}/remote`));
    }
    expect(remotes).toEqual(ports);
    expect(closed).toBe(0);
    for (const l of calls) await l.close();
    expect(await errorOf(a.ctl.write('backlog 0'))).toBe('bad arg in system call');
    expect(await errorOf(a.ctl.write('backlog x'))).toBe('bad arg in system call');
    await a.ctl.close();
  });
});

describe('a full conversation table', () => {
  it('clone fails with no free devices; an incoming call waits for a free conversation', async () => {
    const own = await startNet({ maxTcp: 3, userQuota: 3 });
    try {
      const c = await own.client();
      const a = await clone(c);
      const P = await announce0(a.ctl, c, a.dir);
      const b = await clone(c);
      const d = await clone(c);
      expect(await errorOf(c.open('/tcp/clone', ORDWR))).toBe('no free devices');
      // No conversation for the call: it waits (accepted by the kernel, not refused).
      const waiting = await tcpConnect(P);
      sockets.push(waiting);
      let closed = false;
      waiting.once('close', () => { closed = true; });
      waiting.resume();
      const lp = c.open(`${a.dir}/listen`, ORDWR);
      await waitFor(() => own.net.tcpDir.convs[a.n]!.listeners.length === 1, 'the pending listen');
      // Free one: the waiting call gets it.
      await d.ctl.close();
      const l = await lp;
      expect(Number((await l.read(64, undefined, 0n)).toString())).toBe(d.n);
      expect(await readText(c, `/tcp/${d.n}/remote`)).toBe(`127.0.0.1!${waiting.localPort}\n`);
      expect(closed).toBe(false);
      await l.close();
      await b.ctl.close();
      await a.ctl.close();
    } finally {
      await own.close();
    }
  });
});
