/**
 * The packets a conversation's hook works on (a TCP connection's or a UDP
 * endpoint's PacketHook, link/packethook.ts): whole IPv4 datagrams, built
 * only while a hook is attached, so captures (/net/tcp/N/pcap) see what an
 * interface would and impairment holds whole packets. The header is the
 * conversation's view: no options, fragment fields clear (reassembled
 * input is one datagram) and, going out, identification 0 (IP gives the
 * real one when the packet is sent).
 */
import type { Clock } from '../lib/clock.js';
import { PacketHook } from '../link/packethook.js';
import type { IpPayloadWriter, SendResult, StackCore } from './core.js';
import type { Ifc } from './ifc.js';
import { get32 } from './wire/bytes.js';
import { fragField, IPV4_HEADER_LEN, writeIpv4Header } from './wire/ipv4.js';
import type { Ipv4Repr } from './wire/ipv4.js';

/** A received datagram as one packet (its payload copied). */
export function packetOf(ip: Ipv4Repr, payload: Uint8Array): Uint8Array {
  const pkt = new Uint8Array(IPV4_HEADER_LEN + payload.length);
  pkt.set(payload, IPV4_HEADER_LEN);
  writeIpv4Header(pkt, 0, ip.tos, pkt.length, ip.ident, fragField(ip.dontFrag, false, 0), ip.ttl, ip.protocol, ip.src, ip.dst);
  return pkt;
}

/** The datagram `w` would send, as one packet. */
export function packetFrom(w: IpPayloadWriter, protocol: number, src: number, dst: number, ttl: number, tos: number): Uint8Array {
  const pkt = new Uint8Array(IPV4_HEADER_LEN + w.length);
  w.write(pkt, IPV4_HEADER_LEN, src, dst);
  writeIpv4Header(pkt, 0, tos, pkt.length, 0, 0, ttl, protocol, src, dst);
  return pkt;
}

/** Sends a hook's packet through routing with its header's addresses, protocol, ttl and tos. */
export function sendPacket(core: StackCore, pkt: Uint8Array): SendResult {
  return core.output(get32(pkt, 12), get32(pkt, 16), pkt[9]!, pkt[8]!, pkt[1]!, false, pkt.subarray(IPV4_HEADER_LEN), null, core.now());
}

/**
 * A conversation's hook: out to sendPacket, in to `deliver` (the packet
 * and the interface it came on); `late` is told after packets held on the
 * way in were delivered (the end of their input batch).
 */
export function flowHook(core: StackCore, clock: Clock, deliver: (pkt: Uint8Array, ifc: Ifc | null) => void, late: () => void): PacketHook<Ifc | null> {
  return new PacketHook<Ifc | null>({
    clock,
    send: (pkt) => void sendPacket(core, pkt),
    deliver,
    afterInRelease: late,
    copyIn: false,
  });
}
