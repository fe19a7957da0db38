// Segment-level TCP tests under a ManualClock: the test plays the peer and
// checks every segment we send, with explicit times for each transition,
// retransmission, recovery and timer.
import { describe, expect, it } from 'vitest';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../../src/stack/wire/tcp.js';
import type { TcpConn } from '../../../src/stack/tcp/conn.js';
import type { TcpLayerOptions } from '../../../src/stack/tcp/types.js';
import { TCP_STAT_NAMES } from '../../../src/stack/tcp/stats.js';
import { active, flagsOf, harness, LPORT, PEER, PEER_PORT, PISS, rec, RPORT } from './harness.js';
import { pattern } from '../helpers.js';

describe('tcp: opening', () => {
  it('active open: SYN with MSS/WS/SACK/TS, SYN-ACK → ACK, Established at t+10', () => {
    const h = harness();
    const r = rec();
    const conn = h.tcp.connect({ remoteAddr: PEER, localPort: LPORT, remotePort: RPORT, handler: r.h });
    expect(conn.state).toBe('Syn_sent');
    const [syn] = h.out();
    expect(flagsOf(syn!)).toBe('S');
    expect(syn!.mss).toBe(1460);
    expect(syn!.windowScale).toBe(7);
    expect(syn!.sackPermitted).toBe(true);
    expect(syn!.tsVal).not.toBeNull();
    h.clock.advance(10);
    h.inject({ srcPort: RPORT, dstPort: LPORT, seq: PISS, ack: syn!.seq + 1, flags: TCP_SYN | TCP_ACK, mss: 1400, windowScale: 2, sackPermitted: true, tsVal: 77, tsEcr: syn!.tsVal });
    expect(conn.state).toBe('Established');
    expect(r.events).toEqual(['open']);
    const [ack] = h.out();
    expect(flagsOf(ack!)).toBe('A');
    expect(ack!.seq).toBe(syn!.seq + 1);
    expect(ack!.ack).toBe(PISS + 1);
    expect(ack!.tsEcr).toBe(77);
    expect(conn.features).toEqual({ ws: true, sack: true, ts: true });
    expect(conn.scales).toEqual({ rcv: 7, snd: 2 });
    expect(conn.smss).toBe(1400 - 12);
    expect(conn.info().srtt).toBe(10);
    expect(h.tcp.stats.ActiveOpens).toBe(1);
    expect(h.tcp.stats.CurrEstab).toBe(1);
  });

  it('clamps the MSS to the route MTU and works without any option (slirp/Plan 9 style peer)', () => {
    const t = active({}, { mss: null }, 9000);
    expect(t.syn.mss).toBe(8960);
    expect(t.conn.state).toBe('Established');
    expect(t.conn.features).toEqual({ ws: false, sack: false, ts: false });
    expect(t.conn.smss).toBe(536); // RFC 9293 default when the peer sends no MSS
    expect(t.conn.scales).toEqual({ rcv: 0, snd: 0 });
    const [ack] = t.out();
    expect(ack!.tsVal).toBeNull();
    expect(ack!.window).toBeLessThanOrEqual(0xffff);
  });

  it('RST to the SYN → connection refused', () => {
    const h = harness();
    const r = rec();
    const conn = h.tcp.connect({ remoteAddr: PEER, localPort: LPORT, remotePort: RPORT, handler: r.h });
    const [syn] = h.out();
    h.inject({ srcPort: RPORT, dstPort: LPORT, seq: 0, ack: syn!.seq + 1, flags: TCP_RST | TCP_ACK });
    expect(conn.state).toBe('Closed');
    expect(r.events).toEqual(['reset', 'closed connection refused']);
    expect(h.tcp.size).toBe(0);
  });

  it('SYN retransmissions at 1, 3, 7 s … then connection timed out at the configured give-up time', () => {
    const h = harness({ synTimeoutMs: 20_000 });
    const r = rec();
    const t0 = h.clock.now();
    const conn = h.tcp.connect({ remoteAddr: PEER, localPort: LPORT, remotePort: RPORT, handler: r.h });
    expect(h.out()).toHaveLength(1);
    const times: number[] = [];
    for (let ms = 0; ms < 25_000; ms += 10) {
      h.clock.advance(10);
      for (const s of h.out()) {
        expect(flagsOf(s)).toBe('S');
        times.push(h.clock.now() - t0);
      }
    }
    expect(times).toEqual([1000, 3000, 7000, 15000]);
    expect(conn.state).toBe('Closed');
    expect(r.events).toEqual(['closed connection timed out']);
  });

  it('reports ICMP advice in Syn_sent as the Plan 9 reason', () => {
    const h = harness();
    const r = rec();
    const conn = h.tcp.connect({ remoteAddr: PEER, localPort: LPORT, remotePort: RPORT, handler: r.h });
    conn.advise('host unreachable', 0, false, h.clock.now());
    expect(r.events).toEqual(['closed host unreachable']);
  });

  it('simultaneous open: SYN crosses SYN → SYN-ACK, Syn_received → Established', () => {
    const h = harness();
    const r = rec();
    const conn = h.tcp.connect({ remoteAddr: PEER, localPort: LPORT, remotePort: RPORT, handler: r.h });
    const [syn] = h.out();
    h.inject({ srcPort: RPORT, dstPort: LPORT, seq: PISS, flags: TCP_SYN, mss: 1460 });
    expect(conn.state).toBe('Syn_received');
    const [sa] = h.out();
    expect(flagsOf(sa!)).toBe('SA');
    expect(sa!.seq).toBe(syn!.seq);
    expect(sa!.ack).toBe(PISS + 1);
    h.inject({ srcPort: RPORT, dstPort: LPORT, seq: PISS + 1, ack: syn!.seq + 1, flags: TCP_ACK });
    expect(conn.state).toBe('Established');
    expect(r.events).toEqual(['open']);
  });

  it('passive open: SYN goes to limbo, the final ACK hands over an Established connection', () => {
    const h = harness();
    const r = rec();
    const accepted: TcpConn[] = [];
    h.tcp.listen({ localPort: 80, onAccept: (c) => (accepted.push(c), r.h) });
    h.inject({ seq: PISS, flags: TCP_SYN, mss: 1460, windowScale: 7, sackPermitted: true, tsVal: 5, tsEcr: 0 });
    expect(h.tcp.limboCount).toBe(1);
    expect(h.tcp.size).toBe(0);
    const [sa] = h.out();
    expect(flagsOf(sa!)).toBe('SA');
    expect(sa!.ack).toBe(PISS + 1);
    expect(sa!.windowScale).toBe(7);
    expect(sa!.tsEcr).toBe(5);
    // SYN-ACK retransmitted after 1 s without the ACK.
    h.clock.advance(1000);
    expect(h.out().map(flagsOf)).toEqual(['SA']);
    h.inject({ seq: PISS + 1, ack: sa!.seq + 1, flags: TCP_ACK, tsVal: 6, tsEcr: sa!.tsVal, payload: new Uint8Array([1, 2, 3]) });
    expect(h.tcp.limboCount).toBe(0);
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.state).toBe('Established');
    expect(r.data).toEqual([1, 2, 3]);
    expect(h.tcp.stats.PassiveOpens).toBe(1);
  });

  it('SYN flood: limbo stays bounded, conversations are not used, a real client still gets in', () => {
    const h = harness({ limboSize: 64 });
    const accepted: TcpConn[] = [];
    h.tcp.listen({ localPort: 80, backlog: 1000, onAccept: (c) => (accepted.push(c), {}) });
    for (let i = 0; i < 2000; i++) h.inject({ srcPort: 10000 + i, seq: i * 1000, flags: TCP_SYN });
    expect(h.tcp.limboCount).toBe(64);
    expect(h.tcp.size).toBe(0);
    h.out();
    h.inject({ srcPort: 3333, seq: PISS, flags: TCP_SYN });
    const sa = h.out().pop()!;
    h.inject({ srcPort: 3333, seq: PISS + 1, ack: sa.seq + 1, flags: TCP_ACK });
    expect(accepted).toHaveLength(1);
    // Unanswered entries expire after 5 SYN-ACK retransmissions (1+2+4+8+16+32 s).
    h.clock.advance(64_000);
    expect(h.tcp.limboCount).toBe(0);
  });

  it('answers a segment for no connection with RST (RFC 9293 §3.10.7.1)', () => {
    const h = harness();
    h.inject({ seq: 5, flags: TCP_SYN });
    const [r1] = h.out();
    expect(flagsOf(r1!)).toBe('AR');
    expect(r1!.ack).toBe(6);
    h.inject({ seq: 5, ack: 99, flags: TCP_ACK });
    const [r2] = h.out();
    expect(flagsOf(r2!)).toBe('R');
    expect(r2!.seq).toBe(99);
    h.inject({ seq: 5, flags: TCP_RST });
    expect(h.out()).toHaveLength(0);
    expect(h.tcp.stats.OutRsts).toBe(2);
  });
});

