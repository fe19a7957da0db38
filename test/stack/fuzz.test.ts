// Seeded mutation fuzzing of a whole stack over an in-memory link:
// FUZZ_FRAMES mutated frames (default 100 000; bench/fuzz.mjs runs a
// million) of ARP, ICMP, UDP, TCP to a listener and a connection,
// fragments, unknown protocols and ICMP errors, plus a flood of random
// fragments, under advancing simulated time. The stack must never throw,
// must keep every bound (reassembly bytes/datagrams, ARP entries and held
// frames, TCP connections and half-open entries), must count what it
// drops, and must still answer ping and reassemble afterwards.
import { describe, expect, it } from 'vitest';
import { TcpLayer } from '../../src/stack/tcp/tcp.js';
import { emitTcp, NO_SACK, parseTcp, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, tcpBufferLen } from '../../src/stack/wire/tcp.js';
import type { TcpRepr } from '../../src/stack/wire/tcp.js';
import { WireError } from '../../src/stack/wire/result.js';
import { SeededRng } from '../../src/lib/rng.js';
import { ARP_CACHE_SIZE, ARP_PENDING_TOTAL } from '../../src/stack/arp.js';
import { REASM_MAX_BYTES, REASM_MAX_DATAGRAMS, REASM_TIMEOUT_MS } from '../../src/stack/ipv4.js';
import { ETHERTYPE_IPV4, MAC_BROADCAST } from '../../src/stack/wire/ethernet.js';
import {
  arpFrame,
  channelStack,
  decode,
  ethFrame,
  icmpBytes,
  ip,
  ipPacket,
  MAC_PEER,
  MAC_US,
  pattern,
  udpBytes,
} from './helpers.js';

const US = ip('10.0.0.1');
const PEER = ip('10.0.0.2');
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 100_000);

function seeds(ourIss = 12345): Uint8Array[] {
  const e = (p: Uint8Array, dst = MAC_US) => ethFrame(dst, MAC_PEER, ETHERTYPE_IPV4, p);
  const udp = (dport: number, n: number) => ipPacket({ src: PEER, dst: US, protocol: 17 }, udpBytes(PEER, US, 4000, dport, pattern(n)));
  const big = udpBytes(PEER, US, 4000, 7, pattern(3000));
  const frag = (off: number, end: number, mf: boolean) =>
    e(ipPacket({ src: PEER, dst: US, protocol: 17, ident: 321, fragOffset: off, moreFrags: mf }, big.subarray(off, end)));
  const quoted = ipPacket({ src: US, dst: PEER, protocol: 17 }, udpBytes(US, PEER, 7, 53, pattern(4)));
  return [
    arpFrame(MAC_BROADCAST, { op: 'request', senderMac: MAC_PEER, senderIp: PEER, targetMac: 0, targetIp: US }),
    arpFrame(MAC_US, { op: 'reply', senderMac: MAC_PEER, senderIp: PEER, targetMac: MAC_US, targetIp: US }),
    e(ipPacket({ src: PEER, dst: US, protocol: 1 }, icmpBytes({ kind: 'echoRequest', ident: 1, seq: 2, data: pattern(40) }))),
    e(ipPacket({ src: PEER, dst: US, protocol: 1, options: Uint8Array.from([0x82, 4, 1, 2]) }, icmpBytes({ kind: 'echoReply', ident: 1, seq: 2, data: pattern(8) }))),
    e(ipPacket({ src: PEER, dst: US, protocol: 1 }, icmpBytes({ kind: 'destUnreachable', code: 3, nextHopMtu: 0, data: quoted.subarray(0, 28) }))),
    e(ipPacket({ src: PEER, dst: US, protocol: 1 }, icmpBytes({ kind: 'timeExceeded', code: 0, data: quoted.subarray(0, 28) }))),
    e(udp(7, 30)),
    e(udp(8, 30)),
    e(udp(7, 1)),
    e(ipPacket({ src: PEER, dst: ip('10.0.0.255'), protocol: 17 }, udpBytes(PEER, ip('10.0.0.255'), 1, 7, pattern(12))), MAC_BROADCAST),
    e(ipPacket({ src: PEER, dst: US, protocol: 6 }, pattern(40))),
    frag(0, 1480, true),
    frag(1480, 2960, true),
    frag(2960, 3008, false),
    ...tcpSeeds(ourIss).map((t) => e(ipPacket({ src: PEER, dst: US, protocol: 6 }, t))),
  ];
}

