/**
 * batchInput: a connection's output after input is flushed once per batch
 * of received frames (one microtask per event-loop turn), so a burst of
 * segments is answered by one ACK, as GRO gives the kernel; without it, the
 * receiver ACKs every second segment.
 */
import { describe, expect, it } from 'vitest';
import { RealClock } from '../../../src/lib/clock.js';
import { SeededRng } from '../../../src/lib/rng.js';
import { createPair } from '../../../src/link/pair.js';
import { Stack } from '../../../src/stack/stack.js';
import { TcpLayer } from '../../../src/stack/tcp/tcp.js';

const ip = (s: string): number => s.split('.').reduce((a, x) => ((a << 8) | Number(x)) >>> 0, 0);

async function transfer(batchInput: boolean): Promise<{ inSegs: number; outSegs: number; got: number }> {
  const [la, lb] = createPair({ limit: 4096 });
  const a = new Stack({ clock: new RealClock(), rng: new SeededRng(1) });
  const b = new Stack({ clock: new RealClock(), rng: new SeededRng(2) });
  a.addInterface(la, 'ether0').addAddress(ip('10.6.0.1'), 24);
  b.addInterface(lb, 'ether0').addAddress(ip('10.6.0.2'), 24);
  const ta = new TcpLayer(a);
  const tb = new TcpLayer(b, { batchInput });
  const total = 2 * 1024 * 1024;
  let got = 0;
  const done = new Promise<void>((resolve) => {
    tb.listen({ localPort: 9, onAccept: () => ({ onData: (d) => { got += d.length; if (got >= total) resolve(); } }) });
  });
  const keep = setInterval(() => {}, 1000);
  const payload = new Uint8Array(total);
  await new Promise<void>((resolve, reject) => {
    let off = 0;
    const pump = (): void => {
      while (off < total) {
        const n = conn.write(payload.subarray(off), a.now());
        off += n;
        if (n === 0) return;
      }
      resolve();
    };
    const conn = ta.connect({ remoteAddr: ip('10.6.0.2'), remotePort: 9, handler: { onOpen: pump, onWritable: pump, onClosed: (r) => r && reject(new Error(r)) } });
  });
  await done;
  clearInterval(keep);
  const r = { inSegs: tb.stats.InSegs, outSegs: tb.stats.OutSegs, got };
  ta.dispose();
  tb.dispose();
  a.close();
  b.close();
  return r;
}

describe('TCP batchInput', () => {
  it('answers a burst with one ACK per batch instead of one per two segments, delivering every byte', async () => {
    const plain = await transfer(false);
    const batched = await transfer(true);
    expect(plain.got).toBe(2 * 1024 * 1024);
    expect(batched.got).toBe(2 * 1024 * 1024);
    // Per segment: about one ACK per two segments received.
    expect(plain.outSegs).toBeGreaterThan(plain.inSegs / 3);
    // Batched: far fewer ACKs for the same data.
    expect(batched.outSegs).toBeLessThan(plain.outSegs / 2);
  });
});
