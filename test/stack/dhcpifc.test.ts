/**
 * DHCP on real stack interfaces (src/stack/dhcpifc.ts) over an in-memory
 * hub under simulated time, against a DHCP server on another of our
 * stacks: the lease applied (address, mask, default route tagged dhcp,
 * MTU), renewal at T1 by unicast, an address in use declined after the
 * ARP probe, the address and route removed when the lease expires with the
 * server gone (and a log line saying so), and RELEASE on close.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { SeededRng } from '../../src/lib/rng.js';
import { Hub } from '../../src/link/hub.js';
import type { DhcpLease } from '../../src/stack/dhcp.js';
import { DHCP_ROUTE_TAG, DhcpService } from '../../src/stack/dhcpifc.js';
import type { Ifc } from '../../src/stack/ifc.js';
import { Stack } from '../../src/stack/stack.js';
import { DHCP_MSG } from '../../src/stack/wire/dhcp.js';
import { ip } from './helpers.js';
import { TestDhcpServer } from './servers.js';

const SERVER = ip('10.5.0.1');
const POOL = [ip('10.5.0.50'), ip('10.5.0.51')];

function world(opts: { squatter?: boolean } = {}) {
  const clock = new ManualClock(0);
  const hub = new Hub({ clock, rng: new SeededRng(3) });
  const srvStack = new Stack({ clock, rng: new SeededRng(11) });
  srvStack.addInterface(hub.port()).addAddress(SERVER, 24);
  const server = new TestDhcpServer(srvStack, SERVER, POOL, {
    leaseTime: 600, subnetMask: 0xffffff00, routers: [SERVER], dnsServers: [SERVER], domainName: 'example', mtu: 1400,
  });
  if (opts.squatter) {
    const s = new Stack({ clock, rng: new SeededRng(12) });
    s.addInterface(hub.port()).addAddress(POOL[0]!, 24);
  }
  const stack = new Stack({ clock, rng: new SeededRng(13) });
  const ifc = stack.addInterface(hub.port());
  const logs: string[] = [];
  const leases: (DhcpLease | null)[] = [];
  const dhcp = new DhcpService(stack, { hostname: 'gnot', log: (l) => logs.push(l), onLease: (_i, l) => leases.push(l) });
  const run = (ms: number): void => clock.advance(ms);
  return { clock, stack, ifc, server, dhcp, logs, leases, run };
}

function addrs(ifc: Ifc): string[] {
  return ifc.addresses().map((a) => `${a.ip >>> 24}.${(a.ip >>> 16) & 0xff}.${(a.ip >>> 8) & 0xff}.${a.ip & 0xff}/${a.prefixLen}`);
}

function dhcpRoutes(stack: Stack): number[] {
  return stack.routes.list().filter((r) => r.tag === DHCP_ROUTE_TAG).map((r) => r.nexthop);
}

describe('DHCP on an interface', () => {
  it('gets a lease and applies address, mask, route and MTU', () => {
    const w = world();
    w.dhcp.start(w.ifc);
    expect(addrs(w.ifc)).toEqual(['0.0.0.0/0']);
    w.run(5000);
    expect(w.server.count(DHCP_MSG.DISCOVER)).toBe(1);
    expect(w.server.count(DHCP_MSG.REQUEST)).toBe(1);
    expect(addrs(w.ifc)).toEqual(['10.5.0.50/24']);
    expect(w.ifc.mtu).toBe(1400);
    expect(dhcpRoutes(w.stack)).toEqual([SERVER]);
    expect(w.stack.routes.find(ip('192.0.2.1'))?.nexthop).toBe(SERVER);
    expect(w.leases).toHaveLength(1);
    expect(w.leases[0]).toMatchObject({ address: POOL[0], dns: [SERVER], domain: 'example' });
    expect(w.logs).toContain('dhcp: ether0: bound to 10.5.0.50/24 from 10.5.0.1, lease 600 s');
    // The DISCOVER left from 0.0.0.0 as a broadcast and carried our name.
    const d = w.server.seen[0]!;
    expect(d.src).toBe(0);
    expect(d.dst).toBe(0xffffffff);
    expect(d.msg.options.hostname).toBe('gnot');
  });

  it('renews at T1 by unicast from the leased address', () => {
    const w = world();
    w.dhcp.start(w.ifc);
    w.run(5000);
    w.run(300_000);
    const renew = w.server.seen.filter((s) => s.type === DHCP_MSG.REQUEST && s.msg.ciaddr !== 0);
    expect(renew).toHaveLength(1);
    expect(renew[0]).toMatchObject({ src: POOL[0], dst: SERVER });
    expect(w.dhcp.client(w.ifc)!.state).toBe('bound');
    expect(w.dhcp.client(w.ifc)!.lease!.start).toBeGreaterThan(300_000);
    expect(addrs(w.ifc)).toEqual(['10.5.0.50/24']);
    expect(w.logs.some((l) => l.startsWith('dhcp: ether0: renewed 10.5.0.50/24'))).toBe(true);
  });

  it('declines an address another station answers ARP for, then takes the next one', () => {
    const w = world({ squatter: true });
    w.dhcp.start(w.ifc);
    w.run(5000);
    expect(w.server.count(DHCP_MSG.DECLINE)).toBe(1);
    expect(w.server.seen.find((s) => s.type === DHCP_MSG.DECLINE)!.msg.options.requestedIp).toBe(POOL[0]);
    expect(w.logs).toContain('dhcp: ether0: 10.5.0.50 is in use; declined');
    expect(w.ifc.addresses().some((a) => a.ip === POOL[0])).toBe(false);
    w.run(20_000);
    expect(addrs(w.ifc)).toEqual(['10.5.0.51/24']);
  });

  it('removes the address and route when the lease expires unrenewed, and says so', () => {
    const w = world();
    w.dhcp.start(w.ifc);
    w.run(5000);
    w.server.silent = true;
    w.run(525_000); // past T2 (525 s after the ACK): rebinding
    expect(w.dhcp.client(w.ifc)!.state).toBe('rebinding');
    expect(addrs(w.ifc)).toEqual(['10.5.0.50/24']);
    w.run(80_000); // past the 600 s lease
    expect(w.ifc.addresses().some((a) => a.ip === POOL[0])).toBe(false);
    expect(dhcpRoutes(w.stack)).toEqual([]);
    expect(w.logs).toContain('dhcp: ether0: lease of 10.5.0.50 expired; address removed');
    expect(w.leases[w.leases.length - 1]).toBeNull();
    // Looking for a server again, with 0.0.0.0 to hear the answer.
    expect(addrs(w.ifc)).toEqual(['0.0.0.0/0']);
    expect(w.dhcp.client(w.ifc)!.state).toBe('selecting');
  });

  it('releases the lease on close and gives the port back', () => {
    const w = world();
    w.dhcp.start(w.ifc);
    w.run(5000);
    w.dhcp.close();
    w.run(100);
    const rel = w.server.seen.filter((s) => s.type === DHCP_MSG.RELEASE);
    expect(rel).toHaveLength(1);
    expect(rel[0]).toMatchObject({ src: POOL[0], dst: SERVER });
    expect(w.ifc.addresses()).toEqual([]);
    expect(w.stack.udp.portInUse(68)).toBe(false);
    expect(w.dhcp.pollAt()).toBeNull();
  });
});
