/**
 * TCP announce and listen on every backend (9/ip/devip.c, 9/ip/tcp.c):
 * announce 0 and explicit addresses, `address in use`,
 * `not announced`, a listen that blocks and becomes the ctl of a new
 * conversation, calls queued before a listen, `listen hungup`, Tflush of a
 * listen, and bursts of calls against the default and a small backlog
 * (issue 8 item 7).
 */
import { expect, it } from 'vitest';
import { Interrupted } from '../../src/ninep/error.js';
import { ORDWR } from '../../src/ninep/types.js';
import type { Client, File } from '../../src/ninep/client.js';
import type { PeerConn } from './peer.js';
import {
  TCP_STATUS, announce0, clone, convOf, errorOf, later, onEveryBackend, prompt, readFull, readText, waitFor,
} from './suite.js';
import type { Fixture } from './suite.js';

/** How long a listen in a burst may wait: a call left out of a full backlog retransmits its SYN (1 s, 2 s, 4 s, 8 s...). */
const LISTEN_MS = 20_000;

/** Wait until announced conversation n has a listen pending. */
function listening(fx: Fixture, n: number): Promise<void> {
  return waitFor(() => fx.tcpDir.convs[n]!.listeners.length === 1, 'the pending listen');
}

/**
 * Take `count` calls through listen on announced conversation `dir` and
 * check each against the peer's end: distinct calls, each one carrying a
 * byte to the peer connection whose port it shows.
 */
async function takeCalls(c: Client, dir: string, count: number, calls: Promise<PeerConn[]>): Promise<void> {
  const taken: { ctl: File; M: number; rport: number }[] = [];
  for (let i = 0; i < count; i++) {
    const l = await prompt(`listen for call ${i + 1} of ${count}`, (s) => c.open(`${dir}/listen`, ORDWR, s), LISTEN_MS);
    const M = await convOf(l);
    expect(await readText(c, `/tcp/${M}/status`)).toMatch(/^Established /);
    taken.push({ ctl: l, M, rport: Number(/!(\d+)\n$/.exec(await readText(c, `/tcp/${M}/remote`))![1]) });
  }
  const conns = await calls;
  const byPort = new Map(conns.map((p) => [p.port, p]));
  expect(new Set(taken.map((t) => t.rport)).size).toBe(count);
  for (const t of taken) {
    const peer = byPort.get(t.rport);
    expect(peer, `a peer connection from port ${t.rport}`).toBeDefined();
    const data = await c.open(`/tcp/${t.M}/data`, ORDWR);
    await data.write(`#${t.M}`);
    expect((await peer!.read(`#${t.M}`.length)).toString()).toBe(`#${t.M}`);
    await data.close();
    await t.ctl.close();
  }
  for (const p of conns) await p.close();
}

