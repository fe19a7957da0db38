/**
 * DHCP on a stack's interfaces: the DhcpClient state machines (dhcp.ts)
 * bound to real interfaces, sharing the stack's timer and one UDP port 68.
 *
 * While an interface has no address the client's broadcasts leave as whole
 * frames written here (source 0.0.0.0, RFC 2131 §4.1), and the interface
 * holds 0.0.0.0 so that it accepts the server's unicast answers to an
 * address it does not have yet, as Plan 9's ipconfig does with `add 0 0`.
 * Unicast (RENEWING, RELEASE) goes from the leased address straight to the
 * server's MAC when the ARP cache knows it (we ask for it when a lease is
 * bound, so a RELEASE at shutdown need not wait for ARP), else through the
 * UDP layer, which resolves it. ARP probes are written as frames; answers to
 * them are seen through the stack's ARP observers (Stack.onArp), and a
 * server's MAC is what the ARP cache learnt for it.
 *
 * A lease is applied as ipconfig applies one: the address and mask on the
 * interface, a default route through the first router (tag `dhcp`), and
 * the interface MTU (option 26, at most the link's); a lease that ends
 * takes its address and route away again. Routers, DNS servers and names
 * reach the caller through `onLease` (the backend puts them in /net/ndb).
 */
import type { Disposable } from '../link/link.js';
import type { TimerSource } from './core.js';
import { DhcpClient } from './dhcp.js';
import type { DhcpLease } from './dhcp.js';
import { StackError } from './error.js';
import type { Ifc } from './ifc.js';
import { MIN_MTU } from './ifc.js';
import type { Stack } from './stack.js';
import type { UdpEndpoint } from './udp.js';
import { emitArp } from './wire/arp.js';
import type { ArpRepr } from './wire/arp.js';
import { put16 } from './wire/bytes.js';
import { checksum, pseudoHeaderSum } from './wire/checksum.js';
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, emitDhcp, parseDhcp } from './wire/dhcp.js';
import type { DhcpRepr } from './wire/dhcp.js';
import { ETHERNET_HEADER_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, MAC_BROADCAST, writeEthernetHeader } from './wire/ethernet.js';
import { formatIpv4, IP_PROTO_UDP, IPV4_BROADCAST, IPV4_HEADER_LEN, writeIpv4Header } from './wire/ipv4.js';
import { WireError } from './wire/result.js';
import { UDP_HEADER_LEN } from './wire/udp.js';

/** Tag of the default routes leases add (ipconfig writes `tag dhcp` to iproute). */
export const DHCP_ROUTE_TAG = 'dhcp';
/** TTL of the frames we write (RFC 1122 §3.2.1.7 default). */
const TTL = 64;

export interface DhcpServiceOptions {
  /** Our name, sent as option 12. */
  hostname?: string;
  /** Log sink (bound, renewed, expired, declined, released lines). */
  log?: (line: string) => void;
  /** A lease was applied to `ifc` (null: its address went away). */
  onLease?: (ifc: Ifc, lease: DhcpLease | null) => void;
}

interface Running {
  client: DhcpClient;
}

export class DhcpService implements TimerSource {
  private readonly running = new Map<Ifc, Running>();
  private ep: UdpEndpoint | null = null;
  private timer: Disposable | null = null;
  private arpWatch: Disposable | null = null;

  constructor(private readonly stack: Stack, private readonly opts: DhcpServiceOptions = {}) {}

  /** The client running on `ifc`, or null. */
  client(ifc: Ifc): DhcpClient | null {
    return this.running.get(ifc)?.client ?? null;
  }

