/**
 * Link-local addresses, DAD, router discovery and SLAAC (RFC 4861 §6,
 * RFC 4862, RFC 7217, RFC 8106) under the simulated clock, against a
 * scripted peer.
 */
import { describe, expect, it } from 'vitest';
import { IDGEN_RETRIES, stableIid } from '../../../src/stack/iid.js';
import { ip6SolicitedNode, IP6_ALL_ROUTERS, IP6_LINK_LOCAL_PREFIX, ip6Equal } from '../../../src/stack/wire/ipv6addr.js';
import type { Icmpv6Repr } from '../../../src/stack/wire/icmpv6.js';
import { macToBytes } from '../../../src/stack/wire/ethernet.js';
import { A, formatIpv6, host6, icmps, MAC_US, PEER_LL, SECRET } from './harness.js';

const RA = (over: Partial<Extract<Icmpv6Repr, { kind: 'routerAdvert' }>> = {}): Icmpv6Repr => ({
  kind: 'routerAdvert', curHopLimit: 64, flags: 0, routerLifetime: 1800, reachableTime: 0, retransTimer: 0,
  options: [
    { type: 'sourceLinkAddr', mac: 0x52550a000202 },
    { type: 'mtu', mtu: 1480 },
    { type: 'prefix', prefixLen: 64, onLink: true, autonomous: true, reservedFlags: 0, validLifetime: 86400, preferredLifetime: 14400, prefix: A('fd00:9::') },
    { type: 'rdnss', lifetime: 600, servers: [A('fd00:9::1')] },
  ],
  ...over,
});

describe('link-local address and DAD', () => {
  it('joins the solicited-node group, probes from :: with a nonce, and is preferred one RetransTimer later', () => {
    const h = host6();
    const [a] = h.ip6.addresses(h.ifc);
    expect(a).toMatchObject({ origin: 'link', state: 'tentative', prefixLen: 64 });
    // RFC 7217: the identifier is the stable one for fe80::/64 and our MAC, not modified EUI-64.
    const iid = stableIid(SECRET, IP6_LINK_LOCAL_PREFIX, macToBytes(MAC_US), 0);
    expect([...a!.addr.subarray(8)]).toEqual([...iid]);
    expect(formatIpv6(a!.addr).startsWith('fe80::')).toBe(true);
    expect(formatIpv6(a!.addr)).not.toBe('fe80::ff:fe00:1');
    h.clock.advance(0); // the report leaves from the stack's timer, not inside enable()
    const first = h.sent();
    const mld = first.find((d) => d.icmp?.kind === 'mld2Report')!;
    expect(mld.ip.hopLimit).toBe(1);
    expect(mld.walk.kind === 'headers' && mld.walk.routerAlert).toBe(0);
    expect(formatIpv6(mld.ip.src)).toBe('::');
    expect(mld.icmp).toMatchObject({ records: [{ recordType: 4, group: ip6SolicitedNode(a!.addr) }] });
    h.clock.advance(1000); // the random delay is at most MAX_RTR_SOLICITATION_DELAY
    const ns = h.sent().find((d) => d.icmp?.kind === 'neighborSolicit')!;
    expect(formatIpv6(ns.ip.src)).toBe('::');
    expect(ip6Equal(ns.ip.dst, ip6SolicitedNode(a!.addr))).toBe(true);
    expect(ns.ip.hopLimit).toBe(255);
    expect(ns.icmp).toMatchObject({ target: a!.addr, options: [{ type: 'nonce' }] });
    expect(h.ip6.addresses(h.ifc)[0]!.state).toBe('tentative');
    h.clock.advance(1000);
    expect(h.ip6.addresses(h.ifc)[0]!.state).toBe('preferred');
  });

  it('ignores its own solicitation looped back, but a foreign DAD probe makes the address a duplicate and a new one is formed', () => {
    const h = host6();
    h.clock.advance(1000);
    const ns = h.sent().find((d) => d.icmp?.kind === 'neighborSolicit')!;
    const mine = ns.icmp!;
    if (mine.kind !== 'neighborSolicit') throw new Error('kind');
    h.inject(mine, ns.ip.src, ns.ip.dst);
    expect(h.ip6.addresses(h.ifc)[0]!.state).toBe('tentative');
    const other: Icmpv6Repr = { ...mine, options: [{ type: 'nonce', nonce: Uint8Array.of(1, 2, 3, 4, 5, 6) }] };
    h.inject(other, ns.ip.src, ns.ip.dst);
    const list = h.ip6.addresses(h.ifc);
    expect(list.map((x) => x.state)).toEqual(['tentative']);
    expect(ip6Equal(list[0]!.addr, mine.target)).toBe(false); // DAD_Counter 1
    expect([...list[0]!.addr.subarray(8)]).toEqual([...stableIid(SECRET, IP6_LINK_LOCAL_PREFIX, macToBytes(MAC_US), 1)]);
  });

  it('a neighbor advertisement for the tentative address is a conflict; after IDGEN_RETRIES the address stays duplicate', () => {
    const events: string[] = [];
    const h = host6({ onAddress: (_i, a, e) => events.push(`${e} ${formatIpv6(a.addr)}`) });
    for (let i = 0; i <= IDGEN_RETRIES; i++) {
      const t = h.ip6.addresses(h.ifc).find((x) => x.state === 'tentative')!;
      h.inject({ kind: 'neighborAdvert', router: false, solicited: false, override: true, reserved: 0, target: t.addr, options: [{ type: 'targetLinkAddr', mac: 0x525400999999 }] }, PEER_LL, A('ff02::1'));
    }
    const list = h.ip6.addresses(h.ifc);
    expect(list.map((x) => x.state)).toEqual(['duplicate']);
    expect(events.filter((e) => e.startsWith('duplicate'))).toHaveLength(IDGEN_RETRIES + 1);
    h.clock.advance(10_000);
    expect(icmps(h.sent()).some((m) => m.kind === 'routerSolicit')).toBe(false);
  });

  it('answers someone else\'s DAD for its preferred address with an NA to all nodes (RFC 4861 §7.2.4)', () => {
    const h = host6();
    const ll = h.linkLocal();
    h.sent();
    h.inject({ kind: 'neighborSolicit', reserved: 0, target: ll, options: [] }, A('::'), ip6SolicitedNode(ll));
    const na = h.sent().find((d) => d.icmp?.kind === 'neighborAdvert')!;
    expect(formatIpv6(na.ip.dst)).toBe('ff02::1');
    expect(na.icmp).toMatchObject({ solicited: false, override: true, target: ll, options: [{ type: 'targetLinkAddr', mac: MAC_US }] });
  });
});

