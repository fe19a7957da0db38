/**
 * Scenarios the host-socket and the over-backend tests both run through a
 * served /net/tcp: a burst of simultaneous calls to one announcement, a
 * request, `hangupxmit` and the reply (what a half close is for), and the
 * data file of a conversation closed under its user.
 * Loopback only; every peer is a local socket.
 */
import * as net from 'node:net';
import { expect } from 'vitest';
import type { Client, File } from '../../../src/ninep/client.js';
import { ORDWR } from '../../../src/ninep/types.js';
import { clone, errorOf, readFull, readN, readText, waitFor } from '../../netfs/harness.js';
import type { TcpPeer } from '../../netfs/harness.js';

const Ehungup = 'i/o on hungup channel';

/** A closed conversation's data (tcp.c localclose): reads EOF at once (0 ×3, then the hangup error), writes fail. */
export async function expectClosedData(c: Client, dir: string): Promise<void> {
  const data = await c.open(`${dir}/data`, ORDWR);
  for (let i = 0; i < 3; i++) expect((await data.read(100)).length).toBe(0);
  expect(await errorOf(data.read(100))).toBe(Ehungup);
  expect(await errorOf(data.write('x'))).toBe(Ehungup);
  await data.close();
}

export interface BurstOptions {
  /** Simultaneous clients. */
  count: number;
  /** Written as `backlog N` before the announce (default: none, 64). */
  backlog?: number;
  /** Unaccepted calls queued on conversation `n` now (ProtoDir's incall). */
  queued(n: number): number;
  /** Called before each listen, with the announced port (to look below us). */
  sample?(port: number): void;
}

/**
 * `count` clients connect to one announced conversation at once; `listen`
 * takes them one after another. Every client must connect, be delivered
 * by a listen (its conversation's remote is the client, and the bytes the
 * client sent arrive), and none may be reset or closed meanwhile; the
 * queue of unaccepted calls never exceeds the backlog.
 */
export async function burst(c: Client, o: BurstOptions): Promise<void> {
  const backlog = o.backlog ?? 64;
  const a = await clone(c);
  if (o.backlog !== undefined) await a.ctl.write(`backlog ${o.backlog}`);
  await a.ctl.write('announce 0');
  const port = Number(/!(\d+)\n$/.exec(await readText(c, `${a.dir}/local`))![1]);
  let lost = 0;
  const clients = Array.from({ length: o.count }, () => net.connect({ port, host: '127.0.0.1' }));
  const connected = Promise.all(
    clients.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.on('error', () => {});
          s.once('close', () => lost++);
          // Each client names itself with its port, five digits.
          s.once('connect', () => {
            s.write(String(s.localPort).padStart(5, '0'));
            resolve();
          });
        }),
    ),
  );
  const open: File[] = [];
  const seen = new Set<number>();
  let maxQueued = 0;
  try {
    for (let i = 0; i < o.count; i++) {
      o.sample?.(port);
      maxQueued = Math.max(maxQueued, o.queued(a.n));
      const l = await c.open(`${a.dir}/listen`, ORDWR);
      open.push(l);
      const m = Number((await l.read(64, undefined, 0n)).toString());
      const data = await c.open(`/tcp/${m}/data`, ORDWR);
      open.push(data);
      const id = Number((await readFull(data, 5)).toString());
      expect(await readText(c, `/tcp/${m}/remote`)).toBe(`127.0.0.1!${id}\n`);
      seen.add(id);
    }
    await connected;
    maxQueued = Math.max(maxQueued, o.queued(a.n));
    expect(seen.size).toBe(o.count);
    expect(new Set(clients.map((s) => s.localPort))).toEqual(seen);
    expect(lost).toBe(0);
    expect(maxQueued).toBeLessThanOrEqual(backlog);
  } finally {
    for (const s of clients) s.destroy();
    for (const f of open) await f.close();
    await a.ctl.close();
  }
}

/**
 * Connected to `peer` (which keeps its side open after our FIN): send a
 * request, `hangupxmit`; the peer sees the request and our FIN, we are in
 * Finwait1 and writes fail; the peer's reply and FIN reach us, then EOF.
 * Returns the conversation's directory.
 */
export async function requestThenReply(c: Client, peer: TcpPeer): Promise<string> {
  const { ctl, dir } = await clone(c);
  await ctl.write(`connect 127.0.0.1!${peer.port}`);
  const data = await c.open(`${dir}/data`, ORDWR);
  const s = await peer.accepted();
  const ended = new Promise<void>((r) => s.once('end', () => r()));
  await data.write('request');
  await ctl.write('hangupxmit');
  expect((await readN(s, 7)).toString()).toBe('request');
  await ended;
  expect(await readText(c, `${dir}/status`)).toMatch(/^Finwait1 /);
  expect(await errorOf(data.write('more'))).toBe(Ehungup);
  // A read waiting when the reply comes gets it.
  const r = data.read(100);
  s.end('reply');
  expect((await r).toString()).toBe('reply');
  for (let i = 0; i < 3; i++) expect((await data.read(100)).length).toBe(0);
  expect(await errorOf(data.read(100))).toBe(Ehungup);
  await data.close();
  await ctl.close();
  return dir;
}

/**
 * The peer ends first (Close_wait: its data, then EOF); we answer and
 * `hangupxmit`: the answer and our FIN reach the peer, writes fail, and
 * the conversation ends up Closed. `status()` is the conversation's status
 * line, read the moment the hangupxmit returns.
 */
export async function answerThenHangupxmit(c: Client, peer: TcpPeer, status: (n: number) => string): Promise<string> {
  const { ctl, dir, n } = await clone(c);
  await ctl.write(`connect 127.0.0.1!${peer.port}`);
  const data = await c.open(`${dir}/data`, ORDWR);
  const s = await peer.accepted();
  s.end('question');
  expect((await readFull(data, 8)).toString()).toBe('question');
  expect((await data.read(100)).length).toBe(0);
  expect(await readText(c, `${dir}/status`)).toMatch(/^Close_wait /);
  await data.write('answer');
  const ended = new Promise<void>((r) => s.once('end', () => r()));
  await ctl.write('hangupxmit');
  const after = status(n);
  expect((await readN(s, 6)).toString()).toBe('answer');
  await ended;
  expect(await errorOf(data.write('x'))).toBe(Ehungup);
  await waitFor(() => /^Closed /.test(status(n)), 'Closed');
  // A second hangupxmit changes nothing.
  await ctl.write('hangupxmit');
  await data.close();
  await ctl.close();
  return after;
}
