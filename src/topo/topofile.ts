/**
 * The topology file (JSON): checked as a whole before anything is built,
 * every error one line naming the bad field, e.g.
 *   topology: stacks.a.ifaces[0].ip: bad address "10.1.0.300/24" (want A.B.C.D/N)
 *
 * {
 *   "default": "a",                            optional: the stack for aname '' (else the first)
 *   "stacks": {                                at most MAX_STACKS
 *     "a": { "ifaces": [ { "hub": "lan1", "ip": "10.1.0.2/24", "gw": "10.1.0.1" } ] },
 *     "r": { "forwarding": true,
 *            "ifaces": [ { "hub": "lan1", "ip": "10.1.0.1/24" }, { "pair": "p1", "ip": "10.9.0.1/30" } ] }
 *   },
 *   "hubs": { "lan1": {}, "lan2": { "tap": "tap9" } },
 *   "pairs": { "p1": {} },
 *   "routes": { "a": [ { "target": "10.3.0.0/16", "via": "10.1.0.1" } ] }
 * }
 *
 * A stack with "clock": "manual" runs in simulated time of its own,
 * steered by its /net/clock (frozen until then).
 *
 * An iface names exactly one of "hub" or "pair" and becomes the stack's
 * next etherN (in order); "ip" (A.B.C.D/N) configures it as ipconfig does,
 * "gw" (needs "ip") adds the default route. A pair takes two ifaces at
 * most. Unknown fields are errors.
 */
import { readFile } from 'node:fs/promises';
import { MAX_ETHERS, MAX_HUBS, MAX_PAIRS, MAX_STACKS, Topology, TopologyError, parseCidr, parseV4 } from './topology.js';
import type { TopologyOptions } from './topology.js';

/** Largest topology file read. */
export const MAX_TOPOLOGY_FILE = 1 << 20;
/** Routes per stack in a topology file. */
export const MAX_FILE_ROUTES = 256;

export interface IfaceSpec {
  hub?: string;
  pair?: string;
  ip?: string;
  gw?: string;
}

export interface StackSpec {
  forwarding?: boolean;
  /** "manual": the stack runs in simulated time of its own, steered by its /net/clock. */
  clock?: 'manual' | 'real';
  ifaces?: IfaceSpec[];
}

export interface RouteFileSpec {
  target: string;
  via: string;
}

export interface TopologySpec {
  default?: string;
  stacks?: Record<string, StackSpec>;
  hubs?: Record<string, { tap?: string }>;
  pairs?: Record<string, Record<string, never>>;
  routes?: Record<string, RouteFileSpec[]>;
}

