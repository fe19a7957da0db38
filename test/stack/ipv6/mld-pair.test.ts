/**
 * MLD for the solicited-node groups (RFC 3810 as far as a host needs it),
 * and two of our stacks on an in-memory pair finding each other with ND
 * and pinging link-local and SLAAC-less manual addresses, under the
 * simulated clock.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { SeededRng } from '../../../src/lib/rng.js';
import { createPair } from '../../../src/link/pair.js';
import { Ipv6Layer } from '../../../src/stack/ipv6.js';
import { MLD_UNSOLICITED_INTERVAL_MS } from '../../../src/stack/mld.js';
import { Stack } from '../../../src/stack/stack.js';
import { ip6Equal, ip6SolicitedNode } from '../../../src/stack/wire/ipv6addr.js';
import { A, formatIpv6, host6 } from './harness.js';

describe('MLD', () => {
  it('reports a join twice (robustness 2), answers a general query within its delay, and reports a leave', () => {
    const h = host6();
    h.clock.advance(0);
    const ll = h.ip6.addresses(h.ifc)[0]!.addr;
    const reports = (): number => h.sent().filter((d) => d.icmp?.kind === 'mld2Report').length;
    expect(reports()).toBe(1);
    h.clock.advance(MLD_UNSOLICITED_INTERVAL_MS);
    expect(reports()).toBe(1);
    h.clock.advance(10_000);
    expect(h.ip6.groups(h.ifc).map(formatIpv6)).toEqual([formatIpv6(ip6SolicitedNode(ll))]);
    h.sent();
    h.inject({ kind: 'mldQuery', maxResponse: 10_000, reserved: 0, group: A('::'), v2: { sqrv: 2, qqic: 125, sources: [] } }, A('fe80::1'), A('ff02::1'), { hopLimit: 1 });
    h.clock.advance(10_000);
    const answer = h.sent().filter((d) => d.icmp?.kind === 'mld2Report');
    expect(answer).toHaveLength(1);
    expect(answer[0]!.icmp).toMatchObject({ records: [{ recordType: 2, group: ip6SolicitedNode(ll) }] });
    h.ip6.removeAddress(h.ifc, ll);
    h.clock.advance(MLD_UNSOLICITED_INTERVAL_MS);
    expect(h.sent().map((d) => d.icmp)).toMatchObject([1, 2].map(() => ({ kind: 'mld2Report', records: [{ recordType: 3 }] })));
    // A query from a non-link-local source is not answered.
    h.inject({ kind: 'mldQuery', maxResponse: 0, reserved: 0, group: A('::'), v2: null }, A('fd00::1'), A('ff02::1'), { hopLimit: 1 });
    h.clock.advance(1000);
    expect(h.sent()).toEqual([]);
  });
});

describe('two stacks on a pair', () => {
  it('resolve each other and ping over link-local and manual addresses, with fragments', () => {
    const clock = new ManualClock(1000);
    const [la, lb] = createPair({ clock });
    const stacks = [la, lb].map((link, i) => {
      const stack = new Stack({ clock, rng: new SeededRng(10 + i) });
      const ifc = stack.addInterface(link);
      const ip6 = new Ipv6Layer(stack);
      ip6.enable(ifc);
      return { stack, ifc, ip6 };
    });
    clock.advance(3000);
    const [a, b] = stacks as [typeof stacks[0], typeof stacks[0]];
    const llB = b.ip6.addresses(b.ifc)[0]!;
    expect(llB.state).toBe('preferred');
    b.ip6.addAddress(b.ifc, A('fd00:9::2'), 64);
    a.ip6.addAddress(a.ifc, A('fd00:9::1'), 64);
    clock.advance(3000);
    const got: Uint8Array[] = [];
    const ping = a.ip6.icmp.open({ onPacket: (p) => got.push(p) });
    expect(ping.sendEcho(1, new Uint8Array(16).fill(1), llB.addr, a.ifc)).toBe('pending');
    clock.advance(10);
    expect(ping.sendEcho(2, new Uint8Array(4000).fill(2), A('fd00:9::2'))).not.toBe('no route');
    clock.advance(10);
    expect(got.map((p) => [p[40], p.length])).toEqual([[129, 40 + 8 + 16], [129, 40 + 8 + 4000]]);
    expect(ip6Equal(got[1]!.subarray(8, 24), A('fd00:9::2'))).toBe(true);
    expect(a.ip6.neighbors.state(llB.addr)).toBe('REACHABLE');
    expect(b.ip6.stats.ReasmOKs).toBe(1);
    expect(a.ip6.stats.ReasmOKs).toBe(1);
  });
});
