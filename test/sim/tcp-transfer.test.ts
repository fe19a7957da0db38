// Two 9net stacks over the in-memory hub under a ManualClock: bulk
// transfers both ways, clean and with seeded loss, reordering and
// duplication; byte-exact delivery checked.
import { describe, expect, it } from 'vitest';
import { A, B, randomBytesSeeded, tcpNet } from '../stack/tcp/net.js';
import { pump, sink } from '../stack/tcp/transfer.js';
import type { TcpConn } from '../../src/stack/tcp/conn.js';
import type { FaultSpec } from '../../src/link/fault.js';
import type { TcpLayerOptions } from '../../src/stack/tcp/types.js';

function transfer(size: number, opts: { fault?: FaultSpec; seed?: number; delay?: number; a?: TcpLayerOptions; b?: TcpLayerOptions; limitMs?: number }) {
  const net = tcpNet({ fault: opts.fault, seed: opts.seed, delay: opts.delay ?? 1, a: opts.a, b: opts.b });
  const up = randomBytesSeeded(size, 11);
  const down = randomBytesSeeded(size, 22);
  const atServer = sink(size);
  const atClient = sink(size);
  let server: TcpConn | null = null;
  let serverPump: ReturnType<typeof pump> | null = null;
  net.tb.listen({
    localPort: 9000,
    onAccept(conn) {
      server = conn;
      serverPump = pump(conn, down, () => net.clock.now(), false);
      return {
        ...atServer.handler,
        onWritable: () => serverPump!.kick(),
        onEnd: () => {
          atServer.handler.onEnd!();
        },
      };
    },
  });
  let clientPump: ReturnType<typeof pump> | null = null;
  const client = net.ta.connect({
    remoteAddr: B,
    remotePort: 9000,
    handler: {
      ...atClient.handler,
      onOpen: () => clientPump!.kick(),
      onWritable: () => clientPump!.kick(),
    },
  });
  clientPump = pump(client, up, () => net.clock.now(), false);
  const ok = net.run(() => {
    if (serverPump && !serverPump.done() && server!.state === 'Established') serverPump.kick();
    return atServer.received() === size && atClient.received() === size;
  }, opts.limitMs ?? 3_600_000);
  if (!ok && process.env.TCP_DEBUG) console.log(net.clock.now(), net.clock.nextDeadline(), client.toString(), String(server), JSON.stringify(client.info()), JSON.stringify((server as TcpConn | null)?.info()), JSON.stringify(net.ta.stats), JSON.stringify(net.tb.stats));
  return { net, ok, atServer, atClient, up, down, client, server: () => server };
}

describe('tcp over the hub', () => {
  it('moves 1 MB both ways on a clean link, then closes orderly', () => {
    const t = transfer(1_000_000, {});
    expect(t.ok).toBe(true);
    expect(Buffer.compare(t.atServer.bytes(), t.up)).toBe(0);
    expect(Buffer.compare(t.atClient.bytes(), t.down)).toBe(0);
    expect(t.net.ta.stats.RetransSegs).toBe(0);
    expect(t.client.state).toBe('Established');
    t.client.close(t.net.clock.now());
    t.net.run(() => t.server()!.state === 'Close_wait');
    expect(t.atServer.ended()).toBe(true);
    t.server()!.close(t.net.clock.now());
    t.net.run(() => t.server()!.state === 'Closed' && t.client.state === 'Time_wait');
    expect(t.server()!.state).toBe('Closed');
    expect(t.client.state).toBe('Time_wait');
    expect(t.net.ta.stats.CurrEstab).toBe(0);
    expect(t.net.tb.stats.CurrEstab).toBe(0);
  });

  for (const [name, opts] of [
    ['sack + timestamps + ws (cubic)', {}],
    ['no sack (newreno)', { a: { sack: false, congestion: 'newreno' }, b: { sack: false, congestion: 'newreno' } }],
    ['no window scaling (slirp-like peer)', { b: { windowScaling: false } }],
    ['no sack, no timestamps (smoltcp / Plan 9-like peer)', { b: { sack: false, timestamps: false } }],
  ] as [string, { a?: TcpLayerOptions; b?: TcpLayerOptions }][]) {
    it(`10 MB both ways byte-exact at 5% loss with reordering and duplication: ${name}`, () => {
      const size = 10_000_000;
      const t = transfer(size, {
        ...opts,
        seed: 5,
        delay: 2,
        fault: { drop: 0.05, reorder: 0.05, duplicate: 0.02 },
      });
      expect(t.atServer.received()).toBe(size);
      expect(t.atClient.received()).toBe(size);
      expect(Buffer.compare(t.atServer.bytes(), t.up)).toBe(0);
      expect(Buffer.compare(t.atClient.bytes(), t.down)).toBe(0);
      expect(t.net.ta.stats.RetransSegs).toBeGreaterThan(0);
    });
  }
});
void A;