/** TCP segments to port 80 (a listener) with valid checksums: SYN with options, ACK, data, FIN, RST. */
function tcpSeeds(ourIss: number): Uint8Array[] {
  const one = (p: Partial<TcpRepr>): Uint8Array => {
    const r: TcpRepr = {
      srcPort: 40000, dstPort: 80, seq: 1000, ack: 0, flags: 0, window: 65535, urgent: 0, mss: null, windowScale: null,
      sackPermitted: false, sackBlocks: NO_SACK, tsVal: null, tsEcr: null, payload: new Uint8Array(0), ...p,
    };
    const b = new Uint8Array(tcpBufferLen(r));
    emitTcp(r, b, 0, PEER, US);
    return b;
  };
  return [
    one({ flags: TCP_SYN, mss: 1460, windowScale: 7, sackPermitted: true, tsVal: 1, tsEcr: 0 }),
    one({ flags: TCP_ACK, seq: 1001, ack: ourIss + 1 }),
    one({ flags: TCP_ACK | TCP_PSH, seq: 1001, ack: ourIss + 1, payload: pattern(100) }),
    one({ flags: TCP_ACK | TCP_PSH, seq: 1101, ack: ourIss + 1, payload: pattern(1400, 3) }),
    one({ flags: TCP_ACK | TCP_FIN, seq: 1101, ack: ourIss + 1 }),
    one({ flags: TCP_RST, seq: 1001 }),
    one({ flags: TCP_SYN, srcPort: 40001, mss: 536 }),
  ];
}

const EDGES = [0, 1, 2, 4, 5, 7, 8, 0x0f, 0x14, 0x1f, 0x20, 0x3f, 0x40, 0x45, 0x46, 0x4f, 0x7f, 0x80, 0xfe, 0xff];

function mutate(rng: SeededRng, src: Uint8Array): Uint8Array {
  let b: Uint8Array = src.slice();
  const rounds = 1 + (rng.u32() % 3);
  for (let r = 0; r < rounds; r++) {
    // Positions ≥ 12 mostly: keep the destination MAC so frames reach the stack.
    const at = b.length > 12 ? 12 + (rng.u32() % (b.length - 12)) : 0;
    switch (rng.u32() % 8) {
      case 0:
        if (b.length) b[at]! ^= 1 << (rng.u32() % 8);
        break;
      case 1:
        if (b.length) b[at] = rng.u32() & 0xff;
        break;
      case 2: // edge values in the IP/transport headers
        if (b.length > 14) b[14 + (rng.u32() % Math.min(b.length - 14, 48))] = EDGES[rng.u32() % EDGES.length]!;
        break;
      case 3:
        b = b.subarray(0, rng.u32() % (b.length + 1));
        break;
      case 4: {
        const ext = new Uint8Array(b.length + 1 + (rng.u32() % 64));
        ext.set(b);
        for (let i = b.length; i < ext.length; i++) ext[i] = rng.u32() & 0xff;
        b = ext;
        break;
      }
      case 5: {
        const o = 14 + 2 * (rng.u32() % 20);
        if (o + 1 < b.length) {
          b[o] = rng.u32() & 0xff;
          b[o + 1] = rng.u32() & 0xff;
        }
        break;
      }
      case 6: // fix the IPv4 header checksum after other damage (gets past the IP layer)
        if (b.length >= 34 && b[12] === 0x08 && b[13] === 0x00) {
          const hl = (b[14]! & 0x0f) * 4;
          if (hl >= 20 && 14 + hl <= b.length) {
            b[24] = 0;
            b[25] = 0;
            let x = 0;
            for (let i = 14; i < 14 + hl; i += 2) x += (b[i]! << 8) | b[i + 1]!;
            while (x > 0xffff) x = (x & 0xffff) + (x >>> 16);
            x = ~x & 0xffff;
            b[24] = x >>> 8;
            b[25] = x & 0xff;
          }
        }
        break;
      case 7: // random source inside our subnet
        if (b.length >= 34) b[29] = rng.u32() & 0xff;
        break;
    }
  }
  return b;
}

/**
 * A valid random fragment with an ident from a small space: either in
 * 1480-byte slots (datagrams grow until the byte bound bites) or at a random
 * offset and size (overlaps happen).
 */
function randomFragment(rng: SeededRng): Uint8Array {
  const slotted = rng.u32() % 4 !== 0;
  const off = slotted ? 1480 * (rng.u32() % 44) : 8 * (rng.u32() % 1024);
  const len = slotted ? 1480 : 8 * (1 + (rng.u32() % 185));
  const ident = slotted ? rng.u32() % 16 : 100 + (rng.u32() % 40);
  const pkt = ipPacket(
    { src: PEER, dst: US, protocol: 17, ident, fragOffset: off, moreFrags: slotted || rng.u32() % 8 !== 0 },
    pattern(len, rng.u32() & 0xff),
  );
  return ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, pkt);
}

