/**
 * What an interface tells its /net/ipifc/N/events readers: ARP resolutions
 * and failures, addresses added and removed, DHCP leases. The stack builds
 * an event only while a sink is attached (`ifc.ev?.(...)`); netfs writes
 * the text (netfs/events.ts).
 */
import type { DhcpLease } from './dhcp.js';

export type IfcEvent =
  | { kind: 'add' | 'remove'; ip: number; mask: number }
  /** An ARP entry resolved (from waiting, or new), moved to another MAC, or given up on. */
  | { kind: 'arp'; what: 'resolved' | 'changed' | 'failed'; ip: number; mac: number }
  /** A DHCP lease bound or renewed (`lease`), or lost (null: expired, released, declined). */
  | { kind: 'dhcp'; lease: DhcpLease | null };

export type IfcEventSink = (now: number, e: IfcEvent) => void;
