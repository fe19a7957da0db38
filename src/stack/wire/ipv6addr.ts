/**
 * IPv6 addresses (RFC 4291) as the stack represents them.
 *
 * An address is an `Ip6`: a 16-byte Uint8Array in network order, the
 * layout Plan 9 gives every address (devip keeps 16 bytes, IPv4 as
 * v4-in-v6) and the one netfs/ipaddr.ts already uses for /net text, so the
 * /net layer takes the stack's IPv6 addresses as they are. Reprs and tables
 * hold their own copies (never a view into a frame), so an Ip6 is not
 * changed once made. Where an address is a Map key it is turned into an
 * `Ip6Key`, the eight 16-bit groups as one 8-code-unit string: cheap to make
 * and to hash, and exact (lone surrogates are fine in Map keys). IPv4 stays
 * a u32 in the IPv4 paths; phase 2 (stack/ipv6.ts) says where the two meet.
 *
 * Text: {@link parseIpv6Addr} takes RFC 4291 §2.2 forms (with `::` and a
 * trailing dotted quad); {@link formatIpv6} writes RFC 5952's canonical form
 * (lowercase, the longest run of two or more zero groups as `::`, the first
 * on ties). Plan 9's %I (netfs/ipaddr.ts) differs only in compressing a
 * single zero group too; /net text goes through that one.
 */

/** An IPv6 address: 16 bytes, network order. */
export type Ip6 = Uint8Array;
/** An Ip6 as a Map key (see {@link ip6Key}). */
export type Ip6Key = string;

/** Bytes in an address. */
export const IP6_LEN = 16;

function fromGroups(...g: number[]): Ip6 {
  const a = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    a[2 * i] = (g[i] ?? 0) >>> 8;
    a[2 * i + 1] = (g[i] ?? 0) & 0xff;
  }
  return a;
}

/** :: (RFC 4291 §2.5.2). */
export const IP6_UNSPECIFIED: Ip6 = new Uint8Array(16);
/** ::1 (RFC 4291 §2.5.3). */
export const IP6_LOOPBACK: Ip6 = fromGroups(0, 0, 0, 0, 0, 0, 0, 1);
/** ff02::1, all nodes on the link (RFC 4291 §2.7.1). */
export const IP6_ALL_NODES: Ip6 = fromGroups(0xff02, 0, 0, 0, 0, 0, 0, 1);
/** ff02::2, all routers on the link. */
export const IP6_ALL_ROUTERS: Ip6 = fromGroups(0xff02, 0, 0, 0, 0, 0, 0, 2);
/** ff02::16, where MLDv2 reports go (RFC 3810 §5.2.14). */
export const IP6_ALL_MLDV2_ROUTERS: Ip6 = fromGroups(0xff02, 0, 0, 0, 0, 0, 0, 0x16);
/** fe80::/64, the link-local prefix (RFC 4291 §2.5.6). */
export const IP6_LINK_LOCAL_PREFIX: Ip6 = fromGroups(0xfe80);

/** A copy of the 16 bytes at `b[o..]` (caller checked the length). */
export function readIp6(b: Uint8Array, o: number): Ip6 {
  return b.slice(o, o + 16);
}

/** Writes `a` at `out[o..]`. */
export function writeIp6(out: Uint8Array, o: number, a: Ip6): void {
  out.set(a, o);
}

/** The Map key of the address at `b[o..]` (eight 16-bit groups as code units). */
export function ip6Key(b: Uint8Array, o = 0): Ip6Key {
  return String.fromCharCode(
    (b[o]! << 8) | b[o + 1]!, (b[o + 2]! << 8) | b[o + 3]!, (b[o + 4]! << 8) | b[o + 5]!, (b[o + 6]! << 8) | b[o + 7]!,
    (b[o + 8]! << 8) | b[o + 9]!, (b[o + 10]! << 8) | b[o + 11]!, (b[o + 12]! << 8) | b[o + 13]!, (b[o + 14]! << 8) | b[o + 15]!,
  );
}

/** The address of a key. */
export function ip6FromKey(k: Ip6Key): Ip6 {
  const a = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = k.charCodeAt(i);
    a[2 * i] = g >>> 8;
    a[2 * i + 1] = g & 0xff;
  }
  return a;
}

/** True if the 16 bytes at `b[o..]` are `a`. */
export function ip6EqualAt(b: Uint8Array, o: number, a: Ip6): boolean {
  for (let i = 0; i < 16; i++) if (b[o + i] !== a[i]) return false;
  return true;
}

/** True if `a` and `b` are the same address. */
export function ip6Equal(a: Ip6, b: Ip6): boolean {
  return ip6EqualAt(a, 0, b);
}

/** True for :: */
export function ip6IsUnspecified(a: Ip6): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== 0) return false;
  return true;
}

/** True for ::1 */
export function ip6IsLoopback(a: Ip6): boolean {
  return ip6Equal(a, IP6_LOOPBACK);
}

/** True for ff00::/8 (RFC 4291 §2.7). */
export function ip6IsMulticast(a: Ip6): boolean {
  return a[0] === 0xff;
}

/** True for fe80::/10 (RFC 4291 §2.5.6). */
export function ip6IsLinkLocal(a: Ip6): boolean {
  return a[0] === 0xfe && (a[1]! & 0xc0) === 0x80;
}