describe('tcp: closing', () => {
  it('active close: Finwait1 → Finwait2 → Time_wait → Closed after 2·MSL', () => {
    const t = active({ timeWaitMs: 5000 });
    const r = t.r;
    t.out();
    t.conn.close(t.clock.now());
    expect(t.conn.state).toBe('Finwait1');
    const [fin] = t.out();
    expect(flagsOf(fin!)).toBe('AF');
    t.send({ seq: PISS + 1, ack: fin!.seq + 1, flags: TCP_ACK });
    expect(t.conn.state).toBe('Finwait2');
    t.send({ seq: PISS + 1, ack: fin!.seq + 1, flags: TCP_ACK | TCP_FIN });
    expect(t.conn.state).toBe('Time_wait');
    expect(t.out().map((s) => [flagsOf(s), s.ack])).toEqual([['A', PISS + 2]]);
    // A retransmitted FIN in Time_wait is ACKed again and restarts the timer.
    t.clock.advance(3000);
    t.send({ seq: PISS + 1, ack: fin!.seq + 1, flags: TCP_ACK | TCP_FIN });
    expect(t.out().map(flagsOf)).toEqual(['A']);
    t.clock.advance(4999);
    expect(t.conn.state).toBe('Time_wait');
    t.clock.advance(1);
    expect(t.conn.state).toBe('Closed');
    expect(t.tcp.size).toBe(0);
    expect(r.events).toEqual(['open']); // no callbacks after the user's close
  });

  it('Finwait2 is bounded when the peer never sends its FIN', () => {
    const t = active({ timeWaitMs: 1000 });
    t.out();
    t.conn.close(t.clock.now());
    const [fin] = t.out();
    t.send({ seq: PISS + 1, ack: fin!.seq + 1, flags: TCP_ACK });
    expect(t.conn.state).toBe('Finwait2');
    t.clock.advance(59_999);
    expect(t.conn.state).toBe('Finwait2');
    t.clock.advance(1);
    expect(t.conn.state).toBe('Closed');
    expect(t.tcp.size).toBe(0);
  });

  it('passive close: peer FIN → Close_wait (EOF), our close → Last_ack → Closed', () => {
    const t = active();
    t.out();
    t.send({ seq: PISS + 1, ack: t.iss + 1, flags: TCP_ACK | TCP_FIN, payload: new Uint8Array([9]) });
    expect(t.conn.state).toBe('Close_wait');
    expect(t.r.events).toEqual(['open', 'data 1', 'end']);
    expect(t.out().map((s) => [flagsOf(s), s.ack])).toEqual([['A', PISS + 3]]);
    // Writes are still allowed in Close_wait.
    expect(t.conn.write(new Uint8Array([1, 2]), t.clock.now())).toBe(2);
    t.conn.close(t.clock.now());
    expect(t.conn.state).toBe('Last_ack');
    const segs = t.out();
    const last = segs[segs.length - 1]!;
    expect(flagsOf(last)).toContain('F');
    t.send({ seq: PISS + 3, ack: t.iss + 1 + 2 + 1, flags: TCP_ACK });
    expect(t.conn.state).toBe('Closed');
  });

  it('simultaneous close: Finwait1 → Closing → Time_wait', () => {
    const t = active({ timeWaitMs: 1000 });
    t.out();
    t.conn.close(t.clock.now());
    const [fin] = t.out();
    t.send({ seq: PISS + 1, ack: t.iss + 1, flags: TCP_ACK | TCP_FIN });
    expect(t.conn.state).toBe('Closing');
    t.send({ seq: PISS + 2, ack: fin!.seq + 1, flags: TCP_ACK });
    expect(t.conn.state).toBe('Time_wait');
    t.clock.advance(1000);
    expect(t.conn.state).toBe('Closed');
  });

  it('after our close, incoming data is acknowledged and discarded (no half-close)', () => {
    const t = active();
    t.out();
    t.conn.close(t.clock.now());
    const [fin] = t.out();
    t.send({ seq: PISS + 1, ack: fin!.seq + 1, flags: TCP_ACK, payload: pattern(100) });
    expect(t.r.data).toEqual([]);
    t.clock.advance(100);
    expect(t.out().some((s) => s.ack === PISS + 101)).toBe(true);
  });

  it('abort sends RST and closes at once (Plan 9 hangup)', () => {
    const t = active();
    t.out();
    t.conn.abort(t.clock.now());
    const [rst] = t.out();
    expect(flagsOf(rst!)).toBe('AR');
    expect(t.conn.state).toBe('Closed');
    expect(t.tcp.stats.OutRsts).toBe(1);
  });

  it('Time_wait does not block reusing the four-tuple', () => {
    const t = active({ timeWaitMs: 60_000 });
    t.out();
    t.conn.close(t.clock.now());
    const [fin] = t.out();
    t.send({ seq: PISS + 1, ack: fin!.seq + 1, flags: TCP_ACK | TCP_FIN });
    expect(t.conn.state).toBe('Time_wait');
    const again = t.tcp.connect({ remoteAddr: PEER, localPort: LPORT, remotePort: RPORT, handler: {} });
    expect(again.state).toBe('Syn_sent');
    expect(t.conn.state).toBe('Closed');
  });
});