  /**
   * Starts DHCP on `ifc` (nothing if it runs already).
   * @throws StackError `address in use` when UDP port 68 is held by someone else
   */
  start(ifc: Ifc): DhcpClient {
    const have = this.running.get(ifc);
    if (have) return have.client;
    if (!ifc.bound) throw new StackError('interface not bound');
    this.ep ??= this.stack.udp.open({ localPort: DHCP_CLIENT_PORT, onDatagram: this.onDatagram });
    this.timer ??= this.stack.addTimerSource(this);
    const client = new DhcpClient({
      host: this.hostFor(ifc),
      mac: ifc.mac,
      rng: this.stack.rng,
      name: ifc.name,
      ...(this.opts.hostname ? { hostname: this.opts.hostname } : {}),
    });
    this.arpWatch ??= this.stack.onArp((on, a) => {
      const r = this.running.get(on);
      if (r) this.arpSeen(on, r.client, a);
    });
    this.running.set(ifc, { client });
    const now = this.stack.now();
    client.start(now);
    this.kick(client, now);
    return client;
  }

  /** Stops DHCP on `ifc`, releasing its lease when `release`. @returns whether it was running */
  stop(ifc: Ifc, release = true): boolean {
    const r = this.running.get(ifc);
    if (!r) return false;
    r.client.stop(this.stack.now(), release && ifc.bound);
    this.running.delete(ifc);
    if (this.running.size === 0) this.idle();
    return true;
  }

  /** Stops every client, releasing the leases (on shutdown). */
  close(): void {
    for (const ifc of [...this.running.keys()]) this.stop(ifc, true);
    this.idle();
  }

  pollAt(): number | null {
    let t: number | null = null;
    for (const { client } of this.running.values()) {
      const x = client.pollAt();
      if (x !== null && (t === null || x < t)) t = x;
    }
    return t;
  }

  poll(now: number): void {
    for (const [ifc, { client }] of [...this.running]) {
      if (!ifc.bound) {
        this.stop(ifc, false);
        continue;
      }
      const x = client.pollAt();
      if (x !== null && x <= now) client.poll(now);
    }
  }

  private idle(): void {
    this.ep?.close();
    this.ep = null;
    this.arpWatch?.dispose();
    this.arpWatch = null;
    this.timer?.dispose();
    this.timer = null;
  }

