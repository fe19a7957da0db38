/**
 * Address resolution and neighbor unreachability detection (RFC 4861 §7)
 * through the IPv6 layer, under the simulated clock: INCOMPLETE with held
 * packets, REACHABLE, STALE, DELAY, PROBE, the NA rules of §7.2.5, and our
 * answers to solicitations.
 */
import { describe, expect, it } from 'vitest';
import { DELAY_FIRST_PROBE_TIME_MS, MAX_MULTICAST_SOLICIT, MAX_UNICAST_SOLICIT } from '../../../src/stack/ndcache.js';
import { ip6Equal, ip6SolicitedNode } from '../../../src/stack/wire/ipv6addr.js';
import type { Icmp6Advice } from '../../../src/stack/core6.js';
import type { Host6 } from './harness.js';
import { A, formatIpv6, host6, MAC_PEER, MAC_US, PEER_LL } from './harness.js';

type Ready = Host6 & { ll: Uint8Array; ping: ReturnType<Host6['ip6']['icmp']['open']>; replies: Uint8Array[]; advice: Icmp6Advice[] };

function na(h: Ready, opts: { solicited: boolean; override: boolean; mac?: number; router?: boolean }): void {
  h.inject({
    kind: 'neighborAdvert', router: opts.router ?? false, solicited: opts.solicited, override: opts.override, reserved: 0, target: PEER_LL,
    options: opts.mac === undefined ? [] : [{ type: 'targetLinkAddr', mac: opts.mac }],
  }, PEER_LL, h.ll);
}

function ready(): Ready {
  const h = host6();
  const ll = h.linkLocal();
  h.clock.advance(20_000); // router solicitations are over
  h.sent();
  const replies: Uint8Array[] = [];
  const advice: Icmp6Advice[] = [];
  const ping = h.ip6.icmp.open({ onPacket: (p) => replies.push(p), onAdvice: (a) => advice.push(a) });
  return Object.assign(h, { ll, ping, replies, advice });
}

