/**
 * DNS messages (RFC 1035 §4; AAAA RFC 3596, SRV RFC 2782, TXT §3.3.14),
 * both directions: queries and answers, as a resolver sends and reads them
 * and as a server or forwarder reads and writes them.
 *
 *     +---------------------+
 *     |        Header       |  id, flags (QR opcode AA TC RD RA Z rcode), four counts
 *     +---------------------+
 *     |       Question      |  QNAME QTYPE QCLASS
 *     +---------------------+
 *     |        Answer       |  resource records: NAME TYPE CLASS TTL RDLENGTH RDATA
 *     +---------------------+
 *     |      Authority      |
 *     +---------------------+
 *     |      Additional     |
 *     +---------------------+
 *
 * Names are text: labels joined by `.`, no trailing dot, the root is ``.
 * A `.` or `\` inside a label is written `\.` / `\\`, other bytes outside
 * printable ASCII as `\DDD` (RFC 4343 §2.1), so every name on the wire has
 * one text form and emits back to the same bytes.
 *
 * parseDns never throws: counts that claim more records than the message
 * can hold are `truncated` before any record is read, compression pointers
 * must point strictly backwards (so a chain cannot loop: `bad pointer`),
 * labels are at most 63 bytes and names 255 (`bad name`), and every RDATA
 * must be consumed exactly by its type's layout (`bad length`). Types we do
 * not interpret keep their RDATA as bytes. Emitting compresses names
 * (§4.1.4) and can cut a message to a size limit, setting TC (RFC 2181 §9).
 */
import { get16, get32, put16, put32 } from './bytes.js';
import { WireError } from './result.js';

/** Bytes in the header. */
export const DNS_HEADER_LEN = 12;
/** Largest message over UDP without EDNS (RFC 1035 §4.2.1). */
export const DNS_UDP_MAX = 512;
/** Longest name on the wire, length bytes included (RFC 1035 §2.3.4). */
export const DNS_MAX_NAME = 255;
/** Longest label. */
export const DNS_MAX_LABEL = 63;
/** DNS port. */
export const DNS_PORT = 53;

/** Record types (RFC 1035 §3.2.2, RFC 3596, RFC 2782, RFC 6891). */
export const DNS_TYPE = {
  A: 1, NS: 2, MD: 3, MF: 4, CNAME: 5, SOA: 6, MB: 7, MG: 8, MR: 9, NULL: 10, WKS: 11, PTR: 12, HINFO: 13,
  MINFO: 14, MX: 15, TXT: 16, RP: 17, AAAA: 28, SRV: 33, OPT: 41, AXFR: 252, ANY: 255,
} as const;
/** The Internet class. */
export const DNS_CLASS_IN = 1;

/** Header flag bits. */
export const DNS_QR = 0x8000;
export const DNS_AA = 0x0400;
export const DNS_TC = 0x0200;
export const DNS_RD = 0x0100;
export const DNS_RA = 0x0080;

/** Response codes (RFC 1035 §4.1.1). */
export const DNS_RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

/** RDATA by layout. Types with a name for data (NS, CNAME, PTR, MB, MD, MF, MG, MR) share `name`. */
export type DnsRData =
  | { kind: 'a'; address: number }
  | { kind: 'aaaa'; address: Uint8Array }
  | { kind: 'name'; name: string }
  | { kind: 'mx'; preference: number; exchange: string }
  | { kind: 'txt'; strings: Uint8Array[] }
  | { kind: 'soa'; mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number }
  | { kind: 'srv'; priority: number; weight: number; port: number; target: string }
  | { kind: 'raw'; data: Uint8Array };

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  /** Seconds (u32). */
  ttl: number;
  data: DnsRData;
}

export interface DnsMessage {
  id: number;
  /** The 16 flag bits: DNS_QR, opcode << 11, DNS_AA, DNS_TC, DNS_RD, DNS_RA, rcode. */
  flags: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authority: DnsRecord[];
  additional: DnsRecord[];
}

/** The rcode of a header's flags. */
export function dnsRcode(flags: number): number {
  return flags & 0xf;
}

/** The opcode of a header's flags. */
export function dnsOpcode(flags: number): number {
  return (flags >>> 11) & 0xf;
}

const NAME_TYPES: ReadonlySet<number> = new Set([
  DNS_TYPE.NS, DNS_TYPE.MD, DNS_TYPE.MF, DNS_TYPE.CNAME, DNS_TYPE.MB, DNS_TYPE.MG, DNS_TYPE.MR, DNS_TYPE.PTR,
]);

