/** /net/arp and /net/iproute over our stack's ARP cache and routing table. */
import { NinepError } from '../../ninep/error.js';
import type { ArpEntryView, ArpSource } from '../../netfs/arp.js';
import type { IprouteSource, RouteSpec as NetRouteSpec, RouteView } from '../../netfs/iproute.js';
import { parseIp } from '../../netfs/ipaddr.js';
import type { Ip } from '../../netfs/ipaddr.js';
import type { Ifc } from '../../stack/ifc.js';
import { routeFlagsText } from '../../stack/route.js';
import type { Stack } from '../../stack/stack.js';
import { fromV4, maskFromV4, maskToV4, stackCall, toV4 } from './addr.js';
import { macFromBytes, macToBytes } from '../../stack/wire/ethernet.js';

export class StackArp implements ArpSource {
  constructor(private readonly stack: Stack) {}

  list(): ArpEntryView[] {
    return this.stack.arp.list().map((e) => ({
      state: e.state,
      ip: fromV4(e.ip),
      mac: e.state === 'OK' ? macToBytes(e.mac) : null,
      ifcAddr: fromV4(e.ifcAddr),
    }));
  }

  add(ip: Ip, mac: Uint8Array, ifcAddr: Ip | null): void {
    let ifc: Ifc | undefined;
    if (ifcAddr) {
      const found = this.stack.ifcWithAddress(toV4(ifcAddr));
      if (!found) throw new NinepError('no interface');
      ifc = found;
    }
    if (!stackCall(() => this.stack.arp.add(toV4(ip), macFromBytes(mac), ifc))) throw new NinepError('destination unreachable');
  }

  del(ip: Ip): void {
    this.stack.arp.del(toV4(ip));
  }

  flush(): void {
    this.stack.arp.flush();
  }

  garp(ip: Ip): void {
    if (!this.stack.arp.garp(toV4(ip))) throw new NinepError('no interface');
  }
}

export class StackRoutes implements IprouteSource {
  constructor(private readonly stack: Stack) {}

  list(): RouteView[] {
    const rt = this.stack.routes;
    return rt.list().map((r) => ({
      target: fromV4(r.target),
      mask: maskFromV4(r.mask),
      nexthop: fromV4(r.nexthop),
      flags: routeFlagsText(r.flags),
      tag: r.tag,
      ifc: rt.outIfc(r)?.index ?? null,
      source: fromV4(r.source),
      smask: maskFromV4(r.smask),
    }));
  }

  /** `ifc` names an interface by number or by one of its addresses. */
  private ifc(name: string | null): Ifc | null {
    if (name === null) return null;
    const all = this.stack.interfaces();
    const byIndex = /^\d+$/.test(name) ? all.find((i) => i.index === Number(name)) : undefined;
    if (byIndex) return byIndex;
    const ip = parseIp(name);
    const byAddr = ip ? this.stack.ifcWithAddress(toV4(ip)) : null;
    if (!byAddr) throw new NinepError('interface not found');
    return byAddr;
  }

  add(r: NetRouteSpec): void {
    const ifc = this.ifc(r.ifc);
    stackCall(() => this.stack.routes.add({
      target: toV4(r.target),
      mask: maskToV4(r.mask),
      nexthop: r.nexthop ? toV4(r.nexthop) : 0,
      ...(r.flags ? { flags: r.flags } : {}),
      tag: r.tag,
      ifc,
      source: toV4(r.source),
      smask: maskToV4(r.smask),
    }));
  }

  remove(r: NetRouteSpec): void {
    stackCall(() => this.stack.routes.remove({
      target: toV4(r.target),
      mask: maskToV4(r.mask),
      ...(r.nexthop ? { nexthop: toV4(r.nexthop) } : {}),
      source: toV4(r.source),
      smask: maskToV4(r.smask),
    }));
  }

  flush(tag: string | null): void {
    this.stack.routes.flush(tag ?? undefined);
  }
}
