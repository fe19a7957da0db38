/**
 * Plan 9 IP address text (libip eipfmt.c, parseip.c).
 *
 * Every address is 16 bytes; IPv4 is the v4-mapped form ::ffff:a.b.c.d.
 * %I prints v4-mapped addresses as dotted quads, IPv6 with the longest run
 * of zero groups (even a single one) as "::". %M prints contiguous masks as
 * /N counting all 128 bits (an IPv4 /24 prints as /120).
 */

export type Ip = Uint8Array;

const V4PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

export const IPnoaddr: Ip = new Uint8Array(16);

export function v4(a: number, b: number, c: number, d: number): Ip {
  const ip = new Uint8Array(16);
  ip[10] = 0xff;
  ip[11] = 0xff;
  ip[12] = a; ip[13] = b; ip[14] = c; ip[15] = d;
  return ip;
}

export function isV4(ip: Ip): boolean {
  for (let i = 0; i < 12; i++) if (ip[i] !== V4PREFIX[i]) return false;
  return true;
}

export function isUnspecified(ip: Ip): boolean {
  for (let i = 0; i < 16; i++) if (ip[i] !== 0) return false;
  return true;
}

export function ipEqual(a: Ip, b: Ip): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Parse a dotted IPv4 address, accepting Plan 9's classful short forms (10.1 = 10.0.0.1). */
function parseV4(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length < 1 || parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    nums.push(n);
  }
  // Plan 9 v4parseip fills short forms by address class.
  const to = [0, 0, 0, 0];
  nums.forEach((n, i) => { to[i] = n; });
  const cls = to[0]! >> 6;
  if (cls <= 1) {
    if (nums.length === 3) { to[3] = to[2]!; to[2] = to[1]!; to[1] = 0; }
    else if (nums.length === 2) { to[3] = to[1]!; to[1] = 0; }
  } else if (cls === 2 && nums.length === 3) {
    to[3] = to[2]!; to[2] = 0;
  }
  return to;
}

/** Parse an address (dotted quad, IPv6, IPv6 ending in a dotted quad); null if not one. */
export function parseIp(s: string): Ip | null {
  if (s === '') return null;
  if (!s.includes(':')) {
    const q = parseV4(s);
    return q ? v4(q[0]!, q[1]!, q[2]!, q[3]!) : null;
  }
  const ip = new Uint8Array(16);
  let head = s;
  let tail = '';
  const dbl = s.indexOf('::');
  if (dbl >= 0) {
    if (s.indexOf('::', dbl + 1) >= 0) return null;
    head = s.slice(0, dbl);
    tail = s.slice(dbl + 2);
  }
  const groups = (t: string): number[] | null => {
    if (t === '') return [];
    const out: number[] = [];
    const fs = t.split(':');
    for (let i = 0; i < fs.length; i++) {
      const f = fs[i]!;
      if (i === fs.length - 1 && f.includes('.')) {
        const q = parseV4(f);
        if (!q || f.split('.').length !== 4) return null;
        out.push((q[0]! << 8) | q[1]!, (q[2]! << 8) | q[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(f)) return null;
        out.push(parseInt(f, 16));
      }
    }
    return out;
  };
  const h = groups(head);
  const t = groups(tail);
  if (!h || !t) return null;
  if (dbl < 0 ? h.length !== 8 : h.length + t.length > 7) return null;
  const all = dbl < 0 ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  for (let i = 0; i < 8; i++) {
    ip[2 * i] = all[i]! >> 8;
    ip[2 * i + 1] = all[i]! & 0xff;
  }
  return ip;
}

/** %I */
export function formatIp(ip: Ip): string {
  if (isV4(ip)) return `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((ip[2 * i]! << 8) | ip[2 * i + 1]!);
  // Longest run of zero groups (first on ties), even a single one.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return g.map((x) => x.toString(16)).join(':');
  const left = g.slice(0, best).map((x) => x.toString(16)).join(':');
  const right = g.slice(best + bestLen).map((x) => x.toString(16)).join(':');
  return `${left}::${right}`;
}

/** A mask of `bits` leading ones over 128 bits. */
export function prefixMask(bits: number): Ip {
  const m = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const b = Math.max(0, Math.min(8, bits - 8 * i));
    m[i] = (0xff << (8 - b)) & 0xff;
  }
  return m;
}

/** %M */
export function formatMask(m: Ip): string {
  let bits = 0;
  let i = 0;
  for (; i < 16 && m[i] === 0xff; i++) bits += 8;
  if (i < 16) {
    const b = m[i]!;
    let n = 0;
    while (n < 8 && b & (0x80 >> n)) n++;
    if (((0xff << (8 - n)) & 0xff) !== b) return formatIp(m);
    bits += n;
    for (i++; i < 16; i++) if (m[i] !== 0) return formatIp(m);
  }
  return `/${bits}`;
}

/** Parse a mask: dotted/IPv6 form, or /N (N ≤ 32 for an IPv4 context adds 96). */
export function parseMask(s: string, v4context = true): Ip | null {
  if (s.startsWith('/')) {
    if (!/^\/\d{1,3}$/.test(s)) return null;
    let n = Number(s.slice(1));
    if (v4context && n <= 32) n += 96;
    if (n > 128) return null;
    return prefixMask(n);
  }
  const ip = parseIp(s);
  if (!ip) return null;
  if (isV4(ip)) {
    // A dotted IPv4 mask covers the v4-mapped prefix too.
    for (let i = 0; i < 12; i++) ip[i] = 0xff;
  }
  return ip;
}

/** An address as Node's net module prints it (v4-mapped IPv6 as "::ffff:a.b.c.d" too). */
export function fromNodeAddress(s: string): Ip | null {
  const clean = s.replace(/%.*$/, '');
  return parseIp(clean);
}

/** The string Node's socket APIs take: %I already gives a dotted quad for IPv4 and IPv6 text otherwise. */
export function toNodeAddress(ip: Ip): string {
  return formatIp(ip);
}

/** The 4 bytes of an IPv4 address as an unsigned 32-bit number. */
export function v4ToU32(ip: Ip): number {
  return ((ip[12]! << 24) | (ip[13]! << 16) | (ip[14]! << 8) | ip[15]!) >>> 0;
}

export function u32ToV4(n: number): Ip {
  return v4((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}