// ------------------------------------------------------------------
// Parsing

interface NameAt {
  name: string;
  /** Offset just past the name where it started (pointers end it after 2 bytes). */
  end: number;
}

/** Longest pointer chain followed; strictly backward pointers make this a second guard. */
const MAX_POINTERS = 128;

function labelText(b: Uint8Array, o: number, n: number): string {
  let s = '';
  for (let i = o; i < o + n; i++) {
    const c = b[i]!;
    if (c === 0x2e || c === 0x5c) s += `\\${String.fromCharCode(c)}`;
    else if (c > 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += `\\${String(c).padStart(3, '0')}`;
  }
  return s;
}

/** Reads a possibly compressed name at `o`; `limit` is where the enclosing field ends. */
function readName(b: Uint8Array, o: number, limit: number): NameAt | WireError {
  const labels: string[] = [];
  let wire = 1; // the terminating zero
  let end = -1;
  let pos = o;
  let lowest = o;
  let hops = 0;
  let bound = limit;
  for (;;) {
    if (pos >= bound) return WireError.truncated;
    const len = b[pos]!;
    if (len === 0) {
      if (end < 0) end = pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= bound) return WireError.truncated;
      const target = ((len & 0x3f) << 8) | b[pos + 1]!;
      if (end < 0) end = pos + 2;
      // RFC 1035 §4.1.4: a pointer refers to a prior occurrence; anything else could loop.
      if (target >= lowest || ++hops > MAX_POINTERS) return WireError.badPointer;
      lowest = target;
      pos = target;
      bound = b.length;
      continue;
    }
    if (kind !== 0) return WireError.badName;
    if (pos + 1 + len > bound) return WireError.truncated;
    wire += len + 1;
    if (wire > DNS_MAX_NAME) return WireError.badName;
    labels.push(labelText(b, pos + 1, len));
    pos += 1 + len;
  }
  return { name: labels.join('.'), end };
}

function parseRData(b: Uint8Array, type: number, o: number, n: number): DnsRData | WireError {
  const end = o + n;
  const nameAt = (p: number): NameAt | WireError => readName(b, p, end);
  if (type === DNS_TYPE.A) return n === 4 ? { kind: 'a', address: get32(b, o) } : WireError.badLength;
  if (type === DNS_TYPE.AAAA) return n === 16 ? { kind: 'aaaa', address: b.slice(o, end) } : WireError.badLength;
  if (NAME_TYPES.has(type)) {
    const r = nameAt(o);
    if (r instanceof WireError) return r;
    return r.end === end ? { kind: 'name', name: r.name } : WireError.badLength;
  }
  if (type === DNS_TYPE.MX) {
    if (n < 3) return WireError.badLength;
    const r = nameAt(o + 2);
    if (r instanceof WireError) return r;
    return r.end === end ? { kind: 'mx', preference: get16(b, o), exchange: r.name } : WireError.badLength;
  }
  if (type === DNS_TYPE.TXT) {
    const strings: Uint8Array[] = [];
    let p = o;
    while (p < end) {
      const len = b[p]!;
      if (p + 1 + len > end) return WireError.badLength;
      strings.push(b.slice(p + 1, p + 1 + len));
      p += 1 + len;
    }
    return { kind: 'txt', strings };
  }
  if (type === DNS_TYPE.SOA) {
    const m = nameAt(o);
    if (m instanceof WireError) return m;
    const r = nameAt(m.end);
    if (r instanceof WireError) return r;
    if (r.end + 20 !== end) return WireError.badLength;
    const p = r.end;
    return {
      kind: 'soa', mname: m.name, rname: r.name, serial: get32(b, p), refresh: get32(b, p + 4),
      retry: get32(b, p + 8), expire: get32(b, p + 12), minimum: get32(b, p + 16),
    };
  }
  if (type === DNS_TYPE.SRV) {
    if (n < 7) return WireError.badLength;
    const t = nameAt(o + 6);
    if (t instanceof WireError) return t;
    if (t.end !== end) return WireError.badLength;
    return { kind: 'srv', priority: get16(b, o), weight: get16(b, o + 2), port: get16(b, o + 4), target: t.name };
  }
  return { kind: 'raw', data: b.slice(o, end) };
}

