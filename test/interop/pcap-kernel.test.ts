/**
 * Our stack against the Linux kernel through a PcapLink: the stack runs over
 * an existing interface. The test creates a veth pair: PA stays in the root
 * namespace with NO address (IPv6 off, so the host kernel stays quiet) and
 * carries the capture; PB goes into a network namespace NS with 10.x.y.1/24.
 * Our StackNet attaches to PA with 10.x.y.2/24 and is driven through /net
 * over 9P: ping both ways, TCP both ways (4 MiB each direction, sha256).
 * afterAll deletes the namespace and the veth even on failure.
 *
 * PB keeps the offloads a veth has by default (tx checksum, TSO, GSO): its
 * kernel leaves TCP checksums unfinished (CHECKSUM_PARTIAL) and hands over
 * up to 64 KiB of TCP as one frame, as it would to a NIC. The addon finishes
 * and cuts them (native/offload.h); our TCP counts no checksum errors.
 */
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackNet } from '../../src/backend/stack/backend.js';
import { RealClock } from '../../src/lib/clock.js';
import { CryptoRng } from '../../src/lib/rng.js';
import { pcapAddonUnavailable } from '../../src/link/native.js';
import { PcapLink } from '../../src/link/pcap.js';
import { Client } from '../../src/ninep/client.js';
import type { File } from '../../src/ninep/client.js';
import { Server } from '../../src/ninep/server.js';
import { ORDWR } from '../../src/ninep/types.js';
import { inNs as runInNs, sh } from '../helpers/netns.js';
import { netGate, netTestsRequired } from '../helpers/net-gate.js';

const gate = netGate({ root: true, commands: ['ip', 'ping', 'python3', 'sysctl'] }, 'pcap link ↔ kernel interop');
gate.failIfRequired();
const addonMissing = pcapAddonUnavailable();
if (addonMissing && !netTestsRequired) console.warn(`skipping pcap kernel interop: ${addonMissing}`);
const skip = gate.skip || (addonMissing !== null && !netTestsRequired);

const id = randomBytes(3).toString('hex');
const PA = `pa${id}`; // root namespace, no address: the capture's interface
const PB = `pb${id}`; // in NS, the kernel's side
const NS = `9npk-${id}`;
const octet = 16 + (parseInt(id.slice(0, 2), 16) % 200);
const third = 1 + (parseInt(id.slice(2, 4), 16) % 250);
const KERNEL = `10.${octet}.${third}.1`;
const US = `10.${octet}.${third}.2`;
const MiB = 1024 * 1024;
const SIZE = 4 * MiB;


