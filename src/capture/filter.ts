/**
 * The capture filter language: what a reader writes to a pcap file before
 * reading, to keep only some packets (tcpdump's words, a small subset).
 *
 *     expr    := term { ('or' | '||') term }
 *     term    := factor { ['and' | '&&'] factor }        juxtaposition is 'and'
 *     factor  := ('not' | '!') factor | '(' expr ')' | primitive
 *     primitive :=
 *         'in' | 'out'                                   direction
 *       | 'arp' | 'ip' | 'icmp' | 'tcp' | 'udp'           protocol
 *       | ['src' | 'dst'] 'host' A.B.C.D                  IPv4 (or ARP) address
 *       | ['src' | 'dst'] 'net' A.B.C.D/N
 *       | ['src' | 'dst'] 'port' N                        TCP or UDP port
 *       | ('src' | 'dst') A.B.C.D                         short for ... host A.B.C.D
 *
 * e.g. `out and tcp port 80`, `host 10.0.0.2 and not arp`, `udp or icmp`.
 * An empty filter takes everything. parseFilter() returns the predicate or
 * an error text; it never throws. Bounds: MAX_FILTER_TEXT bytes,
 * MAX_FILTER_DEPTH nested factors.
 */
import type { PacketDir } from '../link/packethook.js';
import { parseIpv4Addr } from '../stack/wire/ipv4.js';
import { LINKTYPE_ETHERNET } from './pcapng.js';

/** Longest filter text. */
export const MAX_FILTER_TEXT = 1024;
/** Deepest nesting of not/parentheses. */
export const MAX_FILTER_DEPTH = 32;

/** What a filter looks at, decoded once per packet. */
export interface PacketFields {
  dir: PacketDir;
  /** 'arp', 'ip' or null (something else). */
  net: 'arp' | 'ip' | null;
  /** IP protocol number, -1 when not IPv4. */
  proto: number;
  /** IPv4 source/destination (ARP: sender/target protocol address), -1 when none. */
  src: number;
  dst: number;
  /** TCP/UDP ports, -1 when none (or not the first fragment). */
  sport: number;
  dport: number;
}

export type PacketFilter = (f: PacketFields) => boolean;

/** The fields of a packet of `linktype` (Ethernet frames or raw IP). */
export function packetFields(pkt: Uint8Array, linktype: number, dir: PacketDir): PacketFields {
  const f: PacketFields = { dir, net: null, proto: -1, src: -1, dst: -1, sport: -1, dport: -1 };
  let o = 0;
  let type = 0x0800;
  if (linktype === LINKTYPE_ETHERNET) {
    if (pkt.length < 14) return f;
    type = (pkt[12]! << 8) | pkt[13]!;
    o = 14;
  }
  const u32 = (i: number): number => ((pkt[i]! << 24) | (pkt[i + 1]! << 16) | (pkt[i + 2]! << 8) | pkt[i + 3]!) >>> 0;
  if (type === 0x0806) {
    f.net = 'arp';
    // Ethernet/IPv4 ARP: sender protocol address at 14, target at 24.
    if (pkt.length >= o + 28) {
      f.src = u32(o + 14);
      f.dst = u32(o + 24);
    }
    return f;
  }
  if (type !== 0x0800 || pkt.length < o + 20 || pkt[o]! >> 4 !== 4) return f;
  f.net = 'ip';
  f.proto = pkt[o + 9]!;
  f.src = u32(o + 12);
  f.dst = u32(o + 16);
  const hl = (pkt[o]! & 0x0f) * 4;
  const fragOff = ((pkt[o + 6]! & 0x1f) << 8) | pkt[o + 7]!;
  if ((f.proto === 6 || f.proto === 17) && fragOff === 0 && pkt.length >= o + hl + 4) {
    f.sport = (pkt[o + hl]! << 8) | pkt[o + hl + 1]!;
    f.dport = (pkt[o + hl + 2]! << 8) | pkt[o + hl + 3]!;
  }
  return f;
}

const PROTOS: Record<string, PacketFilter> = {
  arp: (f) => f.net === 'arp',
  ip: (f) => f.net === 'ip',
  icmp: (f) => f.proto === 1,
  tcp: (f) => f.proto === 6,
  udp: (f) => f.proto === 17,
};