function parseRecord(b: Uint8Array, o: number, out: DnsRecord[]): number | WireError {
  const n = readName(b, o, b.length);
  if (n instanceof WireError) return n;
  const p = n.end;
  if (p + 10 > b.length) return WireError.truncated;
  const type = get16(b, p);
  const rdlen = get16(b, p + 8);
  if (p + 10 + rdlen > b.length) return WireError.truncated;
  const data = parseRData(b, type, p + 10, rdlen);
  if (data instanceof WireError) return data;
  out.push({ name: n.name, type, class: get16(b, p + 2), ttl: get32(b, p + 4), data });
  return p + 10 + rdlen;
}

/** Parses a whole message (a UDP payload, or a TCP message without its length prefix). Never throws. */
export function parseDns(b: Uint8Array): DnsMessage | WireError {
  if (b.length < DNS_HEADER_LEN) return WireError.truncated;
  const qd = get16(b, 4);
  const an = get16(b, 6);
  const ns = get16(b, 8);
  const ar = get16(b, 10);
  // Smallest question: root name + type + class (5 bytes); smallest record: 11.
  if (DNS_HEADER_LEN + 5 * qd + 11 * (an + ns + ar) > b.length) return WireError.truncated;
  const msg: DnsMessage = { id: get16(b, 0), flags: get16(b, 2), questions: [], answers: [], authority: [], additional: [] };
  let o = DNS_HEADER_LEN;
  for (let i = 0; i < qd; i++) {
    const n = readName(b, o, b.length);
    if (n instanceof WireError) return n;
    if (n.end + 4 > b.length) return WireError.truncated;
    msg.questions.push({ name: n.name, type: get16(b, n.end), class: get16(b, n.end + 2) });
    o = n.end + 4;
  }
  const sections: [number, DnsRecord[]][] = [[an, msg.answers], [ns, msg.authority], [ar, msg.additional]];
  for (const [count, into] of sections) {
    for (let i = 0; i < count; i++) {
      const r = parseRecord(b, o, into);
      if (r instanceof WireError) return r;
      o = r;
    }
  }
  return msg;
}

// ------------------------------------------------------------------
// Names as text

/** The wire labels of a text name (escapes decoded); null if it is not a valid name. */
export function nameLabels(name: string): Uint8Array[] | null {
  if (name === '' || name === '.') return [];
  const labels: Uint8Array[] = [];
  let cur: number[] = [];
  let total = 1;
  const s = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) {
      const d = /^\d{3}/.exec(s.slice(i + 1));
      if (d) {
        const v = Number(d[0]);
        if (v > 255) return null;
        cur.push(v);
        i += 3;
      } else if (i + 1 < s.length) {
        cur.push(s.charCodeAt(++i) & 0xff);
      } else return null;
      continue;
    }
    if (c === 0x2e) {
      if (cur.length === 0 || cur.length > DNS_MAX_LABEL) return null;
      labels.push(Uint8Array.from(cur));
      total += cur.length + 1;
      cur = [];
      continue;
    }
    if (c > 0xff) {
      for (const x of Buffer.from(s[i]!, 'utf8')) cur.push(x);
      continue;
    }
    cur.push(c);
  }
  if (cur.length === 0 || cur.length > DNS_MAX_LABEL) return null;
  labels.push(Uint8Array.from(cur));
  total += cur.length + 1;
  return total > DNS_MAX_NAME ? null : labels;
}

/** True if `name` can be sent. */
export function isDnsName(name: string): boolean {
  return nameLabels(name) !== null;
}

/** Case-insensitive comparison of two text names (RFC 4343). */
export function sameName(a: string, b: string): boolean {
  return a.length === b.length && a.toLowerCase() === b.toLowerCase();
}

/** The reverse-lookup name of an IPv4 address: `d.c.b.a.in-addr.arpa` (RFC 1035 §3.5). */
export function ptrName4(addr: number): string {
  return `${addr & 0xff}.${(addr >>> 8) & 0xff}.${(addr >>> 16) & 0xff}.${addr >>> 24}.in-addr.arpa`;
}

/** The reverse-lookup name of a 16-byte IPv6 address: nibbles under `ip6.arpa` (RFC 3596 §2.5). */
export function ptrName6(addr: Uint8Array): string {
  let s = '';
  for (let i = 15; i >= 0; i--) s += `${(addr[i]! & 0xf).toString(16)}.${(addr[i]! >>> 4).toString(16)}.`;
  return `${s}ip6.arpa`;
}

// ------------------------------------------------------------------
// Emitting

/** Options of {@link emitDns}. */
export interface DnsEmitOptions {
  /** Compress names (default true). */
  compress?: boolean;
  /**
   * Largest message: records that do not fit are left out and TC is set
   * (RFC 2181 §9: whole records only). Default: no limit but 65535.
   */
  maxLength?: number;
}

