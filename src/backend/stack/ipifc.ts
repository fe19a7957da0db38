/**
 * /net/ipifc over our stack (plan9-net.md §7): `clone` makes an unbound
 * interface; its ctl takes `bind ether PATH`, `bind loopback [DEV]`,
 * `add IP [MASK [REMOTE [MTU]]]`, `remove`/`del IP MASK`, `unbind`, `mtu N`,
 * `iprouting [0|1]`. A bound interface outlives its ctl fid (as after
 * ipconfig exits). Interface 0 is the stack's own loopback, there from the
 * start as if the boot had run `bind loopback /dev/null` and
 * `add 127.0.0.1 255.0.0.0` (Plan 9 loopbackmedium.c; device `/dev/null`,
 * maxtu 16384).
 */
import { NinepError } from '../../ninep/error.js';
import { IP_STAT_NAMES, statsText } from '../../netfs/status.js';
import type { IfcView, IpifcSource } from '../../netfs/ipifc.js';
import { errnoToPlan9 } from '../../netfs/errors.js';
import { parseIp, parseMask } from '../../netfs/ipaddr.js';
import type { Ifc } from '../../stack/ifc.js';
import type { Stack } from '../../stack/stack.js';
import { fromV4, maskFromV4, maskToV4, stackCall, toV4 } from './addr.js';
import type { EtherPort } from '../../link/etherport.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../../capture/pcapng.js';
import type { CaptureSource } from '../../netfs/capture.js';
import { ifcEventText } from '../../netfs/events.js';
import type { EventSource } from '../../netfs/events.js';
import { parseImpair } from '../../netfs/impair.js';
import type { IfcEvent } from '../../stack/ifcevents.js';
import { EventFan, FlowWatch } from './observe.js';
import { readerBudgets } from '../../netfs/lossy.js';
import { untilOver } from '../../netfs/capture.js';

/** Interfaces at most (9front: 32 per stack). */
export const MAX_IPIFC = 32;

interface IfcSlot {
  index: number;
  refs: number;
  ifc: Ifc | null;
  /** The ether device of an ether interface (null for a loopback or when unbound). */
  port: EtherPort | null;
  /** Captures and impairment (N/pcap, ctl `impair`), on `ifc` while bound. */
  watch: FlowWatch;
  /** Readers of N/events (the interface's sink while there are any). */
  fan: EventFan<IfcEvent>;
  /** Told when the interface is unbound (its pcap and events readers get EOF). */
  readonly watchers: Set<() => void>;
}

/** The classful default mask of an IPv4 address. */
function classMask(ip: number): number {
  const top = ip >>> 24;
  if (top < 128) return 0xff000000;
  if (top < 192) return 0xffff0000;
  return 0xffffff00;
}

export class StackIpifc implements IpifcSource {
  private readonly slots: IfcSlot[] = [];
  /** The stack's capture and event readers (StackNet shares one among its files). */
  readers = readerBudgets();

  /**
   * `ports` resolves a device path (/net/ether0, ether0, or a lower server's) to an ether port;
   * `dhcp` carries the `dhcp [release]` verb (DHCP on the interface).
   */
  constructor(
    private readonly stack: Stack,
    private readonly ports: (path: string) => EtherPort | null | Promise<EtherPort | null>,
    private readonly dhcp?: (ifc: Ifc, args: string[]) => void,
  ) {
    this.slots.push(this.newSlot(0));
    this.attach(this.slots[0]!, stack.loopback);
  }

  private newSlot(index: number): IfcSlot {
    const s: IfcSlot = { index, refs: 0, ifc: null, port: null, watch: new FlowWatch(), watchers: new Set(), fan: null! };
    s.fan = this.newFan(s);
    return s;
  }

  /** The slot's event readers; the interface's sink while it is the slot's current fan. */
  private newFan(s: IfcSlot): EventFan<IfcEvent> {
    const fan: EventFan<IfcEvent> = new EventFan(ifcEventText, (sink) => {
      if (s.ifc && s.fan === fan) s.ifc.ev = sink;
    });
    return fan;
  }

  /** The slot's interface is `ifc` now: its observers go on it. */
  private attach(s: IfcSlot, ifc: Ifc): Ifc {
    s.ifc = ifc;
    ifc.ev = s.fan.active ? s.fan.sink : null;
    const clock = this.stack.clock;
    s.watch.bind({ hook: () => ifc.hookOn(clock), dropIdle: () => ifc.dropIdleHook() });
    return ifc;
  }

  /** The slot's interface is gone: its observers are told, and start afresh. */
  private detach(s: IfcSlot): void {
    s.ifc = null;
    s.port = null;
    const w = [...s.watchers];
    s.watchers.clear();
    for (const fn of w) fn();
    s.watch = new FlowWatch();
    s.fan = this.newFan(s);
  }

  list(): IfcView[] {
    return this.slots.map((s) => {
      const ifc = s.ifc;
      const c = ifc?.counters;
      return {
        index: s.index,
        // Plan 9 shows the device the medium was bound to: /net/etherN, or the loopback's DEV.
        device: ifc === null ? '' : s.port !== null ? `/net/${s.port.name}` : ifc.name,
        maxtu: ifc === null ? 1514 : ifc.mtu + ifc.hsize,
        addrs: ifc ? ifc.addresses().map((a) => ({ ip: fromV4(a.ip), mask: maskFromV4(a.mask), net: fromV4(a.ptp ? a.remote : (a.ip & a.mask) >>> 0) })) : [],
        pktin: c?.pktin ?? 0,
        pktout: c?.pktout ?? 0,
        errin: c?.errin ?? 0,
        errout: c?.errout ?? 0,
        impair: s.watch.impairments(),
      };
    });
  }

