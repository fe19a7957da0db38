// Routing table: longest-prefix match, source-specific routes, replacement,
// flush semantics, flag text, gateway interface resolution, and the
// interface routes/self table the Stack maintains.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { SeededRng } from '../../src/lib/rng.js';
import { StackError } from '../../src/stack/error.js';
import {
  parseRouteFlags,
  RF_BCAST,
  RF_IFC,
  RF_MCAST,
  RF_PTP,
  RF_UNI,
  routeFlagsText,
  RouteTable,
} from '../../src/stack/route.js';
import { Stack } from '../../src/stack/stack.js';
import { formatIpv4 } from '../../src/stack/wire/ipv4.js';
import { ChannelLink, ip } from './helpers.js';

function stackWith(n = 1) {
  const clock = new ManualClock();
  const stack = new Stack({ clock, rng: new SeededRng(5) });
  const links = Array.from({ length: n }, (_, i) => new ChannelLink(0x020000000010 + i));
  const ifcs = links.map((l) => stack.addInterface(l));
  return { clock, stack, links, ifcs };
}

describe('RouteTable', () => {
  it('picks the longest matching prefix', () => {
    const t = new RouteTable();
    t.add({ target: 0, mask: 0, nexthop: ip('1.1.1.1'), tag: 'dflt' });
    t.add({ target: ip('10.0.0.0'), mask: ip('255.0.0.0'), nexthop: ip('2.2.2.2') });
    t.add({ target: ip('10.1.0.0'), mask: ip('255.255.0.0'), nexthop: ip('3.3.3.3') });
    expect(t.find(ip('10.1.2.3'))!.nexthop).toBe(ip('3.3.3.3'));
    expect(t.find(ip('10.2.2.3'))!.nexthop).toBe(ip('2.2.2.2'));
    expect(t.find(ip('11.0.0.1'))!.nexthop).toBe(ip('1.1.1.1'));
    expect(t.find(ip('11.0.0.1'))!.tag).toBe('dflt');
  });

  it('masks the target, replaces same target/mask/source, cuts tags to 4 chars', () => {
    const t = new RouteTable();
    t.add({ target: ip('10.1.2.3'), mask: ip('255.255.0.0'), nexthop: ip('1.1.1.1'), tag: 'abcdefg' });
    t.add({ target: ip('10.1.0.0'), mask: ip('255.255.0.0'), nexthop: ip('9.9.9.9') });
    const l = t.list();
    expect(l).toHaveLength(1);
    expect(l[0]).toMatchObject({ target: ip('10.1.0.0'), nexthop: ip('9.9.9.9'), tag: 'none' });
    t.add({ target: 0, mask: 0, nexthop: 1, tag: 'abcdefg' });
    expect(t.find(ip('1.2.3.4'))!.tag).toBe('abcd');
  });

  it('source-specific routes match only their source', () => {
    const t = new RouteTable();
    t.add({ target: 0, mask: 0, nexthop: ip('1.1.1.1') });
    t.add({ target: 0, mask: 0, nexthop: ip('2.2.2.2'), source: ip('192.168.0.5'), smask: 0xffffffff });
    expect(t.find(ip('8.8.8.8'))!.nexthop).toBe(ip('1.1.1.1'));
    expect(t.find(ip('8.8.8.8'), ip('192.168.0.5'))!.nexthop).toBe(ip('2.2.2.2'));
    expect(t.find(ip('8.8.8.8'), ip('192.168.0.6'))!.nexthop).toBe(ip('1.1.1.1'));
  });

  it('remove and flush; flush keeps interface routes', () => {
    const t = new RouteTable();
    t.add({ target: ip('10.0.0.0'), mask: ip('255.0.0.0'), nexthop: 1, tag: 'a' });
    t.add({ target: ip('11.0.0.0'), mask: ip('255.0.0.0'), nexthop: 1, tag: 'b' });
    t.add({ target: ip('12.0.0.0'), mask: ip('255.0.0.0'), nexthop: 1, tag: 'b' });
    t.add({ target: ip('13.0.0.0'), mask: ip('255.0.0.0'), nexthop: 1, tag: 'ifc', flags: RF_IFC });
    expect(t.remove({ target: ip('10.0.0.0'), mask: ip('255.0.0.0'), nexthop: 2 })).toBe(0);
    expect(t.remove({ target: ip('10.9.9.9'), mask: ip('255.0.0.0') })).toBe(1);
    expect(t.flush('b')).toBe(2);
    expect(t.flush()).toBe(0);
    expect(t.size).toBe(1);
  });

  it('prints and parses Plan 9 flags', () => {
    expect(routeFlagsText(0)).toBe('4');
    expect(routeFlagsText(RF_IFC)).toBe('4i');
    expect(routeFlagsText(RF_UNI)).toBe('4u');
    expect(routeFlagsText(RF_BCAST)).toBe('4b');
    expect(routeFlagsText(RF_MCAST)).toBe('4m');
    expect(routeFlagsText(RF_IFC | RF_PTP)).toBe('4ip');
    expect(parseRouteFlags('4ip')).toBe(RF_IFC | RF_PTP);
    expect(parseRouteFlags('-')).toBe(0);
    expect(parseRouteFlags('6')).toBeNull();
    expect(() => new RouteTable().add({ target: 0, mask: 0, nexthop: 0, flags: 'x' })).toThrow(RangeError);
  });
});

