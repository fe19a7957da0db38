/**
 * The user-space IPv4 stack below TCP. Public entry points:
 *
 *     const stack = new Stack({ clock, rng });
 *     const ifc = stack.addInterface(link);          // Link from src/link; stack.loopback is there already
 *     ifc.addAddress(ip, 24);                        // routes, self table, gratuitous ARP
 *     stack.routes.add({ target: 0, mask: 0, nexthop: gw });
 *     const ep = stack.udp.open({ onDatagram });     // ep.send(bytes, dst, port)
 *     const ping = stack.icmp.open({ remoteAddr, onPacket });
 *
 * See stack.ts for the driver, core.ts for the types shared with protocol
 * modules (TCP plugs in with Stack.registerProtocol / sendIp / addTimerSource).
 */
export {
  Stack,
  LOOPBACK_ADDR,
  LOOPBACK_DEVICE,
  LOOPBACK_MAX,
  LOOPBACK_MAX_BYTES,
  LOOPBACK_PREFIX,
  MAX_INTERFACES,
  ALL_SYSTEMS,
} from './stack.js';
export type { StackOptions, SelfEntry } from './stack.js';
export type { IcmpAdvice, IpPayloadWriter, IpProtocolHandler, IpSendOptions, SendResult, TimerSource } from './core.js';
export { Ifc, LOOPBACK_MTU, MIN_MTU, toMask } from './ifc.js';
export type { IfcAddress, IfcCounters } from './ifc.js';
export * from './route.js';
export { ArpCache, ArpTable, ARP_CACHE_SIZE, ARP_LIFETIME_MS, ARP_PENDING_PER_ENTRY, ARP_PENDING_TOTAL, ARP_RETRY_MS, ARP_WAIT_MS } from './arp.js';
export type { ArpEntryInfo, ArpState } from './arp.js';
export {
  REASM_FRAG_OVERHEAD,
  REASM_MAX_BYTES,
  REASM_MAX_DATAGRAMS,
  REASM_MAX_FRAGMENTS,
  REASM_TIMEOUT_MS,
  maskPrefix,
} from './ipv4.js';
export { IcmpEndpoint, IcmpLayer, ICMP_RATE_BURST, ICMP_RATE_PER_SEC, icmpReason, UNREACH_REASONS } from './icmp.js';
export type { IcmpOpenOptions, IcmpReceiver } from './icmp.js';
export { UdpEndpoint, UdpLayer, UDP_MAX_PAYLOAD } from './udp.js';
export type { UdpOpenOptions, UdpReceiver } from './udp.js';
export { EPHEMERAL_HI, EPHEMERAL_LO } from './ports.js';
export * from './stats.js';
export * from './error.js';
export * from './tcp/index.js';
