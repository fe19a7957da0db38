// SYN cookies (syncookie.ts) under a SYN flood, at the segment level and
// under the simulated clock: with a listener's half-open entries full, a
// legitimate client still completes its handshake, with its MSS, window
// scale and SACK carried through the cookie (the options in the timestamp,
// as Linux encodes them); a forged or stale ACK gets a RST; with cookies
// off, the same flood pushes the legitimate half-open connection out and
// its ACK is reset.
import { describe, expect, it } from 'vitest';
import type { TcpConn } from '../../../src/stack/tcp/conn.js';
import { MSS_TABLE, SynCookies } from '../../../src/stack/tcp/syncookie.js';
import { SeededRng } from '../../../src/lib/rng.js';
import { TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN } from '../../../src/stack/wire/tcp.js';
import type { TcpRepr } from '../../../src/stack/wire/tcp.js';
import { flagsOf, harness, PEER_PORT, PISS } from './harness.js';

const BACKLOG = 4;

function flooded(synCookies: boolean) {
  const h = harness({ synCookies });
  const accepted: TcpConn[] = [];
  const data: number[] = [];
  h.tcp.listen({ localPort: 80, backlog: BACKLOG, onAccept: (c) => (accepted.push(c), { onData: (d) => data.push(...d) }) });
  /** SYNs from 100 ports that never answer. */
  const flood = (from: number): void => {
    for (let i = 0; i < 100; i++) h.inject({ srcPort: from + i, seq: 7 * i, flags: TCP_SYN, mss: 1460 });
    h.out();
  };
  return { ...h, accepted, data, flood };
}

describe('tcp: SYN cookies', () => {
  it('a client completes its handshake during a flood, with its options carried by the cookie', () => {
    const t = flooded(true);
    t.flood(50000);
    expect(t.tcp.limboCount).toBe(BACKLOG);
    expect(t.tcp.cookiesSent).toBe(100 - BACKLOG);
    t.inject({ seq: PISS, flags: TCP_SYN, mss: 1400, windowScale: 7, sackPermitted: true, tsVal: 5000, tsEcr: 0 });
    const [sa] = t.out();
    expect(flagsOf(sa!)).toBe('SA');
    expect(sa!.mss).not.toBeNull();
    expect(sa!.windowScale).not.toBeNull();
    expect(sa!.sackPermitted).toBe(true);
    // Nothing was kept for it.
    expect(t.tcp.limboCount).toBe(BACKLOG);
    // More of the flood while the client's ACK is on its way.
    t.flood(51000);
    t.inject({ seq: PISS + 1, ack: (sa!.seq + 1) >>> 0, flags: TCP_ACK, tsVal: 5001, tsEcr: sa!.tsVal });
    expect(t.accepted).toHaveLength(1);
    const c = t.accepted[0]!;
    expect(c.state).toBe('Established');
    expect(t.tcp.cookiesAccepted).toBe(1);
    const i = c.info();
    // MSS from Linux's table (the largest ≤ 1400), less the timestamp option; scaling and SACK as asked.
    expect(i.mss).toBe(1300 - 12);
    expect(c.scales.snd).toBe(7);
    expect(c.sackOk).toBe(true);
    // Data flows both ways.
    t.inject({ seq: PISS + 1, ack: (sa!.seq + 1) >>> 0, flags: TCP_ACK | TCP_PSH, payload: new Uint8Array([1, 2, 3]), tsVal: 5002, tsEcr: sa!.tsVal });
    expect(t.data).toEqual([1, 2, 3]);
    c.write(new Uint8Array([9, 9]), t.clock.now());
    t.clock.advance(50);
    const sent = t.out().filter((s) => s.payload.length > 0);
    expect(sent.map((s) => [...s.payload])).toEqual([[9, 9]]);
    expect(sent[0]!.seq).toBe((sa!.seq + 1) >>> 0);
  });

  it('without timestamps a cookie carries the MSS only (no window scaling, no SACK)', () => {
    const t = flooded(true);
    t.flood(50000);
    t.inject({ seq: PISS, flags: TCP_SYN, mss: 1460, windowScale: 7, sackPermitted: true });
    const [sa] = t.out();
    t.inject({ seq: PISS + 1, ack: (sa!.seq + 1) >>> 0, flags: TCP_ACK });
    const c = t.accepted[0]!;
    expect(c.state).toBe('Established');
    expect(c.info().mss).toBe(1460);
    expect(c.scales.snd).toBe(0);
    expect(c.sackOk).toBe(false);
  });

  it('a forged ACK, or one for a cookie older than its lifetime, is reset and makes nothing', () => {
    const t = flooded(true);
    t.flood(50000);
    t.inject({ srcPort: PEER_PORT + 1, seq: 99, ack: 0x12345678, flags: TCP_ACK });
    let r = t.out();
    expect(r.map(flagsOf)).toEqual(['R']);
    t.inject({ seq: PISS, flags: TCP_SYN, mss: 1460 });
    const [sa] = t.out();
    t.clock.advance(3 * 60_000);
    t.inject({ seq: PISS + 1, ack: (sa!.seq + 1) >>> 0, flags: TCP_ACK });
    r = t.out();
    expect(r.some((s) => (s.flags & TCP_RST) !== 0)).toBe(true);
    expect(t.accepted).toHaveLength(0);
    expect(t.tcp.cookiesAccepted).toBe(0);
  });

  it('without cookies the flood evicts the legitimate half-open connection and its ACK is reset', () => {
    const t = flooded(false);
    t.flood(50000);
    t.inject({ seq: PISS, flags: TCP_SYN, mss: 1460 });
    const [sa] = t.out();
    t.flood(51000);
    t.inject({ seq: PISS + 1, ack: (sa!.seq + 1) >>> 0, flags: TCP_ACK });
    const r: TcpRepr[] = t.out();
    expect(r.map(flagsOf)).toEqual(['R']);
    expect(t.accepted).toHaveLength(0);
  });

  it('cookies check what they encode: the four-tuple, the peer ISN and the minute', () => {
    const c = new SynCookies(new SeededRng(4));
    const iss = c.iss(1, 80, 2, 40000, 1000, 1460, 0);
    expect(c.check(1, 80, 2, 40000, 1001, iss + 1, null, 30_000)?.mss).toBe(MSS_TABLE[3]);
    expect(c.check(1, 80, 2, 40001, 1001, iss + 1, null, 30_000)).toBeNull();
    // The peer ISN is added, not hashed (as Linux): another ISN moves the MSS index out of the table.
    expect(c.check(1, 80, 2, 40000, 1101, iss + 1, null, 30_000)).toBeNull();
    expect(c.check(1, 80, 2, 40000, 1001, iss + 1, null, 119_000)).not.toBeNull();
    expect(c.check(1, 80, 2, 40000, 1001, iss + 1, null, 120_001)).toBeNull();
    const ts = SynCookies.timestamp(0x12345678, 7, true);
    expect(ts & 0x3f).toBe(7 | 16);
    expect(ts).toBeLessThanOrEqual(0x12345678);
    expect(c.check(1, 80, 2, 40000, 1001, iss + 1, ts, 0)).toMatchObject({ wscale: 7, sackOk: true, tsOk: true });
  });
});
