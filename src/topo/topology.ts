/**
 * Many stacks in one process (issue 5): a registry of named stacks (each a
 * complete /net, a StackNet), in-memory hubs (learning switches) and
 * point-to-point pairs, wired together by `connect`. A hub can also be
 * bridged to a kernel TAP so the topology reaches the host.
 *
 * Serving: `root(aname)` is the Server's root function.
 *   - aname = a stack's name           -> that stack's /net
 *   - aname '' , '/' or 'net'          -> the default stack's /net (the
 *     topology file's "default", else the first stack made); the control
 *     tree while there is no stack at all
 *   - aname 'topo'                      -> the control tree (ctlfs.ts):
 *     ctl, stacks, hubs, pairs, links
 * A stack made at run time is attachable at once. Names are unique across
 * stacks, hubs and pairs; 'topo' and 'net' are reserved.
 *
 * Bounds: MAX_STACKS stacks, MAX_HUBS hubs, MAX_PAIRS pairs, MAX_ETHERS
 * ether devices per stack, one TAP bridge per hub.
 */
import type { Clock } from '../lib/clock.js';
import type { Rng } from '../lib/rng.js';
import { StackNet } from '../backend/stack/backend.js';
import { DEFAULT_ANAMES } from '../backend/backend.js';
import type { NetBackend } from '../backend/backend.js';
import type { EtherPort } from '../link/etherport.js';
import { Hub } from '../link/hub.js';
import type { Disposable, Link } from '../link/link.js';
import { createPair } from '../link/pair.js';
import { TapLink } from '../link/tap.js';
import type { Ip } from '../netfs/ipaddr.js';
import { NinepError } from '../ninep/error.js';
import type { Node } from '../ninep/node.js';
import type { TcpLayerOptions } from '../stack/tcp/types.js';
import { SimClock } from '../lib/simclock.js';
import type { ClockControl } from '../netfs/clock.js';
import { controlTree } from './ctlfs.js';

/** At most this many stacks in one process. */
export const MAX_STACKS = 64;
/** At most this many hubs. */
export const MAX_HUBS = 64;
/** At most this many point-to-point pairs. */
export const MAX_PAIRS = 64;
/** At most this many ether devices (connections) per stack. */
export const MAX_ETHERS = 16;
/** The attach name of the control tree. */
export const CONTROL_ANAME = 'topo';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const TAP_RE = /^[A-Za-z0-9_.%-]{1,15}$/;
const RESERVED = new Set([CONTROL_ANAME, 'net']);

/**
 * A one-line error naming what is wrong. It is a NinepError, so a ctl write
 * that fails sends the message to the 9P client verbatim.
 */
export class TopologyError extends NinepError {
  constructor(msg: string) {
    super(msg);
    this.name = 'TopologyError';
  }
}

export interface TopologyOptions {
  /** The owner of every /net and of the control tree's ctl. */
  eve: string;
  clock: Clock;
  rng: Rng;
  /** `clock` is simulated time (`serve --topology F --clock manual`): every stack's /net/clock steers it. */
  clockControl?: ClockControl;
  log?: (line: string) => void;
  /** TCP bounds and defaults for every stack. */
  tcp?: TcpLayerOptions;
  /** Host-name resolution for every stack's cs (default: the host's resolver). */
  resolve?: (host: string) => Promise<Ip[]>;
  /** Opens the kernel side of `bridge` (default: TapLink.open, mode auto). For tests. */
  openTap?: (name: string) => Link;
}

export type SegmentKind = 'hub' | 'pair';

export interface EtherInfo {
  /** etherN in the stack's /net. */
  ether: string;
  kind: SegmentKind;
  segment: string;
  /** Our MAC, lowercase hex without separators (as /net/etherN/addr). */
  mac: string;
  /** Addresses of the interface bound to it, as A.B.C.D/N. */
  addresses: string[];
}

export interface StackInfo {
  name: string;
  forwarding: boolean;
  ethers: EtherInfo[];
}

export interface HubInfo {
  name: string;
  /** Open ports (stacks and the TAP bridge). */
  ports: number;
  tap: string | null;
  forwarded: number;
  flooded: number;
  dropped: number;
}

export interface PairInfo {
  name: string;
  /** What each end is connected to: a stack name, '-' (free) or '!' (closed by a deleted stack). */
  ends: [string, string];
}

interface StackEntry {
  name: string;
  net: StackNet;
  ethers: { port: EtherPort; kind: SegmentKind; segment: string }[];
}

interface Bridge {
  name: string;
  tap: Link;
  port: Link;
  subs: Disposable[];
}

interface HubEntry {
  name: string;
  hub: Hub;
  bridge: Bridge | null;
}

type EndState = { state: 'free'; link: Link } | { state: 'used'; link: Link; stack: string } | { state: 'closed' };