/** A test of the source, the destination or either (address or port). */
function sided(side: 'src' | 'dst' | 'either', what: 'addr' | 'port', ok: (x: number) => boolean): PacketFilter {
  if (what === 'addr') return side === 'src' ? (f) => ok(f.src) : side === 'dst' ? (f) => ok(f.dst) : (f) => ok(f.src) || ok(f.dst);
  return side === 'src' ? (f) => ok(f.sport) : side === 'dst' ? (f) => ok(f.dport) : (f) => ok(f.sport) || ok(f.dport);
}

class Parser {
  private i = 0;
  error: string | null = null;
  constructor(private readonly toks: string[]) {}

  private peek(): string | undefined {
    return this.toks[this.i];
  }

  private fail(msg: string): PacketFilter {
    this.error ??= msg;
    return () => false;
  }

  expr(depth: number): PacketFilter {
    let left = this.term(depth);
    while (this.error === null && (this.peek() === 'or' || this.peek() === '||')) {
      this.i++;
      const a = left;
      const b = this.term(depth);
      left = (f) => a(f) || b(f);
    }
    return left;
  }

  private term(depth: number): PacketFilter {
    let left = this.factor(depth);
    for (;;) {
      const t = this.peek();
      if (this.error !== null || t === undefined || t === ')' || t === 'or' || t === '||') return left;
      if (t === 'and' || t === '&&') this.i++;
      const a = left;
      const b = this.factor(depth);
      left = (f) => a(f) && b(f);
    }
  }

  private factor(depth: number): PacketFilter {
    if (depth >= MAX_FILTER_DEPTH) return this.fail('filter: nested too deeply');
    const t = this.toks[this.i++];
    if (t === undefined) return this.fail('filter: ends too soon');
    if (t === 'not' || t === '!') {
      const a = this.factor(depth + 1);
      return (f) => !a(f);
    }
    if (t === '(') {
      const a = this.expr(depth + 1);
      if (this.toks[this.i++] !== ')') return this.fail('filter: missing )');
      return a;
    }
    if (t === 'in' || t === 'out') return (f) => f.dir === t;
    const proto = PROTOS[t];
    if (proto !== undefined) return proto; // `tcp port 80` is `tcp and port 80`
    let side: 'src' | 'dst' | 'either' = 'either';
    let word = t;
    if (t === 'src' || t === 'dst') {
      side = t;
      const n = this.peek();
      if (n === 'host' || n === 'net' || n === 'port') {
        word = n;
        this.i++;
      } else word = 'host'; // `src A` is `src host A`
    }
    if (word !== 'host' && word !== 'net' && word !== 'port') return this.fail(`filter: unknown word ${t}`);
    const arg = this.toks[this.i++];
    if (word === 'host') {
      const a = arg === undefined ? null : parseIpv4Addr(arg);
      if (a === null) return this.fail(`filter: bad address ${arg ?? '(none)'}`);
      return sided(side, 'addr', (x) => x === a);
    }
    if (word === 'net') {
      const m = arg === undefined ? null : /^([0-9.]+)\/(\d{1,2})$/.exec(arg);
      const a = m ? parseIpv4Addr(m[1]!) : null;
      const n = m ? Number(m[2]) : 99;
      if (a === null || n > 32) return this.fail(`filter: bad net ${arg ?? '(none)'}`);
      const mask = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
      const net = (a & mask) >>> 0;
      return sided(side, 'addr', (x) => x >= 0 && ((x & mask) >>> 0) === net);
    }
    const p = arg !== undefined && /^\d{1,5}$/.test(arg) ? Number(arg) : -1;
    if (!(p >= 0 && p <= 65535)) return this.fail(`filter: bad port ${arg ?? '(none)'}`);
    return sided(side, 'port', (x) => x === p);
  }

  /** The first token not parsed, if any. */
  get rest(): string | undefined {
    return this.toks[this.i];
  }
}

/** Parses a filter; an empty text takes everything. */
export function parseFilter(text: string): { filter: PacketFilter } | { error: string } {
  if (text.length > MAX_FILTER_TEXT) return { error: 'filter: too long' };
  const toks = text.replace(/(&&|\|\||[()!])/g, ' $1 ').split(/\s+/).filter((x) => x !== '');
  if (toks.length === 0) return { filter: () => true };
  const p = new Parser(toks);
  const filter = p.expr(0);
  if (p.error !== null) return { error: p.error };
  if (p.rest !== undefined) return { error: `filter: unexpected ${p.rest}` };
  return { filter };
}
