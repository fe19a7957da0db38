/**
 * DHCP messages (RFC 2131 §2; options RFC 2132; BOOTP RFC 951), both
 * directions: what a client sends (DISCOVER, REQUEST, DECLINE, RELEASE,
 * INFORM) and what a server sends (OFFER, ACK, NAK).
 *
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     +---------------+---------------+---------------+---------------+
 *     |     op (1)    |   htype (1)   |   hlen (1)    |   hops (1)    |
 *     +---------------+---------------+---------------+---------------+
 *     |                            xid (4)                            |
 *     +-------------------------------+-------------------------------+
 *     |           secs (2)            |           flags (2)           |
 *     +-------------------------------+-------------------------------+
 *     |  ciaddr (4)  yiaddr (4)  siaddr (4)  giaddr (4)               |
 *     |  chaddr (16)  sname (64)  file (128)                          |
 *     +---------------------------------------------------------------+
 *     |  magic cookie 99.130.83.99, then options: code, length, value |
 *     +---------------------------------------------------------------+
 *
 * Options are decoded into typed fields where RFC 2132 gives them a layout
 * (each length checked: `bad option`), the rest kept as bytes. A repeated
 * option is one option whose value is the concatenation (RFC 3396), and the
 * `file`/`sname` fields hold more options when option 52 says so (RFC 2131
 * §4.1). parseDhcp never throws; emitDhcp splits values over 255 bytes and
 * pads the message to BOOTP's 300 bytes (RFC 951's 64-byte vendor area).
 */
import { get16, get32, put16, put32 } from './bytes.js';
import { WireError } from './result.js';

/** The fixed BOOTP part, before the magic cookie. */
export const DHCP_FIXED_LEN = 236;
/** The fixed part plus the magic cookie. */
export const DHCP_MIN_LEN = 240;
/** Smallest message we emit (RFC 951: 300-byte BOOTP messages). */
export const BOOTP_MIN_LEN = 300;
/** RFC 2131 §2: every host accepts 576-byte IP datagrams, so 548 bytes of DHCP. */
export const DHCP_DEFAULT_MAX = 576 - 20 - 8;
/** Server and client UDP ports. */
export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
/** The magic cookie. */
export const DHCP_MAGIC = 0x63825363;
/** `op` values. */
export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
/** The broadcast bit of `flags` (RFC 2131 §4.1). */
export const DHCP_BROADCAST_FLAG = 0x8000;
/** Ethernet's `htype`. */
export const HTYPE_ETHER = 1;
/** A lease that never ends (option 51 value). */
export const DHCP_INFINITE = 0xffffffff;

/** Message types, option 53 (RFC 2132 §9.6). */
export const DHCP_MSG = {
  DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8,
} as const;

/** Option codes with a typed field. */
export const DHCP_OPT = {
  PAD: 0, SUBNET_MASK: 1, ROUTER: 3, DNS: 6, HOSTNAME: 12, DOMAIN: 15, MTU: 26, BROADCAST: 28,
  REQUESTED_IP: 50, LEASE_TIME: 51, OVERLOAD: 52, MESSAGE_TYPE: 53, SERVER_ID: 54, PARAMS: 55,
  MESSAGE: 56, MAX_SIZE: 57, RENEWAL: 58, REBINDING: 59, CLIENT_ID: 61, END: 255,
} as const;

/** Options with a layout of their own; anything else is in `other`. */
export interface DhcpOptions {
  /** 53 */
  messageType?: number;
  /** 1 */
  subnetMask?: number;
  /** 3: in order of preference. */
  routers?: number[];
  /** 6 */
  dnsServers?: number[];
  /** 12 */
  hostname?: string;
  /** 15 */
  domainName?: string;
  /** 26: interface MTU, ≥ 68 (smaller values are dropped when parsing). */
  mtu?: number;
  /** 28 */
  broadcast?: number;
  /** 50 */
  requestedIp?: number;
  /** 51, seconds (DHCP_INFINITE: forever). */
  leaseTime?: number;
  /** 54 */
  serverId?: number;
  /** 55: option codes asked for. */
  paramRequest?: number[];
  /** 56: an error text (NAK) or a client's reason (DECLINE). */
  message?: string;
  /** 57: ≥ 576 (smaller values are dropped when parsing). */
  maxMessageSize?: number;
  /** 58 (T1), seconds. */
  renewalTime?: number;
  /** 59 (T2), seconds. */
  rebindingTime?: number;
  /** 61 */
  clientId?: Uint8Array;
  /** Every other option, by code, in the order received. */
  other: Map<number, Uint8Array>;
}