interface PairEntry {
  name: string;
  ends: [EndState, EndState];
}

function v4Text(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** A dotted quad as a u32, or null. */
export function parseV4(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const b = Number(m[i]);
    if (b > 255) return null;
    n = n * 256 + b;
  }
  return n >>> 0;
}

/** `A.B.C.D/N` as address and prefix length, or null. */
export function parseCidr(s: string): { addr: number; prefix: number } | null {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(s);
  if (!m) return null;
  const addr = parseV4(m[1]!);
  const prefix = Number(m[2]);
  if (addr === null || prefix > 32) return null;
  return { addr, prefix };
}

function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export class Topology implements NetBackend {
  private readonly stacks = new Map<string, StackEntry>();
  private readonly hubs = new Map<string, HubEntry>();
  private readonly pairs = new Map<string, PairEntry>();
  private defaultName: string | null = null;
  private closed = false;
  private control: Node | null = null;

  constructor(readonly opts: TopologyOptions) {}

  // ------------------------------------------------------------------
  // Building

  /**
   * A new stack with an empty /net (no ethers yet). With `manual` it runs
   * in simulated time of its own (frozen until its /net/clock says), the
   * hubs and the other stacks going on as before.
   */
  addStack(name: string, manual = false): StackNet {
    this.checkNew(name, 'stack');
    if (this.stacks.size >= MAX_STACKS) throw new TopologyError(`too many stacks (at most ${MAX_STACKS})`);
    const o = this.opts;
    const own = manual ? new SimClock() : null;
    const clockControl = own ?? o.clockControl;
    const net = new StackNet({
      eve: o.eve,
      clock: own ?? o.clock,
      rng: o.rng,
      ...(clockControl ? { clockControl } : {}),
      ...(o.log ? { log: (l: string) => o.log!(`${name}: ${l}`) } : {}),
      ...(o.tcp ? { tcp: o.tcp } : {}),
      ...(o.resolve ? { resolve: o.resolve } : {}),
    });
    this.stacks.set(name, { name, net, ethers: [] });
    this.defaultName ??= name;
    return net;
  }

  /** A new in-memory learning switch. */
  addHub(name: string): Hub {
    this.checkNew(name, 'hub');
    if (this.hubs.size >= MAX_HUBS) throw new TopologyError(`too many hubs (at most ${MAX_HUBS})`);
    const hub = new Hub({ clock: this.opts.clock, rng: this.opts.rng });
    this.hubs.set(name, { name, hub, bridge: null });
    return hub;
  }

  /** A new point-to-point link (two ends, each for one stack). */
  addPair(name: string): void {
    this.checkNew(name, 'pair');
    if (this.pairs.size >= MAX_PAIRS) throw new TopologyError(`too many pairs (at most ${MAX_PAIRS})`);
    const [a, b] = createPair({ clock: this.opts.clock, rng: this.opts.rng });
    this.pairs.set(name, { name, ends: [{ state: 'free', link: a }, { state: 'free', link: b }] });
  }

  /** Connect a stack to a hub or a pair: a new etherN in its /net. Returns its name. */
  connect(stack: string, segment: string): string {
    const s = this.stackEntry(stack);
    if (s.ethers.length >= MAX_ETHERS) throw new TopologyError(`stack ${stack}: too many ethers (at most ${MAX_ETHERS})`);
    const h = this.hubs.get(segment);
    let link: Link;
    let kind: SegmentKind;
    if (h) {
      link = h.hub.port();
      kind = 'hub';
    } else {
      const p = this.pairs.get(segment);
      if (!p) throw new TopologyError(`no hub or pair ${segment}`);
      const i = p.ends.findIndex((e) => e.state === 'free');
      if (i < 0) throw new TopologyError(`pair ${segment} has no free end`);
      const end = p.ends[i]!;
      if (end.state !== 'free') throw new TopologyError(`pair ${segment} has no free end`);
      p.ends[i] = { state: 'used', link: end.link, stack };
      link = end.link;
      kind = 'pair';
    }
    const port = s.net.addEther(link);
    s.ethers.push({ port, kind, segment });
    return port.name;
  }

  /**
   * ipconfig for a static address: bind an interface to the stack's
   * `ether` (etherN), add `cidr` (A.B.C.D/N), and a default route via `gw`.
   */
  configure(stack: string, ether: string, cidr: string, gw?: string): void {
    const s = this.stackEntry(stack);
    const port = s.net.port(ether);
    if (!port) throw new TopologyError(`stack ${stack}: no ${ether}`);
    const c = parseCidr(cidr);
    if (!c) throw new TopologyError(`bad address ${cidr} (want A.B.C.D/N)`);
    if (gw !== undefined && parseV4(gw) === null) throw new TopologyError(`bad gateway ${gw}`);
    try {
      s.net.configure(port, v4Text(c.addr), c.prefix, gw);
    } catch (e) {
      throw new TopologyError(`stack ${stack} ${ether}: ${(e as Error).message}`);
    }
  }

  /** IP forwarding between the stack's interfaces (Plan 9 `iprouting`). */
  forwarding(stack: string, on: boolean): void {
    this.stackEntry(stack).net.stack.forwarding = on;
  }

  /** A gateway route: `target` is A.B.C.D/N, `nexthop` A.B.C.D (tag none). */
  route(stack: string, target: string, nexthop: string): void {
    const s = this.stackEntry(stack);
    const t = parseCidr(target);
    if (!t) throw new TopologyError(`bad route target ${target} (want A.B.C.D/N)`);
    const via = parseV4(nexthop);
    if (via === null) throw new TopologyError(`bad next hop ${nexthop}`);
    const mask = prefixMask(t.prefix);
    try {
      s.net.stack.routes.add({ target: (t.addr & mask) >>> 0, mask, nexthop: via, tag: 'none' });
    } catch (e) {
      throw new TopologyError(`stack ${stack}: route ${target}: ${(e as Error).message}`);
    }
  }

  /**
   * Bridge a hub to a kernel TAP: one more hub port, whose frames are
   * copied to the TAP, and the TAP's frames into the hub.
   */
  bridgeToTap(hub: string, tapName: string): void {
    const h = this.hubEntry(hub);
    if (!TAP_RE.test(tapName)) throw new TopologyError(`bad tap name ${tapName}`);
    if (h.bridge) throw new TopologyError(`hub ${hub} is already bridged to ${h.bridge.name}`);
    for (const o of this.hubs.values()) {
      if (o.bridge?.name === tapName) throw new TopologyError(`tap ${tapName} is already bridged to hub ${o.name}`);
    }
    let tap: Link;
    try {
      tap = this.opts.openTap
        ? this.opts.openTap(tapName)
        : TapLink.open({
          name: tapName,
          mode: 'auto',
          rng: this.opts.rng,
          onError: (e) => this.opts.log?.(`bridge ${hub} ${tapName}: ${e.message}`),
        });
    } catch (e) {
      throw new TopologyError(`bridge ${hub} ${tapName}: ${(e as Error).message}`);
    }
    const port = h.hub.port();
    // Received frames are views valid during the call only: copy them.
    const subs = [
      tap.attach((f) => port.send(f.slice())),
      port.attach((f) => tap.send(f.slice())),
    ];
    h.bridge = { name: tapName, tap, port, subs };
  }

  /** Remove a hub's TAP bridge (the TAP is closed). */
  async unbridge(hub: string): Promise<void> {
    const h = this.hubEntry(hub);
    const b = h.bridge;
    if (!b) throw new TopologyError(`hub ${hub} is not bridged`);
    h.bridge = null;
    await closeBridge(b);
  }

  /** Set the stack served for the default attach names. */
  setDefault(stack: string): void {
    this.stackEntry(stack);
    this.defaultName = stack;
  }

  /**
   * Delete a stack: its /net is closed (9P clients attached to it get
   * errors), its hub ports are removed; a pair end it used is closed for good.
   */
  async deleteStack(name: string): Promise<void> {
    const s = this.stackEntry(name);
    this.stacks.delete(name);
    for (const p of this.pairs.values()) {
      p.ends = p.ends.map((e) => (e.state === 'used' && e.stack === name ? { state: 'closed' } : e)) as [EndState, EndState];
    }
    if (this.defaultName === name) this.defaultName = this.stacks.keys().next().value ?? null;
    await s.net.close();
  }

  /** Delete a hub no stack is connected to (its TAP bridge is closed). */
  async deleteHub(name: string): Promise<void> {
    const h = this.hubEntry(name);
    const users = this.usersOf(name);
    if (users.length > 0) throw new TopologyError(`hub ${name} is in use by ${users.join(' ')}`);
    this.hubs.delete(name);
    if (h.bridge) await closeBridge(h.bridge);
  }

  /** Delete a pair no (live) stack is connected to. */
  async deletePair(name: string): Promise<void> {
    const p = this.pairs.get(name);
    if (!p) throw new TopologyError(`no pair ${name}`);
    const users = this.usersOf(name);
    if (users.length > 0) throw new TopologyError(`pair ${name} is in use by ${users.join(' ')}`);
    this.pairs.delete(name);
    for (const e of p.ends) if (e.state === 'free') await e.link.close();
  }

  // ------------------------------------------------------------------
  // Serving and inspection

  /** The tree for an attach name (see the file comment), or null. */
  root(aname: string, _uname = ''): Node | null {
    if (this.closed) return null;
    if (aname === CONTROL_ANAME) return this.controlRoot();
    if (DEFAULT_ANAMES.includes(aname)) {
      const d = this.defaultName === null ? undefined : this.stacks.get(this.defaultName);
      return d ? d.net.tree : this.controlRoot();
    }
    return this.stacks.get(aname)?.net.tree ?? null;
  }

  /** The control tree (ctl, stacks, hubs, pairs, links). */
  controlRoot(): Node {
    this.control ??= controlTree(this, this.opts.eve);
    return this.control;
  }

  /** A stack's /net object, for code (tests, the CLI). */
  stack(name: string): StackNet {
    return this.stackEntry(name).net;
  }

  hub(name: string): Hub {
    return this.hubEntry(name).hub;
  }

  get defaultStack(): string | null {
    return this.defaultName;
  }

  stackNames(): string[] {
    return [...this.stacks.keys()];
  }

  stackInfo(): StackInfo[] {
    return [...this.stacks.values()].map((s) => {
      const ifcs = s.net.stack.interfaces();
      return {
        name: s.name,
        forwarding: s.net.stack.forwarding,
        ethers: s.ethers.map((e) => ({
          ether: e.port.name,
          kind: e.kind,
          segment: e.segment,
          mac: Buffer.from(e.port.mac).toString('hex'),
          addresses: ifcs
            .filter((i) => i.name === e.port.name)
            .flatMap((i) => i.addresses().map((a) => `${v4Text(a.ip)}/${a.prefixLen}`)),
        })),
      };
    });
  }

  hubInfo(): HubInfo[] {
    return [...this.hubs.values()].map((h) => ({
      name: h.name,
      ports: h.hub.size,
      tap: h.bridge?.name ?? null,
      forwarded: h.hub.counters.forwarded,
      flooded: h.hub.counters.flooded,
      dropped: h.hub.counters.dropped,
    }));
  }

  pairInfo(): PairInfo[] {
    const end = (e: EndState): string => (e.state === 'used' ? e.stack : e.state === 'free' ? '-' : '!');
    return [...this.pairs.values()].map((p) => ({ name: p.name, ends: [end(p.ends[0]), end(p.ends[1])] }));
  }

  /** One line: what is served. */
  get what(): string {
    return `topology: ${this.stacks.size} stacks (${[...this.stacks.keys()].join(' ')}), ${this.hubs.size} hubs, ${this.pairs.size} pairs`;
  }

  /** Close every stack, hub bridge and pair. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.stacks.values()) await s.net.close();
    for (const h of this.hubs.values()) if (h.bridge) await closeBridge(h.bridge);
    for (const p of this.pairs.values()) for (const e of p.ends) if (e.state !== 'closed') await e.link.close();
    this.stacks.clear();
    this.hubs.clear();
    this.pairs.clear();
  }

  // ------------------------------------------------------------------

  private checkNew(name: string, what: string): void {
    if (this.closed) throw new TopologyError('topology closed');
    if (!NAME_RE.test(name)) throw new TopologyError(`bad ${what} name ${JSON.stringify(name)} (want [A-Za-z0-9][A-Za-z0-9_.-]*, at most 32)`);
    if (RESERVED.has(name)) throw new TopologyError(`${what} name ${name} is reserved`);
    if (this.stacks.has(name)) throw new TopologyError(`name ${name} is already a stack`);
    if (this.hubs.has(name)) throw new TopologyError(`name ${name} is already a hub`);
    if (this.pairs.has(name)) throw new TopologyError(`name ${name} is already a pair`);
  }

  private stackEntry(name: string): StackEntry {
    const s = this.stacks.get(name);
    if (!s) throw new TopologyError(`no stack ${name}`);
    return s;
  }

  private hubEntry(name: string): HubEntry {
    const h = this.hubs.get(name);
    if (!h) throw new TopologyError(`no hub ${name}`);
    return h;
  }

  private usersOf(segment: string): string[] {
    return [...this.stacks.values()].filter((s) => s.ethers.some((e) => e.segment === segment)).map((s) => s.name);
  }

  // ------------------------------------------------------------------
  // Topology files (topofile.ts does the checking)

  /** Build from a parsed topology file; throws a one-line TopologyError. */
  static async fromJson(obj: unknown, opts: TopologyOptions): Promise<Topology> {
    const { buildTopology } = await import('./topofile.js');
    return buildTopology(obj, opts);
  }

  /** Read, check and build a topology file. */
  static async fromFile(path: string, opts: TopologyOptions): Promise<Topology> {
    const { loadTopologyFile } = await import('./topofile.js');
    return loadTopologyFile(path, opts);
  }
}

async function closeBridge(b: Bridge): Promise<void> {
  for (const s of b.subs) s.dispose();
  await b.port.close();
  await b.tap.close();
}
