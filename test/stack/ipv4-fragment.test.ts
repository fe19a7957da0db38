// IPv4 fragmentation on output and reassembly on input: byte-exactness,
// out-of-order and duplicate fragments, overlaps, inconsistent lengths,
// timeouts under simulated time, and the memory bounds under a flood.
import { describe, expect, it } from 'vitest';
import {
  copiedOptions,
  REASM_MAX_BYTES,
  REASM_MAX_DATAGRAMS,
  REASM_MAX_FRAGMENTS,
  REASM_TIMEOUT_MS,
} from '../../src/stack/ipv4.js';
import { ETHERTYPE_IPV4 } from '../../src/stack/wire/ethernet.js';
import { channelStack, decode, ethFrame, ip, ipPacket, MAC_PEER, MAC_US, pattern, udpBytes } from './helpers.js';

const US = ip('10.0.0.1');
const PEER = ip('10.0.0.2');

/** Fragments `payload` (an upper-layer datagram) into chunks at the given byte boundaries. */
function frags(payload: Uint8Array, cuts: number[], ident = 77, protocol = 17): Uint8Array[] {
  const bounds = [0, ...cuts, payload.length];
  const out: Uint8Array[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const off = bounds[i]!;
    const end = bounds[i + 1]!;
    const pkt = ipPacket(
      { src: PEER, dst: US, protocol, ident, fragOffset: off, moreFrags: end < payload.length },
      payload.subarray(off, end),
    );
    out.push(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, pkt));
  }
  return out;
}

function udpSink(s: ReturnType<typeof channelStack>, port = 9): Uint8Array[] {
  const got: Uint8Array[] = [];
  s.stack.udp.open({ localPort: port, onDatagram: (_a, _b, _c, _d, p) => got.push(p) });
  return got;
}

