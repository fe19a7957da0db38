/**
 * The DHCP client state machine (RFC 2131 §4.4, Figure 5), one per
 * interface. It takes `now` and messages, and acts through a DhcpHost
 * (dhcpifc.ts binds it to a stack interface), so it runs the same under
 * the simulated clock as on a TAP.
 *
 *   INIT ──DISCOVER──▶ SELECTING ──OFFER/REQUEST──▶ REQUESTING ──ACK──▶ PROBING
 *     ▲                                                 │NAK             │ quiet
 *     │◀────────────────────────────────────────────────┘  conflict:     ▼
 *     │◀──────────────── DECLINE, wait 10 s ◀─────────────────────── BOUND
 *     │                                                   T1 │     ▲ ACK
 *     │                                                      ▼     │
 *     │◀── lease expired: address removed ◀── REBINDING ◀─T2─ RENEWING
 *
 * Retransmission (§4.1): DISCOVER and REQUEST after 4, 8, 16, 32, 64 s,
 * each ±1 s at random, then every 64 s; a REQUEST unanswered after
 * REQUEST_TRIES sends goes back to INIT. RENEWING unicasts to the server
 * and REBINDING broadcasts, each retransmitting after half the time left
 * before T2 / expiry, at least 60 s (§4.4.5). T1 and T2 default to 0.5 and
 * 0.875 of the lease. Before using an address the client probes for it with
 * ARP (§2.2, §4.4.1; RFC 5227 §2.1.1, here PROBE_COUNT probes PROBE_GAP_MS
 * apart, shorter than RFC 5227's 1–2 s so a lease is usable within a
 * second); an answer means DECLINE and a new try after DECLINE_WAIT_MS
 * (§3.1 step 5). stop() releases the lease (§4.4.6).
 *
 * Transaction ids come from the injected Rng. Nothing here reads a clock.
 */
import type { Rng } from '../lib/rng.js';
import { rngRange } from '../lib/rng.js';
import { macToBytes } from './wire/ethernet.js';
import { formatIpv4, IPV4_BROADCAST } from './wire/ipv4.js';
import {
  BOOTREQUEST,
  BOOTREPLY,
  DHCP_INFINITE,
  DHCP_MSG,
  DHCP_OPT,
  HTYPE_ETHER,
  noOptions,
} from './wire/dhcp.js';
import type { DhcpOptions, DhcpRepr } from './wire/dhcp.js';

/** First retransmission wait (§4.1), doubled up to RETRANSMIT_MAX_MS. */
export const RETRANSMIT_FIRST_MS = 4000;
export const RETRANSMIT_MAX_MS = 64_000;
/** REQUESTs sent in REQUESTING before going back to INIT. */
export const REQUEST_TRIES = 4;
/** Smallest retransmission wait while RENEWING/REBINDING (§4.4.5). */
export const RENEW_MIN_MS = 60_000;
/** ARP probes before using an address, and the wait after each. */
export const PROBE_COUNT = 2;
export const PROBE_GAP_MS = 500;
/** Wait after a DECLINE before trying again (§3.1 step 5). */
export const DECLINE_WAIT_MS = 10_000;
/** Wait after a NAK before DISCOVER again (so a server that NAKs everything is not asked in a loop). */
export const NAK_WAIT_MS = 2000;
/** The lease assumed when an ACK gives none, or 0 (ipconfig's MinLease does the same). */
export const MIN_LEASE_S = 60;

/** Options asked for (option 55). */
export const PARAMS_REQUESTED = [
  DHCP_OPT.SUBNET_MASK, DHCP_OPT.ROUTER, DHCP_OPT.DNS, DHCP_OPT.HOSTNAME, DHCP_OPT.DOMAIN, DHCP_OPT.MTU,
  DHCP_OPT.BROADCAST, DHCP_OPT.LEASE_TIME, DHCP_OPT.RENEWAL, DHCP_OPT.REBINDING,
];

export type DhcpState = 'init' | 'selecting' | 'requesting' | 'probing' | 'bound' | 'renewing' | 'rebinding' | 'stopped';

/** What a server granted. Times are ms on the caller's clock. */
export interface DhcpLease {
  address: number;
  mask: number;
  server: number;
  /** Option 3, in order of preference. */
  routers: number[];
  /** Option 6. */
  dns: number[];
  /** Option 15, or null. */
  domain: string | null;
  /** Option 12, or null. */
  hostname: string | null;
  /** Option 26 (interface MTU), or null. */
  mtu: number | null;
  /** Seconds granted (DHCP_INFINITE: forever). */
  seconds: number;
  /** When the ACK came. */
  start: number;
  renewAt: number;
  rebindAt: number;
  expiresAt: number;
}