function fail(field: string, msg: string): never {
  throw new TopologyError(`topology: ${field}: ${msg}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function object(v: unknown, field: string): Record<string, unknown> {
  if (!isObject(v)) fail(field, 'want an object');
  return v;
}

function onlyKeys(o: Record<string, unknown>, keys: string[], field: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) fail(field, `unknown field ${JSON.stringify(k)} (want ${keys.join(', ')})`);
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string') fail(field, 'want a string');
  return v;
}

function key(field: string, k: string): string {
  return /^[A-Za-z0-9_.-]+$/.test(k) ? `${field}.${k}` : `${field}[${JSON.stringify(k)}]`;
}

/** Checks a parsed topology file; throws a one-line TopologyError naming the bad field. */
export function checkTopology(obj: unknown): TopologySpec {
  const top = object(obj, '(top)');
  onlyKeys(top, ['default', 'stacks', 'hubs', 'pairs', 'routes'], '(top)');
  const stacks = object(top.stacks ?? {}, 'stacks');
  const hubs = object(top.hubs ?? {}, 'hubs');
  const pairs = object(top.pairs ?? {}, 'pairs');
  const routes = object(top.routes ?? {}, 'routes');
  if (Object.keys(stacks).length > MAX_STACKS) fail('stacks', `too many (at most ${MAX_STACKS})`);
  if (Object.keys(hubs).length > MAX_HUBS) fail('hubs', `too many (at most ${MAX_HUBS})`);
  if (Object.keys(pairs).length > MAX_PAIRS) fail('pairs', `too many (at most ${MAX_PAIRS})`);
  const seen = new Map<string, string>();
  const name = (field: string, k: string): void => {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/.test(k)) fail(key(field, k), 'bad name (want [A-Za-z0-9][A-Za-z0-9_.-]*, at most 32)');
    if (k === 'topo' || k === 'net') fail(key(field, k), 'name is reserved');
    const other = seen.get(k);
    if (other) fail(key(field, k), `name already used in ${other}`);
    seen.set(k, field);
  };
  const spec: TopologySpec = { stacks: {}, hubs: {}, pairs: {}, routes: {} };
  const taps = new Set<string>();
  for (const [k, v] of Object.entries(hubs)) {
    const f = key('hubs', k);
    name('hubs', k);
    const h = object(v, f);
    onlyKeys(h, ['tap'], f);
    if (h.tap !== undefined) {
      const t = str(h.tap, `${f}.tap`);
      if (!/^[A-Za-z0-9_.%-]{1,15}$/.test(t)) fail(`${f}.tap`, `bad tap name ${JSON.stringify(t)}`);
      if (taps.has(t)) fail(`${f}.tap`, `tap ${t} bridged twice`);
      taps.add(t);
      spec.hubs![k] = { tap: t };
    } else spec.hubs![k] = {};
  }
  for (const [k, v] of Object.entries(pairs)) {
    const f = key('pairs', k);
    name('pairs', k);
    onlyKeys(object(v, f), [], f);
    spec.pairs![k] = {};
  }
  const pairUse = new Map<string, number>();
  for (const [k, v] of Object.entries(stacks)) {
    const f = key('stacks', k);
    name('stacks', k);
    const s = object(v, f);
    onlyKeys(s, ['forwarding', 'clock', 'ifaces'], f);
    const out: StackSpec = {};
    if (s.clock !== undefined) {
      if (s.clock !== 'manual' && s.clock !== 'real') fail(`${f}.clock`, 'want "manual" or "real"');
      out.clock = s.clock;
    }
    if (s.forwarding !== undefined) {
      if (typeof s.forwarding !== 'boolean') fail(`${f}.forwarding`, 'want true or false');
      out.forwarding = s.forwarding;
    }
    const ifaces = s.ifaces ?? [];
    if (!Array.isArray(ifaces)) fail(`${f}.ifaces`, 'want an array');
    if (ifaces.length > MAX_ETHERS) fail(`${f}.ifaces`, `too many (at most ${MAX_ETHERS})`);
    out.ifaces = ifaces.map((iv: unknown, i): IfaceSpec => {
      const fi = `${f}.ifaces[${i}]`;
      const o = object(iv, fi);
      onlyKeys(o, ['hub', 'pair', 'ip', 'gw'], fi);
      const r: IfaceSpec = {};
      if ((o.hub === undefined) === (o.pair === undefined)) fail(fi, 'want exactly one of "hub" or "pair"');
      if (o.hub !== undefined) {
        r.hub = str(o.hub, `${fi}.hub`);
        if (!(r.hub in hubs)) fail(`${fi}.hub`, `no hub ${JSON.stringify(r.hub)} in hubs`);
      } else {
        r.pair = str(o.pair, `${fi}.pair`);
        if (!(r.pair in pairs)) fail(`${fi}.pair`, `no pair ${JSON.stringify(r.pair)} in pairs`);
        const n = (pairUse.get(r.pair) ?? 0) + 1;
        if (n > 2) fail(`${fi}.pair`, `pair ${r.pair} has only two ends`);
        pairUse.set(r.pair, n);
      }
      if (o.ip !== undefined) {
        r.ip = str(o.ip, `${fi}.ip`);
        if (!parseCidr(r.ip)) fail(`${fi}.ip`, `bad address ${JSON.stringify(r.ip)} (want A.B.C.D/N)`);
      }
      if (o.gw !== undefined) {
        r.gw = str(o.gw, `${fi}.gw`);
        if (parseV4(r.gw) === null) fail(`${fi}.gw`, `bad address ${JSON.stringify(r.gw)} (want A.B.C.D)`);
        if (r.ip === undefined) fail(`${fi}.gw`, 'needs "ip"');
      }
      return r;
    });
    spec.stacks![k] = out;
  }
  for (const [k, v] of Object.entries(routes)) {
    const f = key('routes', k);
    if (!(k in stacks)) fail(f, `no stack ${JSON.stringify(k)} in stacks`);
    if (!Array.isArray(v)) fail(f, 'want an array');
    if (v.length > MAX_FILE_ROUTES) fail(f, `too many (at most ${MAX_FILE_ROUTES})`);
    spec.routes![k] = v.map((rv: unknown, i): RouteFileSpec => {
      const fr = `${f}[${i}]`;
      const o = object(rv, fr);
      onlyKeys(o, ['target', 'via'], fr);
      const target = str(o.target, `${fr}.target`);
      if (!parseCidr(target)) fail(`${fr}.target`, `bad target ${JSON.stringify(target)} (want A.B.C.D/N)`);
      const via = str(o.via, `${fr}.via`);
      if (parseV4(via) === null) fail(`${fr}.via`, `bad address ${JSON.stringify(via)} (want A.B.C.D)`);
      return { target, via };
    });
  }
  if (top.default !== undefined) {
    const d = str(top.default, 'default');
    if (!(d in stacks)) fail('default', `no stack ${JSON.stringify(d)} in stacks`);
    spec.default = d;
  }
  return spec;
}

/** Check and build; on a failure while building, what was built is closed. */
export async function buildTopology(obj: unknown, opts: TopologyOptions): Promise<Topology> {
  const spec = checkTopology(obj);
  const t = new Topology(opts);
  try {
    for (const h of Object.keys(spec.hubs ?? {})) t.addHub(h);
    for (const p of Object.keys(spec.pairs ?? {})) t.addPair(p);
    for (const [name, s] of Object.entries(spec.stacks ?? {})) {
      t.addStack(name, s.clock === 'manual');
      for (const [i, iface] of (s.ifaces ?? []).entries()) {
        const ether = t.connect(name, iface.hub ?? iface.pair!);
        if (iface.ip !== undefined) {
          try {
            t.configure(name, ether, iface.ip, iface.gw);
          } catch (e) {
            throw new TopologyError(`topology: stacks.${name}.ifaces[${i}]: ${(e as Error).message}`);
          }
        }
      }
      if (s.forwarding !== undefined) t.forwarding(name, s.forwarding);
    }
    for (const [name, rs] of Object.entries(spec.routes ?? {})) {
      for (const [i, r] of rs.entries()) {
        try {
          t.route(name, r.target, r.via);
        } catch (e) {
          throw new TopologyError(`topology: routes.${name}[${i}]: ${(e as Error).message}`);
        }
      }
    }
    if (spec.default !== undefined) t.setDefault(spec.default);
    for (const [name, h] of Object.entries(spec.hubs ?? {})) {
      if (h.tap === undefined) continue;
      try {
        t.bridgeToTap(name, h.tap);
      } catch (e) {
        throw new TopologyError(`topology: hubs.${name}.tap: ${(e as Error).message}`);
      }
    }
  } catch (e) {
    await t.close();
    throw e;
  }
  return t;
}

/** Read a topology file: a one-line error for an unreadable file or bad JSON too. */
export async function loadTopologyFile(path: string, opts: TopologyOptions): Promise<Topology> {
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.length > MAX_TOPOLOGY_FILE) throw new Error(`larger than ${MAX_TOPOLOGY_FILE} bytes`);
    text = buf.toString('utf8');
  } catch (e) {
    throw new TopologyError(`topology ${path}: ${(e as Error).message}`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new TopologyError(`topology ${path}: bad JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  return buildTopology(obj, opts);
}
