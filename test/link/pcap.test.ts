// PcapLink against the real kernel (needs root, ip, ping, python3, setpriv,
// /dev/net/tun for a non-Ethernet device, and
// the libpcap addon). The test creates a veth pair: PA stays in the root
// namespace with no address (IPv6 off) and carries the capture; PB goes into
// a network namespace this file creates, with a 10.x address. python3 in the
// namespace reads and writes raw frames on PB (AF_PACKET). afterAll deletes
// the namespace and every device, even on failure.
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SeededRng } from '../../src/lib/rng.js';
import { formatMac } from '../../src/link/mac.js';
import { loadPcapAddon, PCAP_ADDON_PATH, pcapAddonUnavailable } from '../../src/link/native.js';
import { PcapLink } from '../../src/link/pcap.js';
import { netGate, netTestsRequired } from '../helpers/net-gate.js';
import { arpReply, arpRequest, ETHERTYPE_IPV4, ETHERTYPE_TEST, etherType, frameSeq, icmpEchoReply, ip4, parseArp, sameBytes, seqFrame } from './frames.js';

const gate = netGate({ root: true, tun: true, commands: ['ip', 'python3', 'setpriv', 'ping'] }, 'pcap link');
gate.failIfRequired();
const addonMissing = pcapAddonUnavailable();
if (addonMissing && !netTestsRequired) console.warn(`skipping pcap link tests: ${addonMissing}`);
const noAddon = addonMissing !== null && !netTestsRequired;

const run = promisify(execFile);
const sh = (cmd: string, ...args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: 'pipe' });
const trySh = (cmd: string, ...args: string[]): boolean => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