/** What the state machine acts through. */
export interface DhcpHost {
  /** Send `msg` to `dst` (IPV4_BROADCAST: a link broadcast) from `src` (0 while we have no address). */
  send(msg: DhcpRepr, dst: number, src: number): void;
  /** Send an ARP probe for `ip` (sender address 0, RFC 5227 §2.1.1). */
  probe(ip: number): void;
  /** Accept unicast IP for any address while unconfigured (Plan 9's `add 0 0`). */
  acceptAny(on: boolean): void;
  /** Use `lease` (after `previous`, which it replaces, when renewing). */
  bind(lease: DhcpLease, previous: DhcpLease | null): void;
  /** Stop using `lease`'s address: `why` is `expired`, `released`, `nak` or `stopped`. */
  unbind(lease: DhcpLease, why: string): void;
  log(line: string): void;
}

export interface DhcpClientOptions {
  host: DhcpHost;
  /** The interface's MAC (48-bit integer). */
  mac: number;
  rng: Rng;
  /** Our name, sent as option 12 and shown as `sys=` until a server names us. */
  hostname?: string;
  /** A name for log lines (e.g. `ether0`). */
  name?: string;
}

/** The classful mask of an address, for leases without option 1. */
function classMask(ip: number): number {
  const top = ip >>> 24;
  return top < 128 ? 0xff000000 : top < 192 ? 0xffff0000 : 0xffffff00;
}

function usable(ip: number): boolean {
  const top = ip >>> 24;
  return ip !== 0 && ip !== IPV4_BROADCAST && top !== 0 && top !== 127 && top < 224;
}

function prefixOf(mask: number): string {
  let n = 0;
  while (n < 32 && (mask & (0x80000000 >>> n)) !== 0) n++;
  return `/${n}`;
}

export class DhcpClient {
  private st: DhcpState = 'stopped';
  private xid = 0;
  /** When this acquisition or renewal began (for `secs`). */
  private began = 0;
  private due: number | null = null;
  private tries = 0;
  private wait = RETRANSMIT_FIRST_MS;
  /** The offer being requested or probed. */
  private offered: { address: number; server: number; opts: DhcpOptions } | null = null;
  private current: DhcpLease | null = null;
  private readonly chaddr: Uint8Array;
  private readonly name: string;

  constructor(private readonly opts: DhcpClientOptions) {
    this.chaddr = macToBytes(opts.mac);
    this.name = opts.name ?? 'dhcp';
  }

  get state(): DhcpState {
    return this.st;
  }

  /** The lease in use (BOUND, RENEWING, REBINDING), or null. */
  get lease(): DhcpLease | null {
    return this.current;
  }

  /** Earliest time poll() has work, or null. */
  pollAt(): number | null {
    return this.due !== null && Number.isFinite(this.due) ? this.due : null;
  }

  /** Begin acquiring an address (INIT). Does nothing unless stopped. */
  start(now: number): void {
    if (this.st !== 'stopped') return;
    this.init(now, 0);
  }

  /**
   * Stop. A lease in use is released (RELEASE unicast to its server) when
   * `release`, and its address handed back to the host either way.
   */
  stop(now: number, release = true): void {
    if (this.st === 'stopped') return;
    const l = this.current;
    if (l !== null) {
      if (release && now < l.expiresAt) {
        this.opts.host.send(this.message(DHCP_MSG.RELEASE, now, { ciaddr: l.address, serverId: l.server }), l.server, l.address);
        this.log(`released ${formatIpv4(l.address)}`);
      }
      this.current = null;
      this.opts.host.unbind(l, release ? 'released' : 'stopped');
    } else this.opts.host.acceptAny(false);
    this.offered = null;
    this.st = 'stopped';
    this.due = null;
  }

  /** Runs what is due at `now`. */
  poll(now: number): void {
    if (this.due === null || now < this.due) return;
    this.due = null;
    switch (this.st) {
      case 'init':
        this.discover(now);
        break;
      case 'selecting':
        this.sendDiscover(now);
        this.backoff(now);
        break;
      case 'requesting':
        if (this.tries >= REQUEST_TRIES) {
          this.log('no answer to REQUEST; starting over');
          this.init(now, 0);
          break;
        }
        this.sendSelectingRequest(now);
        this.backoff(now);
        break;
      case 'probing':
        if (this.tries < PROBE_COUNT) {
          this.opts.host.probe(this.offered!.address);
          this.tries++;
          this.due = now + PROBE_GAP_MS;
        } else this.bindOffer(now);
        break;
      case 'bound':
      case 'renewing':
      case 'rebinding':
        this.leaseTimer(now);
        break;
      case 'stopped':
        break;
    }
  }

