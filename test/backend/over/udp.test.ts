/**
 * /net/udp carried by a lower 9net server: connected mode (datagram
 * boundaries, truncating short reads, empty datagrams), announce with
 * headers, announce with per-peer conversations through listen, ICMP
 * advice and ignoreadvice passed through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORDWR } from '../../../src/ninep/types.js';
import { clone, closedUdpPort, errorOf, readText, waitFor } from '../../netfs/harness.js';
import { lowerConvByPort, startOver } from './harness.js';
import type { OverFixture } from './harness.js';

let fx: OverFixture;

beforeAll(async () => {
  fx = await startOver();
});

afterAll(async () => {
  await fx.close();
});

describe('ICMP advice', () => {
  it('ignoreadvice reaches the lower conversation', async () => {
    const port = await closedUdpPort();
    const c = await fx.client();
    const { ctl, dir } = await clone(c, 'udp');
    await ctl.write('ignoreadvice');
    await ctl.write(`connect 127.0.0.1!${port}`);
    const lport = Number(/!(\d+)\n$/.exec(await readText(c, `${dir}/local`))![1]);
    const lc = fx.lower.net.udpDir.convs[lowerConvByPort(fx, 'udp', lport)]!;
    expect(lc.ignoreadvice).toBe(true);
    const data = await c.open(`${dir}/data`, ORDWR);
    const lc2 = await fx.lower.client();
    const inErrors = async (): Promise<number> => Number(/InErrors: (\d+)/.exec(await readText(lc2, '/udp/stats'))![1]);
    const before = await inErrors();
    await data.write('anyone?');
    // Wait until the lower host reported the ICMP error to its socket.
    let now = before;
    const deadline = Date.now() + 5000;
    while (now === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      now = await inErrors();
    }
    expect(now).toBeGreaterThan(before);
    expect(lc.rq.isHungup).toBe(false);
    expect(await data.write('still fine')).toBe(10);
    await data.close();
    await ctl.close();
  });
});
