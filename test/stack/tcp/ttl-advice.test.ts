// The conversation's ttl and tos on every segment TCP sends (the SYN, data,
// ACKs, RST; a listener's SYN-ACKs and the connections it accepts), and
// ICMP advice for a connect (9front tcp.c tcpadvise): an ICMP time
// exceeded or unreachable about our SYN fails it with Plan 9's text,
// unless ignoreadvice; advice about a sequence number we never sent, or in
// a synchronized state, changes nothing.
import { describe, expect, it } from 'vitest';
import type { TcpConn } from '../../../src/stack/tcp/conn.js';
import { ETHERTYPE_IPV4, parseEthernet } from '../../../src/stack/wire/ethernet.js';
import { IP_PROTO_ICMP, IP_PROTO_TCP, parseIpv4 } from '../../../src/stack/wire/ipv4.js';
import { WireError } from '../../../src/stack/wire/result.js';
import { parseTcp, TCP_ACK, TCP_PSH, TCP_SYN } from '../../../src/stack/wire/tcp.js';
import { ethFrame, icmpBytes, ip, ipPacket, MAC_PEER, MAC_US } from '../helpers.js';
import { flagsOf, harness, PEER, PISS, rec, US } from './harness.js';

const ROUTER = ip('10.0.0.254');

/** TTL, TOS and flags of the TCP segments in `frames`; the raw IP packets too. */
function sent(frames: Uint8Array[]): { ttl: number; tos: number; flags: string; ipPacket: Uint8Array }[] {
  const out = [];
  for (const f of frames) {
    const e = parseEthernet(f);
    if (e instanceof WireError || e.ethertype !== ETHERTYPE_IPV4) continue;
    const i = parseIpv4(e.payload);
    if (i instanceof WireError || i.protocol !== IP_PROTO_TCP) continue;
    const t = parseTcp(i.payload, i.src, i.dst);
    if (t instanceof WireError) throw new Error(t.reason);
    out.push({ ttl: i.ttl, tos: i.tos, flags: flagsOf(t), ipPacket: e.payload });
  }
  return out;
}

/** An ICMP error from `from` quoting the first 28 bytes of `pkt` (its IP header and 8 bytes of TCP). */
function icmpAbout(pkt: Uint8Array, type: 'timeExceeded' | 'destUnreachable', code: number, from = ROUTER): Uint8Array {
  const quote = pkt.slice(0, 28);
  const body = type === 'timeExceeded'
    ? icmpBytes({ kind: 'timeExceeded', code, data: quote })
    : icmpBytes({ kind: 'destUnreachable', code, nextHopMtu: 0, data: quote });
  return ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, ipPacket({ src: from, dst: US, protocol: IP_PROTO_ICMP }, body));
}

describe('tcp: ttl and tos', () => {
  it('puts the connection\'s ttl and tos on the SYN and on every later segment', () => {
    const h = harness();
    const r = rec();
    const conn = h.tcp.connect({ remoteAddr: PEER, localPort: 5000, remotePort: 80, handler: r.h, ttl: 3, tos: 0x10 });
    const [syn] = sent(h.link.take());
    expect(syn).toMatchObject({ ttl: 3, tos: 0x10, flags: 'S' });
    const iss = new DataView(syn!.ipPacket.buffer, syn!.ipPacket.byteOffset).getUint32(20 + 4);
    h.inject({ srcPort: 80, dstPort: 5000, seq: PISS, ack: iss + 1, flags: TCP_SYN | TCP_ACK, mss: 1460 });
    conn.write(new Uint8Array(100), h.clock.now());
    // Changed after connect (a `ttl` ctl on the conversation): the next segments carry it.
    conn.ttl = 7;
    conn.tos = 0;
    h.inject({ srcPort: 80, dstPort: 5000, seq: PISS + 1, ack: iss + 101, flags: TCP_ACK | TCP_PSH, payload: new Uint8Array(10) });
    h.clock.advance(40); // the delayed ACK
    conn.abort(h.clock.now());
    const later = sent(h.link.take());
    expect(later.map((s) => [s.flags, s.ttl, s.tos])).toEqual([
      ['A', 3, 0x10],
      ['AP', 3, 0x10],
      ['A', 7, 0],
      ['AR', 7, 0],
    ]);
  });

  it('a listener\'s SYN-ACKs carry its ttl and tos, and the calls it accepts start with them', () => {
    const h = harness();
    const accepted: TcpConn[] = [];
    const l = h.tcp.listen({ localPort: 80, ttl: 9, tos: 0x20, onAccept: (c) => (accepted.push(c), {}) });
    h.inject({ seq: PISS, flags: TCP_SYN, mss: 1460 });
    const [sa] = sent(h.link.take());
    expect(sa).toMatchObject({ flags: 'SA', ttl: 9, tos: 0x20 });
    l.ttl = 11; // set on the announced conversation later: retransmissions and calls follow
    h.clock.advance(1000);
    expect(sent(h.link.take())).toMatchObject([{ flags: 'SA', ttl: 11 }]);
    const iss = new DataView(sa!.ipPacket.buffer, sa!.ipPacket.byteOffset).getUint32(20 + 4);
    h.inject({ seq: PISS + 1, ack: iss + 1, flags: TCP_ACK | TCP_PSH, payload: new Uint8Array(5) });
    expect(accepted).toHaveLength(1);
    expect([accepted[0]!.ttl, accepted[0]!.tos]).toEqual([11, 0x20]);
    h.clock.advance(100);
    expect(sent(h.link.take())).toMatchObject([{ flags: 'A', ttl: 11, tos: 0x20 }]);
  });
});