/** True for ::ffff:0:0/96, IPv4-mapped (RFC 4291 §2.5.5.2): never on the wire. */
export function ip6IsV4Mapped(a: Ip6): boolean {
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return a[10] === 0xff && a[11] === 0xff;
}

/** The scope of a multicast address (its low 4 bits of byte 1: 1 interface, 2 link, 5 site, 0xe global). */
export function ip6MulticastScope(a: Ip6): number {
  return a[1]! & 0x0f;
}

/** True for addresses only meaningful on one link: link-local unicast and link- or interface-scope multicast. */
export function ip6IsLinkScoped(a: Ip6): boolean {
  return ip6IsLinkLocal(a) || (ip6IsMulticast(a) && ip6MulticastScope(a) <= 2);
}

/** The solicited-node multicast address of `a`: ff02::1:ff00:0/104 + its low 24 bits (RFC 4291 §2.7.1). */
export function ip6SolicitedNode(a: Ip6): Ip6 {
  const m = fromGroups(0xff02, 0, 0, 0, 0, 1, 0xff00, 0);
  m[13] = a[13]!;
  m[14] = a[14]!;
  m[15] = a[15]!;
  return m;
}

/** True if `a` is a solicited-node multicast address. */
export function ip6IsSolicitedNode(a: Ip6): boolean {
  const p = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff];
  for (let i = 0; i < 13; i++) if (a[i] !== p[i]) return false;
  return true;
}

/** The Ethernet group MAC of a multicast address: 33:33 + its low 32 bits (RFC 2464 §7), as a 48-bit integer. */
export function ip6MulticastMac(a: Ip6): number {
  return 0x3333_0000_0000 + (((a[12]! << 24) | (a[13]! << 16) | (a[14]! << 8) | a[15]!) >>> 0);
}

/** True if the first `len` bits of `a` and `b` agree. */
export function ip6PrefixMatch(a: Ip6, b: Ip6, len: number): boolean {
  const full = len >>> 3;
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return false;
  const rest = len & 7;
  if (rest === 0) return true;
  const m = (0xff << (8 - rest)) & 0xff;
  return (a[full]! & m) === (b[full]! & m);
}

/** Number of leading bits `a` and `b` share (0..128; RFC 6724 §2.2 CommonPrefixLen). */
export function ip6CommonPrefixLen(a: Ip6, b: Ip6): number {
  for (let i = 0; i < 16; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return 128;
}

/** `a` with every bit after the first `len` cleared. */
export function ip6Masked(a: Ip6, len: number): Ip6 {
  const out = a.slice();
  for (let i = 0; i < 16; i++) {
    const keep = len - 8 * i;
    if (keep >= 8) continue;
    out[i] = keep <= 0 ? 0 : out[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

/** The first 64 bits of `prefix` followed by the 8-byte interface identifier `iid` (RFC 4291 §2.5.1). */
export function ip6FromPrefixIid(prefix: Ip6, iid: Uint8Array): Ip6 {
  const a = new Uint8Array(16);
  a.set(prefix.subarray(0, 8), 0);
  a.set(iid.subarray(0, 8), 8);
  return a;
}

/**
 * Parses RFC 4291 §2.2 text: eight groups of 1–4 hex digits, one `::` for a
 * run of zero groups, the last 32 bits optionally as a strict dotted quad.
 * No zone (`%eth0`) and no prefix length. @returns the address, or null
 */
export function parseIpv6Addr(s: string): Ip6 | null {
  if (s.length < 2 || s.length > 45) return null;
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return null;
  const groups = (t: string, last: boolean): number[] | null => {
    if (t === '') return [];
    const out: number[] = [];
    const parts = t.split(':');
    for (let i = 0; i < parts.length; i++) {
      const f = parts[i]!;
      if (last && i === parts.length - 1 && f.includes('.')) {
        const m = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(f);
        if (m === null) return null;
        const q = [1, 2, 3, 4].map((k) => Number(m[k]));
        if (q.some((x) => x > 255)) return null;
        out.push((q[0]! << 8) | q[1]!, (q[2]! << 8) | q[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(f)) return null;
        out.push(parseInt(f, 16));
      }
    }
    return out;
  };
  let all: number[];
  if (dbl < 0) {
    const g = groups(s, true);
    if (g === null || g.length !== 8) return null;
    all = g;
  } else {
    const h = groups(s.slice(0, dbl), false);
    const t = groups(s.slice(dbl + 2), true);
    if (h === null || t === null || h.length + t.length > 7) return null;
    all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  }
  return fromGroups(...all);
}

/** RFC 5952 text of an address. */
export function formatIpv6(a: Ip6): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((a[2 * i]! << 8) | a[2 * i + 1]!);
  let best = -1;
  let bestLen = 1; // a single zero group is not compressed (RFC 5952 §4.2.2)
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** Parses `addr/len` (len 0..128). @returns the masked prefix and its length, or null */
export function parseIpv6Prefix(s: string): { prefix: Ip6; len: number } | null {
  const m = /^([^/]+)\/(0|[1-9]\d{0,2})$/.exec(s);
  if (m === null) return null;
  const a = parseIpv6Addr(m[1]!);
  const len = Number(m[2]);
  if (a === null || len > 128) return null;
  return { prefix: ip6Masked(a, len), len };
}