  stats(): string {
    const ip = this.stack.stats.ip;
    return statsText(IP_STAT_NAMES, (n) => ip[n]);
  }

  clone(): number {
    let s = this.slots.find((x) => x.refs === 0 && x.ifc === null);
    if (!s) {
      if (this.slots.length >= MAX_IPIFC) throw new NinepError('no free devices');
      s = this.newSlot(this.slots.length);
      this.slots.push(s);
    }
    s.refs++;
    return s.index;
  }

  release(index: number): void {
    const s = this.slots[index];
    if (s && s.refs > 0) s.refs--;
  }

  /** Bind an interface to an ether port (what `bind ether PATH` does); used by the CLI too. */
  bind(index: number, port: EtherPort): Ifc {
    const s = this.slots[index];
    if (!s) throw new NinepError('interface not found');
    if (s.ifc) throw new NinepError('interface already bound');
    if (port.bound) throw new NinepError('device or object already in use');
    s.port = port;
    return this.attach(s, this.stack.addInterface(port.stackLink(), port.name));
  }

  ctl(index: number, f: string[]): void | Promise<void> {
    const s = this.slots[index];
    if (!s) throw new NinepError('interface not found');
    switch (f[0]) {
      case 'bind': {
        if (f.length < 2) throw new NinepError('bad arg in system call');
        if (f[1] === 'loopback') {
          if (s.ifc) throw new NinepError('interface already bound');
          // ipifc.c: the device name is the argument, else the medium's name and the interface number.
          this.attach(s, stackCall(() => this.stack.addLoopback(f[2] ?? `loopback${index}`)));
          return;
        }
        if (f[1] !== 'ether' && f[1] !== 'gbe') throw new NinepError('unknown interface type');
        if (s.ifc) throw new NinepError('interface already bound');
        const found = f[2] ? this.ports(f[2]) : null;
        const bind = (port: EtherPort | null): void => {
          if (!port) throw new NinepError('file does not exist');
          this.bind(index, port);
        };
        if (found instanceof Promise) {
          return found.then(bind, (e: unknown) => {
            if (e instanceof NinepError) throw e;
            throw new NinepError(`bind ether ${f[2]}: ${errnoToPlan9(e) ?? (e as Error).message}`);
          });
        }
        bind(found);
        return;
      }
      case 'unbind':
        if (!s.ifc) throw new NinepError('interface not bound');
        s.ifc.unbind();
        this.detach(s);
        return;
      case 'add':
      case 'try': {
        const ifc = this.need(s);
        if (f.length < 2 || f.length > 6) throw new NinepError('bad arg in system call');
        const ip = parseIp(f[1]!);
        if (!ip) throw new NinepError('bad ip address syntax');
        const addr = toV4(ip);
        let mask = classMask(addr);
        if (f[2]) {
          const m = parseMask(f[2]);
          if (!m) throw new NinepError('bad ip address syntax');
          mask = maskToV4(m);
        }
        let remote: number | undefined;
        if (f[3]) {
          const r = parseIp(f[3]);
          if (!r) throw new NinepError('bad ip address syntax');
          remote = toV4(r);
          if (remote === ((addr & mask) >>> 0)) remote = undefined;
        }
        // The mtu field is 9front's maxtu, media header included; 0 keeps the current one.
        if (f[4] && Number(f[4]) > 0) stackCall(() => { ifc.mtu = Number(f[4]) - ifc.hsize; });
        if (ifc.addresses().some((a) => a.ip === addr)) return;
        stackCall(() => ifc.addAddress(addr, mask, remote));
        return;
      }
      case 'remove':
      case 'del': {
        const ifc = this.need(s);
        if (f.length < 2) throw new NinepError('bad arg in system call');
        const ip = parseIp(f[1]!);
        if (!ip) throw new NinepError('bad ip address syntax');
        const addr = toV4(ip);
        if (!ifc.addresses().some((a) => a.ip === addr)) throw new NinepError('address not on this interface');
        stackCall(() => ifc.removeAddress(addr));
        return;
      }
      case 'mtu': {
        const ifc = this.need(s);
        // maxtu, media header included, as 9front's ipifc takes it.
        const n = Number(f[1]);
        if (!Number.isInteger(n)) throw new NinepError('bad arg in system call');
        stackCall(() => { ifc.mtu = n - ifc.hsize; });
        return;
      }
      case 'dhcp':
        if (!this.dhcp) throw new NinepError('unsupported ctl');
        this.dhcp(this.need(s), f.slice(1));
        return;
      case 'iprouting':
        this.stack.forwarding = f.length < 2 || f[1] !== '0';
        return;
      case 'impair': {
        if (this.need(s).loopback) throw new NinepError('impair: the loopback has no link to impair');
        const req = parseImpair(f.slice(1));
        if (typeof req === 'string') throw new NinepError(req);
        s.watch.impair(req, this.stack.rng);
        return;
      }
      default:
        if (!s.ifc) throw new NinepError('interface not bound');
        throw new NinepError('unsupported ctl');
    }
  }

  capture(index: number): CaptureSource {
    const s = this.slots[index]!;
    const loop = s.ifc?.loopback ?? false;
    return {
      readers: this.readers.captures,
      linktype: loop ? LINKTYPE_RAW : LINKTYPE_ETHERNET,
      name: `ipifc/${index}`,
      now: () => this.stack.now(),
      attach: (tap, ended) => untilOver(s.watchers, ended, s.watch.addTap(tap)),
    };
  }

  events(index: number): EventSource {
    const s = this.slots[index]!;
    return { readers: this.readers.events, attach: (sink, ended) => untilOver(s.watchers, ended, s.fan.attach(sink)) };
  }

  private need(s: IfcSlot): Ifc {
    if (!s.ifc) throw new NinepError('interface not bound');
    return s.ifc;
  }
}
