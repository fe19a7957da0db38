/**
 * How a TCP conversation ends, on every backend (port/qio.c, 9/ip/tcp.c):
 * the EOF rule (three 0-byte reads, then
 * `i/o on hungup channel`) after a peer's FIN or RST, Close_wait writes,
 * `hangup` (RST), `close` (FIN, no half-close), `hangupxmit` (FIN, keep
 * reading: issue 8 item 2), writes after `close` and a writer blocked when
 * `close` arrives (item 5), the last close and recycling, Tflush of a read,
 * and flow control both ways.
 */
import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import { Interrupted, NinepError } from '../../src/ninep/error.js';
import { ORDWR } from '../../src/ninep/types.js';
import type { Client, File } from '../../src/ninep/client.js';
import type { PeerConn, PeerListener } from './peer.js';
import {
  Ehungup, clone, errorOf, expectEof, later, onEveryBackend, prompt, readFull, readText, settles, stalls, untilText, writeUntilFailure,
} from './suite.js';
import type { Fixture } from './suite.js';

const MiB = 1024 * 1024;
/** Enough to fill every backend's send path (our queue, the socket or window, the peer's) several times over. */
const FLOW_TOTAL = 24 * MiB;
const FLOW_CHUNK = 256 * 1024;

/** A connection from a fresh conversation to a fresh peer listener. */
async function connected(fx: Fixture, c: Client): Promise<{
  ctl: File;
  data: File;
  dir: string;
  n: number;
  call: PeerConn;
  listener: PeerListener;
  /** Close our fids, the peer's end and its listener. */
  close(): Promise<void>;
}> {
  const listener = await fx.peer.listen();
  const { ctl, dir, n } = await clone(c);
  await ctl.write(`connect ${fx.peer.addr}!${listener.port}`);
  const data = await c.open(`${dir}/data`, ORDWR);
  const call = await listener.accepted();
  return {
    ctl, data, dir, n, call, listener,
    async close() {
      await data.close();
      await ctl.close();
      await call.close();
      await listener.close();
    },
  };
}

/** Chunk i of a flow: its index in the first bytes, so reordering or loss shows. */
function flowChunk(i: number): Buffer {
  const b = Buffer.alloc(FLOW_CHUNK, i * 7);
  b.writeUInt32BE(i, 0);
  return b;
}

function flowHash(): string {
  const h = createHash('sha256');
  for (let i = 0; i < FLOW_TOTAL / FLOW_CHUNK; i++) h.update(flowChunk(i));
  return h.digest('hex');
}