describe('neighbor cache', () => {
  it('resolves with a multicast NS carrying our SLLA, holds the packet, sends it when a solicited NA comes', () => {
    const h = ready();
    expect(h.ping.sendEcho(1, Uint8Array.of(1, 2, 3), PEER_LL, h.ifc)).toBe('pending');
    const [ns] = h.sent();
    expect(ip6Equal(ns!.ip.dst, ip6SolicitedNode(PEER_LL))).toBe(true);
    expect(ns!.eth.dst).toBe(0x3333ff000202);
    expect(ns!.icmp).toMatchObject({ kind: 'neighborSolicit', target: PEER_LL, options: [{ type: 'sourceLinkAddr', mac: MAC_US }] });
    expect(h.ip6.neighbors.state(PEER_LL)).toBe('INCOMPLETE');
    na(h, { solicited: true, override: true, mac: MAC_PEER });
    expect(h.ip6.neighbors.state(PEER_LL)).toBe('REACHABLE');
    const [echo] = h.sent();
    expect(echo!.eth.dst).toBe(MAC_PEER);
    expect(echo!.icmp).toMatchObject({ kind: 'echoRequest', ident: h.ping.port, seq: 1 });
    // The reply reaches the conversation as the whole packet: fixed header + message.
    h.inject({ kind: 'echoReply', ident: h.ping.port, seq: 1, data: Uint8Array.of(1, 2, 3) }, PEER_LL, h.ll, { hopLimit: 64 });
    expect(h.replies).toHaveLength(1);
    expect(h.replies[0]![40]).toBe(129);
    expect(h.replies[0]!.length).toBe(40 + 8 + 3);
  });

  it('gives up after MAX_MULTICAST_SOLICIT solicitations a RetransTimer apart, with address unreachable advice', () => {
    const h = ready();
    h.ping.sendEcho(1, new Uint8Array(4), PEER_LL, h.ifc);
    let ns = h.sent().length;
    for (let i = 1; i < MAX_MULTICAST_SOLICIT; i++) {
      h.clock.advance(1000);
      ns += h.sent().filter((d) => d.icmp?.kind === 'neighborSolicit').length;
    }
    expect(ns).toBe(MAX_MULTICAST_SOLICIT);
    expect(h.advice).toEqual([]);
    h.clock.advance(1000);
    expect(h.sent()).toEqual([]);
    expect(h.ip6.neighbors.state(PEER_LL)).toBeNull();
    expect(h.advice.map((a) => a.reason)).toEqual(['address unreachable']);
  });

  it('REACHABLE → STALE after ReachableTime, DELAY on use, PROBE with unicast NS after 5 s, then gone', () => {
    const h = ready();
    h.ping.sendEcho(1, new Uint8Array(4), PEER_LL, h.ifc);
    na(h, { solicited: true, override: true, mac: MAC_PEER });
    h.sent();
    h.clock.advance(45_001); // ReachableTime is at most 1.5 × 30 s
    expect(h.ip6.neighbors.state(PEER_LL)).toBe('STALE');
    expect(h.ping.sendEcho(2, new Uint8Array(4), PEER_LL, h.ifc)).toBe('sent'); // a STALE entry sends at once
    expect(h.ip6.neighbors.state(PEER_LL)).toBe('DELAY');
    h.sent();
    h.clock.advance(DELAY_FIRST_PROBE_TIME_MS);
    expect(h.ip6.neighbors.state(PEER_LL)).toBe('PROBE');
    const probes = h.sent();
    expect(probes).toHaveLength(1);
    expect(probes[0]!.eth.dst).toBe(MAC_PEER);
    expect(ip6Equal(probes[0]!.ip.dst, PEER_LL)).toBe(true);
    for (let i = 1; i < MAX_UNICAST_SOLICIT; i++) h.clock.advance(1000);
    expect(h.sent()).toHaveLength(MAX_UNICAST_SOLICIT - 1);
    h.clock.advance(1000);
    expect(h.ip6.neighbors.state(PEER_LL)).toBeNull();
  });

  it('a probe answered (solicited NA without TLLA) makes the entry REACHABLE again; an upper-layer confirmation does too', () => {
    const h = ready();
    h.ping.sendEcho(1, new Uint8Array(4), PEER_LL, h.ifc);
    na(h, { solicited: true, override: true, mac: MAC_PEER });
    h.clock.advance(45_001);
    h.ping.sendEcho(2, new Uint8Array(4), PEER_LL, h.ifc);
    h.clock.advance(DELAY_FIRST_PROBE_TIME_MS);
    expect(h.ip6.neighbors.state(PEER_LL)).toBe('PROBE');
    na(h, { solicited: true, override: false });
    expect(h.ip6.neighbors.state(PEER_LL)).toBe('REACHABLE');
    h.clock.advance(45_001);
    h.ping.sendEcho(3, new Uint8Array(4), PEER_LL, h.ifc);
    expect(h.ip6.neighbors.state(PEER_LL)).toBe('DELAY');
    h.ip6.confirmReachable(PEER_LL);
    expect(h.ip6.neighbors.state(PEER_LL)).toBe('REACHABLE');
  });

  it('§7.2.5: without override a different MAC only makes a REACHABLE entry STALE; with override it replaces the MAC', () => {
    const h = ready();
    h.ping.sendEcho(1, new Uint8Array(4), PEER_LL, h.ifc);
    na(h, { solicited: true, override: true, mac: MAC_PEER });
    na(h, { solicited: false, override: false, mac: 0x020000000099 });
    expect(h.ip6.neighbors.state(PEER_LL)).toBe('STALE');
    expect(h.ip6.neighbors.lookup(PEER_LL)).toBe(MAC_PEER);
    na(h, { solicited: false, override: true, mac: 0x020000000099 });
    expect(h.ip6.neighbors.lookup(PEER_LL)).toBe(0x020000000099);
    expect(h.ip6.neighbors.state(PEER_LL)).toBe('STALE');
    // An NA for an address we have no entry for creates none.
    h.inject({ kind: 'neighborAdvert', router: false, solicited: false, override: true, reserved: 0, target: A('fe80::77'), options: [{ type: 'targetLinkAddr', mac: 0x020000000077 }] }, A('fe80::77'), A('ff02::1'));
    expect(h.ip6.neighbors.state(A('fe80::77'))).toBeNull();
  });

  it('answers an NS for our address with a solicited, override NA, using the SLLA it learnt (STALE, then DELAY as the NA goes out)', () => {
    const h = ready();
    const ll = h.ll;
    h.inject({ kind: 'neighborSolicit', reserved: 0, target: ll, options: [{ type: 'sourceLinkAddr', mac: MAC_PEER }] }, PEER_LL, ip6SolicitedNode(ll));
    expect(h.ip6.neighbors.state(PEER_LL)).toBe('DELAY');
    const [reply] = h.sent();
    expect(reply!.eth.dst).toBe(MAC_PEER);
    expect(reply!.ip.hopLimit).toBe(255);
    expect(ip6Equal(reply!.ip.src, ll)).toBe(true);
    expect(reply!.icmp).toMatchObject({ kind: 'neighborAdvert', solicited: true, override: true, router: false, target: ll, options: [{ type: 'targetLinkAddr', mac: MAC_US }] });
    // Not for our address, or with a hop limit other than 255: no answer.
    h.inject({ kind: 'neighborSolicit', reserved: 0, target: A('fe80::99'), options: [] }, PEER_LL, ip6SolicitedNode(A('fe80::99')));
    h.inject({ kind: 'neighborSolicit', reserved: 0, target: ll, options: [] }, PEER_LL, ll, { hopLimit: 254 });
    expect(h.sent()).toEqual([]);
  });

  it('answers echo requests, to our address and to a multicast group alike, from our unicast address', () => {
    const h = ready();
    const ll = h.ll;
    h.inject({ kind: 'neighborSolicit', reserved: 0, target: ll, options: [{ type: 'sourceLinkAddr', mac: MAC_PEER }] }, PEER_LL, ip6SolicitedNode(ll));
    h.sent();
    h.inject({ kind: 'echoRequest', ident: 7, seq: 9, data: Uint8Array.of(5, 6) }, PEER_LL, ll, { hopLimit: 64 });
    h.inject({ kind: 'echoRequest', ident: 7, seq: 10, data: Uint8Array.of(5, 6) }, PEER_LL, A('ff02::1'), { hopLimit: 64 });
    const replies = h.sent();
    expect(replies.map((d) => d.icmp)).toMatchObject([{ kind: 'echoReply', ident: 7, seq: 9 }, { kind: 'echoReply', ident: 7, seq: 10 }]);
    for (const r of replies) {
      expect(formatIpv6(r.ip.src)).toBe(formatIpv6(ll));
      expect(r.eth.dst).toBe(MAC_PEER);
    }
  });

  it('ignores redirects by default; with acceptRedirects follows one from the first-hop router (RFC 4861 §8)', () => {
    for (const accept of [false, true]) {
      const h = host6({ acceptRedirects: accept });
      const ll = h.linkLocal();
      h.clock.advance(20_000);
      h.inject({ kind: 'routerAdvert', curHopLimit: 64, flags: 0, routerLifetime: 1800, reachableTime: 0, retransTimer: 0, options: [
        { type: 'sourceLinkAddr', mac: MAC_PEER },
        { type: 'prefix', prefixLen: 64, onLink: true, autonomous: true, reservedFlags: 0, validLifetime: 86400, preferredLifetime: 14400, prefix: A('fd00:9::') },
      ] }, PEER_LL, A('ff02::1'));
      h.clock.advance(2000);
      h.sent();
      const far = A('2001:db8::9');
      const better = A('fe80::99');
      h.inject({ kind: 'redirect', reserved: 0, target: better, destination: far, options: [{ type: 'targetLinkAddr', mac: 0x020000000099 }] }, PEER_LL, ll);
      const ping = h.ip6.icmp.open({ onPacket: () => {} });
      ping.sendEcho(1, new Uint8Array(4), far);
      const [f] = h.sent();
      expect(f!.eth.dst).toBe(accept ? 0x020000000099 : MAC_PEER);
      expect(h.stack.stats.drops.get('nd', 'redirect ignored')).toBe(accept ? 0 : 1);
    }
  });
});
