/**
 * Our IPv6 layer against the Linux kernel through a TAP in network
 * namespaces the test creates (removed afterwards; only fe80::/10 and
 * fd00:XXXX::/32 addresses that exist inside them):
 *
 *     our stack ── TAP ── ns R (forwarding, fd00:X:a::1/64 on the TAP) ── veth, MTU 1280 ── ns H (fd00:X:b::2)
 *
 * Neighbor Discovery and ping6 both ways over link-local addresses; a
 * router advertisement (sent by a python raw socket in R: the kernel sends
 * none itself) teaches us a prefix, a default router and an RDNSS server,
 * SLAAC gives us a global address the kernel pings; and a ping too big for
 * the 1280-byte link behind R gets a Packet Too Big from the kernel, after
 * which our pings to H go out in fragments and come back.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/lib/clock.js';
import { CryptoRng } from '../../src/lib/rng.js';
import { tapAddonUnavailable } from '../../src/link/native.js';
import { TapLink } from '../../src/link/tap.js';
import type { Icmp6Advice } from '../../src/stack/core6.js';
import type { Icmp6Endpoint } from '../../src/stack/icmpv6.js';
import type { Ifc } from '../../src/stack/ifc.js';
import { Ipv6Layer } from '../../src/stack/ipv6.js';
import { Stack } from '../../src/stack/stack.js';
import { formatIpv6, parseIpv6Addr } from '../../src/stack/wire/ipv6addr.js';
import type { Ip6 } from '../../src/stack/wire/ipv6addr.js';
import { netGate } from '../helpers/net-gate.js';
import { inNs as runInNs, sh } from '../helpers/netns.js';
import { waitFor } from '../netfs/harness.js';

const gate = netGate({ root: true, tun: true, commands: ['ip', 'ping', 'python3'] }, 'IPv6 ↔ kernel interop');
gate.failIfRequired();
const addonMissing = tapAddonUnavailable();

const id = randomBytes(3).toString('hex');
const TAP = `9n6${id}`;
const NS_R = `9n6r${id}`;
const NS_H = `9n6h${id}`;
const P = `fd00:${id.slice(0, 4)}`;
const ROUTER = `${P}:a::1`;
const FAR = `${P}:b::2`;

function addr(s: string): Ip6 {
  const a = parseIpv6Addr(s);
  if (a === null) throw new Error(s);
  return a;
}

const RA_SCRIPT = `
import socket, struct, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
idx = socket.if_nametoindex(sys.argv[1])
mac = bytes.fromhex(sys.argv[2])
ra = struct.pack('!BBHBBHII', 134, 0, 0, 64, 0, 1800, 0, 0)
ra += bytes([1, 1]) + mac
ra += struct.pack('!BBHI', 5, 1, 0, 1500)
ra += struct.pack('!BBBBIII', 3, 4, 64, 0xc0, 86400, 14400, 0) + socket.inet_pton(socket.AF_INET6, sys.argv[3])
ra += struct.pack('!BBHI', 25, 3, 0, 600) + socket.inet_pton(socket.AF_INET6, sys.argv[4])
s.sendto(ra, ('ff02::1', 0, 0, idx))
`;

describe.skipIf(gate.skip)('our IPv6 and the Linux kernel over a TAP', () => {
  let stack: Stack;
  let ip6: Ipv6Layer;
  let ifc: Ifc;
  let link: TapLink;
  let kernelLl: Ip6;
  let kernelMac: string;
  const ready: string[] = [];
  const dns: string[] = [];
  const children: ChildProcess[] = [];
  const inR = (args: string[]): Promise<{ code: number; out: string }> => runInNs(NS_R, args, children);

  beforeAll(async () => {
    if (addonMissing) throw new Error(addonMissing);
    stack = new Stack({ clock: new RealClock(), rng: new CryptoRng() });
    link = TapLink.open({ name: TAP, mode: 'create' });
    ifc = stack.addInterface(link);
    sh('ip', ['netns', 'add', NS_R]);
    sh('ip', ['netns', 'add', NS_H]);
    sh('ip', ['link', 'set', TAP, 'netns', NS_R]);
    sh('ip', ['netns', 'exec', NS_R, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
    sh('ip', ['-n', NS_R, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', NS_R, 'addr', 'add', `${ROUTER}/64`, 'dev', TAP]);
    sh('ip', ['-n', NS_R, 'link', 'set', TAP, 'up']);
    sh('ip', ['-n', NS_R, 'link', 'add', 'name', 'vr', 'mtu', '1280', 'type', 'veth', 'peer', 'name', 'vh', 'netns', NS_H]);
    sh('ip', ['-n', NS_R, 'addr', 'add', `${P}:b::1/64`, 'dev', 'vr', 'nodad']);
    sh('ip', ['-n', NS_R, 'link', 'set', 'vr', 'up']);
    sh('ip', ['-n', NS_H, 'link', 'set', 'vh', 'mtu', '1280']);
    sh('ip', ['-n', NS_H, 'addr', 'add', `${FAR}/64`, 'dev', 'vh', 'nodad']);
    sh('ip', ['-n', NS_H, 'link', 'set', 'vh', 'up']);
    sh('ip', ['-n', NS_H, 'route', 'add', 'default', 'via', `${P}:b::1`]);
    ip6 = new Ipv6Layer(stack, {
      onAddress: (_i, a, e) => { if (e === 'ready') ready.push(formatIpv6(a.addr)); },
      onDns: (_i, s) => { dns.push(...s.map((x) => formatIpv6(x.addr))); },
    });
    ip6.enable(ifc);
    kernelMac = sh('ip', ['-n', NS_R, '-o', 'link', 'show', TAP]).match(/link\/ether ([0-9a-f:]{17})/)![1]!;
    let ll = '';
    await waitFor(() => {
      const out = sh('ip', ['-n', NS_R, '-6', '-o', 'addr', 'show', 'dev', TAP, 'scope', 'link']);
      const m = /inet6 (fe80::[0-9a-f:]+)\/64 scope link(?! tentative)/.exec(out);
      if (m && !out.includes('tentative')) ll = m[1]!;
      return ll !== '' && ready.some((a) => a.startsWith('fe80::'));
    }, 'both link-local addresses past DAD', 15_000);
    kernelLl = addr(ll);
  }, 30_000);

  afterAll(async () => {
    for (const ch of children) ch.kill('SIGKILL');
    ip6?.close();
    stack?.close();
    await link?.close();
    for (const ns of [NS_R, NS_H]) {
      try { sh('ip', ['netns', 'delete', ns]); } catch { /* not created */ }
    }
    try { sh('ip', ['link', 'delete', TAP]); } catch { /* gone with the namespace */ }
  });

  function ping(): { ep: Icmp6Endpoint; replies: Uint8Array[]; advice: Icmp6Advice[] } {
    const replies: Uint8Array[] = [];
    const advice: Icmp6Advice[] = [];
    const ep = ip6.icmp.open({ onPacket: (p) => replies.push(p), onAdvice: (a) => advice.push(a) });
    return { ep, replies, advice };
  }

  it('is pinged by the kernel at its link-local address', async () => {
    const ours = ready.find((a) => a.startsWith('fe80::'))!;
    const { code, out } = await inR(['ping', '-6', '-c', '3', '-i', '0.2', '-W', '2', `${ours}%${TAP}`]);
    expect(out).toMatch(/3 packets transmitted, 3 received/);
    expect(code).toBe(0);
    const neigh = sh('ip', ['-n', NS_R, '-6', 'neigh', 'show', 'dev', TAP]);
    expect(neigh).toContain(ours);
    expect(neigh).toContain(Buffer.from(link.mac).toString('hex').replace(/(..)(?!$)/g, '$1:'));
  });

  it('pings the kernel\'s link-local address, resolving it with ND', async () => {
    const p = ping();
    for (let seq = 1; seq <= 3; seq++) {
      p.ep.sendEcho(seq, Buffer.from(`9net ping6 ${seq}`), kernelLl, ifc);
      await waitFor(() => p.replies.length === seq, `echo reply ${seq}`, 5000);
      const r = p.replies[seq - 1]!;
      expect(formatIpv6(r.subarray(8, 24))).toBe(formatIpv6(kernelLl));
      expect(r[40]).toBe(129);
      expect((r[46]! << 8) | r[47]!).toBe(seq);
      expect(Buffer.from(r.subarray(48)).toString()).toBe(`9net ping6 ${seq}`);
    }
    const n = ip6.neighbors.list().find((e) => formatIpv6(e.ip) === formatIpv6(kernelLl))!;
    expect(n.mac.toString(16).padStart(12, '0')).toBe(kernelMac.replace(/:/g, ''));
    expect(['REACHABLE', 'STALE', 'DELAY', 'PROBE']).toContain(n.state);
    p.ep.close();
  });

  it('takes a prefix, a default router and an RDNSS server from the router\'s advertisement, and is pinged at its SLAAC address', async () => {
    const r = await inR(['python3', '-c', RA_SCRIPT, TAP, kernelMac.replace(/:/g, ''), `${P}:a::`, ROUTER]);
    expect(r.code).toBe(0);
    await waitFor(() => ready.some((a) => a.startsWith(`${P}:a:`)), 'a SLAAC address past DAD', 10_000);
    const global = ready.find((a) => a.startsWith(`${P}:a:`))!;
    expect(dns).toEqual([ROUTER]);
    expect(ip6.params(ifc)!.routers.map((x) => formatIpv6(x.addr))).toEqual([formatIpv6(kernelLl)]);
    const { code, out } = await inR(['ping', '-6', '-c', '2', '-i', '0.2', '-W', '2', global]);
    expect(out).toMatch(/2 packets transmitted, 2 received/);
    expect(code).toBe(0);
    // And through the router to H.
    const h = await runInNs(NS_H, ['ping', '-6', '-c', '1', '-W', '2', global], children);
    expect(h.code).toBe(0);
  });

  it('honours the kernel\'s Packet Too Big from the 1280-byte link: later pings go in fragments and return', async () => {
    const far = addr(FAR);
    expect(ip6.pathMtu(far)).toBe(1500);
    const p = ping();
    const data = Buffer.alloc(1400, 0x6b);
    p.ep.sendEcho(1, data, far);
    await waitFor(() => p.advice.length > 0, 'packet too big advice', 5000);
    expect(p.advice[0]!.reason).toBe(`packet too big for 1280 mtu at ${ROUTER}`);
    expect(ip6.pathMtu(far)).toBe(1280);
    p.ep.sendEcho(2, data, far);
    await waitFor(() => p.replies.length === 1, 'the echo reply through the router', 5000);
    expect(p.replies[0]!.length).toBe(40 + 8 + 1400);
    expect(Buffer.from(p.replies[0]!.subarray(48)).equals(data)).toBe(true);
    expect(ip6.stats.FragCreates).toBeGreaterThanOrEqual(2);
    expect(ip6.stats.ReasmOKs).toBeGreaterThanOrEqual(1);
    p.ep.close();
  });
});