describe('tcp: ICMP advice (tcpadvise)', () => {
  function connecting(opts: { ignoreAdvice?: boolean } = {}) {
    const h = harness();
    const r = rec();
    const conn = h.tcp.connect({ remoteAddr: PEER, localPort: 5000, remotePort: 80, handler: r.h, ttl: 1, ...opts });
    const [syn] = sent(h.link.take());
    return { h, r, conn, syn: syn!.ipPacket };
  }

  it('fails a connect with `ttl exceeded at A.B.C.D` when a router says the SYN\'s ttl ran out', () => {
    const { h, r, conn, syn } = connecting();
    h.link.inject(icmpAbout(syn, 'timeExceeded', 0));
    expect(conn.state).toBe('Closed');
    expect(r.events).toEqual(['closed ttl exceeded at 10.0.0.254']);
    expect(h.tcp.size).toBe(0);
  });

  it('fails it with the unreachable text Plan 9 gives the code', () => {
    const { h, r, syn } = connecting();
    h.link.inject(icmpAbout(syn, 'destUnreachable', 3));
    expect(r.events).toEqual(['closed port unreachable']);
  });

  it('ignores the advice with ignoreadvice: the SYN is retransmitted', () => {
    const { h, r, conn, syn } = connecting({ ignoreAdvice: true });
    h.link.inject(icmpAbout(syn, 'timeExceeded', 0));
    expect(conn.state).toBe('Syn_sent');
    expect(r.events).toEqual([]);
    h.clock.advance(1000);
    expect(sent(h.link.take()).map((s) => s.flags)).toEqual(['S']);
  });

  it('ignores advice quoting a sequence number it did not send (RFC 5927 §4.1)', () => {
    const { h, r, conn, syn } = connecting();
    const forged = syn.slice();
    forged[24] = forged[24]! ^ 0x80; // the quoted TCP sequence number
    h.link.inject(icmpAbout(forged, 'timeExceeded', 0));
    expect(conn.state).toBe('Syn_sent');
    expect(r.events).toEqual([]);
  });

  it('does not end a synchronized connection', () => {
    const { h, r, conn, syn } = connecting();
    const iss = new DataView(syn.buffer, syn.byteOffset).getUint32(20 + 4);
    h.inject({ srcPort: 80, dstPort: 5000, seq: PISS, ack: iss + 1, flags: TCP_SYN | TCP_ACK, mss: 1460 });
    conn.write(new Uint8Array(10), h.clock.now());
    const data = sent(h.link.take()).find((s) => s.flags === 'AP')!;
    h.link.inject(icmpAbout(data.ipPacket, 'timeExceeded', 0));
    expect(conn.state).toBe('Established');
    expect(r.events).toEqual(['open']);
  });
});
