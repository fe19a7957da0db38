/**
 * An in-memory learning switch with any number of ports (each a Link). A
 * frame sent from a port teaches the switch that its source MAC lives there;
 * unicast to a learnt MAC goes to that port only (dropped if that is the
 * sending port), broadcast/multicast and unknown unicast are flooded to every
 * other port. Delivery to each port goes through its own bounded Wire
 * (Clock + delay, or a microtask without a clock). The MAC table is bounded
 * (default 1024 entries); when full, the least recently learnt entry goes.
 */
import type { Rng } from '../lib/rng.js';
import { DEFAULT_MTU, ETH_HEADER_LEN, MAC_LEN } from './link.js';
import type { Link } from './link.js';
import { formatMac, isGroupMac, macKey, randomMac } from './mac.js';
import { MemoryPort, sequentialMac } from './port.js';
import { checkWireOptions, Wire } from './wire.js';
import type { WireOptions } from './wire.js';

/** Default bound on learnt MACs. */
export const DEFAULT_MAC_TABLE_LIMIT = 1024;

export interface HubOptions extends WireOptions {
  /** IP MTU of every port (default 1500). */
  mtu?: number;
  /** Source of random port MACs; without it ports get 02:39:6e:01:00:01, ...:02, ... */
  rng?: Rng;
  /** Bound on the MAC table (default DEFAULT_MAC_TABLE_LIMIT). */
  tableLimit?: number;
}

export interface HubPortOptions {
  /** This port's own MAC (the station's); else generated. */
  mac?: Uint8Array;
  /** Delay towards this port, overriding the hub's. */
  delay?: number;
}

export interface HubCounters {
  /** Unicast frames sent to one learnt port. */
  forwarded: number;
  /** Frames flooded to all other ports (group or unknown destination). */
  flooded: number;
  /** Unicast frames whose destination lives on the sending port. */
  filtered: number;
  /** Port deliveries refused by a full or closed wire. */
  dropped: number;
}

interface Port {
  id: number;
  link: MemoryPort;
  wire: Wire;
}

export class Hub {
  readonly counters: HubCounters = { forwarded: 0, flooded: 0, filtered: 0, dropped: 0 };
  private readonly ports = new Map<number, Port>();
  /** MAC key -> port id, in least-recently-learnt-first order. */
  private readonly table = new Map<number, number>();
  private readonly mtu: number;
  private readonly tableLimit: number;
  private nextId = 1;

  constructor(private readonly opts: HubOptions = {}) {
    this.mtu = opts.mtu ?? DEFAULT_MTU;
    this.tableLimit = opts.tableLimit ?? DEFAULT_MAC_TABLE_LIMIT;
    if (!Number.isInteger(this.tableLimit) || this.tableLimit < 1 || this.tableLimit > 1 << 20) {
      throw new RangeError(`tableLimit must be an integer in [1, ${1 << 20}]`);
    }
    checkWireOptions(opts); // fail now rather than at the first port
  }

  /** Adds a port; its Link is closed (and the port removed) by link.close(). */
  port(popts: HubPortOptions = {}): Link {
    const id = this.nextId++;
    const mac = popts.mac ?? (this.opts.rng ? randomMac(this.opts.rng) : sequentialMac(0x10000 + id));
    const wire = new Wire((f) => link.ingress(f), { ...this.opts, delay: popts.delay ?? this.opts.delay }, () => link.ingressEnd());
    const link: MemoryPort = new MemoryPort(mac, this.mtu, (f) => this.forward(id, f), () => this.remove(id));
    this.ports.set(id, { id, link, wire });
    return link;
  }

  /** Number of open ports. */
  get size(): number {
    return this.ports.size;
  }

  /** The learnt table as "mac -> port index" (index = order of port() calls, from 0). */
  macTable(): Map<string, number> {
    const out = new Map<string, number>();
    const buf = new Uint8Array(MAC_LEN);
    for (const [key, id] of this.table) {
      let k = key;
      for (let i = MAC_LEN - 1; i >= 0; i--) {
        buf[i] = k % 256;
        k = Math.floor(k / 256);
      }
      out.set(formatMac(buf), id - 1);
    }
    return out;
  }

  private forward(from: number, frame: Uint8Array): boolean {
    if (frame.length < ETH_HEADER_LEN) return false;
    if (!isGroupMac(frame, 6)) this.learn(macKey(frame, 6), from);
    const to = isGroupMac(frame, 0) ? undefined : this.table.get(macKey(frame, 0));
    if (to === from) {
      this.counters.filtered++;
      return true;
    }
    const dest = to === undefined ? undefined : this.ports.get(to);
    if (dest) {
      this.counters.forwarded++;
      if (!dest.wire.push(frame)) this.counters.dropped++;
      return true;
    }
    this.counters.flooded++;
    for (const p of this.ports.values()) {
      if (p.id !== from && !p.wire.push(frame)) this.counters.dropped++;
    }
    return true;
  }

  private learn(key: number, port: number): void {
    if (this.table.has(key)) this.table.delete(key); // re-inserted below as most recent
    else if (this.table.size >= this.tableLimit) {
      const oldest = this.table.keys().next().value;
      if (oldest !== undefined) this.table.delete(oldest);
    }
    this.table.set(key, port);
  }

  private remove(id: number): void {
    const p = this.ports.get(id);
    if (!p) return;
    p.wire.close();
    this.ports.delete(id);
    for (const [key, port] of this.table) if (port === id) this.table.delete(key);
  }
}