async function waitFor(cond: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  for (const end = Date.now() + ms; !cond(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const suffix = randomBytes(3).toString('hex');
const NS = `9np-${suffix}`;
const PA = `9pa${suffix}`; // <= 15 chars
const PB = `9pb${suffix}`;
const GA = `9ga${suffix}`; // a second pair, deleted under a link
const GB = `9gb${suffix}`;
const TUN = `9pt${suffix}`; // not Ethernet
const net = randomInt(1, 255);
const ip = (host: number): string => `10.81.${net}.${host}`;
const hex = (mac: Uint8Array): string => Buffer.from(mac).toString('hex');

/** python3 in the namespace: reads ETHERTYPE_TEST frames on a device; prints "ready", then "SRC seq seq ...". */
const RECV = String.raw`
import socket, sys
dev, n, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE: room for a whole burst
s.bind((dev, 0x88b5))
s.settimeout(timeout)
print('ready', flush=True)
seqs, src = [], '-'
try:
    while len(seqs) < n:
        f, a = s.recvfrom(65535)
        if a[2] == socket.PACKET_OUTGOING: continue
        src = f[6:12].hex()
        seqs.append(str(int.from_bytes(f[14:18], 'big')))
except socket.timeout:
    pass
print(src, ' '.join(seqs), flush=True)
`;

/** python3 in the namespace: sends n ETHERTYPE_TEST frames of `size` bytes to dst (hex) on a device, seq from `first`. */
const SEND = String.raw`
import socket, sys
dev, dst, n, size, first = sys.argv[1], bytes.fromhex(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
src = bytes.fromhex(open('/sys/class/net/%s/address' % dev).read().strip().replace(':', ''))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
for i in range(first, first + n):
    s.send(dst + src + b'\x88\xb5' + i.to_bytes(4, 'big') + bytes(size - 18))
print('sent', n, flush=True)
`;

function sendFromPeer(dst: Uint8Array, n: number, size = 60, first = 0): void {
  sh('ip', 'netns', 'exec', NS, 'python3', '-c', SEND, PB, hex(dst), String(n), String(size), String(first));
}

/**
 * python3 in the namespace: sends one frame the way a kernel with offloads
 * hands it to a NIC, through a packet socket with a virtio-net header on PB:
 * `tso` is 3500 bytes of TCP (gso_size 1000) with only the pseudo-header sum
 * in its checksum; `udp` is a datagram whose checksum is left unfinished.
 */
const SEND_OFFLOADED = String.raw`
import socket, struct, sys
dev, dst, kind, sip, dip = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3], socket.inet_aton(sys.argv[4]), socket.inet_aton(sys.argv[5])
src = bytes.fromhex(open('/sys/class/net/%s/address' % dev).read().strip().replace(':', ''))
def fold(s):
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return s
def csum(b):
    if len(b) % 2: b += b'\0'
    return ~fold(sum(struct.unpack('!%dH' % (len(b) // 2), b))) & 0xffff
def pseudo(proto, n):
    return fold(sum(struct.unpack('!4H', sip + dip)) + proto + n)
if kind == 'tso':
    data = bytes((i * 7) & 255 for i in range(3500))
    l4 = struct.pack('!HHIIBBHHH', 1111, 2222, 1000, 5, 5 << 4, 0x19, 1000, pseudo(6, 20 + len(data)), 0) + data
    proto, vnet = 6, struct.pack('=BBHHHH', 1, 1, 54, 1000, 34, 16)
else:
    data = b'unfinished checksum'
    l4 = struct.pack('!HHHH', 3333, 4444, 8 + len(data), pseudo(17, 8 + len(data))) + data
    proto, vnet = 17, struct.pack('=BBHHHH', 1, 0, 0, 0, 34, 6)
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), 0x1234, 0x4000, 64, proto, 0, sip, dip)
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.setsockopt(263, 15, 1)  # SOL_PACKET, PACKET_VNET_HDR
s.bind((dev, 0))
s.send(vnet + dst + src + b'\x08\x00' + ip + l4)
`;

function sendOffloadedFromPeer(dst: Uint8Array, kind: 'tso' | 'udp'): void {
  sh('ip', 'netns', 'exec', NS, 'python3', '-c', SEND_OFFLOADED, PB, hex(dst), kind, ip(1), ip(2));
}

/** RFC 1071 ones' complement sum of b, folded (0xffff when a checksum over b verifies). */
function onesSum(b: Uint8Array, sum = 0): number {
  for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (b.length % 2) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The sum over an IPv4 frame's TCP/UDP part with its pseudo-header. */
function l4Sum(f: Uint8Array, proto: number): number {
  const l4 = f.subarray(34, 14 + new DataView(f.buffer, f.byteOffset).getUint16(16));
  return onesSum(l4, onesSum(f.subarray(26, 34)) + proto + l4.length);
}

/** Starts the RECV helper; resolves once it is ready, with `done`: the frames' source MAC and sequence numbers. */
async function recvOnPeer(n: number, timeout = 3): Promise<{ done: Promise<{ src: string; seqs: number[] }> }> {
  const p = spawn('ip', ['netns', 'exec', NS, 'python3', '-c', RECV, PB, String(n), String(timeout)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const done = new Promise<{ src: string; seqs: number[] }>((resolve, reject) =>
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`receiver exited ${code}: ${err}`));
      const [src = '', ...seqs] = out.split('\n')[1]!.trim().split(' ');
      resolve({ src, seqs: seqs.map(Number) });
    }),
  );
  await waitFor(() => out.includes('ready') || p.exitCode !== null, 5000, 'peer receiver');
  return { done };
}

describe.skipIf(gate.skip || noAddon)('PcapLink (kernel, over a veth pair)', () => {
  let link: PcapLink;
  let pbMac: Uint8Array;
  const extra: { close(): unknown }[] = [];

  beforeAll(() => {
    sh('ip', 'netns', 'add', NS);
    trySh('ip', 'netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
    sh('ip', 'link', 'add', PA, 'mtu', '1400', 'type', 'veth', 'peer', 'name', PB, 'netns', NS);
    sh('sysctl', '-qw', `net.ipv6.conf.${PA}.disable_ipv6=1`);
    sh('ip', 'link', 'set', PA, 'up');
    sh('ip', '-n', NS, 'link', 'set', PB, 'mtu', '1400', 'up');
    sh('ip', '-n', NS, 'addr', 'add', `${ip(1)}/24`, 'dev', PB);
    pbMac = new Uint8Array(sh('ip', 'netns', 'exec', NS, 'cat', `/sys/class/net/${PB}/address`).trim().split(':').map((x) => parseInt(x, 16)));
    link = PcapLink.open({ iface: PA, rng: new SeededRng(7) });
  });

  afterAll(async () => {
    for (const x of extra) await x.close();
    await link?.close();
    trySh('ip', 'netns', 'del', NS);
    for (const dev of [PA, GA, TUN]) if (trySh('ip', 'link', 'show', dev)) trySh('ip', 'link', 'del', dev);
  });

  it('reports the interface, its MTU and MAC, and our own random MAC', () => {
    expect(link.name).toBe(PA);
    expect(link.mtu).toBe(1400);
    const twin = PcapLink.open({ iface: PA, rng: new SeededRng(7) });
    void twin.close();
    expect(link.mac).toEqual(twin.mac); // from the injected Rng
    expect(link.mac[0]! & 3).toBe(2); // locally administered unicast
    expect(link.ifaceMac).toHaveLength(6);
    expect(sh('ip', '-br', 'link', 'show', PA)).toContain(formatMac(link.ifaceMac!));
    expect(sameBytes(link.mac, link.ifaceMac!)).toBe(false);
    expect(link.directionIn).toBe(true);
    expect(link.warnings).toEqual([]);
  });

  it('injects frames the kernel answers: an ARP request for our MAC gets its unicast reply (promiscuous)', async () => {
    const replies: ReturnType<typeof parseArp>[] = [];
    const sub = link.attach((f) => {
      const a = parseArp(f);
      if (a?.op === 2) replies.push(a);
    });
    try {
      link.send(arpRequest(link.mac, ip4(ip(2)), ip4(ip(1))));
      await waitFor(() => replies.length > 0, 3000, 'ARP reply');
      const r = replies[0]!;
      expect(sameBytes(r.spa, ip4(ip(1)))).toBe(true);
      expect(sameBytes(r.sha, pbMac)).toBe(true);
      expect(sameBytes(r.tha, link.mac)).toBe(true);
      expect(link.stats.txFrames).toBeGreaterThanOrEqual(1);
      expect(link.stats.rxFrames).toBeGreaterThanOrEqual(1);
    } finally {
      sub.dispose();
    }
  });

  it('delivers single and batched frames to the peer, in order, and does not capture them itself', async () => {
    // A second, unfiltered capture on the same interface would see our frames
    // if the capture were not incoming-only.
    const spy = PcapLink.open({ iface: PA, filter: false });
    extra.push(spy);
    let echoes = 0;
    spy.attach((f) => {
      if (sameBytes(f.subarray(6, 12), link.mac)) echoes++;
    });
    const { done } = await recvOnPeer(201);
    const txBefore = link.stats.txFrames;
    link.send(seqFrame(pbMac, link.mac, 0));
    link.sendBatch(Array.from({ length: 200 }, (_, i) => seqFrame(pbMac, link.mac, i + 1, 60 + (i % 7) * 100)));
    const { src, seqs } = await done;
    expect(src).toBe(hex(link.mac));
    expect(seqs).toEqual(Array.from({ length: 201 }, (_, i) => i));
    expect(link.stats.txFrames - txBefore).toBe(201);
    await new Promise((r) => setTimeout(r, 50));
    expect(echoes).toBe(0);
    await spy.close();
  });

  it('does not warn about GRO: frames the kernel merged are cut again', async () => {
    const gro = (on: number): string =>
      sh('python3', '-c', String.raw`
import array, fcntl, socket, struct, sys
v = array.array('I', [0x2c, int(sys.argv[2])])  # ETHTOOL_SGRO
ifr = struct.pack('16sP', sys.argv[1].encode(), v.buffer_info()[0])
fcntl.ioctl(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), 0x8946, ifr + bytes(40 - len(ifr)))
`, PA, String(on));
    gro(1);
    try {
      expect(loadPcapAddon().interfaceInfo(PA)).toMatchObject({ gro: true, up: true, mtu: 1400 });
      const l = PcapLink.open({ iface: PA });
      await l.close();
      expect(l.warnings).toEqual([]);
    } finally {
      gro(0);
    }
    expect(loadPcapAddon().interfaceInfo(PA)!.gro).toBe(false);
  });

  it('finishes checksums the sender left to the NIC and cuts GSO frames into wire-sized pieces', async () => {
    const got: Uint8Array[] = [];
    const before = link.counters;
    const sub = link.attach((f) => {
      if (etherType(f) === ETHERTYPE_IPV4 && f[23] !== 1) got.push(f.slice());
    });
    try {
      // TSO: 3500 bytes of TCP in one frame, gso_size 1000, FIN|PSH|ACK; then a UDP datagram whose checksum is unfinished.
      sendOffloadedFromPeer(link.mac, 'tso');
      sendOffloadedFromPeer(link.mac, 'udp');
      await waitFor(() => got.length >= 5, 3000, 'split and finished frames');
    } finally {
      sub.dispose();
    }
    const tcp = got.filter((f) => f[23] === 6);
    expect(tcp.map((f) => f.length - 54)).toEqual([1000, 1000, 1000, 500]);
    expect(tcp.map((f) => new DataView(f.buffer).getUint32(38))).toEqual([1000, 2000, 3000, 4000]);
    expect(tcp.map((f) => new DataView(f.buffer).getUint16(18))).toEqual([0x1234, 0x1235, 0x1236, 0x1237]);
    expect(tcp.map((f) => f[47])).toEqual([0x10, 0x10, 0x10, 0x19]); // ACK; FIN and PSH on the last piece only
    const payload = Buffer.concat(tcp.map((f) => f.subarray(54)));
    expect(payload.equals(Buffer.from(Array.from({ length: 3500 }, (_, i) => (i * 7) & 0xff)))).toBe(true);
    for (const f of tcp) {
      expect(new DataView(f.buffer).getUint16(16)).toBe(f.length - 14);
      expect(onesSum(f.subarray(14, 34))).toBe(0xffff); // IPv4 header checksum
      expect(l4Sum(f, 6)).toBe(0xffff);
    }
    const udp = got.filter((f) => f[23] === 17);
    expect(udp).toHaveLength(1);
    expect(Buffer.from(udp[0]!.subarray(42)).toString()).toBe('unfinished checksum');
    expect(l4Sum(udp[0]!, 17)).toBe(0xffff);
    const c = link.counters;
    expect(c.split - before.split).toBe(1);
    expect(c.pieces - before.pieces).toBe(4);
    expect(c.csumFinished - before.csumFinished).toBe(1);
    expect(c.unsplit).toBe(0);
  });

  it('counts frames it refuses to send: too short, longer than the MTU', () => {
    const { txErrors, txFrames } = link.stats;
    link.send(new Uint8Array(10));
    link.send(seqFrame(pbMac, link.mac, 1, 1400 + 14 + 1));
    link.sendBatch([seqFrame(pbMac, link.mac, 2), new Uint8Array(3)]);
    expect(link.stats.txErrors - txErrors).toBe(3);
    expect(link.stats.txFrames - txFrames).toBe(1);
  });

  it('receives what the peer sends, many frames per JS call; frames queued while detached wait in the ring', async () => {
    sendFromPeer(link.mac, 200); // nobody attached: the capture is not polled
    const seqs: number[] = [];
    const before = link.rxBatches;
    const sub = link.attach((f) => {
      if (etherType(f) === ETHERTYPE_TEST) seqs.push(frameSeq(f));
    });
    try {
      await waitFor(() => seqs.length >= 200, 3000, '200 frames');
      expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i));
      const calls = link.rxBatches - before;
      expect(calls).toBeGreaterThanOrEqual(Math.ceil(200 / 64)); // batch: 64 by default
      expect(calls).toBeLessThanOrEqual(8); // 4 when all 200 were queued before the first wakeup
    } finally {
      sub.dispose();
    }
  });

  it('filters in the kernel: frames for another station reach only an unfiltered link', async () => {
    const all = PcapLink.open({ iface: PA, filter: false });
    extra.push(all);
    const other = new Uint8Array([0x02, 0, 0, 0, 0, 0x99]);
    const ours: number[] = [];
    const theirs: number[] = [];
    const s1 = link.attach((f) => etherType(f) === ETHERTYPE_TEST && ours.push(frameSeq(f)));
    all.attach((f) => etherType(f) === ETHERTYPE_TEST && theirs.push(frameSeq(f)));
    try {
      sendFromPeer(other, 5, 60, 1000);
      sendFromPeer(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 1, 60, 2000);
      await waitFor(() => theirs.length >= 6 && ours.length >= 1, 3000, 'frames');
      await new Promise((r) => setTimeout(r, 50));
      expect(theirs).toEqual([1000, 1001, 1002, 1003, 1004, 2000]);
      expect(ours).toEqual([2000]); // broadcast passes the filter; the other station's frames do not
    } finally {
      s1.dispose();
      await all.close();
    }
  });

  it('bounds batches and drops frames longer than snaplen (addon level)', async () => {
    const pc = new (loadPcapAddon().Pcap)({ iface: PA, batch: 16, snaplen: 128 });
    extra.push(pc);
    pc.setFilter(`ether proto 0x88b5 and ether dst ${formatMac(link.mac)}`);
    sendFromPeer(link.mac, 100, 60, 0);
    sendFromPeer(link.mac, 3, 300, 100); // 300-byte frames: cut at 128, dropped
    const counts: number[] = [];
    const seqs: number[] = [];
    pc.start(
      (n) => {
        counts.push(n);
        const bytes = new Uint8Array(pc.rxBuffer);
        for (let i = 0, off = 0; i < n; off += pc.rxLengths[i++]!) {
          const len = pc.rxLengths[i]!;
          expect(len).toBe(60);
          seqs.push(frameSeq(bytes.subarray(off, off + len)));
        }
      },
      (code, msg) => {
        throw new Error(`${code}: ${msg}`);
      },
    );
    await waitFor(() => seqs.length >= 100 && pc.counters().truncated >= 3, 3000, 'frames and truncations');
    expect(Math.max(...counts)).toBeLessThanOrEqual(16);
    expect(counts.length).toBeGreaterThanOrEqual(Math.ceil(100 / 16));
    expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(pc.counters()).toMatchObject({ truncated: 3, runts: 0, overflow: 0, kernelDrops: 0 });
    expect(() => pc.setFilter('ether proto nonsense(')).toThrow(/^EINVAL: bad filter /);
    pc.close();
    pc.close();
    expect(pc.closed).toBe(true);
    expect(pc.write(seqFrame(pbMac, link.mac, 0))).toBe(9); // EBADF
  });

  it('pauses while the interface is down and resumes when it is up again', async () => {
    const replies: number[] = [];
    const sub = link.attach((f) => {
      const a = parseArp(f);
      if (a?.op === 2) replies.push(1);
    });
    try {
      const downs = link.counters.downs;
      sh('ip', 'link', 'set', PA, 'down');
      await waitFor(() => link.isDown, 3000, 'down noticed');
      expect(link.counters.downs).toBe(downs + 1);
      const dropped = link.stats.txDropped;
      link.send(arpRequest(link.mac, ip4(ip(2)), ip4(ip(1)))); // ENETDOWN: counted as dropped
      expect(link.stats.txDropped).toBe(dropped + 1);
      sh('ip', 'link', 'set', PA, 'up');
      await waitFor(() => !link.isDown, 3000, 'up noticed');
      expect(link.isClosed).toBe(false);
      expect(link.error).toBeNull();
      // The peer's carrier comes back with ours; ask until the kernel answers.
      await waitFor(
        () => {
          if (replies.length === 0) link.send(arpRequest(link.mac, ip4(ip(2)), ip4(ip(1))));
          return replies.length > 0;
        },
        5000,
        'ARP reply after up',
      );
    } finally {
      sub.dispose();
    }
  });

  it('reports an interface deleted under it through onError and closes', async () => {
    sh('ip', 'link', 'add', GA, 'type', 'veth', 'peer', 'name', GB);
    sh('sysctl', '-qw', `net.ipv6.conf.${GA}.disable_ipv6=1`);
    sh('ip', 'link', 'set', GA, 'up');
    let err: Error | null = null;
    const g = PcapLink.open({ iface: GA, onError: (e) => (err = e) });
    g.attach(() => {});
    sh('ip', 'link', 'del', GA);
    await waitFor(() => err !== null, 3000, 'onError');
    expect(err!.message).toMatch(new RegExp(`^(ENODEV|ENETDOWN): ${GA}: interface went away$`));
    expect(g.isClosed).toBe(true);
    expect(g.error).toBe(err);
    await g.close();
  });

  it('gives clear errors: missing interface, bad name, not Ethernet', () => {
    const missing = `9pm${suffix}`;
    expect(() => PcapLink.open({ iface: missing })).toThrow(new RegExp(`^ENODEV: no interface ${missing}$`));
    expect(() => new (loadPcapAddon().Pcap)({ iface: missing })).toThrow(new RegExp(`^ENODEV: no interface ${missing}$`));
    try {
      PcapLink.open({ iface: missing });
    } catch (e) {
      expect((e as { code?: string }).code).toBe('ENODEV');
    }
    expect(() => PcapLink.open({ iface: 'bad name' })).toThrow(/^EINVAL: invalid interface name "bad name"/);
    sh('ip', 'tuntap', 'add', 'dev', TUN, 'mode', 'tun');
    expect(() => PcapLink.open({ iface: TUN })).toThrow(new RegExp(`^ENETDOWN: ${TUN} is down \\(ip link set ${TUN} up\\)$`));
    sh('ip', 'link', 'set', TUN, 'up');
    expect(() => PcapLink.open({ iface: TUN })).toThrow(new RegExp(`^EPROTONOSUPPORT: ${TUN} is not an Ethernet interface \\(link type RAW\\)$`));
    sh('ip', 'tuntap', 'del', 'dev', TUN, 'mode', 'tun');
  });

  it('says what is missing without CAP_NET_RAW (capability dropped, and as user nobody)', () => {
    const script = `
      const addon = require(${JSON.stringify(PCAP_ADDON_PATH)});
      try { new addon.Pcap({ iface: ${JSON.stringify(PA)} }); console.log(JSON.stringify({ ok: true })); }
      catch (e) { console.log(JSON.stringify({ ok: false, code: e.code, message: e.message })); }`;
    const want = {
      ok: false,
      code: 'EPERM',
      message: `EPERM: capturing on ${PA} needs CAP_NET_RAW (run as root or setcap cap_net_raw+ep $(which node))`,
    };
    const noCap = sh('setpriv', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-net_raw,-net_admin', '--', process.execPath, '-e', script);
    expect(JSON.parse(noCap)).toEqual(want);
    const nobody = sh('setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--', process.execPath, '-e', script);
    expect(JSON.parse(nobody)).toEqual(want);
  });

  it('close is idempotent, stops delivery and leaves the interface alone', async () => {
    const l = PcapLink.open({ iface: PA, filter: false });
    let n = 0;
    l.attach(() => n++);
    await l.close();
    await l.close();
    sendFromPeer(l.mac, 3);
    await new Promise((r) => setTimeout(r, 50));
    expect(n).toBe(0);
    const dropped = l.stats.txDropped;
    l.send(seqFrame(pbMac, l.mac, 0));
    l.sendBatch([seqFrame(pbMac, l.mac, 1)]);
    expect(l.stats.txDropped).toBe(dropped + 2);
    expect(() => l.attach(() => {})).toThrow(/closed/);
    expect(trySh('ip', 'link', 'show', PA)).toBe(true);
    expect(l.isClosed).toBe(true);
  });

  it('answers the kernel\'s ping when the receiver replies through the link', async () => {
    // Not the stack: a minimal responder, to show rx and tx work together.
    let echoes = 0;
    const sub = link.attach((f) => {
      const a = parseArp(f);
      if (a?.op === 1 && sameBytes(a.tpa, ip4(ip(3)))) link.send(arpReply(link.mac, a.tpa, a.sha, a.spa));
      const echo = icmpEchoReply(f, link.mac);
      if (echo) {
        echoes++;
        link.send(echo);
      }
    });
    try {
      // ping exits 0 only if our echo reply arrives with good checksums.
      await run('ip', ['netns', 'exec', NS, 'ping', '-c1', '-W2', ip(3)]);
      expect(echoes).toBe(1);
    } finally {
      sub.dispose();
    }
  });
});

describe('libpcap addon loader', () => {
  afterEach(() => {
    vi.doUnmock('node:fs');
    vi.resetModules();
  });

  it('loads lazily and says how to build it when it is missing', async () => {
    vi.resetModules();
    vi.doMock('node:fs', async (orig) => ({ ...(await orig<typeof import('node:fs')>()), existsSync: () => false }));
    const pcap = await import('../../src/link/pcap.js'); // must not throw
    expect(() => pcap.PcapLink.open({ iface: 'eth0' })).toThrow(/^libpcap addon not built: install libpcap-dev, then run npm run build:native$/);
    const native = await import('../../src/link/native.js');
    expect(native.pcapAddonUnavailable()).toMatch(/^libpcap addon not built/);
  });
});

describe.skipIf(noAddon)('libpcap addon (no privileges needed)', () => {
  it('validates options before touching any interface', () => {
    const { Pcap, constants: k } = loadPcapAddon();
    expect(k).toMatchObject({ MAX_BATCH: 1024, MAX_RX_BUFFER: 16 << 20, TX_BATCH_MAX: 1024 });
    expect(() => new Pcap({ iface: 'x', batch: 0 })).toThrow(RangeError);
    expect(() => new Pcap({ iface: 'x', batch: 1025 })).toThrow(RangeError);
    expect(() => new Pcap({ iface: 'x', snaplen: 10 })).toThrow(RangeError);
    expect(() => new Pcap({ iface: 'x', snaplen: 70000 })).toThrow(RangeError);
    expect(() => new Pcap({ iface: 'x', batch: 1024, snaplen: 65000 })).toThrow(/exceed/);
    expect(() => new Pcap({ iface: 'x', bufferSize: 1 })).toThrow(RangeError);
    expect(() => new Pcap({ iface: 'x', promisc: 1 as unknown as boolean })).toThrow(TypeError);
    expect(() => new Pcap({ iface: 42 as unknown as string })).toThrow(TypeError);
    for (const iface of ['', 'a b', 'x'.repeat(16), 'a/b', 'a:b', '..']) {
      expect(() => new Pcap({ iface })).toThrow(/^EINVAL: invalid interface name/);
    }
    expect(() => PcapLink.open({ iface: 'lo', mtu: 10 })).toThrow(RangeError);
    expect(() => PcapLink.open({ iface: 'lo', batch: 0 })).toThrow(RangeError);
    expect(() => PcapLink.open({ iface: 'lo', snaplen: 63 })).toThrow(RangeError);
    expect(() => PcapLink.open({ iface: 'lo', mac: new Uint8Array([1, 0, 0, 0, 0, 0]) })).toThrow(/group address/);
  });

  it('reports interface info for loopback and null for a missing device', () => {
    const { interfaceInfo, libVersion } = loadPcapAddon();
    expect(libVersion).toMatch(/^libpcap version \d/);
    expect(interfaceInfo('lo')).toMatchObject({ mtu: expect.any(Number) as number, up: true });
    expect(interfaceInfo('9n-no-such')).toBeNull();
  });
});
