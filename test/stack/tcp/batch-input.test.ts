/**
 * batchInput: a connection's output after input is flushed once per batch
 * of received frames, when the link says the batch is over (Link.attach's
 * endBatch, Stack.onInputBatchEnd), so a burst of segments is answered by
 * one ACK, as GRO gives the kernel; without it, the receiver ACKs every
 * second segment. Everything runs under the injected clock: no microtask.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { SeededRng } from '../../../src/lib/rng.js';
import { newLinkStats } from '../../../src/link/link.js';
import type { BatchEndHandler, Disposable, FrameHandler, Link } from '../../../src/link/link.js';
import { Stack } from '../../../src/stack/stack.js';
import { TcpLayer } from '../../../src/stack/tcp/tcp.js';
import { ETHERTYPE_IPV4, macToBytes } from '../../../src/stack/wire/ethernet.js';
import { IP_PROTO_TCP } from '../../../src/stack/wire/ipv4.js';
import { emitTcp, NO_SACK, TCP_ACK, TCP_PSH, tcpBufferLen } from '../../../src/stack/wire/tcp.js';
import type { TcpRepr } from '../../../src/stack/wire/tcp.js';
import { ethFrame, ipPacket } from '../helpers.js';
import { A, B, tcpNet } from './net.js';
import { pump, sink } from './transfer.js';

function transfer(batchInput: boolean): { inSegs: number; outSegs: number; got: number } {
  const net = tcpNet({ b: { batchInput } });
  const total = 2 * 1024 * 1024;
  const s = sink(total);
  net.tb.listen({ localPort: 9, onAccept: () => s.handler });
  const conn = net.ta.connect({ remoteAddr: B, remotePort: 9, handler: { onOpen: () => p.kick(), onWritable: () => p.kick() } });
  const p = pump(conn, new Uint8Array(total), () => net.a.now(), false);
  expect(net.run(() => s.received() === total, 60_000)).toBe(true);
  return { inSegs: net.tb.stats.InSegs, outSegs: net.tb.stats.OutSegs, got: s.received() };
}

/** A Link whose test hands over several frames as one batch. */
class BatchLink implements Link {
  readonly mtu = 1500;
  readonly mac = macToBytes(0x02_00_00_00_00_01);
  readonly stats = newLinkStats();
  sent: Uint8Array[] = [];
  private rx: FrameHandler | null = null;
  private end: BatchEndHandler | null = null;
  send(f: Uint8Array): void {
    this.sent.push(f);
  }
  sendBatch(fs: readonly Uint8Array[]): void {
    for (const f of fs) this.send(f);
  }
  attach(rx: FrameHandler, endBatch?: BatchEndHandler): Disposable {
    this.rx = rx;
    this.end = endBatch ?? null;
    return { dispose: () => { this.rx = null; } };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  /** Hands `frames` to the receiver; endBatch() ends their batch. */
  deliver(frames: Uint8Array[]): void {
    for (const f of frames) this.rx!(f);
  }
  endBatch(): void {
    this.end?.();
  }
}

describe('TCP batchInput', () => {
  it('answers a burst with one ACK per batch instead of one per two segments, delivering every byte', () => {
    const plain = transfer(false);
    const batched = transfer(true);
    expect(plain.got).toBe(2 * 1024 * 1024);
    expect(batched.got).toBe(2 * 1024 * 1024);
    // Per segment: about one ACK per two segments received.
    expect(plain.outSegs).toBeGreaterThan(plain.inSegs / 3);
    // Batched: far fewer ACKs for the same data.
    expect(batched.outSegs).toBeLessThan(plain.outSegs / 2);
  });

  it('sends the ACK for a batch when the link ends the batch, not before and not later', () => {
    const clock = new ManualClock(1000);
    const stack = new Stack({ clock, rng: new SeededRng(3) });
    const link = new BatchLink();
    stack.addInterface(link).addAddress(A, 24);
    const PEER_MAC = 0x02_00_00_00_00_02;
    stack.arp.add(B, PEER_MAC);
    const tcp = new TcpLayer(stack, { batchInput: true });
    let got = 0;
    tcp.listen({ localPort: 80, onAccept: () => ({ onData: (d) => { got += d.length; } }) });
    const frame = (p: Partial<TcpRepr>): Uint8Array => {
      const r: TcpRepr = {
        srcPort: 40000, dstPort: 80, seq: 0, ack: 0, flags: 0, window: 65535, urgent: 0, mss: 1460, windowScale: null,
        sackPermitted: false, sackBlocks: NO_SACK, tsVal: null, tsEcr: null, payload: new Uint8Array(0), ...p,
      };
      const b = new Uint8Array(tcpBufferLen(r));
      emitTcp(r, b, 0, B, A);
      return ethFrame(0x02_00_00_00_00_01, PEER_MAC, ETHERTYPE_IPV4, ipPacket({ src: B, dst: A, protocol: IP_PROTO_TCP }, b));
    };
    // Handshake, one frame per batch.
    link.deliver([frame({ seq: 100, flags: 0x02 })]);
    link.endBatch();
    const synack = link.sent.pop()!;
    link.sent = [];
    const iss = new DataView(synack.buffer, synack.byteOffset).getUint32(14 + 20 + 4);
    link.deliver([frame({ seq: 101, ack: (iss + 1) >>> 0, flags: TCP_ACK, mss: null })]);
    link.endBatch();
    expect(link.sent.length).toBe(0);
    // Eight full segments in one batch.
    const segs: Uint8Array[] = [];
    for (let i = 0; i < 8; i++) {
      segs.push(frame({ seq: 101 + i * 1460, ack: (iss + 1) >>> 0, flags: TCP_ACK | TCP_PSH, mss: null, payload: new Uint8Array(1460) }));
    }
    link.deliver(segs);
    expect(got).toBe(8 * 1460);
    expect(link.sent.length).toBe(0); // the batch is not over yet
    link.endBatch();
    expect(link.sent.length).toBe(1); // one ACK for the whole batch, at once (no microtask, no timer)
    const ack = link.sent[0]!;
    expect(new DataView(ack.buffer, ack.byteOffset).getUint32(14 + 20 + 8)).toBe(101 + 8 * 1460);
  });
});