describe.skipIf(skip)('our stack and the Linux kernel over a PcapLink on a veth, through /net', () => {
  let net: StackNet;
  let link: PcapLink;
  let server: Server;
  let c: Client;
  const children: ChildProcess[] = [];

  const inNs = (args: string[]): Promise<{ code: number; out: string }> => runInNs(NS, args, children);

  /** A python3 program in NS; resolves once it prints "ready". */
  async function kernelPy(code: string): Promise<{ out: () => string; done: Promise<number> }> {
    const p = spawn('ip', ['netns', 'exec', NS, 'python3', '-c', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(p);
    let out = '';
    let err = '';
    p.stdout.on('data', (b) => (out += b));
    p.stderr.on('data', (b) => (err += b));
    const done = new Promise<number>((r) => p.once('close', (code) => r(code ?? -1)));
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (out.includes('ready')) resolve();
        else if (p.exitCode !== null) reject(new Error(`python exited ${p.exitCode}: ${err}`));
        else setTimeout(check, 5);
      };
      check();
    });
    return { out: () => out, done };
  }

  beforeAll(async () => {
    if (addonMissing) throw new Error(addonMissing);
    sh('ip', ['netns', 'add', NS]);
    sh('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    sh('ip', ['link', 'add', PA, 'type', 'veth', 'peer', 'name', PB, 'netns', NS]);
    sh('sysctl', ['-qw', `net.ipv6.conf.${PA}.disable_ipv6=1`]);
    sh('ip', ['link', 'set', PA, 'up']);
    sh('ip', ['-n', NS, 'addr', 'add', `${KERNEL}/24`, 'dev', PB]);
    sh('ip', ['-n', NS, 'link', 'set', PB, 'up']);
    sh('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);

    link = PcapLink.open({ iface: PA, rng: new CryptoRng(), batch: 256 });
    net = new StackNet({ eve: 'eve', clock: new RealClock(), rng: new CryptoRng() });
    net.configure(net.addEther(link), US, 24);
    server = new Server({ root: () => net.tree, log: () => {} });
    const l = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    c = await Client.dial(`tcp!127.0.0.1!${(l.address() as AddressInfo).port}`, { uname: 'eve' });
  }, 30_000);

  afterAll(async () => {
    for (const ch of children) if (ch.exitCode === null) ch.kill('SIGKILL');
    c?.close();
    await server?.close();
    await net?.close();
    await link?.close();
    try { sh('ip', ['netns', 'delete', NS]); } catch { /* not created */ }
    try { sh('ip', ['link', 'delete', PA]); } catch { /* gone with the namespace */ }
  });

  async function clone(proto: string): Promise<{ n: string; ctl: File }> {
    const ctl = await c.open(`/${proto}/clone`, ORDWR);
    return { n: (await ctl.read(20)).toString().trim(), ctl };
  }

  function pattern(size: number, mul: number): Buffer {
    const b = Buffer.alloc(size);
    for (let i = 0; i < size; i++) b[i] = (i * mul + (i >> 16)) & 0xff;
    return b;
  }

  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

  async function readToEof(d: File): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (;;) {
      const b = await d.read(65536);
      if (b.length === 0) return Buffer.concat(parts);
      parts.push(b);
    }
  }

  it('runs on the interface with its own MAC, no warnings', () => {
    expect(link.name).toBe(PA);
    expect(link.mtu).toBe(1500);
    expect(link.warnings).toEqual([]);
    expect(link.directionIn).toBe(true);
  });

  it('answers the kernel\'s pings', async () => {
    const { code, out } = await inNs(['ping', '-c', '3', '-i', '0.2', '-W', '2', US]);
    expect(out).toMatch(/3 packets transmitted, 3 received/);
    expect(code).toBe(0);
    // The kernel learned OUR MAC for US, not the interface's.
    const neigh = sh('ip', ['-n', NS, 'neigh', 'show', US]);
    expect(neigh).toContain(Buffer.from(link.mac).toString('hex').replace(/(..)(?!$)/g, '$1:'));
  });

  it('pings the kernel through /net/icmp', async () => {
    const { n, ctl } = await clone('icmp');
    await ctl.write(`connect ${KERNEL}!1`);
    const d = await c.open(`/icmp/${n}/data`, ORDWR);
    for (let seq = 1; seq <= 3; seq++) {
      const msg = Buffer.alloc(84);
      msg[20] = 8; // echo request
      msg.writeUInt16BE(seq, 26);
      msg.write('9net pcap ping', 28);
      await d.write(msg);
      const r = await d.read(2000);
      expect([...r.subarray(12, 16)].join('.')).toBe(KERNEL);
      expect(r[20]).toBe(0); // echo reply
      expect(r.readUInt16BE(26)).toBe(seq);
      expect(r.subarray(28, 42).toString()).toBe('9net pcap ping');
    }
    await d.close();
    await ctl.close();
  });

  it(`dials a kernel TCP listener: ${SIZE / MiB} MiB each way, sha256-checked`, async () => {
    const k = await kernelPy(`
import socket, hashlib
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("${KERNEL}", 7101)); s.listen(1); print("ready", flush=True)
c, _ = s.accept()
h = hashlib.sha256(); n = 0
while n < ${SIZE}:
    d = c.recv(1 << 16)
    if not d: break
    h.update(d); n += len(d)
print("got", n, h.hexdigest(), flush=True)
blk = bytes((i * 7) & 255 for i in range(1 << 16))
for i in range(${SIZE >> 16}): c.sendall(blk)
c.close()
`);
    const { n, ctl } = await clone('tcp');
    await ctl.write(`connect ${KERNEL}!7101`);
    const d = await c.open(`/tcp/${n}/data`, ORDWR);
    const up = pattern(SIZE, 13);
    await d.write(up);
    const down = await readToEof(d);
    const blk = Buffer.alloc(1 << 16);
    for (let i = 0; i < blk.length; i++) blk[i] = (i * 7) & 255;
    const want = createHash('sha256');
    for (let i = 0; i < SIZE >> 16; i++) want.update(blk);
    expect(down.length).toBe(SIZE);
    expect(sha(down)).toBe(want.digest('hex'));
    expect(await k.done).toBe(0);
    expect(k.out()).toContain(`got ${SIZE} ${sha(up)}`);
    await d.close();
    await ctl.close();
  }, 60_000);

  it(`accepts a kernel TCP client: ${SIZE / MiB} MiB each way, sha256-checked`, async () => {
    const srv = await clone('tcp');
    await srv.ctl.write('announce 7102');
    const listening = c.open(`/tcp/${srv.n}/listen`, ORDWR);
    const k = await kernelPy(`
import socket, hashlib
print("ready", flush=True)
c = socket.create_connection(("${US}", 7102), timeout=30)
blk = bytes((i * 11) & 255 for i in range(1 << 16))
for i in range(${SIZE >> 16}): c.sendall(blk)
c.shutdown(socket.SHUT_WR)
h = hashlib.sha256(); n = 0
while True:
    d = c.recv(1 << 16)
    if not d: break
    h.update(d); n += len(d)
print("got", n, h.hexdigest(), flush=True)
c.close()
`);
    const lctl = await listening;
    const m = (await lctl.read(20)).toString().trim();
    expect((await c.readFile(`/tcp/${m}/remote`)).toString()).toMatch(new RegExp(`^${KERNEL.replace(/\./g, '\\.')}!\\d+\\n$`));
    const d = await c.open(`/tcp/${m}/data`, ORDWR);
    const got = await readToEof(d); // the kernel's FIN ends it
    const blk = Buffer.alloc(1 << 16);
    for (let i = 0; i < blk.length; i++) blk[i] = (i * 11) & 255;
    const want = createHash('sha256');
    for (let i = 0; i < SIZE >> 16; i++) want.update(blk);
    expect(got.length).toBe(SIZE);
    expect(sha(got)).toBe(want.digest('hex'));
    const back = pattern(SIZE, 29);
    await d.write(back);
    await lctl.write('close'); // FIN after the data
    expect(await k.done).toBe(0);
    expect(k.out()).toContain(`got ${SIZE} ${sha(back)}`);
    for (const f of [d, lctl, srv.ctl]) await f.close();
  }, 60_000);

  it('finished the kernel\'s unfinished checksums and cut its TSO frames: no TCP checksum errors', async () => {
    const k = link.counters;
    expect(k.csumFinished + k.pieces).toBeGreaterThan(SIZE / 1500);
    expect(k.split).toBeGreaterThan(0);
    expect(k.unsplit).toBe(0);
    const tcp = (await c.readFile('/tcp/stats')).toString();
    expect(tcp).toMatch(/^CsumErrs: 0$/m);
    expect(tcp).toMatch(/^InErrs: 0$/m);
  });

  it('received everything through the capture, in batches, with nothing malformed', () => {
    const s = link.stats;
    expect(s.rxFrames).toBeGreaterThan(2 * SIZE / 1500);
    expect(s.txFrames).toBeGreaterThan(2 * SIZE / 1500);
    expect(s.rxErrors).toBe(0);
    expect(s.txErrors).toBe(0);
    expect(link.rxBatches).toBeLessThan(s.rxFrames);
  });
});