describe('stack fuzz', () => {
  it(`survives ${FRAMES} mutated frames and a fragment flood within its bounds`, () => {
    const s = channelStack({ seed: 1234 });
    const { stack, link, clock } = s;
    stack.udp.open({ localPort: 7, onDatagram: () => {} });
    const tcp = new TcpLayer(stack, { limboSize: 64, maxConnections: 256 });
    tcp.listen({ localPort: 80, backlog: 16, onAccept: () => ({}) });
    let maxConns = 0;
    let maxLimbo = 0;
    stack.icmp.open({ port: 1, remoteAddr: PEER, onPacket: () => {} });
    // One real handshake from 10.0.0.2:40000, so segments of the seeds reach a connection.
    stack.arp.add(PEER, MAC_PEER);
    link.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, ipPacket({ src: PEER, dst: US, protocol: 6 }, tcpSeeds(0)[0]!)));
    const synack = link.take().map(decode).find((d) => d.ip?.protocol === 6);
    const t = synack ? parseTcp(synack.ip!.payload, US, PEER) : null;
    const ourIss = t && !(t instanceof WireError) ? t.seq : 0;
    const rng = new SeededRng(0x5eed);
    const base = seeds(ourIss);
    link.inject(base[base.length - 6]!);
    expect(tcp.size).toBe(1);
    let maxReasm = 0;
    let maxDgrams = 0;
    let maxArp = 0;
    let maxHeld = 0;
    const total = FRAMES + 20_000;
    for (let i = 0; i < total; i++) {
      const f = i < FRAMES ? mutate(rng, base[rng.u32() % base.length]!) : randomFragment(rng);
      link.inject(f);
      if ((i & 63) === 0) {
        clock.advance(rng.u32() % 300);
        link.sent.length = 0;
      }
      if (stack.reassemblyBytes > maxReasm) maxReasm = stack.reassemblyBytes;
      if (stack.reassemblyDatagrams > maxDgrams) maxDgrams = stack.reassemblyDatagrams;
      if (stack.arp.size > maxArp) maxArp = stack.arp.size;
      if (stack.arp.pendingFrames > maxHeld) maxHeld = stack.arp.pendingFrames;
      if (tcp.size > maxConns) maxConns = tcp.size;
      if (tcp.limboCount > maxLimbo) maxLimbo = tcp.limboCount;
    }
    expect(maxConns).toBeLessThanOrEqual(256);
    expect(maxLimbo).toBeLessThanOrEqual(64);
    expect(tcp.stats.InSegs).toBeGreaterThan(FRAMES / 50);
    expect(maxReasm).toBeLessThanOrEqual(REASM_MAX_BYTES);
    expect(maxReasm).toBeGreaterThan(REASM_MAX_BYTES / 2); // the flood did fill it
    expect(maxDgrams).toBeLessThanOrEqual(REASM_MAX_DATAGRAMS);
    expect(maxArp).toBeLessThanOrEqual(ARP_CACHE_SIZE);
    expect(maxHeld).toBeLessThanOrEqual(ARP_PENDING_TOTAL);

    const st = stack.stats;
    expect(st.ip.InReceives).toBeGreaterThan(FRAMES / 2);
    expect(st.ip.InHdrErrors).toBeGreaterThan(1000);
    expect(st.drops.get('ipv4', 'bad checksum')).toBeGreaterThan(100);
    expect(st.drops.get('ipv4', 'truncated')).toBeGreaterThan(100);
    expect(st.drops.get('arp', 'truncated') + st.drops.get('arp', 'unsupported')).toBeGreaterThan(10);
    expect(st.udp.InErrors).toBeGreaterThan(100);
    expect(st.icmp.InErrors).toBeGreaterThan(100);
    expect(st.ip.ReasmFails).toBeGreaterThan(100);
    expect(st.drops.get('reasm', 'overlap')).toBeGreaterThan(10);
    expect(st.drops.total()).toBeGreaterThan(FRAMES / 4);

    // Afterwards: reassembly drains on time, ping and reassembly still work.
    clock.advance(REASM_TIMEOUT_MS + 1);
    expect(stack.reassemblyBytes).toBe(0);
    link.sent.length = 0;
    stack.arp.add(PEER, MAC_PEER);
    link.inject(
      ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, ipPacket({ src: PEER, dst: US, protocol: 1 }, icmpBytes({ kind: 'echoRequest', ident: 77, seq: 1, data: pattern(32) }))),
    );
    const reply = link.take().map(decode);
    expect(reply).toHaveLength(1);
    expect(reply[0]!.icmp).toEqual({ kind: 'echoReply', ident: 77, seq: 1, data: pattern(32) });
    const got: Uint8Array[] = [];
    stack.udp.open({ localPort: 99, onDatagram: (_a, _b, _c, _d, p) => got.push(p) });
    const dg = udpBytes(PEER, US, 1, 99, pattern(2000, 9));
    for (const [off, end] of [[1480, 2008], [0, 1480]] as const) {
      link.inject(
        ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, ipPacket({ src: PEER, dst: US, protocol: 17, ident: 5555, fragOffset: off, moreFrags: end < dg.length }, dg.subarray(off, end))),
      );
    }
    expect(got).toEqual([pattern(2000, 9)]);
    console.log(`fuzzstack: ${JSON.stringify({ frames: total, crashes: 0, drops: st.drops.total(), tcpSegments: tcp.stats.InSegs, maxReasmBytes: maxReasm, maxTcpConns: maxConns, peakRssMB: Math.round(process.memoryUsage().rss / 1e6) })}`);
  }, 600_000);
});
