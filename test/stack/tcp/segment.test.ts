// The TCP layer's segment writer emits with wire/tcp.ts's emitter: for
// seeded random headers, options and payloads taken from a send ring, the
// bytes it puts in a frame are emitTcp's, and parseTcp reads them back.
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../../src/lib/rng.js';
import { SegmentWriter } from '../../../src/stack/tcp/segment.js';
import { SendBuffer } from '../../../src/stack/tcp/sendbuf.js';
import { WireError } from '../../../src/stack/wire/result.js';
import { emitTcp, NO_SACK, parseTcp, tcpBufferLen } from '../../../src/stack/wire/tcp.js';
import type { TcpRepr } from '../../../src/stack/wire/tcp.js';

const SRC = 0x0a000001;
const DST = 0x0a000002;

describe('tcp segment writer', () => {
  it('writes what emitTcp writes, payload from the send ring included', () => {
    const rng = new SeededRng(42);
    const ring = new SendBuffer(64 * 1024);
    const bytes = new Uint8Array(48 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = rng.u32() & 0xff;
    ring.write(bytes);
    ring.consume(20_000); // the ring's head is now mid-buffer: payloads may wrap
    ring.write(bytes.subarray(0, 20_000));
    const w = new SegmentWriter();
    for (let k = 0; k < 500; k++) {
      const ts = rng.u32() % 2 === 0;
      const mss = rng.u32() % 2 === 0 ? rng.u32() & 0xffff : null;
      const ws = rng.u32() % 2 === 0 ? rng.u32() % 15 : null;
      const sackOk = rng.u32() % 2 === 0;
      // At most 40 option bytes: what is left after the others holds this many SACK blocks.
      const used = (mss !== null ? 4 : 0) + (ts ? 12 : sackOk ? 4 : 0) + (ws !== null ? 4 : 0);
      const pairs = rng.u32() % (Math.min(4, Math.floor((40 - used - 4) / 8)) + 1);
      const sack: number[] = [];
      for (let i = 0; i < 2 * pairs; i++) sack.push(rng.u32());
      const off = rng.u32() % 30_000;
      const n = rng.u32() % 3 === 0 ? 0 : rng.u32() % 1460;
      const payload = new Uint8Array(n);
      ring.copyOut(off, n, payload, 0);
      const r: TcpRepr = {
        srcPort: rng.u32() & 0xffff,
        dstPort: rng.u32() & 0xffff,
        seq: rng.u32(),
        ack: rng.u32(),
        flags: rng.u32() & 0xfff,
        window: rng.u32() & 0xffff,
        urgent: 0,
        mss,
        windowScale: ws,
        sackPermitted: sackOk,
        sackBlocks: pairs > 0 ? sack : NO_SACK,
        tsVal: ts ? rng.u32() : null,
        tsEcr: ts ? rng.u32() : null,
        payload,
      };
      const want = new Uint8Array(tcpBufferLen(r));
      emitTcp(r, want, 0, SRC, DST);

      w.reset();
      w.srcPort = r.srcPort;
      w.dstPort = r.dstPort;
      w.seq = r.seq;
      w.ack = r.ack;
      w.flags = r.flags;
      w.window = r.window;
      w.mss = r.mss ?? -1;
      w.windowScale = r.windowScale ?? -1;
      w.sackPermitted = r.sackPermitted;
      w.timestamps = ts;
      w.tsVal = r.tsVal ?? 0;
      w.tsEcr = r.tsEcr ?? 0;
      w.sack.length = 0;
      w.sack.push(...sack);
      w.sackEdges = sack.length;
      if (n > 0) {
        w.buf = ring;
        w.off = off;
        w.n = n;
      }
      const len = w.prepare();
      expect(len).toBe(want.length);
      const frame = new Uint8Array(7 + len);
      w.write(frame, 7, SRC, DST);
      expect(Buffer.from(frame.subarray(7)).equals(Buffer.from(want))).toBe(true);
      const back = parseTcp(frame.subarray(7), SRC, DST);
      if (back instanceof WireError) throw new Error(back.reason);
      expect(back).toEqual({ ...r, payload: back.payload });
      expect(Buffer.from(back.payload).equals(Buffer.from(payload))).toBe(true);
    }
  });
});