  /** A DHCP message arrived for us (port 68). */
  input(m: DhcpRepr, now: number): void {
    if (m.op !== BOOTREPLY || m.xid !== this.xid || !this.ours(m.chaddr)) return;
    const type = m.options.messageType;
    if (type === DHCP_MSG.OFFER) this.onOffer(m, now);
    else if (type === DHCP_MSG.ACK) this.onAck(m, now);
    else if (type === DHCP_MSG.NAK) this.onNak(m, now);
  }

  /**
   * Someone else claims `ip` in an ARP packet (their reply to our probe, or
   * their own probe). While probing an offer for `ip`, that is a conflict.
   */
  conflict(ip: number, now: number): void {
    if (this.st !== 'probing' || this.offered === null || ip !== this.offered.address) return;
    const o = this.offered;
    this.opts.host.send(
      this.message(DHCP_MSG.DECLINE, now, { requestedIp: o.address, serverId: o.server, message: 'address in use' }),
      IPV4_BROADCAST,
      0,
    );
    this.log(`${formatIpv4(o.address)} is in use; declined`);
    this.init(now, DECLINE_WAIT_MS);
  }

  // ------------------------------------------------------------------

  private ours(chaddr: Uint8Array): boolean {
    if (chaddr.length !== 6) return false;
    for (let i = 0; i < 6; i++) if (chaddr[i] !== this.chaddr[i]) return false;
    return true;
  }

  private log(line: string): void {
    this.opts.host.log(`dhcp: ${this.name}: ${line}`);
  }

  private newXid(now: number): void {
    this.xid = this.opts.rng.u32();
    this.began = now;
  }

  /** INIT: DISCOVER after `delay` ms. */
  private init(now: number, delay: number): void {
    this.st = 'init';
    this.offered = null;
    this.opts.host.acceptAny(true);
    this.due = now + delay;
  }

  private discover(now: number): void {
    this.newXid(now);
    this.st = 'selecting';
    this.tries = 0;
    this.wait = RETRANSMIT_FIRST_MS;
    this.sendDiscover(now);
    this.backoff(now);
  }

  /** The next retransmission: 4, 8, … 64 s, ±1 s (§4.1). */
  private backoff(now: number): void {
    this.tries++;
    this.due = now + this.wait + rngRange(this.opts.rng, 0, 2000) - 1000;
    this.wait = Math.min(this.wait * 2, RETRANSMIT_MAX_MS);
  }

  private message(type: number, now: number, f: { ciaddr?: number } & Partial<DhcpOptions>): DhcpRepr {
    const { ciaddr, ...rest } = f;
    const options: DhcpOptions = { ...noOptions(), ...rest, messageType: type, clientId: Uint8Array.of(HTYPE_ETHER, ...this.chaddr) };
    if (type === DHCP_MSG.DISCOVER || type === DHCP_MSG.REQUEST) {
      options.paramRequest = PARAMS_REQUESTED;
      if (this.opts.hostname) options.hostname = this.opts.hostname;
    }
    return {
      op: BOOTREQUEST,
      htype: HTYPE_ETHER,
      hops: 0,
      xid: this.xid,
      secs: Math.min(0xffff, Math.max(0, Math.floor((now - this.began) / 1000))),
      flags: 0,
      ciaddr: ciaddr ?? 0,
      yiaddr: 0,
      siaddr: 0,
      giaddr: 0,
      chaddr: this.chaddr,
      sname: '',
      file: '',
      options,
    };
  }

  private sendDiscover(now: number): void {
    this.opts.host.send(this.message(DHCP_MSG.DISCOVER, now, {}), IPV4_BROADCAST, 0);
  }

  private sendSelectingRequest(now: number): void {
    const o = this.offered!;
    this.opts.host.send(this.message(DHCP_MSG.REQUEST, now, { requestedIp: o.address, serverId: o.server }), IPV4_BROADCAST, 0);
  }

  private onOffer(m: DhcpRepr, now: number): void {
    if (this.st !== 'selecting') return;
    const server = m.options.serverId;
    if (server === undefined || !usable(m.yiaddr)) return;
    this.offered = { address: m.yiaddr, server, opts: m.options };
    this.st = 'requesting';
    this.tries = 0;
    this.wait = RETRANSMIT_FIRST_MS;
    this.sendSelectingRequest(now);
    this.backoff(now);
  }

