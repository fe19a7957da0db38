/**
 * Our stack against the Linux kernel through a real TAP, driven only through
 * the /net files over 9P. The test creates the TAP, lets 9net attach to it,
 * moves the kernel side into a network namespace it creates, and deletes
 * both at the end; traffic stays inside that namespace (10.x addresses).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackNet } from '../../src/backend/stack/backend.js';
import { RealClock } from '../../src/lib/clock.js';
import { CryptoRng } from '../../src/lib/rng.js';
import { tapAddonUnavailable } from '../../src/link/native.js';
import { TapLink } from '../../src/link/tap.js';
import { Client } from '../../src/ninep/client.js';
import type { File } from '../../src/ninep/client.js';
import { Server } from '../../src/ninep/server.js';
import { ORDWR, OWRITE } from '../../src/ninep/types.js';
import { collectLines, inNs as runInNs, sh } from '../helpers/netns.js';
import { netGate } from '../helpers/net-gate.js';

const gate = netGate({ root: true, tun: true, commands: ['ip', 'ping', 'python3'] }, 'stack ↔ kernel interop');
gate.failIfRequired();
const addonMissing = tapAddonUnavailable();

const id = randomBytes(3).toString('hex');
const TAP = `9nk${id}`;
const NS = `9nk${id}`;
const octet = 16 + (parseInt(id.slice(0, 2), 16) % 200);
const KERNEL = `10.${octet}.7.1`;
const US = `10.${octet}.7.2`;

const inNs = (args: string[]): Promise<{ code: number; out: string }> => runInNs(NS, args);

describe.skipIf(gate.skip)('our stack and the Linux kernel over a TAP, through /net', () => {
  let net: StackNet;
  let server: Server;
  let c: Client;
  let link: TapLink;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    if (addonMissing) throw new Error(addonMissing);
    net = new StackNet({ eve: 'eve', clock: new RealClock(), rng: new CryptoRng() });
    link = TapLink.open({ name: TAP, mode: 'create' });
    const port = net.addEther(link);
    sh('ip', ['netns', 'add', NS]);
    sh('ip', ['link', 'set', TAP, 'netns', NS]);
    sh('ip', ['-n', NS, 'addr', 'add', `${KERNEL}/24`, 'dev', TAP]);
    sh('ip', ['-n', NS, 'link', 'set', TAP, 'up']);
    sh('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    net.configure(port, US, 24);
    server = new Server({ root: () => net.tree, log: () => {} });
    const l = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    c = await Client.dial(`tcp!127.0.0.1!${(l.address() as AddressInfo).port}`, { uname: 'eve' });
  }, 30_000);

  afterAll(async () => {
    for (const ch of children) ch.kill('SIGKILL');
    c?.close();
    await server?.close();
    await net?.close();
    try { sh('ip', ['netns', 'delete', NS]); } catch { /* not created */ }
    try { sh('ip', ['link', 'delete', TAP]); } catch { /* gone with the link */ }
  });

  async function clone(proto: string): Promise<{ n: string; ctl: File }> {
    const ctl = await c.open(`/${proto}/clone`, ORDWR);
    return { n: (await ctl.read(20)).toString().trim(), ctl };
  }

  it('answers the kernel\'s pings', async () => {
    const { code, out } = await inNs(['ping', '-c', '3', '-i', '0.2', '-W', '2', US]);
    expect(out).toMatch(/3 packets transmitted, 3 received/);
    expect(code).toBe(0);
  });

  it('shows the kernel\'s MAC in /net/arp', async () => {
    const mac = sh('ip', ['-n', NS, '-o', 'link', 'show', TAP]).match(/link\/ether ([0-9a-f:]{17})/)![1]!.replace(/:/g, '');
    const arp = (await c.readFile('/arp')).toString();
    expect(arp).toMatch(new RegExp(`^ether  OK   ${KERNEL.replace(/\./g, '\\.')}\\s+${mac}\\s+${US.replace(/\./g, '\\.')}\\n`, 'm'));
  });

  it('pings the kernel through /net/icmp', async () => {
    const { n, ctl } = await clone('icmp');
    await ctl.write(`connect ${KERNEL}!1`);
    const d = await c.open(`/icmp/${n}/data`, ORDWR);
    for (let seq = 1; seq <= 3; seq++) {
      const msg = Buffer.alloc(84);
      msg[20] = 8;
      msg.writeUInt16BE(seq, 26);
      msg.write('9net ping', 28);
      await d.write(msg);
      const r = await d.read(2000);
      expect([...r.subarray(12, 16)].join('.')).toBe(KERNEL);
      expect(r[20]).toBe(0);
      expect(r.readUInt16BE(26)).toBe(seq);
      expect(r.subarray(28, 37).toString()).toBe('9net ping');
    }
    await d.close();
    await ctl.close();
  });

  it('exchanges UDP with a kernel echo server (we connect)', async () => {
    const srv = spawn('ip', ['netns', 'exec', NS, 'python3', '-c', `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("${KERNEL}", 7777))
print("ready", flush=True)
while True:
    d, a = s.recvfrom(65535)
    s.sendto(d.upper(), a)
`], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(srv);
    await new Promise((r) => srv.stdout!.once('data', r));
    const { n, ctl } = await clone('udp');
    await ctl.write(`connect ${KERNEL}!7777`);
    const d = await c.open(`/udp/${n}/data`, ORDWR);
    await d.write('hello kernel');
    expect((await d.read(2000)).toString()).toBe('HELLO KERNEL');
    // A datagram larger than the MTU goes out in fragments and comes back whole.
    const big = Buffer.alloc(5000, 'x');
    await d.write(big);
    expect((await d.read(8000)).toString()).toBe('X'.repeat(5000));
    await d.close();
    await ctl.close();
  });

  it('serves a kernel UDP client from an announced conversation in headers mode', async () => {
    const { n, ctl } = await clone('udp');
    await ctl.write('announce 8888');
    await ctl.write('headers');
    const d = await c.open(`/udp/${n}/data`, ORDWR);
    const client = spawn('ip', ['netns', 'exec', NS, 'python3', '-c', `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"from the kernel", ("${US}", 8888))
print(s.recvfrom(65535)[0].decode(), flush=True)
`], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(client);
    let out = '';
    client.stdout!.on('data', (b) => (out += b));
    const done = new Promise((r) => client.once('close', r));
    const got = await d.read(2000);
    expect([...got.subarray(12, 16)].join('.')).toBe(KERNEL);
    expect([...got.subarray(28, 32)].join('.')).toBe(US);
    expect(got.readUInt16BE(50)).toBe(8888);
    expect(got.subarray(52).toString()).toBe('from the kernel');
    await d.write(Buffer.concat([got.subarray(0, 52), Buffer.from('echo from 9net')]));
    await done;
    expect(out.trim()).toBe('echo from 9net');
    await d.close();
    await ctl.close();
  });

  it('lets an ether0 slot of type -1 see the ARP frames', async () => {
    const w = await c.open('/arp', OWRITE);
    await w.write('flush');
    await w.close();
    const { n, ctl } = await clone('ether0');
    await ctl.write('connect -1');
    const d = await c.open(`/ether0/${n}/data`, ORDWR);
    const ping = inNs(['ping', '-c', '1', '-W', '2', US]);
    const seen = new Set<number>();
    for (let i = 0; i < 6 && !(seen.has(0x0806) && seen.has(0x0800)); i++) {
      seen.add((await d.read(2000)).readUInt16BE(12));
    }
    expect(seen.has(0x0806)).toBe(true);
    expect(seen.has(0x0800)).toBe(true);
    expect((await ping).code).toBe(0);
    await d.close();
    await ctl.close();
  });

  /** A python3 program in the namespace; resolves with its stdout once it prints "ready". */
  async function kernelPy(code: string): Promise<{ out: () => string; done: Promise<number> }> {
    const p = spawn('ip', ['netns', 'exec', NS, 'python3', '-c', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(p);
    let out = '';
    p.stdout!.on('data', (b) => (out += b));
    const done = new Promise<number>((r) => p.once('close', (code) => r(code ?? -1)));
    await new Promise<void>((r) => {
      const check = (): void => { if (out.includes('ready')) r(); else p.stdout!.once('data', check); };
      check();
    });
    return { out: () => out, done };
  }

  it('dials a kernel TCP listener through /net/tcp: 8 MiB each way, sha256-checked', async () => {
    const MiB = 1024 * 1024;
    const k = await kernelPy(`
import socket, hashlib
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("${KERNEL}", 7001)); s.listen(1); print("ready", flush=True)
c, _ = s.accept()
h = hashlib.sha256(); n = 0
while n < ${8 * MiB}:
    d = c.recv(1 << 16)
    if not d: break
    h.update(d); n += len(d)
print("got", n, h.hexdigest(), flush=True)
blk = bytes((i * 7) & 255 for i in range(1 << 16))
for i in range(128): c.sendall(blk)
c.close()
`);
    const { n, ctl } = await clone('tcp');
    await ctl.write(`connect ${KERNEL}!7001`);
    expect((await c.readFile(`/tcp/${n}/status`)).toString()).toMatch(/^Established /);
    const d = await c.open(`/tcp/${n}/data`, ORDWR);
    const { createHash } = await import('node:crypto');
    const up = Buffer.alloc(8 * MiB);
    for (let i = 0; i < up.length; i++) up[i] = (i * 13 + (i >> 16)) & 0xff;
    await d.write(up);
    const blk = Buffer.alloc(1 << 16);
    for (let i = 0; i < blk.length; i++) blk[i] = (i * 7) & 255;
    const want = createHash('sha256');
    for (let i = 0; i < 128; i++) want.update(blk);
    const got = createHash('sha256');
    let total = 0;
    for (;;) {
      const b = await d.read(65536);
      if (b.length === 0) break;
      got.update(b);
      total += b.length;
    }
    expect(total).toBe(8 * MiB);
    expect(got.digest('hex')).toBe(want.digest('hex'));
    await k.done;
    expect(k.out()).toContain(`got ${8 * MiB} ${createHash('sha256').update(up).digest('hex')}`);
    await d.close();
    await ctl.close();
  }, 60_000);

  it('accepts a kernel TCP client through listen, and sees its reset as EOF', async () => {
    const srv = await clone('tcp');
    await srv.ctl.write('announce 7002');
    const listening = c.open(`/tcp/${srv.n}/listen`, ORDWR);
    const k = await kernelPy(`
import socket, struct, time
print("ready", flush=True)
c = socket.create_connection(("${US}", 7002))
c.sendall(b"hello from the kernel")
print("reply", c.recv(100).decode(), flush=True)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
time.sleep(0.2)
c.close()
`);
    const lctl = await listening;
    const m = (await lctl.read(20)).toString();
    expect((await c.readFile(`/tcp/${m}/remote`)).toString()).toMatch(new RegExp(`^${KERNEL.replace(/\./g, '\\.')}!\\d+\\n$`));
    const d = await c.open(`/tcp/${m}/data`, ORDWR);
    expect((await d.read(100)).toString()).toBe('hello from the kernel');
    await d.write('hello from 9net');
    await k.done;
    expect(k.out()).toContain('reply hello from 9net');
    // The kernel's RST: reads see EOF, writes fail, status is Closed.
    expect((await d.read(100)).length).toBe(0);
    await expect(d.write('anyone?')).rejects.toThrow('i/o on hungup channel');
    expect((await c.readFile(`/tcp/${m}/status`)).toString()).toMatch(/^Closed /);
    for (const f of [d, lctl, srv.ctl]) await f.close();
  }, 30_000);

  it('reports a kernel close through data and status, and a refused connect', async () => {
    const k = await kernelPy(`
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("${KERNEL}", 7003)); s.listen(1); print("ready", flush=True)
c, _ = s.accept(); c.sendall(b"bye"); c.close()
`);
    const { n, ctl } = await clone('tcp');
    await ctl.write(`connect ${KERNEL}!7003`);
    const d = await c.open(`/tcp/${n}/data`, ORDWR);
    expect((await d.read(100)).toString()).toBe('bye');
    expect((await d.read(100)).length).toBe(0);
    expect((await c.readFile(`/tcp/${n}/status`)).toString()).toMatch(/^Close_wait /);
    await k.done;
    await d.close();
    await ctl.close();
    const r = await clone('tcp');
    await expect(r.ctl.write(`connect ${KERNEL}!7999`)).rejects.toThrow('connection refused');
    await r.ctl.close();
  }, 30_000);

  it('counts what it received in the stack\'s statistics', async () => {
    const ip = (await c.readFile('/ipifc/stats')).toString();
    expect(Number(/InReceives: (\d+)/.exec(ip)![1])).toBeGreaterThan(0);
    const icmp = (await c.readFile('/icmp/stats')).toString();
    expect(icmp).toMatch(/^EchoRequest: [1-9]\d* \d+$/m);
    const st = (await c.readFile('/ipifc/1/status')).toString(); // 0 is the loopback
    expect(st).toMatch(/^device \/net\/ether0 /);
    expect(Number(/pktin (\d+)/.exec(st)![1])).toBeGreaterThan(0);
  });

  /** Ethernet/IPv4/ICMP frame building for python3 programs in the namespace (raw AF_PACKET on the TAP). */
  const PY_FRAMES = `
import socket, struct
def csum(b):
    if len(b) % 2: b += b"\\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def echo(dmac, smac, src, dst, ident):
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"9net martian test"
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), ident, 0, 64, 1, 0, socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dmac + smac + b"\\x08\\x00" + ip + icmp
def is_reply(f, us, ident):
    return len(f) >= 40 and f[12:14] == b"\\x08\\x00" and f[23] == 1 and f[34] == 0 and f[26:30] == socket.inet_aton(us) and struct.unpack("!H", f[38:40])[0] == ident
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
raw.bind(("${TAP}", 0))
kmac = bytes.fromhex(open("/sys/class/net/${TAP}/address").read().strip().replace(":", ""))
`;

  it('dials 127.0.0.1 inside the stack: a listener announced in the same stack answers, and no 127/8 frame reaches the TAP', async () => {
    const usMac = (await c.readFile('/ether0/addr')).toString().trim();
    // Capture on the kernel side of the TAP until our answer to a marker ping, sent
    // last, comes back: frames leave our stack in order, so any 127/8 frame sent
    // during the dial would be captured before it.
    const cap = spawn('ip', ['netns', 'exec', NS, 'python3', '-c', `${PY_FRAMES}
import sys
print("ready", flush=True)
sys.stdin.readline()
raw.send(echo(bytes.fromhex("${usMac}"), kmac, "${KERNEL}", "${US}", 0x7e57))
total = loop = 0
while True:
    f = raw.recv(65535)
    total += 1
    t = f[12:14]
    if t == b"\\x08\\x00" and len(f) >= 34 and (f[26] == 127 or f[30] == 127): loop += 1
    if t == b"\\x08\\x06" and len(f) >= 42 and (f[28] == 127 or f[38] == 127): loop += 1
    if is_reply(f, "${US}", 0x7e57): break
print("done", total, loop, flush=True)
`], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(cap);
    const lines: string[] = [];
    collectLines(cap.stdout!, lines);
    const capDone = new Promise((r) => cap.once('close', r));
    await new Promise<void>((r) => {
      const check = (): void => {
        if (!lines.includes('ready')) return;
        cap.stdout!.off('data', check);
        r();
      };
      cap.stdout!.on('data', check);
    });

    // TCP: announce, dial 127.0.0.1, exchange both ways.
    const srv = await clone('tcp');
    await srv.ctl.write('announce 7010');
    const listening = c.open(`/tcp/${srv.n}/listen`, ORDWR);
    const cli = await clone('tcp');
    await cli.ctl.write('connect 127.0.0.1!7010');
    const lctl = await listening;
    const m = (await lctl.read(20)).toString().trim();
    expect((await c.readFile(`/tcp/${cli.n}/local`)).toString()).toMatch(/^127\.0\.0\.1!\d+\n$/);
    expect((await c.readFile(`/tcp/${m}/remote`)).toString()).toMatch(/^127\.0\.0\.1!\d+\n$/);
    expect((await c.readFile(`/tcp/${m}/local`)).toString()).toBe('127.0.0.1!7010\n');
    const cd = await c.open(`/tcp/${cli.n}/data`, ORDWR);
    const sd = await c.open(`/tcp/${m}/data`, ORDWR);
    await cd.write('over the loopback');
    expect((await sd.read(100)).toString()).toBe('over the loopback');
    await sd.write('and back');
    expect((await cd.read(100)).toString()).toBe('and back');
    for (const f of [cd, sd, lctl, cli.ctl, srv.ctl]) await f.close();
    // Nothing listens on 127.0.0.1!22: refused at once (our own reset), not a timeout.
    const ssh = await clone('tcp');
    await expect(ssh.ctl.write('connect 127.0.0.1!22')).rejects.toThrow('connection refused');
    await ssh.ctl.close();
    // UDP to another 127/8 address, and a ping of 127.0.0.1 through /net/icmp.
    const u1 = await clone('udp');
    await u1.ctl.write('announce 7011');
    await u1.ctl.write('headers');
    const u2 = await clone('udp');
    await u2.ctl.write('connect 127.3.2.1!7011');
    const u1d = await c.open(`/udp/${u1.n}/data`, ORDWR);
    const u2d = await c.open(`/udp/${u2.n}/data`, ORDWR);
    await u2d.write('udp on lo');
    const got = await u1d.read(200);
    expect([...got.subarray(12, 16)].join('.')).toBe('127.0.0.1'); // from
    expect([...got.subarray(28, 32)].join('.')).toBe('127.3.2.1'); // to
    expect(got.subarray(52).toString()).toBe('udp on lo');
    const p = await clone('icmp');
    await p.ctl.write('connect 127.0.0.1!1');
    const pd = await c.open(`/icmp/${p.n}/data`, ORDWR);
    const msg = Buffer.alloc(40);
    msg[20] = 8;
    msg.writeUInt16BE(5, 26);
    await pd.write(msg);
    const r = await pd.read(200);
    expect([...r.subarray(12, 16)].join('.')).toBe('127.0.0.1');
    expect(r[20]).toBe(0);
    for (const f of [u1d, u2d, pd, u1.ctl, u2.ctl, p.ctl]) await f.close();

    cap.stdin!.write('go\n');
    await capDone;
    const done = lines.find((l) => l.startsWith('done '))!.split(' ').map(Number);
    expect(done[1]).toBeGreaterThan(0); // the capture saw frames (the marker at least)
    expect(done[2]).toBe(0); // none of them 127/8
    const lo = (await c.readFile('/ipifc/0/status')).toString();
    expect(lo).toMatch(/^device \/dev\/null maxtu 16384 /);
    expect(Number(/pktout (\d+)/.exec(lo)![1])).toBeGreaterThan(0);
  }, 30_000);

  it('answers no echo request from a martian source (127.0.0.1, 0.0.0.0, our subnet\'s broadcast and network address) and counts them', async () => {
    const usMac = (await c.readFile('/ether0/addr')).toString().trim();
    const before = Number(/InAddrErrors: (\d+)/.exec((await c.readFile('/ipifc/stats')).toString())![1]);
    const net = US.replace(/\.\d+$/, '.0');
    const bcast = US.replace(/\.\d+$/, '.255');
    // The martians first, then a good request: our stack answers in order, so
    // once the good reply is back every martian has been dealt with.
    const k = await kernelPy(`${PY_FRAMES}
us = bytes.fromhex("${usMac}")
print("ready", flush=True)
for src, ident in (("127.0.0.1", 0x4d01), ("0.0.0.0", 0x4d02), ("${bcast}", 0x4d03), ("${net}", 0x4d04)):
    raw.send(echo(us, kmac, src, "${US}", ident))
raw.send(echo(us, kmac, "${KERNEL}", "${US}", 0x4d00))
raw.settimeout(20)
seen = []
while True:
    f = raw.recv(65535)
    if f[6:12] != us or len(f) < 40 or f[12:14] != b"\\x08\\x00" or f[23] != 1 or f[34] != 0: continue
    ident = struct.unpack("!H", f[38:40])[0]
    seen.append("%04x>%s" % (ident, socket.inet_ntoa(f[30:34])))
    if ident == 0x4d00: break
print("replies", " ".join(seen), flush=True)
`);
    await k.done;
    expect(k.out()).toContain(`replies 4d00>${KERNEL}\n`);
    const after = Number(/InAddrErrors: (\d+)/.exec((await c.readFile('/ipifc/stats')).toString())![1]);
    expect(after - before).toBe(4);
    // An ordinary ping is still answered.
    const { code, out } = await inNs(['ping', '-c', '2', '-i', '0.2', '-W', '2', US]);
    expect(out).toMatch(/2 packets transmitted, 2 received/);
    expect(code).toBe(0);
  }, 30_000);
});

