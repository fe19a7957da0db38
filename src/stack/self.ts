/**
 * The self table and interface routes derived from interface addresses
 * (9front ipifc.c ipifcadd / addselfcache, plan9-net.md §7.2, §8, §10).
 *
 * For every address L/M on an interface:
 *   - self `u` L; interface routes `net/M → net` flag `i`, once with source
 *     L/32 and once without (a /32 with a remote: `remote/32` flags `ip`);
 *   - when the subnet has a broadcast (mask < /31): self `b` for the
 *     directed broadcast and for the all-zeros network address (4.2BSD
 *     style, as Plan 9);
 *   - self `b` 255.255.255.255 and `m` 224.0.0.1 (all systems); the
 *     address 0.0.0.0 (accept any, for DHCP) only gives 255.255.255.255.
 * Every self entry also gets a /32 route (flag u/b/m), through an ether
 * interface that holds it when there is one (255.255.255.255 leaves on the
 * wire, not on the loopback). A loopback interface's subnets are local as a
 * whole (every 127/8 address is us, RFC 1122 §3.2.1.3 (g)): they are listed
 * in `loopNets` rather than entered one by one. The table is
 * recomputed from scratch on each change: changes are rare and a rebuild
 * keeps shared entries (two addresses on one subnet, 255.255.255.255 on
 * several interfaces) right without reference-count bookkeeping.
 */
import type { Ifc } from './ifc.js';
import { RF_BCAST, RF_IFC, RF_MCAST, RF_PTP, RF_UNI } from './route.js';
import type { RouteSpec } from './route.js';
import { IPV4_BROADCAST } from './wire/ipv4.js';

/** The all-systems multicast group every interface joins (224.0.0.1). */
export const ALL_SYSTEMS = 0xe0000001;

/** One self-table entry: RF_UNI, RF_BCAST or RF_MCAST, and the interfaces that put it there (with multiplicity). */
export interface SelfRef {
  bits: number;
  ifcs: Ifc[];
}

/** A loopback subnet: every address in it except `net` and `bcast` is ours. */
export interface LoopNet {
  net: number;
  mask: number;
  bcast: number;
}

/**
 * Self table, interface routes (without tag), loopback subnets, and
 * `hostBits`: the low bits every subnet broadcast/network address of ours has
 * all set or all clear (a mask of the fewest trailing host bits; 0 when there
 * are no such subnets), so most sources need no self-table lookup.
 */
export function computeSelf(ifcs: readonly Ifc[]): {
  self: Map<number, SelfRef>;
  routes: RouteSpec[];
  loopNets: LoopNet[];
  hostBits: number;
} {
  const self = new Map<number, SelfRef>();
  const add = (ip: number, bits: number, ifc: Ifc): void => {
    const s = self.get(ip);
    if (s === undefined) self.set(ip, { bits, ifcs: [ifc] });
    else {
      s.bits |= bits;
      s.ifcs.push(ifc);
    }
  };
  const routes: RouteSpec[] = [];
  const loopNets: LoopNet[] = [];
  let hostBits = -1;
  const ifcRoute = (target: number, mask: number, flags: number, ifc: Ifc, source: number, smask: number): void => {
    routes.push({ target, mask, nexthop: target, flags, ifc, source, smask });
  };
  for (const ifc of ifcs) {
    for (const a of ifc.addresses()) {
      if (a.ip === 0) {
        // The accept-any address (DHCP) still owns the limited broadcast, as in ipifcadd.
        add(IPV4_BROADCAST, RF_BCAST, ifc);
        continue;
      }
      add(a.ip, RF_UNI, ifc);
      if (a.ptp) {
        ifcRoute(a.remote, 0xffffffff, RF_IFC | RF_PTP, ifc, a.ip, 0xffffffff);
        ifcRoute(a.remote, 0xffffffff, RF_IFC | RF_PTP, ifc, 0, 0);
      } else if (a.mask !== 0xffffffff) {
        const net = (a.ip & a.mask) >>> 0;
        ifcRoute(net, a.mask, RF_IFC, ifc, a.ip, 0xffffffff);
        ifcRoute(net, a.mask, RF_IFC, ifc, 0, 0);
      }
      if (a.bcast !== 0) {
        // The mask's trailing zeros as low ones: (lowest set bit) - 1; nested, so & keeps the fewest.
        hostBits &= ((a.mask & -a.mask) - 1) | 0;
        add(a.bcast, RF_BCAST, ifc);
        add((a.ip & a.mask) >>> 0, RF_BCAST, ifc);
        if (ifc.loopback) loopNets.push({ net: (a.ip & a.mask) >>> 0, mask: a.mask, bcast: a.bcast });
      }
      add(IPV4_BROADCAST, RF_BCAST, ifc);
      add(ALL_SYSTEMS, RF_MCAST, ifc);
    }
  }
  // A unicast address wins over a broadcast meaning of the same number.
  for (const s of self.values()) {
    if ((s.bits & RF_UNI) !== 0) s.bits = RF_UNI;
    else if ((s.bits & RF_BCAST) !== 0) s.bits = RF_BCAST;
  }
  for (const [ip, s] of self) {
    const ifc = s.ifcs.find((i) => !i.loopback) ?? s.ifcs[0]!;
    routes.push({ target: ip, mask: 0xffffffff, nexthop: ip, flags: s.bits, ifc, source: 0, smask: 0 });
  }
  return { self, routes, loopNets, hostBits: hostBits === -1 ? 0 : hostBits };
}
