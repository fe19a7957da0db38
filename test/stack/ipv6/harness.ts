/**
 * A host with IPv6 on a ChannelLink under a ManualClock, and a scripted
 * peer: frames the host sends are decoded with the wire codecs, frames the
 * peer sends are built with them and injected.
 */
import { ManualClock } from '../../../src/lib/clock.js';
import { SeededRng } from '../../../src/lib/rng.js';
import type { Ifc } from '../../../src/stack/ifc.js';
import { Ipv6Layer } from '../../../src/stack/ipv6.js';
import type { Ipv6Options } from '../../../src/stack/ipv6.js';
import { Stack } from '../../../src/stack/stack.js';
import { emitIcmpv6, icmpv6BufferLen } from '../../../src/stack/wire/icmpv6.js';
import type { Icmpv6Repr } from '../../../src/stack/wire/icmpv6.js';
import { formatIpv6, parseIpv6Addr } from '../../../src/stack/wire/ipv6addr.js';
import type { Ip6 } from '../../../src/stack/wire/ipv6addr.js';
import { IPV6_HEADER_LEN, IPV6_NH, writeIpv6Header } from '../../../src/stack/wire/ipv6.js';
import { WireError } from '../../../src/stack/wire/result.js';
import { decodeFrame6 } from '../wire/decode6.js';
import type { Decoded6 } from '../wire/decode6.js';
import { ChannelLink, ethFrame, MAC_PEER, MAC_US } from '../helpers.js';

export { MAC_PEER, MAC_US };

/** Text → Ip6 (throws on bad input). */
export function A(s: string): Ip6 {
  const a = parseIpv6Addr(s);
  if (a === null) throw new Error(`bad address ${s}`);
  return a;
}

export const PEER_LL = A('fe80::5055:aff:fe00:202');
/** A fixed RFC 7217 secret, so addresses are the same in every run. */
export const SECRET = Uint8Array.from({ length: 16 }, (_v, i) => i * 17);

export interface Host6 {
  clock: ManualClock;
  stack: Stack;
  link: ChannelLink;
  ifc: Ifc;
  ip6: Ipv6Layer;
  /** Decoded frames sent since the last call (IPv6 ones; others are skipped). */
  sent(): Decoded6[];
  /** The peer sends `m` from `src` to `dst` (hop limit 255 unless given) to `ethDst`. */
  inject(m: Icmpv6Repr, src: Ip6, dst: Ip6, opts?: { hopLimit?: number; ethDst?: number; ethSrc?: number }): void;
  /** The link-local address once DAD is over (advances the clock). */
  linkLocal(): Ip6;
}

export function host6(opts: Ipv6Options & { seed?: number; mtu?: number } = {}): Host6 {
  const clock = new ManualClock(1000);
  const stack = new Stack({ clock, rng: new SeededRng(opts.seed ?? 7) });
  const link = new ChannelLink(MAC_US, opts.mtu ?? 1500);
  const ifc = stack.addInterface(link);
  const ip6 = new Ipv6Layer(stack, { secret: SECRET, ...opts });
  ip6.enable(ifc);
  const h: Host6 = {
    clock, stack, link, ifc, ip6,
    sent() {
      const out: Decoded6[] = [];
      for (const f of link.take()) {
        const d = decodeFrame6(f);
        if (d instanceof WireError) {
          if ((f[12]! << 8 | f[13]!) === 0x86dd) throw new Error(`host sent a bad IPv6 frame: ${d.reason}`);
          continue;
        }
        out.push(d);
      }
      return out;
    },
    inject(m, src, dst, o = {}) {
      const n = icmpv6BufferLen(m);
      const p = new Uint8Array(IPV6_HEADER_LEN + n);
      writeIpv6Header(p, 0, 0, 0, n, IPV6_NH.ICMPV6, o.hopLimit ?? 255, src, dst);
      emitIcmpv6(m, p, IPV6_HEADER_LEN, src, dst);
      const ethDst = o.ethDst ?? (dst[0] === 0xff ? 0x3333_0000_0000 + ((dst[12]! << 24 | dst[13]! << 16 | dst[14]! << 8 | dst[15]!) >>> 0) : MAC_US);
      link.inject(ethFrame(ethDst, o.ethSrc ?? MAC_PEER, 0x86dd, p));
    },
    linkLocal() {
      clock.advance(3000);
      const a = ip6.addresses(ifc).find((x) => x.origin === 'link' && x.state === 'preferred');
      if (a === undefined) throw new Error('no link-local address');
      return a.addr;
    },
  };
  return h;
}

/** Injects a raw IPv6 datagram (fixed header first) from the peer. */
export function injectPacket(h: Host6, pkt: Uint8Array, ethDst = MAC_US): void {
  h.link.inject(ethFrame(ethDst, MAC_PEER, 0x86dd, pkt));
}

/** The ICMPv6 messages among `frames`. */
export function icmps(frames: Decoded6[]): Icmpv6Repr[] {
  return frames.flatMap((d) => (d.icmp === undefined ? [] : [d.icmp]));
}

export { formatIpv6 };