describe('tcp: RST and SYN in synchronized states (RFC 5961)', () => {
  it('RST exactly at RCV.NXT resets; in-window RST gets a challenge ACK; out-of-window RST is ignored', () => {
    const t = active();
    t.out();
    t.send({ seq: PISS + 1000, flags: TCP_RST });
    expect(t.conn.state).toBe('Established');
    expect(t.out().map(flagsOf)).toEqual(['A']); // challenge ACK
    t.send({ seq: PISS + 10_000_000, flags: TCP_RST });
    expect(t.out()).toHaveLength(0);
    expect(t.conn.state).toBe('Established');
    t.send({ seq: PISS + 1, flags: TCP_RST });
    expect(t.conn.state).toBe('Closed');
    expect(t.r.events).toEqual(['open', 'reset', 'closed connection refused']);
    expect(t.tcp.stats.EstabResets).toBe(1);
    expect(t.tcp.stats.CurrEstab).toBe(0);
  });

  it('SYN in Established gets a challenge ACK', () => {
    const t = active();
    t.out();
    t.send({ seq: PISS + 50, flags: TCP_SYN });
    expect(t.out().map((s) => [flagsOf(s), s.ack])).toEqual([['A', PISS + 1]]);
    expect(t.conn.state).toBe('Established');
  });

  it('ACK for data never sent is answered with an ACK and dropped', () => {
    const t = active();
    t.out();
    t.send({ seq: PISS + 1, ack: t.iss + 5000, flags: TCP_ACK, payload: pattern(10) });
    expect(t.r.data).toEqual([]);
    expect(t.out().map(flagsOf)).toEqual(['A']);
  });
});

