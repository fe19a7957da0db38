/**
 * Blocking /net requests against the 9P server's in-flight bound
 * (src/ninep/connection.ts ConnectionLimits.maxInflight, intro(5); flush(5)).
 *
 * On /net, reads of data and opens of listen block for as long as the
 * network is quiet. When every in-flight slot of a connection holds such a
 * request the server stops reading that connection, so not even a Tflush
 * gets through: the interrupted caller waits until data happens to arrive
 * (flush(5): "Never leave a Tflush unanswered"). The bound is set low
 * here so the test needs few requests; the default (1024) behaves the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Interrupted } from '../../src/ninep/error.js';
import { ORDWR } from '../../src/ninep/types.js';
import { TcpPeer, clone, startNet, waitFor } from './harness.js';
import type { NetFixture } from './harness.js';

const BOUND = 8;
let fx: NetFixture;
let peer: TcpPeer;

beforeAll(async () => {
  fx = await startNet({}, { maxInflight: BOUND });
  peer = await TcpPeer.start();
});

afterAll(async () => {
  await peer.close();
  await fx.close();
});

describe('the 9P in-flight bound', () => {
  it('a Tflush still gets through when every in-flight slot holds a blocked read', async () => {
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${peer.port}`);
    const s = await peer.accepted();
    const data = await c.open(`${dir}/data`, ORDWR);
    const reads: Promise<Buffer>[] = [];
    const controllers: AbortController[] = [];
    for (let i = 0; i < BOUND; i++) {
      const ac = new AbortController();
      controllers.push(ac);
      reads.push(data.read(10, ac.signal));
    }
    await waitFor(() => fx.server.connections.size === 1 && [...fx.server.connections][0]!.inflight === BOUND, 'the reads to block');
    controllers[0]!.abort();
    const first = await Promise.race([
      reads[0]!.then(() => 'answered', (e: unknown) => (e instanceof Interrupted ? 'flushed' : `failed: ${String(e)}`)),
      new Promise<string>((r) => setTimeout(() => r('no Rflush within 2 s'), 2000)),
    ]);
    // Let everything finish whatever happened above: the peer's FIN ends every read.
    s.end();
    await Promise.allSettled(reads);
    await data.close();
    await ctl.close();
    expect(first).toBe('flushed');
  });
});