  private kick(client: DhcpClient, now: number): void {
    const t = client.pollAt();
    if (t !== null) this.stack.schedule(t < now ? now : t);
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  private readonly onDatagram = (_src: number, sport: number, _dst: number, _dport: number, payload: Uint8Array, ifc: Ifc): void => {
    if (sport !== DHCP_SERVER_PORT) return;
    const r = this.running.get(ifc);
    if (!r) return;
    const m = parseDhcp(payload);
    if (m instanceof WireError) {
      this.stack.drop('dhcp', m.reason);
      return;
    }
    const now = this.stack.now();
    r.client.input(m, now);
    this.kick(r.client, now);
  };

  /** An ARP packet from someone else naming an address as theirs (RFC 5227 §2.1.1). */
  private arpSeen(ifc: Ifc, client: DhcpClient, a: ArpRepr): void {
    if (a.senderMac === ifc.mac) return;
    const now = this.stack.now();
    if (a.senderIp !== 0) client.conflict(a.senderIp, now);
    else if (a.op === 'request') client.conflict(a.targetIp, now); // another host probing for it
    this.kick(client, now);
  }

  private hostFor(ifc: Ifc): import('./dhcp.js').DhcpHost {
    return {
      send: (msg, dst, src) => this.send(ifc, msg, dst, src),
      probe: (ip) => this.probe(ifc, ip),
      acceptAny: (on) => {
        const has = ifc.addresses().some((a) => a.ip === 0);
        if (on && !has && ifc.bound) ifc.addAddress(0, 0);
        if (!on && has) ifc.removeAddress(0);
      },
      bind: (lease, previous) => this.bind(ifc, lease, previous),
      unbind: (lease) => this.unbind(ifc, lease),
      log: (line) => this.log(line),
    };
  }

  private send(ifc: Ifc, msg: DhcpRepr, dst: number, src: number): void {
    if (!ifc.bound) return;
    const body = emitDhcp(msg);
    const known = dst === IPV4_BROADCAST ? MAC_BROADCAST : this.stack.arp.lookup(dst);
    if (known < 0) {
      const r = this.ep?.send(body, dst, DHCP_SERVER_PORT, src);
      if (r !== 'sent' && r !== 'pending') this.log(`dhcp: ${ifc.name}: cannot send to ${formatIpv4(dst)}: ${r ?? 'closed'}`);
      return;
    }
    // A whole frame, IP source `src` (0.0.0.0 before we have an address).
    const udpLen = UDP_HEADER_LEN + body.length;
    const frame = new Uint8Array(ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + udpLen);
    writeEthernetHeader(frame, 0, known, ifc.mac, ETHERTYPE_IPV4);
    const u = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN;
    put16(frame, u, DHCP_CLIENT_PORT);
    put16(frame, u + 2, DHCP_SERVER_PORT);
    put16(frame, u + 4, udpLen);
    frame.set(body, u + UDP_HEADER_LEN);
    const sum = checksum(frame, pseudoHeaderSum(src, dst, IP_PROTO_UDP, udpLen), u, u + udpLen);
    put16(frame, u + 6, sum === 0 ? 0xffff : sum);
    writeIpv4Header(frame, ETHERNET_HEADER_LEN, 0, IPV4_HEADER_LEN + udpLen, this.stack.rng.u32() & 0xffff, 0, TTL, IP_PROTO_UDP, src, dst);
    ifc.transmit(frame);
  }

  /** An ARP request for `ip` from `sender` (0: an RFC 5227 probe). */
  private probe(ifc: Ifc, ip: number, sender = 0): void {
    if (!ifc.bound) return;
    const frame = new Uint8Array(ETHERNET_HEADER_LEN + 28);
    writeEthernetHeader(frame, 0, MAC_BROADCAST, ifc.mac, ETHERTYPE_ARP);
    emitArp({ op: 'request', senderMac: ifc.mac, senderIp: sender, targetMac: 0, targetIp: ip }, frame, ETHERNET_HEADER_LEN);
    ifc.transmit(frame);
  }

  private bind(ifc: Ifc, lease: DhcpLease, previous: DhcpLease | null): void {
    if (!ifc.bound) return;
    if (previous) this.removeRoute(previous);
    const old = ifc.addresses().find((a) => a.ip === lease.address);
    if (previous && previous.address !== lease.address && ifc.hasAddress(previous.address)) ifc.removeAddress(previous.address);
    if (old && old.mask !== lease.mask) ifc.removeAddress(lease.address);
    if (!ifc.hasAddress(lease.address)) ifc.addAddress(lease.address, lease.mask);
    if (lease.mtu !== null) {
      const mtu = Math.max(MIN_MTU, Math.min(lease.mtu, ifc.link?.mtu ?? ifc.mtu));
      if (mtu !== ifc.mtu) ifc.mtu = mtu;
    }
    const gw = lease.routers[0];
    if (gw !== undefined && gw !== lease.address) {
      try {
        this.stack.routes.add({ target: 0, mask: 0, nexthop: gw, tag: DHCP_ROUTE_TAG });
      } catch (e) {
        this.log(`dhcp: ${ifc.name}: default route through ${formatIpv4(gw)}: ${(e as Error).message}`);
      }
    }
    // Learn the server's MAC now, so a RELEASE at shutdown need not wait for ARP.
    if (lease.server !== lease.address && this.stack.arp.lookup(lease.server) < 0) this.probe(ifc, lease.server, lease.address);
    this.opts.onLease?.(ifc, lease);
  }

  private unbind(ifc: Ifc, lease: DhcpLease): void {
    this.removeRoute(lease);
    if (ifc.bound && ifc.hasAddress(lease.address)) ifc.removeAddress(lease.address);
    this.opts.onLease?.(ifc, null);
  }

  private removeRoute(lease: DhcpLease): void {
    const gw = lease.routers[0];
    if (gw === undefined) return;
    this.stack.routes.removeWhere((r) => r.tag === DHCP_ROUTE_TAG && r.target === 0 && r.mask === 0 && r.nexthop === gw);
  }
}