describe('tcp: data, retransmission and recovery', () => {
  /** Established with a 10 ms RTT sample, peer without options (MSS 1000), big window. */
  function est(opts: TcpLayerOptions = {}, sack = false) {
    const t = active(opts, { mss: 1000, window: 65535, sackPermitted: sack, windowScale: 4 });
    t.out();
    return t;
  }

  it('sends MSS-sized segments and retransmits after the RTO, backing off (RFC 6298)', () => {
    const t = est();
    const now = t.clock.now();
    expect(t.conn.write(pattern(3000), now)).toBe(3000);
    const segs = t.out();
    expect(segs.map((s) => s.payload.length)).toEqual([1000, 1000, 1000]);
    expect(segs[2]!.flags & TCP_PSH).toBeTruthy();
    // srtt 10, rttvar 5 → RTO = max(200, 10 + 20) = 200 ms
    expect(t.conn.rto).toBe(200);
    t.clock.advance(199);
    expect(t.out()).toHaveLength(0);
    t.clock.advance(1);
    const r1 = t.out();
    expect(r1.map((s) => [s.seq - t.iss - 1, s.payload.length])).toEqual([[0, 1000]]);
    expect(t.conn.cwnd).toBe(1000); // loss window
    t.clock.advance(399);
    expect(t.out()).toHaveLength(0);
    t.clock.advance(1);
    expect(t.out()).toHaveLength(1); // backed off to 400 ms
    expect(t.tcp.stats.RetransTimeouts).toBe(2);
    // The ACK of everything stops the timer.
    t.send({ seq: PISS + 1, ack: t.iss + 3001, flags: TCP_ACK, window: 4096 });
    t.clock.advance(5000);
    expect(t.out()).toHaveLength(0);
  });

  it('fast retransmit on the third duplicate ACK (NewReno), partial ACK, full ACK', () => {
    const t = est({ congestion: 'newreno' });
    t.conn.write(pattern(5000), t.clock.now());
    expect(t.out()).toHaveLength(5);
    const base = t.iss + 1;
    t.send({ seq: PISS + 1, ack: base + 1000, flags: TCP_ACK, window: 4096 });
    t.out();
    for (let i = 0; i < 2; i++) t.send({ seq: PISS + 1, ack: base + 1000, flags: TCP_ACK, window: 4096 });
    expect(t.out()).toHaveLength(0);
    t.send({ seq: PISS + 1, ack: base + 1000, flags: TCP_ACK, window: 4096 });
    const rx = t.out();
    expect(rx[0]!.seq).toBe(base + 1000);
    expect(t.tcp.stats.Recovery).toBe(1);
    // Partial ACK: the next hole is retransmitted at once.
    t.send({ seq: PISS + 1, ack: base + 3000, flags: TCP_ACK, window: 4096 });
    expect(t.out()[0]!.seq).toBe(base + 3000);
    expect(t.tcp.stats.RecoveryPA).toBe(1);
    t.send({ seq: PISS + 1, ack: base + 5000, flags: TCP_ACK, window: 4096 });
    expect(t.tcp.stats.RecoveryDone).toBe(1);
  });

  it('SACK recovery retransmits only the holes (RFC 6675)', () => {
    const t = est({}, true);
    t.conn.write(pattern(8000), t.clock.now());
    expect(t.out()).toHaveLength(8);
    const b = t.iss + 1;
    // Segments 0 and 3 lost; the peer SACKs 1-2 and 4-7.
    t.send({ seq: PISS + 1, ack: b, flags: TCP_ACK, window: 4096, sackBlocks: [b + 1000, b + 3000] });
    t.send({ seq: PISS + 1, ack: b, flags: TCP_ACK, window: 4096, sackBlocks: [b + 4000, b + 6000, b + 1000, b + 3000] });
    t.send({ seq: PISS + 1, ack: b, flags: TCP_ACK, window: 4096, sackBlocks: [b + 4000, b + 8000, b + 1000, b + 3000] });
    const rx = t.out().filter((s) => s.payload.length > 0);
    expect(rx.map((s) => s.seq - b)).toEqual([0, 3000]);
    expect(t.tcp.stats.Recovery).toBe(1);
    t.send({ seq: PISS + 1, ack: b + 8000, flags: TCP_ACK, window: 4096 });
    expect(t.tcp.stats.RecoveryDone).toBe(1);
    expect(t.conn.queuedOut).toBe(0);
  });

  it('early retransmit: two segments out, the second SACKed → the first is resent at once (RFC 5827)', () => {
    const t = est({}, true);
    t.conn.write(pattern(2000), t.clock.now());
    expect(t.out()).toHaveLength(2);
    const b = t.iss + 1;
    t.send({ seq: PISS + 1, ack: b, flags: TCP_ACK, window: 4096, sackBlocks: [b + 1000, b + 2000] });
    expect(t.out().filter((s) => s.payload.length > 0).map((s) => s.seq - b)).toEqual([0]);
    expect(t.tcp.stats.Recovery).toBe(1);
    expect(t.tcp.stats.RetransTimeouts).toBe(0);
  });

  it('a lost retransmission is sent again once later data is SACKed, without an RTO (RFC 8985 §6.2)', () => {
    const t = est({}, true);
    t.conn.write(pattern(30_000), t.clock.now());
    expect(t.out()).toHaveLength(10); // initial window
    const b = t.iss + 1;
    const ack = (...blocks: number[]) => t.send({ seq: PISS + 1, ack: b, flags: TCP_ACK, window: 4096, sackBlocks: blocks.map((x) => b + x) });
    ack(1000, 2000);
    ack(1000, 3000);
    ack(1000, 4000);
    let data = t.out().filter((s) => s.payload.length > 0);
    expect(data[0]!.seq - b).toBe(0); // fast retransmit
    expect(t.tcp.stats.Recovery).toBe(1);
    // The retransmission is lost too; the rest of the flight and the new
    // data sent after the retransmission arrive.
    const sent: number[] = [];
    for (let r = 4000; r <= 16_000; r += 1000) {
      ack(1000, r);
      data = t.out().filter((s) => s.payload.length > 0);
      sent.push(...data.map((s) => s.seq - b));
    }
    expect(sent.filter((x) => x >= 10_000).length).toBeGreaterThan(3); // new data went out
    expect(sent).toContain(0); // …and the hole again, before any timer ran
    expect(t.tcp.stats.RetransTimeouts).toBe(0);
    t.send({ seq: PISS + 1, ack: b + 16_000, flags: TCP_ACK, window: 4096 });
    expect(t.tcp.stats.RecoveryDone).toBe(1); // past the recovery point (10 000)
    expect(t.conn.cwnd).toBeGreaterThan(1000);
  });

  it('tail loss probe: the last segment is resent after 2·SRTT, well before the RTO (RFC 8985 §7)', () => {
    const t = est({}, true);
    t.conn.write(pattern(3000), t.clock.now());
    expect(t.out()).toHaveLength(3);
    const b = t.iss + 1;
    t.clock.advance(21);
    expect(t.out()).toHaveLength(0);
    t.clock.advance(1); // PTO = 2·10 + 2 ms
    expect(t.out().map((s) => [s.seq - b, s.payload.length])).toEqual([[2000, 1000]]);
    expect(t.tcp.stats.RetransTimeouts).toBe(0);
    // Only one probe: the RTO follows.
    t.clock.advance(199);
    expect(t.out()).toHaveLength(0);
    t.clock.advance(1);
    expect(t.out().map((s) => s.seq - b)).toEqual([0]);
    expect(t.tcp.stats.RetransTimeouts).toBe(1);
  });

  it('Nagle holds a small segment while data is unacknowledged; setNoDelay sends at once', () => {
    const t = est();
    t.conn.write(pattern(10), t.clock.now());
    expect(t.out()).toHaveLength(1);
    t.conn.write(pattern(10), t.clock.now());
    expect(t.out()).toHaveLength(0);
    t.send({ seq: PISS + 1, ack: t.iss + 11, flags: TCP_ACK, window: 4096 });
    expect(t.out().map((s) => s.payload.length)).toEqual([10]);
    t.conn.setNoDelay(true, t.clock.now());
    t.conn.write(pattern(5), t.clock.now());
    expect(t.out().map((s) => s.payload.length)).toEqual([5]);
  });

  it('zero window: nothing sent, probes with backoff, data flows when the window opens', () => {
    const t = est();
    t.send({ seq: PISS + 1, ack: t.iss + 1, flags: TCP_ACK, window: 0 });
    t.conn.write(pattern(2000), t.clock.now());
    expect(t.out()).toHaveLength(0);
    t.clock.advance(200);
    const [p1] = t.out();
    expect(p1!.seq).toBe(t.iss); // SND.UNA - 1, no data
    expect(p1!.payload.length).toBe(0);
    t.send({ seq: PISS + 1, ack: t.iss + 1, flags: TCP_ACK, window: 0 });
    t.clock.advance(399);
    expect(t.out()).toHaveLength(0);
    t.clock.advance(1);
    expect(t.out()).toHaveLength(1);
    t.send({ seq: PISS + 1, ack: t.iss + 1, flags: TCP_ACK, window: 1000 }); // window 1000 << 4
    expect(t.out().map((s) => s.payload.length)).toEqual([1000, 1000]);
  });

  it('flow control to the writer: short write when the send buffer is full, onWritable after ACKs', () => {
    const t = active({ sendBuffer: 4096 }, { mss: 1000, window: 65535 });
    t.out();
    expect(t.conn.write(pattern(10_000), t.clock.now())).toBe(4096);
    expect(t.conn.write(pattern(10), t.clock.now())).toBe(0);
    t.out();
    // 4000 bytes in flight; Nagle holds the 96-byte tail until they are acknowledged.
    t.send({ seq: PISS + 1, ack: t.iss + 1 + 4000, flags: TCP_ACK });
    expect(t.r.events).toContain('writable');
    expect(t.conn.writable).toBe(4000);
    expect(t.out().map((s) => s.payload.length)).toEqual([96]);
  });

  it('keepalive probes every interval and times out without answers', () => {
    const t = est();
    t.conn.setKeepalive(60_000, t.clock.now());
    t.clock.advance(60_000);
    const [p] = t.out();
    expect(p!.seq).toBe(t.iss);
    expect(t.tcp.stats.OutSegs).toBeGreaterThan(0);
    // An answer resets the probe count.
    t.send({ seq: PISS + 1, ack: t.iss + 1, flags: TCP_ACK });
    t.clock.advance(60_000);
    expect(t.out()).toHaveLength(1);
    t.clock.advance(12 * 60_000);
    expect(t.conn.state).toBe('Closed');
    expect(t.r.events).toContain('closed connection timed out');
  });

  it('keepalive needs Established (9front error text)', () => {
    const h = harness();
    const c = h.tcp.connect({ remoteAddr: PEER, localPort: LPORT, remotePort: RPORT, handler: {} });
    expect(() => c.setKeepalive(1000, h.clock.now())).toThrow('connection must be in Establised state');
  });
});

