/**
 * Three levels of stacking against the Linux kernel (issue 5):
 *   A: our stack on a TAP whose kernel side is in a namespace the test creates;
 *   B: a second stack whose link is A's /net/ether0 over 9P, with its own IP;
 *   C: a server whose /net/tcp, /net/udp and /net/cs are B's, over 9P (--over).
 * A TCP conversation opened in C's /net reaches a kernel listener through B's
 * stack and A's ether; the kernel's pings reach B's address.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackNet } from '../../src/backend/stack/backend.js';
import { RealClock } from '../../src/lib/clock.js';
import { CryptoRng } from '../../src/lib/rng.js';
import { tapAddonUnavailable } from '../../src/link/native.js';
import { TapLink } from '../../src/link/tap.js';
import { Client } from '../../src/ninep/client.js';
import type { Node } from '../../src/ninep/node.js';
import { Server } from '../../src/ninep/server.js';
import { ORDWR } from '../../src/ninep/types.js';
import { overNet } from '../../src/backend/over/backend.js';
import { inNs as runInNs, sh as run } from '../helpers/netns.js';
import { netGate } from '../helpers/net-gate.js';

const gate = netGate({ root: true, tun: true, commands: ['ip', 'ping', 'python3'] }, 'three-level stacking');
gate.failIfRequired();
const addonMissing = tapAddonUnavailable();

const id = randomBytes(3).toString('hex');
const TAP = `9ns${id}`;
const NS = `9ns${id}`;
const octet = 16 + (parseInt(id.slice(2, 4), 16) % 200);
const KERNEL = `10.${octet}.9.1`;
const A_IP = `10.${octet}.9.2`;
const B_IP = `10.${octet}.9.3`;

function sh(args: string[]): string {
  return run('ip', args);
}

async function serve(root: Node): Promise<{ server: Server; addr: string }> {
  const server = new Server({ root: () => root, log: () => {} });
  const l = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
  return { server, addr: `tcp!127.0.0.1!${(l.address() as AddressInfo).port}` };
}

describe.skipIf(gate.skip)('three levels: a TAP stack, a stack on its ether, a relay over that', () => {
  let a: StackNet;
  let b: StackNet;
  const servers: Server[] = [];
  let cClose: (() => Promise<void>) | null = null;
  let cAddr = '';
  let bAddr = '';
  const clients: Client[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    if (addonMissing) throw new Error(addonMissing);
    a = new StackNet({ eve: 'eve', clock: new RealClock(), rng: new CryptoRng() });
    const link = TapLink.open({ name: TAP, mode: 'create' });
    const port = a.addEther(link);
    sh(['netns', 'add', NS]);
    sh(['link', 'set', TAP, 'netns', NS]);
    sh(['-n', NS, 'addr', 'add', `${KERNEL}/24`, 'dev', TAP]);
    sh(['-n', NS, 'link', 'set', TAP, 'up']);
    a.configure(port, A_IP, 24);
    const sa = await serve(a.tree);
    servers.push(sa.server);
    b = new StackNet({ eve: 'eve', clock: new RealClock(), rng: new CryptoRng() });
    b.configure(await b.etherOver(sa.addr, '/ether0'), B_IP, 24);
    const sb = await serve(b.tree);
    servers.push(sb.server);
    bAddr = sb.addr;
    const c = await overNet({ eve: 'eve', lower: sb.addr });
    cClose = c.close;
    const sc = await serve(c.tree);
    servers.push(sc.server);
    cAddr = sc.addr;
  }, 30_000);

  afterAll(async () => {
    for (const ch of children) ch.kill('SIGKILL');
    for (const c of clients) c.close();
    for (const s of servers.reverse()) await s.close();
    await cClose?.();
    await b?.close();
    await a?.close();
    try { sh(['netns', 'delete', NS]); } catch { /* not created */ }
  });

  async function client(addr: string): Promise<Client> {
    const c = await Client.dial(addr, { uname: 'eve' });
    clients.push(c);
    return c;
  }

  const inNs = (args: string[]): Promise<{ code: number; out: string }> => runInNs(NS, args, children);

  it('lets the kernel ping the second stack, whose card is the first stack\'s ether0', async () => {
    const r = await inNs(['ping', '-c', '3', '-i', '0.2', '-W', '2', B_IP]);
    expect(r.out).toMatch(/3 packets transmitted, 3 received/);
    const r2 = await inNs(['ping', '-c', '1', '-W', '2', A_IP]);
    expect(r2.code).toBe(0);
  });

  it('carries 10 MB from a conversation in C\'s /net to a kernel listener, byte-exact', async () => {
    const MiB = 1024 * 1024;
    const total = 10 * MiB;
    const listener = spawn('ip', ['netns', 'exec', NS, 'python3', '-c', `
import socket, hashlib
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("${KERNEL}", 7301)); s.listen(1); print("ready", flush=True)
c, a = s.accept(); h = hashlib.sha256(); n = 0
while n < ${total}:
    d = c.recv(1 << 16)
    if not d: break
    h.update(d); n += len(d)
print("got", n, h.hexdigest(), a[0], flush=True)
c.sendall(b"thanks"); c.close()
`], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(listener);
    let out = '';
    listener.stdout!.on('data', (d) => (out += d));
    await new Promise<void>((r) => { const f = (): void => (out.includes('ready') ? r() : void listener.stdout!.once('data', f)); f(); });
    const c = await client(cAddr);
    const ctl = await c.open('/tcp/clone', ORDWR);
    const n = (await ctl.read(20)).toString();
    await ctl.write(`connect ${KERNEL}!7301`);
    const data = await c.open(`/tcp/${n}/data`, ORDWR);
    const payload = Buffer.alloc(total);
    for (let i = 0; i < total; i++) payload[i] = (i * 29 + (i >> 20)) & 0xff;
    await data.write(payload);
    // Plan 9 has no half-close: the kernel reads until it has it all, so wait for its report.
    while (!out.includes('got')) await new Promise((r) => setTimeout(r, 50));
    expect(out).toContain(`got ${total} ${createHash('sha256').update(payload).digest('hex')} ${B_IP}`);
    expect((await data.read(100)).toString()).toBe('thanks');
    // C's conversation is B's: B's /net shows it with B's address.
    const lowerStatus = (await (await client(bAddr)).readFile('/tcp/stats')).toString();
    expect(lowerStatus).toMatch(/^ActiveOpens: [1-9]/m);
    await data.close();
    await ctl.close();
  }, 60_000);
});