onEveryBackend('tcp end of a connection', (fx) => {
  it('peer closes after sending: the data, then three 0-byte reads, then i/o on hungup channel', async () => {
    const c = await fx().client();
    const k = await connected(fx(), c);
    await k.call.write('last words');
    await k.call.close();
    expect((await readFull(k.data, 10)).toString()).toBe('last words');
    await expectEof(k.data);
    expect(await errorOf(k.data.read(100))).toBe(Ehungup);
    await k.close();
  });

  it('peer half-closes: reads give EOF, status is Close_wait, writes still reach the peer (§4.6)', async () => {
    const c = await fx().client();
    const k = await connected(fx(), c);
    await k.call.halfClose();
    expect((await k.data.read(100)).length).toBe(0);
    expect(await readText(c, `${k.dir}/status`)).toMatch(/^Close_wait /);
    await k.data.write('still here');
    expect((await k.call.read(10)).toString()).toBe('still here');
    for (const f of [k.data, k.ctl]) await f.close();
    expect((await k.call.readToEnd()).end).toBe('fin');
    await k.close();
  });

  it('peer resets: reads give EOF (0 ×3, then i/o on hungup channel), status Closed, writes fail', async () => {
    const c = await fx().client();
    const k = await connected(fx(), c);
    await k.call.reset();
    await expectEof(k.data);
    await untilText(c, `${k.dir}/status`, /^Closed /);
    expect(await errorOf(k.data.write('x'))).toBe(Ehungup);
    await k.close();
  });

  it('hangup sends RST; reads give EOF, writes fail, the conversation stays allocated until closed', async () => {
    const c = await fx().client('alice');
    const k = await connected(fx(), c);
    await k.ctl.write('hangup');
    expect((await k.call.readToEnd()).end).toBe('reset');
    expect((await k.data.read(10)).length).toBe(0);
    expect(await errorOf(k.data.write('x'))).toBe(Ehungup);
    expect(await readText(c, `${k.dir}/status`)).toMatch(/^Closed /);
    expect((await c.stat(k.dir)).uid).toBe('alice');
    await k.ctl.write('hangup');
    await k.data.close();
    await k.ctl.close();
    expect((await c.stat(k.dir)).uid).toBe('network');
    await k.close();
  });

  it('close sends FIN and hangs up the receive side; no half-close, later data is discarded', async () => {
    const c = await fx().client();
    const k = await connected(fx(), c);
    await k.ctl.write('close');
    expect((await k.call.readToEnd()).end).toBe('fin');
    expect((await k.data.read(10)).length).toBe(0);
    await k.call.write('ignored');
    expect((await k.data.read(10)).length).toBe(0);
    await k.call.close();
    await k.close();
  });

  it('item 5: a data write after close fails with i/o on hungup channel', async () => {
    const c = await fx().client();
    const k = await connected(fx(), c);
    await k.ctl.write('close');
    expect(await errorOf(k.data.write('too late'))).toBe(Ehungup);
    expect(await errorOf(k.data.write('still too late'))).toBe(Ehungup);
    await k.call.close();
    await k.close();
  });

  it('item 5: a write waiting for send-buffer room settles when close arrives; later writes fail', async () => {
    const c = await fx().client();
    const k = await connected(fx(), c);
    // The peer reads nothing: our send path fills and a write waits.
    const w = writeUntilFailure(k.data, Buffer.alloc(64 * 1024, 0x5a));
    await stalls(w.written);
    await prompt('close with a writer waiting', (s) => k.ctl.write('close', s));
    const { error } = await settles('the waiting write after close', w.done, w.flush);
    expect(error instanceof NinepError ? error.ename : String(error)).toBe(Ehungup);
    expect(await errorOf(k.data.write('x'))).toBe(Ehungup);
    await k.call.close();
    await k.close();
  });

  it('item 2: hangupxmit sends FIN and keeps reading: the peer gets EOF, replies, and we read the reply', async () => {
    const c = await fx().client();
    const k = await connected(fx(), c);
    await k.data.write('request');
    await k.ctl.write('hangupxmit');
    const got = await k.call.readToEnd();
    expect(got.data.toString()).toBe('request');
    expect(got.end).toBe('fin');
    expect(await errorOf(k.data.write('more'))).toBe(Ehungup);
    await k.call.write('the reply');
    await k.call.close();
    expect((await readFull(k.data, 9)).toString()).toBe('the reply');
    await expectEof(k.data);
    await k.close();
  });

  it('the last close sends FIN; either fid keeps the connection alive; the conversation is recycled, lowest free first', async () => {
    const c = await fx().client();
    const k = await connected(fx(), c);
    await k.ctl.close();
    await k.data.write('x');
    expect((await k.call.read(1)).toString()).toBe('x');
    await k.data.close();
    expect((await k.call.readToEnd()).end).toBe('fin');
    expect((await c.stat(k.dir)).uid).toBe('network');
    const lowest = fx().tcpDir.convs.findIndex((cv) => cv.refs === 0 && cv.state === 'Idle' && !cv.queued);
    expect(lowest).toBeGreaterThanOrEqual(0);
    expect(lowest).toBeLessThanOrEqual(k.n);
    const again = await clone(c);
    expect(again.n).toBe(lowest);
    await again.ctl.close();
    await k.close();
  });

  it('a recycled conversation is not disturbed by its old connection ending late', async () => {
    const c = await fx().client();
    const k = await connected(fx(), c);
    // Our FIN; the peer keeps its side open, so the old connection lingers.
    await k.data.close();
    await k.ctl.close();
    expect((await k.call.readToEnd()).end).toBe('fin');
    const held: { close(): Promise<void> }[] = [];
    let again = await clone(c);
    while (again.n !== k.n) {
      held.push(again.ctl);
      again = await clone(c);
    }
    const echo = await fx().peer.listen({ echo: true });
    await again.ctl.write(`connect ${fx().peer.addr}!${echo.port}`);
    const data = await c.open(`${again.dir}/data`, ORDWR);
    // Now the old peer closes: our old connection sees its FIN.
    await k.call.close();
    for (const word of ['fresh', 'still']) {
      await data.write(word);
      expect((await readFull(data, 5)).toString()).toBe(word);
    }
    expect(await readText(c, `${again.dir}/status`)).toMatch(/^Established /);
    for (const f of [data, again.ctl, ...held]) await f.close();
    await echo.close();
    await k.close();
  });

  it('a blocked data read is flushed; the connection keeps working and no data is lost', async () => {
    const c = await fx().client();
    const k = await connected(fx(), c);
    const ac = new AbortController();
    const r = later(k.data.read(100, ac.signal));
    ac.abort();
    await expect(r).rejects.toBeInstanceOf(Interrupted);
    expect((await k.ctl.read(64, undefined, 0n)).toString()).toBe(String(k.n));
    await k.call.write('after');
    expect((await readFull(k.data, 5)).toString()).toBe('after');
    await k.close();
  });

  it('toward a peer that does not read, the writer waits; once the peer reads, every byte arrives in order', async () => {
    const c = await fx().client();
    const k = await connected(fx(), c);
    let written = 0;
    const writer = later((async () => {
      for (let i = 0; i < FLOW_TOTAL / FLOW_CHUNK; i++) written += await k.data.write(flowChunk(i));
    })());
    await stalls(() => written);
    expect(written).toBeLessThan(FLOW_TOTAL);
    const got = createHash('sha256');
    for (let n = 0; n < FLOW_TOTAL; n += MiB) got.update(await k.call.read(MiB));
    await writer;
    expect(got.digest('hex')).toBe(flowHash());
    await k.close();
  }, 180_000);

  it('a conversation not being read holds the peer back with a bounded queue; then every byte arrives in order', async () => {
    const c = await fx().client();
    const k = await connected(fx(), c);
    let sent = 0;
    const writer = later((async () => {
      for (let i = 0; i < FLOW_TOTAL / FLOW_CHUNK; i++) {
        await k.call.write(flowChunk(i));
        sent += FLOW_CHUNK;
      }
    })());
    await stalls(() => sent);
    expect(sent).toBeLessThan(FLOW_TOTAL);
    const queued = Number((await k.data.stat()).length);
    expect(queued).toBeLessThanOrEqual(fx().tcpDir.proto.rqLimit + MiB);
    const got = createHash('sha256');
    let received = 0;
    while (received < FLOW_TOTAL) {
      const b = await k.data.read();
      expect(b.length).toBeGreaterThan(0);
      got.update(b);
      received += b.length;
    }
    await writer;
    expect(received).toBe(FLOW_TOTAL);
    expect(got.digest('hex')).toBe(flowHash());
    await k.close();
  }, 180_000);
});
