// Loss recovery under light random loss (1 % of frames each way, data and
// ACKs alike) on a short-RTT link: SACK recovery (RFC 6675) with early
// retransmit (RFC 5827), lost-retransmission detection and tail loss
// probes (RFC 8985) should repair losses within an RTT or so, so that
// retransmission timeouts stay rare and the transfer keeps most of its
// lossless speed (in simulated time).
import { describe, expect, it } from 'vitest';
import { B, randomBytesSeeded, tcpNet } from '../stack/tcp/net.js';
import { pump, sink } from '../stack/tcp/transfer.js';
import type { TcpLayerOptions } from '../../src/stack/tcp/types.js';

function oneWay(size: number, drop: number, seed: number, opts: TcpLayerOptions = {}) {
  const net = tcpNet({ seed, delay: 1, fault: drop > 0 ? { drop } : undefined, a: opts, b: opts });
  const data = randomBytesSeeded(size, seed);
  const got = sink(size);
  net.tb.listen({ localPort: 9000, onAccept: () => got.handler });
  const t0 = net.clock.now();
  let p: ReturnType<typeof pump> | null = null;
  const c = net.ta.connect({ remoteAddr: B, remotePort: 9000, handler: { onOpen: () => p!.kick(), onWritable: () => p!.kick() } });
  p = pump(c, data, () => net.clock.now(), false);
  const ok = net.run(() => got.received() === size, 600_000);
  return { ok, ms: net.clock.now() - t0, stats: net.ta.stats, same: Buffer.compare(got.bytes(), data) === 0 };
}

describe('tcp under 1% loss each way', () => {
  for (const [name, opts] of [
    ['sack (cubic)', {}],
    ['sack (newreno)', { congestion: 'newreno' }],
  ] as [string, TcpLayerOptions][]) {
    it(`repairs losses without retransmission timeouts: ${name}`, () => {
      const size = 4_000_000;
      const clean = oneWay(size, 0, 3, opts);
      expect(clean.ok).toBe(true);
      let rtos = 0;
      let recoveries = 0;
      let worst = 0;
      for (const seed of [1, 2, 3]) {
        const lossy = oneWay(size, 0.01, seed, opts);
        expect(lossy.ok).toBe(true);
        expect(lossy.same).toBe(true);
        rtos += lossy.stats.RetransTimeouts;
        recoveries += lossy.stats.Recovery;
        worst = Math.max(worst, lossy.ms);
      }
      // ~30 data segments lost per run: nearly all repaired by fast recovery.
      expect(recoveries).toBeGreaterThan(30);
      // Before early retransmit, lost-retransmission detection and TLP: 2–3.
      expect(rtos).toBeLessThanOrEqual(1);
      // The lossless run is slow-start bound (~21 ms); at 1 % loss the
      // window stays near 1.22/sqrt(p) segments (~600 ms here).
      expect(worst).toBeLessThan(35 * clean.ms);
    });
  }
});
