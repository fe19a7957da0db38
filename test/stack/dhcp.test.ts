/**
 * The DHCP client state machine (src/stack/dhcp.ts) under simulated time,
 * through a recording host: DISCOVER backoff, OFFER → REQUEST, the ARP
 * probe before BOUND, DECLINE on a conflict, T1 renewal (unicast), T2
 * rebinding (broadcast), expiry removing the address (and saying so),
 * NAK, and RELEASE on stop.
 */
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/lib/rng.js';
import { DECLINE_WAIT_MS, DhcpClient, PROBE_COUNT, PROBE_GAP_MS, RENEW_MIN_MS } from '../../src/stack/dhcp.js';
import type { DhcpHost, DhcpLease } from '../../src/stack/dhcp.js';
import { BOOTREPLY, DHCP_MSG, noOptions } from '../../src/stack/wire/dhcp.js';
import type { DhcpOptions, DhcpRepr } from '../../src/stack/wire/dhcp.js';
import { macToBytes } from '../../src/stack/wire/ethernet.js';
import { IPV4_BROADCAST } from '../../src/stack/wire/ipv4.js';
import { ip } from './helpers.js';

const MAC = 0x02_00_00_00_00_42;
const SERVER = ip('10.9.0.1');
const LEASED = ip('10.9.0.50');

interface Sent {
  type: number | undefined;
  msg: DhcpRepr;
  dst: number;
  src: number;
  at: number;
}

class Recorder implements DhcpHost {
  sent: Sent[] = [];
  probes: number[] = [];
  any = false;
  bound: DhcpLease | null = null;
  unbound: string[] = [];
  logs: string[] = [];
  now = 0;
  send(msg: DhcpRepr, dst: number, src: number): void {
    this.sent.push({ type: msg.options.messageType, msg, dst, src, at: this.now });
  }
  probe(ipAddr: number): void {
    this.probes.push(ipAddr);
  }
  acceptAny(on: boolean): void {
    this.any = on;
  }
  bind(lease: DhcpLease): void {
    this.bound = lease;
  }
  unbind(_lease: DhcpLease, why: string): void {
    this.bound = null;
    this.unbound.push(why);
  }
  log(line: string): void {
    this.logs.push(line);
  }
  last(): Sent {
    return this.sent[this.sent.length - 1]!;
  }
}

/** A client and its host with a clock the test moves: run(t) polls every deadline up to t. */
function setup(seed = 1): { c: DhcpClient; h: Recorder; run: (to: number) => void } {
  const h = new Recorder();
  const c = new DhcpClient({ host: h, mac: MAC, rng: new SeededRng(seed), hostname: 'gnot', name: 'ether0' });
  const run = (to: number): void => {
    for (;;) {
      const t = c.pollAt();
      if (t === null || t > to) break;
      h.now = t;
      c.poll(t);
    }
    h.now = to;
  };
  return { c, h, run };
}

function reply(c: { xid: number }, type: number, opts: Partial<DhcpOptions> = {}, yiaddr = LEASED): DhcpRepr {
  return {
    op: BOOTREPLY, htype: 1, hops: 0, xid: c.xid, secs: 0, flags: 0, ciaddr: 0, yiaddr, siaddr: SERVER, giaddr: 0,
    chaddr: macToBytes(MAC), sname: '', file: '', options: { ...noOptions(), messageType: type, serverId: SERVER, ...opts },
  };
}

const LEASE_OPTS = { leaseTime: 1000, subnetMask: 0xffffff00, routers: [SERVER], dnsServers: [SERVER], domainName: 'example', mtu: 1400 };

/** Drive a client to BOUND at about t=0 with a 1000 s lease. */
function bound(seed = 1): ReturnType<typeof setup> {
  const s = setup(seed);
  s.c.start(0);
  s.run(0);
  const discover = s.h.last().msg;
  s.c.input(reply(discover, DHCP_MSG.OFFER, LEASE_OPTS), 10);
  const request = s.h.last().msg;
  s.c.input(reply(request, DHCP_MSG.ACK, LEASE_OPTS), 20);
  s.run(20 + PROBE_COUNT * PROBE_GAP_MS);
  return s;
}

