/**
 * The wire layer: pure parse/emit of Ethernet, ARP, IPv4, ICMPv4, UDP and
 * TCP headers over `Uint8Array` views, plus the Internet checksum. No state,
 * no clock, no I/O. See result.ts for the result convention shared by every
 * `parseX`, and each module's header comment for its layout.
 */
export * from './result.js';
export * from './checksum.js';
export * from './ethernet.js';
export * from './arp.js';
export * from './ipv4.js';
export * from './icmp.js';
export * from './udp.js';
export * from './tcp.js';