describe('interface routes and the self table', () => {
  it('adding an address creates Plan 9 style interface and self routes', () => {
    const { stack, ifcs } = stackWith();
    ifcs[0]!.addAddress(ip('192.168.1.10'), 24);
    stack.routes.add({ target: 0, mask: 0, nexthop: ip('192.168.1.1') });
    const lines = stack.routes
      .list()
      .map((r) => `${formatIpv4(r.target)}/${formatIpv4(r.mask)} ${formatIpv4(r.nexthop)} ${routeFlagsText(r.flags)} ${r.tag} ${formatIpv4(r.source)}/${formatIpv4(r.smask)}`);
    expect(lines).toEqual([
      '0.0.0.0/0.0.0.0 192.168.1.1 4 none 0.0.0.0/0.0.0.0',
      // The loopback interface every stack starts with (127.0.0.1/8).
      '127.0.0.0/255.0.0.0 127.0.0.0 4i ifc 127.0.0.1/255.255.255.255',
      '127.0.0.0/255.0.0.0 127.0.0.0 4i ifc 0.0.0.0/0.0.0.0',
      '127.0.0.0/255.255.255.255 127.0.0.0 4b ifc 0.0.0.0/0.0.0.0',
      '127.0.0.1/255.255.255.255 127.0.0.1 4u ifc 0.0.0.0/0.0.0.0',
      '127.255.255.255/255.255.255.255 127.255.255.255 4b ifc 0.0.0.0/0.0.0.0',
      '192.168.1.0/255.255.255.0 192.168.1.0 4i ifc 192.168.1.10/255.255.255.255',
      '192.168.1.0/255.255.255.0 192.168.1.0 4i ifc 0.0.0.0/0.0.0.0',
      '192.168.1.0/255.255.255.255 192.168.1.0 4b ifc 0.0.0.0/0.0.0.0',
      '192.168.1.10/255.255.255.255 192.168.1.10 4u ifc 0.0.0.0/0.0.0.0',
      '192.168.1.255/255.255.255.255 192.168.1.255 4b ifc 0.0.0.0/0.0.0.0',
      '224.0.0.1/255.255.255.255 224.0.0.1 4m ifc 0.0.0.0/0.0.0.0',
      '255.255.255.255/255.255.255.255 255.255.255.255 4b ifc 0.0.0.0/0.0.0.0',
    ]);
    expect(stack.selfTable().map((e) => `${formatIpv4(e.ip)} ${e.refs} ${e.flags}`)).toEqual([
      '127.0.0.0 1 4b',
      '127.0.0.1 1 4u',
      '127.255.255.255 1 4b',
      '192.168.1.0 1 4b',
      '192.168.1.10 1 4u',
      '192.168.1.255 1 4b',
      '224.0.0.1 2 4m',
      '255.255.255.255 2 4b',
    ]);
    // The limited broadcast and all-systems routes leave on the ether, not the loopback.
    expect(stack.routes.lookup(ip('255.255.255.255'))).toMatchObject({ ifc: ifcs[0] });
    expect(stack.routes.lookup(ip('224.0.0.1'))).toMatchObject({ ifc: ifcs[0] });
    expect(stack.isLocal(ip('192.168.1.10'))).toBe(true);
    expect(stack.isLocal(ip('192.168.1.255'))).toBe(false);
    expect(stack.selfType(ip('192.168.1.255'))).toBe('b');
    // The default route resolves to the interface through its gateway.
    expect(stack.routes.lookup(ip('8.8.8.8'))).toMatchObject({ ifc: ifcs[0], nexthop: ip('192.168.1.1') });
    expect(stack.sourceFor(ip('8.8.8.8'))).toBe(ip('192.168.1.10'));
    // flush keeps interface routes.
    stack.routes.flush();
    expect(stack.routes.size).toBe(12);
  });

  it('removing one of two addresses on a subnet keeps the shared routes', () => {
    const { stack, ifcs } = stackWith();
    ifcs[0]!.addAddress(ip('10.0.0.1'), 24);
    ifcs[0]!.addAddress(ip('10.0.0.2'), 24);
    expect(ifcs[0]!.addAddress(ip('10.0.0.2'), 24)).toBe(ifcs[0]!.addresses()[1]); // re-add is a no-op
    expect(stack.selfTable().find((e) => e.ip === ip('255.255.255.255'))!.refs).toBe(3); // two here, one on the loopback
    ifcs[0]!.removeAddress(ip('10.0.0.1'), 24);
    expect(stack.isLocal(ip('10.0.0.1'))).toBe(false);
    expect(stack.routes.lookup(ip('10.0.0.77'))).toMatchObject({ ifc: ifcs[0] });
    expect(stack.sourceFor(ip('10.0.0.77'))).toBe(ip('10.0.0.2'));
    expect(() => ifcs[0]!.removeAddress(ip('10.0.0.1'))).toThrow(new StackError('address not on this interface'));
  });

  it('point-to-point addresses route only to the peer; two interfaces are chosen by prefix', () => {
    const { stack, ifcs } = stackWith(2);
    ifcs[0]!.addAddress(ip('172.16.0.1'), 32, ip('172.16.0.2'));
    ifcs[1]!.addAddress(ip('10.0.0.1'), 8);
    const a = ifcs[0]!.addresses()[0]!;
    expect(a).toMatchObject({ ptp: true, bcast: 0, prefixLen: 32, remote: ip('172.16.0.2') });
    expect(stack.routes.lookup(ip('172.16.0.2'))).toMatchObject({ ifc: ifcs[0], nexthop: ip('172.16.0.2') });
    expect(routeFlagsText(stack.routes.lookup(ip('172.16.0.2'))!.route.flags)).toBe('4ip');
    expect(stack.routes.lookup(ip('172.16.0.3'))).toBeNull();
    expect(stack.routes.lookup(ip('10.200.0.1'))).toMatchObject({ ifc: ifcs[1] });
    expect(stack.ifcWithAddress(ip('10.0.0.1'))).toBe(ifcs[1]);
    expect(ifcs.map((i) => i.name)).toEqual(['ether0', 'ether1']);
  });

  it('validates MTU and masks', () => {
    const { ifcs } = stackWith();
    expect(ifcs[0]!.mtu).toBe(1500);
    ifcs[0]!.mtu = 576;
    expect(ifcs[0]!.mtu).toBe(576);
    expect(() => (ifcs[0]!.mtu = 67)).toThrow(new StackError('bad arg in system call'));
    expect(() => (ifcs[0]!.mtu = 1501)).toThrow(StackError);
    expect(() => ifcs[0]!.addAddress(ip('10.0.0.1'), -1)).toThrow(StackError);
    ifcs[0]!.addAddress(ip('10.0.0.1'), ip('255.255.255.0'));
    expect(ifcs[0]!.addresses()[0]!.prefixLen).toBe(24);
    ifcs[0]!.unbind();
    expect(() => ifcs[0]!.addAddress(ip('10.0.0.2'), 24)).toThrow(new StackError('interface not bound'));
  });
});
