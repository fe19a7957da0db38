/**
 * One line per packet in Plan 9 snoopy's notation, `proto(field=value ...)`
 * for each header it knows (ether, arp, ip, icmp, tcp, udp), on one line:
 *
 *     ether(s=02396e010001 d=02396e010002 pr=0800 ln=74) ip(s=10.0.0.1 d=10.0.0.2 id=0000 frag=4000 ttl=255 pr=6 ln=60) tcp(s=40001 d=7 seq=123 ack=0 fl=S win=65535 ck=1a2b)
 *
 * The fields are snoopy's (ip/snoopy/ether.c, ip.c, tcp.c, udp.c, arp.c,
 * icmp.c). Decoding stops, with `dump(ln=N)`, at what is short or unknown;
 * nothing here throws.
 */
import { ICMP_TYPE_NAMES } from '../lib/mib.js';
import { LINKTYPE_ETHERNET } from './pcapng.js';

const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');

function mac(b: Uint8Array, o: number): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += hex(b[o + i]!, 2);
  return s;
}

function v4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/** tcp.c's flag letters, in its order. */
function tcpFlags(f: number): string {
  return `${f & 0x20 ? 'U' : ''}${f & 0x10 ? 'A' : ''}${f & 0x08 ? 'P' : ''}${f & 0x04 ? 'R' : ''}${f & 0x02 ? 'S' : ''}${f & 0x01 ? 'F' : ''}`;
}

function transport(proto: number, b: Uint8Array, o: number, end: number): string {
  const n = Math.max(0, end - o);
  if (proto === 6) {
    if (n < 20) return `dump(ln=${n})`;
    const fl = u16(b, o + 12);
    return `tcp(s=${u16(b, o)} d=${u16(b, o + 2)} seq=${u32(b, o + 4)} ack=${u32(b, o + 8)} fl=${tcpFlags(fl & 0x3f)} win=${u16(b, o + 14)} ck=${hex(u16(b, o + 16), 4)} ln=${Math.max(0, n - ((fl >> 12) & 0xf) * 4)})`;
  }
  if (proto === 17) {
    if (n < 8) return `dump(ln=${n})`;
    return `udp(s=${u16(b, o)} d=${u16(b, o + 2)} ck=${hex(u16(b, o + 6), 4)} ln=${u16(b, o + 4)})`;
  }
  if (proto === 1) {
    if (n < 4) return `dump(ln=${n})`;
    const t = b[o]!;
    return `icmp(t=${ICMP_TYPE_NAMES[t]?.trim() || t} c=${b[o + 1]} ck=${hex(u16(b, o + 2), 4)})`;
  }
  return `dump(ln=${n})`;
}

function ip(b: Uint8Array, o: number): string {
  if (b.length - o < 20 || b[o]! >> 4 !== 4) return `dump(ln=${b.length - o})`;
  const hl = (b[o]! & 0x0f) * 4;
  const len = u16(b, o + 2);
  const frag = u16(b, o + 6);
  const head = `ip(s=${v4(b, o + 12)} d=${v4(b, o + 16)} id=${hex(u16(b, o + 4), 4)} frag=${hex(frag, 4)} ttl=${b[o + 8]} pr=${b[o + 9]} ln=${len})`;
  if ((frag & 0x1fff) !== 0) return head; // a later fragment: no transport header
  const end = Math.min(b.length, o + len);
  return `${head} ${transport(b[o + 9]!, b, o + hl, end)}`;
}

function arp(b: Uint8Array, o: number): string {
  if (b.length - o < 28) return `dump(ln=${b.length - o})`;
  return `arp(op=${u16(b, o + 6)} len=${b[o + 4]}/${b[o + 5]} spa=${v4(b, o + 14)} sha=${mac(b, o + 8)} tpa=${v4(b, o + 24)} tha=${mac(b, o + 18)})`;
}

/** The line for a packet of `linktype` (Ethernet frames or raw IP). */
export function summarize(pkt: Uint8Array, linktype: number): string {
  if (linktype !== LINKTYPE_ETHERNET) return ip(pkt, 0);
  if (pkt.length < 14) return `dump(ln=${pkt.length})`;
  const type = u16(pkt, 12);
  const head = `ether(s=${mac(pkt, 6)} d=${mac(pkt, 0)} pr=${hex(type, 4)} ln=${pkt.length})`;
  if (type === 0x0800) return `${head} ${ip(pkt, 14)}`;
  if (type === 0x0806) return `${head} ${arp(pkt, 14)}`;
  return head;
}