describe('fragmentation on output', () => {
  it('splits at the MTU in multiples of 8 with one ident and correct MF/offsets', () => {
    const s = channelStack();
    const data = pattern(3000);
    const ep = s.stack.udp.open({ onDatagram: () => {} });
    expect(ep.send(data, PEER, 9)).toBe('sent');
    const out = s.link.take().map(decode);
    expect(out.map((d) => [d.ip!.fragOffset, d.ip!.moreFrags, d.ip!.payload.length])).toEqual([
      [0, true, 1480],
      [1480, true, 1480],
      [2960, false, 48],
    ]);
    expect(new Set(out.map((d) => d.ip!.ident)).size).toBe(1);
    const whole = new Uint8Array(3008);
    for (const d of out) whole.set(d.ip!.payload, d.ip!.fragOffset);
    expect(whole).toEqual(udpBytes(US, PEER, ep.localPort, 9, data));
    expect(s.stack.stats.ip).toMatchObject({ FragOKs: 1, FragCreates: 3, FragFails: 0 });
  });

  it('honours a lowered interface MTU', () => {
    const s = channelStack();
    s.ifc.mtu = 576;
    s.stack.udp.open({ onDatagram: () => {} }).send(pattern(1000), PEER, 9);
    const out = s.link.take();
    expect(out.map((f) => f.length)).toEqual([14 + 20 + 552, 14 + 20 + 456]);
  });

  it('refuses DF datagrams over the MTU and datagrams over 65535 bytes', () => {
    const s = channelStack();
    expect(s.stack.sendIp(PEER, 200, pattern(1481), { dontFrag: true })).toBe('too big');
    expect(s.stack.stats.ip.FragFails).toBe(1);
    expect(s.stack.sendIp(PEER, 200, pattern(1480), { dontFrag: true })).toBe('sent');
    expect(s.stack.sendIp(PEER, 200, pattern(65516))).toBe('too big');
    expect(s.stack.udp.open({ onDatagram: () => {} }).send(pattern(65508), PEER, 9)).toBe('too big');
  });

  it('copies only the options with the copied bit into later fragments', () => {
    // NOP, security (0x82, copied, len 10), record route (0x07, not copied, len 7), EOL
    const opts = Uint8Array.from([1, 0x82, 10, 1, 2, 3, 4, 5, 6, 7, 8, 7, 7, 4, 0, 0, 0, 0, 0]);
    expect(Array.from(copiedOptions(opts))).toEqual([0x82, 10, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(copiedOptions(Uint8Array.from([0x82, 40]))).toEqual(new Uint8Array(0)); // bad length
  });
});

describe('reassembly', () => {
  it('reassembles out-of-order fragments with a duplicate, byte-exact', () => {
    const s = channelStack();
    const got = udpSink(s);
    const data = pattern(4000, 5);
    const f = frags(udpBytes(PEER, US, 1234, 9, data), [1000, 2000, 3000]);
    for (const x of [f[3]!, f[1]!, f[1]!, f[0]!, f[2]!]) s.link.inject(x);
    expect(got).toEqual([data]);
    expect(s.stack.stats.ip).toMatchObject({ ReasmReqds: 5, ReasmOKs: 1, ReasmFails: 0 });
    expect(s.stack.stats.drops.get('reasm', 'duplicate')).toBe(1);
    expect(s.stack.reassemblyBytes).toBe(0);
  });

  it('answers a fragmented ping (echo reply is fragmented back)', () => {
    const s = channelStack();
    const echo = new Uint8Array(8 + 3000);
    echo[0] = 8;
    echo.set(pattern(3000), 8);
    const sum = (() => {
      let x = 0;
      for (let i = 0; i < echo.length; i += 2) x += (echo[i]! << 8) | (echo[i + 1] ?? 0);
      while (x > 0xffff) x = (x & 0xffff) + (x >>> 16);
      return ~x & 0xffff;
    })();
    echo[2] = sum >>> 8;
    echo[3] = sum & 0xff;
    for (const x of frags(echo, [1480], 9, 1)) s.link.inject(x);
    const out = s.link.take().map(decode);
    expect(out).toHaveLength(3);
    const whole = new Uint8Array(3008);
    for (const d of out) whole.set(d.ip!.payload, d.ip!.fragOffset);
    expect(whole[0]).toBe(0);
    expect(whole.subarray(8)).toEqual(pattern(3000));
  });

  it('drops the whole datagram on a partial overlap (ReasmFails)', () => {
    const s = channelStack();
    const got = udpSink(s);
    const dgram = udpBytes(PEER, US, 1, 9, pattern(3000));
    const a = frags(dgram, [1000, 2000]);
    const b = frags(dgram, [1496, 2496]); // 1496..2496 overlaps 1000..2000 partially
    s.link.inject(a[0]!);
    s.link.inject(a[1]!);
    s.link.inject(b[1]!);
    expect(s.stack.stats.drops.get('reasm', 'overlap')).toBe(1);
    expect(s.stack.stats.ip.ReasmFails).toBe(1);
    expect(s.stack.reassemblyBytes).toBe(0);
    s.link.inject(a[2]!); // starts a new, incomplete datagram
    expect(got).toEqual([]);
    expect(s.stack.reassemblyDatagrams).toBe(1);
  });

  it('rejects inconsistent, misaligned and oversized fragments', () => {
    const s = channelStack();
    const dgram = udpBytes(PEER, US, 1, 9, pattern(3000));
    const f = frags(dgram, [1000, 2000]);
    s.link.inject(f[2]!); // last: total 3008
    const short = frags(dgram.subarray(0, 2500), [1000, 2000]);
    s.link.inject(short[2]!); // a second "last" ending at 2500
    expect(s.stack.stats.drops.get('reasm', 'inconsistent length')).toBe(1);
    // MF set with a length that is not a multiple of 8.
    s.link.inject(frags(dgram, [1001])[0]!);
    expect(s.stack.stats.drops.get('reasm', 'bad fragment length')).toBe(1);
    // Offset 65528 + 16 bytes > 65515.
    const big = ipPacket({ src: PEER, dst: US, protocol: 17, ident: 5, fragOffset: 65528, moreFrags: false }, pattern(16));
    s.link.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, big));
    expect(s.stack.stats.drops.get('reasm', 'too big')).toBe(1);
    expect(s.stack.reassemblyDatagrams).toBe(0);
  });

  it('times out partial datagrams after 30 s (ReasmTimeout/ReasmFails, ICMP time exceeded)', () => {
    const s = channelStack();
    const dgram = udpBytes(PEER, US, 1, 9, pattern(3000));
    const f = frags(dgram, [1000, 2000], 11);
    s.link.inject(f[0]!);
    s.link.inject(f[2]!);
    const g = frags(dgram, [1000, 2000], 12);
    s.clock.advance(1000);
    s.link.inject(g[1]!); // no fragment 0: no ICMP when it times out
    expect(s.stack.reassemblyDatagrams).toBe(2);
    s.clock.advance(REASM_TIMEOUT_MS - 1001);
    expect(s.stack.reassemblyDatagrams).toBe(2);
    s.clock.advance(1);
    expect(s.stack.reassemblyDatagrams).toBe(1);
    expect(s.stack.stats.ip).toMatchObject({ ReasmTimeout: 1, ReasmFails: 1 });
    const icmp = s.link.take().map(decode);
    expect(icmp).toHaveLength(1);
    expect(icmp[0]!.ip!.dst).toBe(PEER);
    expect(icmp[0]!.icmp).toMatchObject({ kind: 'timeExceeded', code: 1 });
    s.clock.advance(1000);
    expect(s.stack.reassemblyDatagrams).toBe(0);
    expect(s.stack.stats.ip).toMatchObject({ ReasmTimeout: 2, ReasmFails: 2 });
    expect(s.link.take()).toEqual([]);
    // A late fragment of the expired datagram starts over and never completes.
    s.link.inject(f[1]!);
    expect(s.stack.stats.ip.ReasmOKs).toBe(0);
  });

  it('stays within its memory and datagram bounds under a flood of fragments', () => {
    const s = channelStack();
    const got = udpSink(s);
    let maxBytes = 0;
    let maxDgrams = 0;
    const chunk = pattern(1480);
    for (let id = 0; id < 2000; id++) {
      const pkt = ipPacket({ src: PEER, dst: US, protocol: 17, ident: id, fragOffset: 1480 * (id % 40), moreFrags: true }, chunk);
      s.link.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, pkt));
      maxBytes = Math.max(maxBytes, s.stack.reassemblyBytes);
      maxDgrams = Math.max(maxDgrams, s.stack.reassemblyDatagrams);
    }
    expect(maxDgrams).toBe(REASM_MAX_DATAGRAMS);
    expect(maxBytes).toBeLessThanOrEqual(REASM_MAX_BYTES);
    // Many fragments for one datagram: 8-byte pieces beyond REASM_MAX_FRAGMENTS.
    for (let k = 0; k < REASM_MAX_FRAGMENTS + 10; k++) {
      const pkt = ipPacket({ src: PEER, dst: US, protocol: 17, ident: 60000, fragOffset: 8 * k, moreFrags: true }, pattern(8));
      s.link.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, pkt));
      maxBytes = Math.max(maxBytes, s.stack.reassemblyBytes);
    }
    expect(maxBytes).toBeLessThanOrEqual(REASM_MAX_BYTES);
    expect(s.stack.stats.drops.get('reasm', 'too many fragments')).toBe(1);
    expect(s.stack.stats.ip.ReasmFails).toBeGreaterThan(1900);
    // A real datagram still gets through.
    const data = pattern(5000, 1);
    for (const x of frags(udpBytes(PEER, US, 1, 9, data), [1480, 2960, 4440], 4242)) s.link.inject(x);
    expect(got).toEqual([data]);
  });
});