onEveryBackend('tcp announce and listen', (fx) => {
  it('announce 0 reports ::!P and Listen; announcing P again is address in use; listen needs an announcement', async () => {
    const c = await fx().client();
    const a = await clone(c);
    const P = await announce0(c, a.ctl, a.dir);
    expect(P).toBeGreaterThan(0);
    expect(P).toBeLessThanOrEqual(65535);
    expect(await readText(c, `${a.dir}/remote`)).toBe('::!0\n');
    const status = await readText(c, `${a.dir}/status`);
    expect(status).toMatch(TCP_STATUS);
    expect(status).toMatch(/^Listen /);
    const b = await clone(c);
    expect(await errorOf(b.ctl.write(`announce ${P}`))).toBe('address in use');
    // The failed announce left b Idle: it can still announce elsewhere.
    await announce0(c, b.ctl, b.dir);
    expect(await errorOf(b.ctl.write('announce 0'))).toBe('connection in use');
    const d = await clone(c);
    expect(await errorOf(c.open(`${d.dir}/listen`, ORDWR))).toBe('not announced');
    for (const f of [d.ctl, b.ctl, a.ctl]) await f.close();
  });

  it('a failed announce leaves the conversation as it was: Idle, local ::!0 (9front setluniqueport checks first)', async () => {
    const c = await fx().client();
    const a = await clone(c);
    const P = await announce0(c, a.ctl, a.dir);
    const b = await clone(c);
    expect(await errorOf(b.ctl.write(`announce ${P}`))).toBe('address in use');
    expect(await readText(c, `${b.dir}/local`)).toBe('::!0\n');
    expect(await readText(c, `${b.dir}/status`)).toMatch(/^Closed /);
    await b.ctl.close();
    await a.ctl.close();
  });

  it('listen blocks until a call, then is the ctl of a new Established conversation', async () => {
    const c = await fx().client('alice');
    const a = await clone(c);
    const P = await announce0(c, a.ctl, a.dir);
    const lp = later(c.open(`${a.dir}/listen`, ORDWR));
    await listening(fx(), a.n);
    const call = await fx().peer.dial(fx().addr, P);
    const lctl = await lp;
    const M = await convOf(lctl);
    expect(M).not.toBe(a.n);
    expect(lctl.qid.path).toBe((await c.stat(`/tcp/${M}/ctl`)).qid.path);
    expect(await readText(c, `/tcp/${M}/local`)).toBe(`${fx().addr}!${P}\n`);
    expect(await readText(c, `/tcp/${M}/remote`)).toBe(`${fx().peer.addr}!${call.port}\n`);
    expect(await readText(c, `/tcp/${M}/status`)).toMatch(/^Established /);
    expect((await c.stat(`/tcp/${M}`)).uid).toBe('alice');
    expect(await errorOf(lctl.write(`accept ${M}`))).toBe('unknown control request');
    const data = await c.open(`/tcp/${M}/data`, ORDWR);
    await call.write('ping');
    expect((await readFull(data, 4)).toString()).toBe('ping');
    await data.write('pong');
    expect((await call.read(4)).toString()).toBe('pong');
    // The announcement is still there for the next call.
    expect(await readText(c, `${a.dir}/status`)).toMatch(/^Listen /);
    for (const f of [data, lctl, a.ctl]) await f.close();
    await call.close();
  });

  it('announce A!0 with our own address: the call shows it', async () => {
    const c = await fx().client();
    const a = await clone(c);
    await a.ctl.write(`announce ${fx().addr}!0`);
    const local = await readText(c, `${a.dir}/local`);
    expect(local).toMatch(new RegExp(`^${fx().addr.replace(/\./g, '\\.')}!\\d+\\n$`));
    const P = Number(/!(\d+)\n$/.exec(local)![1]);
    const lp = later(c.open(`${a.dir}/listen`, ORDWR));
    const call = await fx().peer.dial(fx().addr, P);
    const l = await lp;
    expect(await readText(c, `/tcp/${await convOf(l)}/local`)).toBe(`${fx().addr}!${P}\n`);
    await l.close();
    await call.close();
    await a.ctl.close();
  });

  it('a call that arrives before the listen open is queued for it', async () => {
    const c = await fx().client();
    const a = await clone(c);
    const P = await announce0(c, a.ctl, a.dir);
    const call = await fx().peer.dial(fx().addr, P);
    await waitFor(() => fx().tcpDir.convs[a.n]!.incall.length === 1, 'the queued call');
    const lctl = await c.open(`${a.dir}/listen`, ORDWR);
    expect(await readText(c, `/tcp/${await convOf(lctl)}/remote`)).toBe(`${fx().peer.addr}!${call.port}\n`);
    await lctl.close();
    await call.close();
    await a.ctl.close();
  });

  it('closing the announce ctl does not cancel a pending listen; the announcement ends with it', async () => {
    const c = await fx().client();
    const a = await clone(c);
    const P = await announce0(c, a.ctl, a.dir);
    const lp = later(c.open(`${a.dir}/listen`, ORDWR));
    await listening(fx(), a.n);
    await a.ctl.close();
    const call = await fx().peer.dial(fx().addr, P);
    const lctl = await lp;
    expect(await readText(c, `/tcp/${await convOf(lctl)}/remote`)).toBe(`${fx().peer.addr}!${call.port}\n`);
    // The listen was the last reference: the announcement is gone, its port free.
    expect(await readText(c, `${a.dir}/status`)).toMatch(/^Closed /);
    const again = await clone(c);
    await again.ctl.write(`announce ${P}`);
    await again.ctl.close();
    await lctl.close();
    await call.close();
  });

  it('hangup on the announce ctl wakes a pending listen with listen hungup, fails later listens, refuses calls', async () => {
    const c = await fx().client();
    const a = await clone(c);
    const P = await announce0(c, a.ctl, a.dir);
    const lp = later(c.open(`${a.dir}/listen`, ORDWR));
    await listening(fx(), a.n);
    await a.ctl.write('hangup');
    expect(await errorOf(lp)).toBe('listen hungup');
    expect(await errorOf(c.open(`${a.dir}/listen`, ORDWR))).toBe('listen hungup');
    await expect(fx().peer.dial(fx().addr, P)).rejects.toThrow('connection refused');
    await a.ctl.close();
  });

  it('a blocked listen is flushed; closing the announce ctl then frees the port for a new announcement', async () => {
    const c = await fx().client();
    const a = await clone(c);
    const P = await announce0(c, a.ctl, a.dir);
    const ac = new AbortController();
    const lp = later(c.open(`${a.dir}/listen`, ORDWR, ac.signal));
    await listening(fx(), a.n);
    expect(fx().tcpDir.convs[a.n]!.refs).toBe(2);
    ac.abort();
    await expect(lp).rejects.toBeInstanceOf(Interrupted);
    expect(fx().tcpDir.convs[a.n]!.refs).toBe(1);
    expect(await readText(c, `${a.dir}/status`)).toMatch(/^Listen /);
    await a.ctl.close();
    expect(await readText(c, `${a.dir}/status`)).toMatch(/^Closed /);
    const b = await clone(c);
    await b.ctl.write(`announce ${P}`);
    expect(await readText(c, `${b.dir}/local`)).toBe(`::!${P}\n`);
    const lp2 = later(c.open(`${b.dir}/listen`, ORDWR));
    const call = await fx().peer.dial(fx().addr, P);
    const lctl = await lp2;
    expect(await readText(c, `/tcp/${await convOf(lctl)}/remote`)).toBe(`${fx().peer.addr}!${call.port}\n`);
    await lctl.close();
    await call.close();
    await b.ctl.close();
  });

  it('item 7: 40 simultaneous calls to one announcement are all queued (default backlog 64) and accepted through listen', async () => {
    const c = await fx().client();
    const a = await clone(c);
    const P = await announce0(c, a.ctl, a.dir);
    const calls = later(Promise.all(Array.from({ length: 40 }, () => fx().peer.dial(fx().addr, P))));
    await waitFor(() => fx().tcpDir.convs[a.n]!.incall.length === 40, '40 queued calls', 30_000);
    await takeCalls(c, a.dir, 40, calls);
    await a.ctl.close();
  });

  it('item 7: with backlog 8, 40 simultaneous calls all complete while listens take them (none refused or reset)', async () => {
    const c = await fx().client();
    const a = await clone(c);
    await a.ctl.write('backlog 8');
    const P = await announce0(c, a.ctl, a.dir);
    const calls = later(Promise.all(Array.from({ length: 40 }, () => fx().peer.dial(fx().addr, P))));
    await waitFor(() => fx().tcpDir.convs[a.n]!.incall.length === 8, 'a full backlog', 30_000);
    expect(fx().tcpDir.convs[a.n]!.incall.length).toBe(8);
    await takeCalls(c, a.dir, 40, calls);
    await a.ctl.close();
  }, 180_000);
});
