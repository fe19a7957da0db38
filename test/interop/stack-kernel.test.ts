/**
 * Our stack against the Linux kernel through a real TAP, driven only through
 * the /net files over 9P. The test creates the TAP, lets 9net attach to it,
 * moves the kernel side into a network namespace it creates, and deletes
 * both at the end; traffic stays inside that namespace (10.x addresses).
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackNet } from '../../src/ip/backend.js';
import { RealClock } from '../../src/lib/clock.js';
import { CryptoRng } from '../../src/lib/rng.js';
import { tapAddonUnavailable } from '../../src/link/native.js';
import { TapLink } from '../../src/link/tap.js';
import { Client } from '../../src/ninep/client.js';
import type { File } from '../../src/ninep/client.js';
import { Server } from '../../src/ninep/server.js';
import { ORDWR, OWRITE } from '../../src/ninep/types.js';
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

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
/** Run a command in the namespace without blocking our event loop (our stack must answer). */
function inNs(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', NS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b) => (out += b));
    p.stderr.on('data', (b) => (out += b));
    p.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

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
    server = new Server({ root: () => net.root, log: () => {} });
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

  it('counts what it received in the stack\'s statistics', async () => {
    const ip = (await c.readFile('/ipifc/stats')).toString();
    expect(Number(/InReceives: (\d+)/.exec(ip)![1])).toBeGreaterThan(0);
    const icmp = (await c.readFile('/icmp/stats')).toString();
    expect(icmp).toMatch(/^EchoRequest: [1-9]\d* \d+$/m);
    const st = (await c.readFile('/ipifc/0/status')).toString();
    expect(Number(/pktin (\d+)/.exec(st)![1])).toBeGreaterThan(0);
  });
});