export interface DhcpRepr {
  op: number;
  htype: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: number;
  yiaddr: number;
  siaddr: number;
  giaddr: number;
  /** The client hardware address (hlen bytes, ≤ 16). */
  chaddr: Uint8Array;
  /** Server host name ('' when absent or holding options). */
  sname: string;
  /** Boot file name ('' when absent or holding options). */
  file: string;
  options: DhcpOptions;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/** Adds the options found in `b[o..end)` to `into`, concatenating repeats. */
function scanOptions(b: Uint8Array, o: number, end: number, into: Map<number, Uint8Array>): WireError | null {
  while (o < end) {
    const code = b[o]!;
    if (code === DHCP_OPT.PAD) {
      o++;
      continue;
    }
    if (code === DHCP_OPT.END) return null;
    if (o + 1 >= end) return WireError.badOption;
    const len = b[o + 1]!;
    if (o + 2 + len > end) return WireError.badOption;
    const v = b.subarray(o + 2, o + 2 + len);
    const old = into.get(code);
    if (old === undefined) into.set(code, v);
    else {
      const joined = new Uint8Array(old.length + v.length);
      joined.set(old);
      joined.set(v, old.length);
      into.set(code, joined);
    }
    o += 2 + len;
  }
  return null;
}

function cString(b: Uint8Array, o: number, n: number): string {
  let e = o;
  while (e < o + n && b[e] !== 0) e++;
  return decoder.decode(b.subarray(o, e));
}

function addrs(v: Uint8Array, min: number): number[] | null {
  if (v.length < min || v.length % 4 !== 0) return null;
  const out: number[] = [];
  for (let i = 0; i < v.length; i += 4) out.push(get32(v, i));
  return out;
}

type U32Field = 'serverId' | 'requestedIp' | 'leaseTime' | 'renewalTime' | 'rebindingTime' | 'subnetMask' | 'broadcast';
type ListField = 'routers' | 'dnsServers';
type TextField = 'hostname' | 'domainName' | 'message';
type U16Field = 'mtu' | 'maxMessageSize';

/** Options holding one u32 (an address or seconds), in emission order. */
const U32_FIELDS: readonly [number, U32Field][] = [
  [DHCP_OPT.SERVER_ID, 'serverId'], [DHCP_OPT.REQUESTED_IP, 'requestedIp'], [DHCP_OPT.LEASE_TIME, 'leaseTime'],
  [DHCP_OPT.RENEWAL, 'renewalTime'], [DHCP_OPT.REBINDING, 'rebindingTime'], [DHCP_OPT.SUBNET_MASK, 'subnetMask'],
  [DHCP_OPT.BROADCAST, 'broadcast'],
];
/** Options holding one or more addresses. */
const LIST_FIELDS: readonly [number, ListField][] = [[DHCP_OPT.ROUTER, 'routers'], [DHCP_OPT.DNS, 'dnsServers']];
/** Options holding text (ending at a NUL; an empty one is as good as absent). */
const TEXT_FIELDS: readonly [number, TextField][] = [[DHCP_OPT.HOSTNAME, 'hostname'], [DHCP_OPT.DOMAIN, 'domainName'], [DHCP_OPT.MESSAGE, 'message']];
/** Options holding a u16 with a floor below which the value is ignored, not fatal. */
const U16_FIELDS: readonly [number, U16Field, number][] = [[DHCP_OPT.MTU, 'mtu', 68], [DHCP_OPT.MAX_SIZE, 'maxMessageSize', 576]];

const U32_BY_CODE = new Map(U32_FIELDS);
const LIST_BY_CODE = new Map(LIST_FIELDS);
const TEXT_BY_CODE = new Map(TEXT_FIELDS);
const U16_BY_CODE = new Map(U16_FIELDS.map(([c, k, min]) => [c, { k, min }]));

/** Typed options from raw ones; `bad option` when a known option has the wrong length. */
function typed(raw: Map<number, Uint8Array>): DhcpOptions | WireError {
  const o: DhcpOptions = { other: new Map() };
  for (const [code, v] of raw) {
    let ok = true;
    const u32 = U32_BY_CODE.get(code);
    const list = LIST_BY_CODE.get(code);
    const text = TEXT_BY_CODE.get(code);
    const u16 = U16_BY_CODE.get(code);
    if (u32 !== undefined) {
      ok = v.length === 4;
      if (ok) o[u32] = get32(v, 0);
    } else if (list !== undefined) {
      const a = addrs(v, 4);
      ok = a !== null;
      if (a) o[list] = a;
    } else if (text !== undefined) {
      ok = v.length >= 1;
      const t = cString(v, 0, v.length);
      if (t !== '') o[text] = t;
    } else if (u16 !== undefined) {
      ok = v.length === 2;
      if (ok && get16(v, 0) >= u16.min) o[u16.k] = get16(v, 0);
    } else if (code === DHCP_OPT.MESSAGE_TYPE) {
      ok = v.length === 1;
      o.messageType = v[0];
    } else if (code === DHCP_OPT.PARAMS) {
      ok = v.length >= 1;
      o.paramRequest = [...v];
    } else if (code === DHCP_OPT.CLIENT_ID) {
      ok = v.length >= 2;
      o.clientId = v.slice();
    } else if (code !== DHCP_OPT.OVERLOAD) o.other.set(code, v.slice()); // OVERLOAD: consumed by parseDhcp
    if (!ok) return WireError.badOption;
  }
  return o;
}

/**
 * Parses a DHCP message (a UDP payload). Never throws. Checks: the fixed
 * part and the cookie are there (`truncated`), the cookie is DHCP's
 * (`unsupported`: plain BOOTP), hlen ≤ 16 (`bad length`), every option
 * fits (`bad option`), known options have their layout (`bad option`).
 */
export function parseDhcp(b: Uint8Array): DhcpRepr | WireError {
  if (b.length < DHCP_MIN_LEN) return WireError.truncated;
  if (get32(b, DHCP_FIXED_LEN) !== DHCP_MAGIC) return WireError.unsupported;
  const hlen = b[2]!;
  if (hlen > 16) return WireError.badLength;
  const raw = new Map<number, Uint8Array>();
  const e = scanOptions(b, DHCP_MIN_LEN, b.length, raw);
  if (e) return e;
  const overload = raw.get(DHCP_OPT.OVERLOAD);
  let ov = 0;
  if (overload !== undefined) {
    if (overload.length !== 1 || overload[0]! < 1 || overload[0]! > 3) return WireError.badOption;
    ov = overload[0]!;
    // RFC 2131 §4.1: options, then `file`, then `sname`.
    if (ov & 1) {
      const e2 = scanOptions(b, 108, 236, raw);
      if (e2) return e2;
    }
    if (ov & 2) {
      const e3 = scanOptions(b, 44, 108, raw);
      if (e3) return e3;
    }
  }
  const options = typed(raw);
  if (options instanceof WireError) return options;
  return {
    op: b[0]!,
    htype: b[1]!,
    hops: b[3]!,
    xid: get32(b, 4),
    secs: get16(b, 8),
    flags: get16(b, 10),
    ciaddr: get32(b, 12),
    yiaddr: get32(b, 16),
    siaddr: get32(b, 20),
    giaddr: get32(b, 24),
    chaddr: b.slice(28, 28 + hlen),
    sname: ov & 2 ? '' : cString(b, 44, 64),
    file: ov & 1 ? '' : cString(b, 108, 128),
    options,
  };
}

function addrBytes(list: number[]): Uint8Array {
  const v = new Uint8Array(list.length * 4);
  list.forEach((a, i) => put32(v, i * 4, a));
  return v;
}

function u32Bytes(x: number): Uint8Array {
  const v = new Uint8Array(4);
  put32(v, 0, x);
  return v;
}

/** The options as (code, value) pairs in emission order: message type first (RFC 2131 §4.1 recommends nothing else). */
function rawOptions(o: DhcpOptions): [number, Uint8Array][] {
  const out: [number, Uint8Array][] = [];
  if (o.messageType !== undefined) out.push([DHCP_OPT.MESSAGE_TYPE, Uint8Array.of(o.messageType)]);
  if (o.clientId !== undefined) out.push([DHCP_OPT.CLIENT_ID, o.clientId]);
  for (const [code, k] of U32_FIELDS) if (o[k] !== undefined) out.push([code, u32Bytes(o[k])]);
  for (const [code, k] of LIST_FIELDS) if (o[k] !== undefined) out.push([code, addrBytes(o[k])]);
  for (const [code, k] of TEXT_FIELDS) if (o[k]) out.push([code, Buffer.from(o[k], 'utf8')]);
  for (const [code, k] of U16_FIELDS) if (o[k] !== undefined) out.push([code, Uint8Array.of(o[k] >>> 8, o[k] & 0xff)]);
  if (o.paramRequest !== undefined) out.push([DHCP_OPT.PARAMS, Uint8Array.from(o.paramRequest)]);
  for (const [code, v] of o.other) out.push([code, v]);
  return out;
}

/** Bytes emitDhcp produces for `r`. */
export function dhcpBufferLen(r: DhcpRepr): number {
  let n = DHCP_MIN_LEN + 1;
  for (const [, v] of rawOptions(r.options)) n += v.length === 0 ? 2 : v.length + 2 * Math.ceil(v.length / 255);
  return Math.max(n, BOOTP_MIN_LEN);
}

/**
 * Serializes a message. Throws RangeError on a chaddr over 16 bytes, a
 * name over its field, or a list that breaks its layout (caller errors).
 */
export function emitDhcp(r: DhcpRepr): Uint8Array {
  if (r.chaddr.length > 16) throw new RangeError('emit dhcp: chaddr over 16 bytes');
  const sname = Buffer.from(r.sname, 'utf8');
  const file = Buffer.from(r.file, 'utf8');
  if (sname.length > 63 || file.length > 127) throw new RangeError('emit dhcp: sname or file too long');
  const out = new Uint8Array(dhcpBufferLen(r));
  out[0] = r.op;
  out[1] = r.htype;
  out[2] = r.chaddr.length;
  out[3] = r.hops;
  put32(out, 4, r.xid);
  put16(out, 8, r.secs);
  put16(out, 10, r.flags);
  put32(out, 12, r.ciaddr);
  put32(out, 16, r.yiaddr);
  put32(out, 20, r.siaddr);
  put32(out, 24, r.giaddr);
  out.set(r.chaddr, 28);
  out.set(sname, 44);
  out.set(file, 108);
  put32(out, DHCP_FIXED_LEN, DHCP_MAGIC);
  let o = DHCP_MIN_LEN;
  for (const [code, v] of rawOptions(r.options)) {
    if (code === DHCP_OPT.PAD || code === DHCP_OPT.END) throw new RangeError(`emit dhcp: option ${code}`);
    let at = 0;
    do {
      const n = Math.min(255, v.length - at);
      out[o] = code;
      out[o + 1] = n;
      out.set(v.subarray(at, at + n), o + 2);
      o += 2 + n;
      at += n;
    } while (at < v.length);
  }
  out[o] = DHCP_OPT.END;
  return out;
}

/** Options with nothing set. */
export function noOptions(): DhcpOptions {
  return { other: new Map() };
}