describe('tcp: receiving', () => {
  it('delays the ACK of one segment by 40 ms, ACKs every second full segment at once', () => {
    const t = active({}, { mss: 1460 });
    t.out();
    const mss = 1460;
    t.send({ seq: PISS + 1, ack: t.iss + 1, flags: TCP_ACK, payload: pattern(100) });
    expect(t.out()).toHaveLength(0);
    t.clock.advance(39);
    expect(t.out()).toHaveLength(0);
    t.clock.advance(1);
    expect(t.out().map((s) => s.ack)).toEqual([PISS + 101]);
    t.send({ seq: PISS + 101, ack: t.iss + 1, flags: TCP_ACK, payload: pattern(mss) });
    t.send({ seq: PISS + 101 + mss, ack: t.iss + 1, flags: TCP_ACK, payload: pattern(mss) });
    expect(t.out().map((s) => s.ack)).toEqual([PISS + 101 + 2 * mss]);
  });

  it('queues out-of-order data, ACKs at once with SACK, resequences when the hole fills', () => {
    const t = active({}, { mss: 1460, sackPermitted: true });
    t.out();
    const d = pattern(300);
    t.send({ seq: PISS + 101, ack: t.iss + 1, flags: TCP_ACK, payload: d.subarray(100, 200) });
    t.send({ seq: PISS + 201, ack: t.iss + 1, flags: TCP_ACK, payload: d.subarray(200, 300) });
    const acks = t.out();
    expect(acks.map((s) => s.ack)).toEqual([PISS + 1, PISS + 1]);
    expect(acks[1]!.sackBlocks).toEqual([PISS + 101, PISS + 301]);
    expect(t.conn.info().rqSegs).toBe(2);
    t.send({ seq: PISS + 1, ack: t.iss + 1, flags: TCP_ACK, payload: d.subarray(0, 100) });
    expect(Uint8Array.from(t.r.data)).toEqual(d);
    expect(t.out().map((s) => [s.ack, s.sackBlocks.length])).toEqual([[PISS + 301, 0]]);
    expect(t.tcp.stats.OutOfOrder).toBe(2);
    expect(t.tcp.stats.Resequenced).toBe(2);
  });

  it('the window reflects unconsumed bytes: closes for a slow reader, reopens on consumed()', () => {
    const h = harness({ recvBuffer: 8192, windowScaling: false });
    const r = rec();
    const conn = h.tcp.connect({ remoteAddr: PEER, localPort: LPORT, remotePort: RPORT, handler: r.h, autoConsume: false });
    const [syn] = h.out();
    h.inject({ srcPort: RPORT, dstPort: LPORT, seq: PISS, ack: syn!.seq + 1, flags: TCP_SYN | TCP_ACK, mss: 1000 });
    h.out();
    let seq = PISS + 1;
    for (let i = 0; i < 8; i++) {
      h.inject({ srcPort: RPORT, dstPort: LPORT, seq, ack: syn!.seq + 1, flags: TCP_ACK, payload: pattern(1024) });
      seq += 1024;
    }
    h.clock.advance(40); // the delayed ACK of the last two segments
    const acks = h.out();
    expect(acks[acks.length - 1]!.window).toBe(0);
    expect(conn.info().qin).toBe(8192);
    // More data beyond the window is not accepted.
    h.inject({ srcPort: RPORT, dstPort: LPORT, seq, ack: syn!.seq + 1, flags: TCP_ACK, payload: pattern(100) });
    expect(r.data.length).toBe(8192);
    h.out();
    conn.consumed(8192, h.clock.now());
    const [upd] = h.out();
    expect(upd!.window).toBe(8192);
    expect(h.tcp.stats.Wopenack).toBe(1);
  });

  it('PAWS drops a segment with an old timestamp (RFC 7323 §5)', () => {
    const t = active({}, { mss: 1460, tsVal: 1000, tsEcr: 1 });
    t.out();
    t.send({ seq: PISS + 1, ack: t.iss + 1, flags: TCP_ACK, tsVal: 1010, tsEcr: 1, payload: pattern(10) });
    t.send({ seq: PISS + 11, ack: t.iss + 1, flags: TCP_ACK, tsVal: 900, tsEcr: 1, payload: pattern(10) });
    expect(t.r.data.length).toBe(10);
    expect(t.out().length).toBeGreaterThan(0); // the dropped one is ACKed
  });
});