class Writer {
  buf: Uint8Array;
  len = 0;
  private readonly names = new Map<string, number>();

  constructor(private readonly compress: boolean) {
    this.buf = new Uint8Array(512);
  }

  room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    if (this.len + n > 0xffff) throw new RangeError('emit dns: message over 65535 bytes');
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(Math.min(size, 0xffff));
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.len++] = v;
  }
  u16(v: number): void {
    this.room(2);
    put16(this.buf, this.len, v);
    this.len += 2;
  }
  u32(v: number): void {
    this.room(4);
    put32(this.buf, this.len, v);
    this.len += 4;
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  name(text: string, compressible = true): void {
    const labels = nameLabels(text);
    if (labels === null) throw new RangeError(`emit dns: bad name ${JSON.stringify(text)}`);
    for (let i = 0; i < labels.length; i++) {
      const key = labels.slice(i).map((l) => Buffer.from(l).toString('latin1').toLowerCase()).join('.');
      const at = this.compress && compressible ? this.names.get(key) : undefined;
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.compress && this.len < 0x4000) this.names.set(key, this.len);
      this.u8(labels[i]!.length);
      this.bytes(labels[i]!);
    }
    this.u8(0);
  }
  /** Forgets compression targets at or after `len` (after a cut). */
  cut(len: number): void {
    this.len = len;
    for (const [k, v] of this.names) if (v >= len) this.names.delete(k);
  }
}

function writeRData(w: Writer, r: DnsRecord): void {
  const at = w.len;
  w.u16(0);
  const d = r.data;
  switch (d.kind) {
    case 'a':
      w.u32(d.address);
      break;
    case 'aaaa':
      if (d.address.length !== 16) throw new RangeError('emit dns: AAAA needs 16 bytes');
      w.bytes(d.address);
      break;
    case 'name':
      w.name(d.name);
      break;
    case 'mx':
      w.u16(d.preference);
      w.name(d.exchange);
      break;
    case 'txt':
      for (const s of d.strings) {
        if (s.length > 255) throw new RangeError('emit dns: TXT string over 255 bytes');
        w.u8(s.length);
        w.bytes(s);
      }
      break;
    case 'soa':
      w.name(d.mname);
      w.name(d.rname);
      w.u32(d.serial);
      w.u32(d.refresh);
      w.u32(d.retry);
      w.u32(d.expire);
      w.u32(d.minimum);
      break;
    case 'srv':
      w.u16(d.priority);
      w.u16(d.weight);
      w.u16(d.port);
      w.name(d.target, false); // RFC 2782: the target is not compressed
      break;
    case 'raw':
      w.bytes(d.data);
      break;
  }
  put16(w.buf, at, w.len - at - 2);
}

/**
 * Serializes a message. Throws RangeError on a name that cannot be sent or
 * a message over 65535 bytes (caller errors: reprs are trusted here).
 */
export function emitDns(msg: DnsMessage, opts: DnsEmitOptions = {}): Uint8Array {
  const w = new Writer(opts.compress ?? true);
  const max = Math.min(opts.maxLength ?? 0xffff, 0xffff);
  let flags = msg.flags;
  w.u16(msg.id);
  w.u16(flags);
  w.u16(msg.questions.length);
  w.u16(0);
  w.u16(0);
  w.u16(0);
  for (const q of msg.questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  const counts = [0, 0, 0];
  const sections = [msg.answers, msg.authority, msg.additional];
  let full = false;
  for (let s = 0; s < 3 && !full; s++) {
    for (const r of sections[s]!) {
      const start = w.len;
      w.name(r.name);
      w.u16(r.type);
      w.u16(r.class);
      w.u32(r.ttl >>> 0);
      writeRData(w, r);
      if (w.len > max) {
        w.cut(start);
        // Only a cut in the answer or authority section means the answer is incomplete.
        if (s < 2) flags |= DNS_TC;
        full = true;
        break;
      }
      counts[s]!++;
    }
  }
  put16(w.buf, 2, flags);
  put16(w.buf, 6, counts[0]!);
  put16(w.buf, 8, counts[1]!);
  put16(w.buf, 10, counts[2]!);
  return w.buf.slice(0, w.len);
}

/** A recursive query for one name and type (RD set), as a stub resolver sends it. */
export function dnsQuery(id: number, name: string, type: number): DnsMessage {
  return { id, flags: DNS_RD, questions: [{ name, type, class: DNS_CLASS_IN }], answers: [], authority: [], additional: [] };
}