  private onAck(m: DhcpRepr, now: number): void {
    if (!usable(m.yiaddr)) return;
    if (this.st === 'requesting') {
      const server = m.options.serverId ?? this.offered!.server;
      this.offered = { address: m.yiaddr, server, opts: m.options };
      this.st = 'probing';
      this.tries = 0;
      this.due = now;
      this.poll(now);
      return;
    }
    if (this.st !== 'renewing' && this.st !== 'rebinding') return;
    const prev = this.current!;
    const lease = this.leaseFrom(m.yiaddr, m.options.serverId ?? prev.server, m.options, now);
    this.current = lease;
    this.st = 'bound';
    this.due = lease.renewAt;
    this.opts.host.bind(lease, prev);
    this.log(`renewed ${formatIpv4(lease.address)}${prefixOf(lease.mask)} from ${formatIpv4(lease.server)}, lease ${this.leaseText(lease)}`);
  }

  private onNak(m: DhcpRepr, now: number): void {
    if (this.st !== 'requesting' && this.st !== 'renewing' && this.st !== 'rebinding') return;
    // A NAK from a server other than ours is not about our lease (§4.4.5 ignores them while renewing).
    const from = m.options.serverId;
    if (this.st === 'renewing' && from !== undefined && this.current && from !== this.current.server) return;
    this.log(`NAK${from !== undefined ? ` from ${formatIpv4(from)}` : ''}${m.options.message ? `: ${m.options.message}` : ''}`);
    const l = this.current;
    this.current = null;
    if (l) this.opts.host.unbind(l, 'nak');
    this.init(now, NAK_WAIT_MS);
  }

  private bindOffer(now: number): void {
    const o = this.offered!;
    this.offered = null;
    const lease = this.leaseFrom(o.address, o.server, o.opts, now);
    this.current = lease;
    this.st = 'bound';
    this.due = lease.renewAt;
    this.opts.host.acceptAny(false);
    this.opts.host.bind(lease, null);
    this.log(`bound to ${formatIpv4(lease.address)}${prefixOf(lease.mask)} from ${formatIpv4(lease.server)}, lease ${this.leaseText(lease)}`);
  }

  private leaseText(l: DhcpLease): string {
    return l.seconds === DHCP_INFINITE ? 'forever' : `${l.seconds} s`;
  }

  private leaseFrom(address: number, server: number, o: DhcpOptions, now: number): DhcpLease {
    const secs = o.leaseTime === undefined || o.leaseTime === 0 ? MIN_LEASE_S : o.leaseTime;
    const l: DhcpLease = {
      address,
      mask: o.subnetMask !== undefined && o.subnetMask !== 0 && o.subnetMask !== IPV4_BROADCAST ? o.subnetMask : classMask(address),
      server,
      routers: o.routers ?? [],
      dns: o.dnsServers ?? [],
      domain: o.domainName ?? null,
      hostname: o.hostname ?? this.opts.hostname ?? null,
      mtu: o.mtu ?? null,
      seconds: secs,
      start: now,
      renewAt: Infinity,
      rebindAt: Infinity,
      expiresAt: Infinity,
    };
    if (secs !== DHCP_INFINITE) {
      const s = secs;
      let t1 = o.renewalTime ?? s * 0.5;
      let t2 = o.rebindingTime ?? s * 0.875;
      if (!(t2 > 0 && t2 < s)) t2 = s * 0.875;
      if (!(t1 > 0 && t1 < t2)) t1 = Math.min(s * 0.5, t2 / 2);
      l.renewAt = now + t1 * 1000;
      l.rebindAt = now + t2 * 1000;
      l.expiresAt = now + s * 1000;
    }
    return l;
  }

  /** BOUND/RENEWING/REBINDING: T1, T2, retransmission or expiry is due. */
  private leaseTimer(now: number): void {
    const l = this.current!;
    if (now >= l.expiresAt) {
      this.current = null;
      this.log(`lease of ${formatIpv4(l.address)} expired; address removed`);
      this.opts.host.unbind(l, 'expired');
      this.init(now, 0);
      return;
    }
    if (now >= l.rebindAt) {
      if (this.st !== 'rebinding') {
        this.st = 'rebinding';
        this.newXid(now);
      }
      this.opts.host.send(this.message(DHCP_MSG.REQUEST, now, { ciaddr: l.address }), IPV4_BROADCAST, l.address);
      this.due = Math.min(l.expiresAt, now + Math.max(RENEW_MIN_MS, (l.expiresAt - now) / 2));
      return;
    }
    if (now >= l.renewAt) {
      if (this.st !== 'renewing') {
        this.st = 'renewing';
        this.newXid(now);
      }
      this.opts.host.send(this.message(DHCP_MSG.REQUEST, now, { ciaddr: l.address }), l.server, l.address);
      this.due = Math.min(l.rebindAt, now + Math.max(RENEW_MIN_MS, (l.rebindAt - now) / 2));
      return;
    }
    this.due = l.renewAt;
  }
}