describe('tcp: layer', () => {
  it('has the 28 Plan 9 stats names', () => {
    const h = harness();
    expect(Object.keys(h.tcp.stats)).toEqual([...TCP_STAT_NAMES]);
    expect(TCP_STAT_NAMES).toHaveLength(28);
  });

  it('status info has the fields of the Plan 9 status line', () => {
    const t = active();
    const i = t.conn.info();
    expect(i.state).toBe('Established');
    for (const k of ['qin', 'qout', 'srtt', 'mdev', 'sst', 'cwin', 'swin', 'sscale', 'rwin', 'rscale', 'qscale', 'timerStart', 'timerCount', 'katimerStart', 'katimerCount'] as const) {
      expect(typeof i[k]).toBe('number');
    }
  });

  it('switches congestion control per connection', () => {
    const t = active();
    expect(t.conn.congestion).toBe('cubic');
    t.conn.setCongestion('newreno');
    expect(t.conn.congestion).toBe('newreno');
  });

  it('refuses a duplicate four-tuple and a second listener on the same address', () => {
    const t = active();
    expect(() => t.tcp.connect({ remoteAddr: PEER, localPort: LPORT, remotePort: RPORT, handler: {} })).toThrow('address in use');
    t.tcp.listen({ localPort: 99, onAccept: () => ({}) });
    expect(() => t.tcp.listen({ localPort: 99, onAccept: () => ({}) })).toThrow('address in use');
    void PEER_PORT;
  });
});