describe('DHCP client', () => {
  it('broadcasts DISCOVER from 0.0.0.0 and backs off 4, 8, 16, 32, 64 s (±1 s)', () => {
    const { c, h, run } = setup();
    c.start(0);
    run(0);
    expect(h.any).toBe(true);
    expect(h.last()).toMatchObject({ type: DHCP_MSG.DISCOVER, dst: IPV4_BROADCAST, src: 0 });
    const d = h.last().msg;
    expect(d.chaddr).toEqual(macToBytes(MAC));
    expect(d.options.hostname).toBe('gnot');
    expect(d.options.paramRequest).toEqual(expect.arrayContaining([1, 3, 6, 15, 26]));
    run(300_000);
    const times = h.sent.map((s) => s.at);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    const want = [4000, 8000, 16000, 32000, 64000, 64000];
    gaps.slice(0, 6).forEach((g, i) => {
      expect(g).toBeGreaterThanOrEqual(want[i]! - 1000);
      expect(g).toBeLessThanOrEqual(want[i]! + 1000);
    });
    expect(new Set(h.sent.map((s) => s.msg.xid)).size).toBe(1);
    expect(c.state).toBe('selecting');
  });

  it('requests the offer, probes it with ARP and binds it with every option', () => {
    const { c, h } = bound();
    const req = h.sent.find((s) => s.type === DHCP_MSG.REQUEST)!;
    expect(req).toMatchObject({ dst: IPV4_BROADCAST, src: 0 });
    expect(req.msg.options.requestedIp).toBe(LEASED);
    expect(req.msg.options.serverId).toBe(SERVER);
    expect(h.probes).toEqual(Array(PROBE_COUNT).fill(LEASED));
    expect(c.state).toBe('bound');
    expect(h.any).toBe(false);
    expect(h.bound).toMatchObject({
      address: LEASED, mask: 0xffffff00, server: SERVER, routers: [SERVER], dns: [SERVER], domain: 'example', mtu: 1400, seconds: 1000,
    });
    expect(h.bound!.renewAt - h.bound!.start).toBe(500_000);
    expect(h.bound!.rebindAt - h.bound!.start).toBe(875_000);
    expect(h.logs.some((l) => /dhcp: ether0: bound to 10\.9\.0\.50\/24 from 10\.9\.0\.1, lease 1000 s/.test(l))).toBe(true);
  });

  it('declines an address someone answers the probe for, and starts over after 10 s', () => {
    const s = setup();
    s.c.start(0);
    s.run(0);
    s.c.input(reply(s.h.last().msg, DHCP_MSG.OFFER, LEASE_OPTS), 10);
    s.c.input(reply(s.h.last().msg, DHCP_MSG.ACK, LEASE_OPTS), 20);
    expect(s.c.state).toBe('probing');
    s.c.conflict(ip('10.9.0.51'), 30); // someone else's address: no matter
    expect(s.c.state).toBe('probing');
    s.c.conflict(LEASED, 40);
    const decline = s.h.last();
    expect(decline).toMatchObject({ type: DHCP_MSG.DECLINE, dst: IPV4_BROADCAST, src: 0 });
    expect(decline.msg.options.requestedIp).toBe(LEASED);
    expect(decline.msg.options.serverId).toBe(SERVER);
    expect(s.h.bound).toBeNull();
    expect(s.h.logs.some((l) => l.includes('10.9.0.50 is in use; declined'))).toBe(true);
    s.run(40 + DECLINE_WAIT_MS - 1);
    expect(s.h.last().type).toBe(DHCP_MSG.DECLINE);
    s.run(40 + DECLINE_WAIT_MS);
    expect(s.h.last().type).toBe(DHCP_MSG.DISCOVER);
  });

  it('renews at T1 by unicast and stays bound with the new lease', () => {
    const { c, h, run } = bound();
    const t0 = h.bound!.start;
    const before = h.sent.length;
    run(t0 + 499_000);
    expect(h.sent.length).toBe(before);
    run(t0 + 500_000);
    const renew = h.last();
    expect(renew).toMatchObject({ type: DHCP_MSG.REQUEST, dst: SERVER, src: LEASED });
    expect(renew.msg.ciaddr).toBe(LEASED);
    expect(renew.msg.options.requestedIp).toBeUndefined();
    expect(renew.msg.options.serverId).toBeUndefined();
    expect(c.state).toBe('renewing');
    // Unanswered: again after half the time to T2 (187.5 s here), at least RENEW_MIN_MS.
    expect((375_000 / 2)).toBeGreaterThan(RENEW_MIN_MS);
    run(t0 + 500_000 + 187_000);
    expect(h.sent.filter((s) => s.type === DHCP_MSG.REQUEST && s.dst === SERVER).length).toBe(1);
    run(t0 + 500_000 + 188_000);
    expect(h.sent.filter((s) => s.type === DHCP_MSG.REQUEST && s.dst === SERVER).length).toBe(2);
    c.input(reply(renew.msg, DHCP_MSG.ACK, { ...LEASE_OPTS, leaseTime: 2000 }), 700_000);
    expect(c.state).toBe('bound');
    expect(h.bound).toMatchObject({ address: LEASED, seconds: 2000, start: 700_000, renewAt: 1_700_000 });
    expect(h.logs.some((l) => l.includes('renewed 10.9.0.50/24'))).toBe(true);
  });

  it('rebinds by broadcast at T2, and removes the address when the lease expires unrenewed', () => {
    const { c, h, run } = bound();
    const t0 = h.bound!.start;
    run(t0 + 875_000);
    expect(c.state).toBe('rebinding');
    const rebind = h.sent.filter((s) => s.type === DHCP_MSG.REQUEST && s.dst === IPV4_BROADCAST && s.src === LEASED);
    expect(rebind.length).toBe(1);
    expect(rebind[0]!.msg.ciaddr).toBe(LEASED);
    expect(h.bound).not.toBeNull();
    run(t0 + 1_000_000);
    expect(h.bound).toBeNull();
    expect(h.unbound).toEqual(['expired']);
    expect(h.logs.some((l) => l === 'dhcp: ether0: lease of 10.9.0.50 expired; address removed')).toBe(true);
    expect(c.state).toBe('selecting');
    expect(h.last().type).toBe(DHCP_MSG.DISCOVER);
    expect(h.any).toBe(true);
  });

  it('gives the address up on a NAK and starts over', () => {
    const { c, h, run } = bound();
    const t0 = h.bound!.start;
    run(t0 + 500_000);
    c.input(reply(h.last().msg, DHCP_MSG.NAK, { message: 'wrong network' }, 0), t0 + 500_100);
    expect(h.unbound).toEqual(['nak']);
    expect(h.logs.some((l) => l.includes('NAK from 10.9.0.1: wrong network'))).toBe(true);
    run(t0 + 510_000);
    expect(h.last().type).toBe(DHCP_MSG.DISCOVER);
  });

  it('ignores replies for other transactions or other hardware', () => {
    const s = setup();
    s.c.start(0);
    s.run(0);
    const d = s.h.last().msg;
    s.c.input(reply({ xid: d.xid + 1 }, DHCP_MSG.OFFER, LEASE_OPTS), 1);
    const other = reply(d, DHCP_MSG.OFFER, LEASE_OPTS);
    other.chaddr = macToBytes(MAC + 1);
    s.c.input(other, 2);
    s.c.input(reply(d, DHCP_MSG.OFFER, { ...LEASE_OPTS, serverId: undefined }), 3);
    s.c.input(reply(d, DHCP_MSG.OFFER, LEASE_OPTS, ip('127.0.0.1')), 4);
    expect(s.c.state).toBe('selecting');
    expect(s.h.sent.length).toBe(1);
  });

  it('releases the lease when stopped', () => {
    const { c, h } = bound();
    c.stop(600_000);
    expect(h.last()).toMatchObject({ type: DHCP_MSG.RELEASE, dst: SERVER, src: LEASED });
    expect(h.last().msg.ciaddr).toBe(LEASED);
    expect(h.last().msg.options.serverId).toBe(SERVER);
    expect(h.unbound).toEqual(['released']);
    expect(c.state).toBe('stopped');
    expect(c.pollAt()).toBeNull();
  });
});