describe('router discovery', () => {
  it('solicits three times, 4 s apart, from the link-local address with its SLLA, and stops', () => {
    const h = host6();
    const ll = h.linkLocal(); // 3 s: DAD (≤ 2 s) and the random delay before the first solicitation (≤ 1 s)
    let rs = h.sent().filter((d) => d.icmp?.kind === 'routerSolicit');
    expect(rs).toHaveLength(1);
    expect(ip6Equal(rs[0]!.ip.src, ll)).toBe(true);
    expect(ip6Equal(rs[0]!.ip.dst, IP6_ALL_ROUTERS)).toBe(true);
    expect(rs[0]!.icmp).toMatchObject({ options: [{ type: 'sourceLinkAddr', mac: MAC_US }] });
    h.clock.advance(4000);
    h.clock.advance(4000);
    rs = h.sent().filter((d) => d.icmp?.kind === 'routerSolicit');
    expect(rs).toHaveLength(2);
    h.clock.advance(60_000);
    expect(h.sent().filter((d) => d.icmp?.kind === 'routerSolicit')).toHaveLength(0);
  });

  it('learns hop limit, MTU, default router, on-link prefix and RDNSS, and forms a SLAAC address', () => {
    const dns: string[][] = [];
    const h = host6({ onDns: (_i, s) => dns.push(s.map((x) => formatIpv6(x.addr))) });
    h.linkLocal();
    h.inject(RA(), PEER_LL, A('ff02::1'));
    const p = h.ip6.params(h.ifc)!;
    expect(p.hopLimit).toBe(64);
    expect(p.linkMtu).toBe(1480);
    expect(p.routers.map((r) => formatIpv6(r.addr))).toEqual(['fe80::5055:aff:fe00:202']);
    expect(p.prefixes.map((x) => `${formatIpv6(x.prefix)}/${x.len}`)).toEqual(['fd00:9::/64']);
    expect(dns).toEqual([['fd00:9::1']]);
    expect(h.ip6.neighbors.isRouter(PEER_LL)).toBe(true);
    const g = h.ip6.addresses(h.ifc).find((x) => x.origin === 'slaac')!;
    expect(formatIpv6(g.addr).startsWith('fd00:9::')).toBe(true);
    expect(g.state).toBe('tentative');
    h.clock.advance(2000);
    expect(h.ip6.addresses(h.ifc).find((x) => x.origin === 'slaac')!.state).toBe('preferred');
    expect(formatIpv6(h.ip6.sourceFor(A('2001:db8::1'))!)).toBe(formatIpv6(g.addr));
    expect(formatIpv6(h.ip6.sourceFor(PEER_LL)!).startsWith('fe80::')).toBe(true);
    // The same prefix on the same interface gives the same address (RFC 7217).
    const h2 = host6({ seed: 99 });
    h2.linkLocal();
    h2.inject(RA(), PEER_LL, A('ff02::1'));
    expect(formatIpv6(h2.ip6.addresses(h2.ifc).find((x) => x.origin === 'slaac')!.addr)).toBe(formatIpv6(g.addr));
    // RDNSS and the router time out.
    h.clock.advance(601_000);
    expect(dns.at(-1)).toEqual([]);
    h.clock.advance(1800_000);
    expect(h.ip6.params(h.ifc)!.routers).toEqual([]);
  });

  it('drops RAs with a hop limit other than 255 or from a non-link-local source; lifetime 0 removes the router', () => {
    const h = host6();
    h.linkLocal();
    h.inject(RA(), PEER_LL, A('ff02::1'), { hopLimit: 64 });
    h.inject(RA(), A('fd00:9::1'), A('ff02::1'));
    expect(h.ip6.params(h.ifc)!.routers).toEqual([]);
    expect(h.ip6.icmp.stats.HoplimErrs).toBe(1);
    expect(h.ip6.icmp.stats.RouterAddrErrs).toBe(1);
    h.inject(RA(), PEER_LL, A('ff02::1'));
    expect(h.ip6.params(h.ifc)!.routers).toHaveLength(1);
    h.inject(RA({ routerLifetime: 0, options: [] }), PEER_LL, A('ff02::1'));
    expect(h.ip6.params(h.ifc)!.routers).toEqual([]);
  });

  it('deprecates at the preferred lifetime, removes at the valid one, and keeps two hours against a shorter RA (RFC 4862 §5.5.3 e)', () => {
    const h = host6();
    h.linkLocal();
    const pfx = (valid: number, preferred: number): Icmpv6Repr => RA({ options: [
      { type: 'prefix', prefixLen: 64, onLink: true, autonomous: true, reservedFlags: 0, validLifetime: valid, preferredLifetime: preferred, prefix: A('fd00:7::') },
    ] });
    h.inject(pfx(3 * 3600, 60), PEER_LL, A('ff02::1'));
    h.clock.advance(2000);
    const slaac = (): string | undefined => h.ip6.addresses(h.ifc).find((x) => x.origin === 'slaac')?.state;
    expect(slaac()).toBe('preferred');
    h.clock.advance(60_000);
    expect(slaac()).toBe('deprecated');
    // An RA saying 60 s may not cut a remaining 3 h below 2 h.
    h.inject(pfx(60, 0), PEER_LL, A('ff02::1'));
    const a = h.ip6.addresses(h.ifc).find((x) => x.origin === 'slaac')!;
    expect(a.validUntil - h.clock.now()).toBe(2 * 3600_000);
    h.clock.advance(2 * 3600_000);
    expect(slaac()).toBeUndefined();
  });

  it('ignores prefixes that are not /64, link-local, or whose preferred lifetime exceeds the valid one; slaac: false takes none', () => {
    const h = host6();
    h.linkLocal();
    const opt = (prefixLen: number, prefix: string, valid: number, preferred: number): Icmpv6Repr => RA({ options: [
      { type: 'prefix', prefixLen, onLink: false, autonomous: true, reservedFlags: 0, validLifetime: valid, preferredLifetime: preferred, prefix: A(prefix) },
    ] });
    h.inject(opt(48, 'fd00:1::', 100, 50), PEER_LL, A('ff02::1'));
    h.inject(opt(64, 'fe80::', 100, 50), PEER_LL, A('ff02::1'));
    h.inject(opt(64, 'fd00:2::', 100, 200), PEER_LL, A('ff02::1'));
    expect(h.ip6.addresses(h.ifc).filter((x) => x.origin === 'slaac')).toEqual([]);
    const off = host6({ slaac: false });
    off.linkLocal();
    off.inject(RA(), PEER_LL, A('ff02::1'));
    expect(off.ip6.addresses(off.ifc).filter((x) => x.origin === 'slaac')).toEqual([]);
    expect(off.ip6.params(off.ifc)!.routers).toHaveLength(1);
  });
});
