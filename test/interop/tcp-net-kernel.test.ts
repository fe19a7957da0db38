/**
 * Our TCP against the Linux kernel through /net files (a StackNet served
 * over 9P, as stack-kernel.test.ts does), on a TAP whose kernel side is a
 * router: namespace R (forwarding on) holds the TAP's other end and a veth
 * into namespace T, which holds the target. Both namespaces, the TAP and
 * the veth are created here (10.x addresses that exist only inside them)
 * and deleted afterwards.
 *
 *   us 10.N.1.2 ── TAP ── 10.N.1.1 [R, forwarding] 10.N.2.1 ── veth ── 10.N.2.2 [T]
 *
 * (a) traceroute-style: a connect with `ttl 1` fails with `ttl exceeded
 *     at 10.N.1.1` (the kernel router's ICMP time exceeded), and with a
 *     ttl high enough it connects;
 * (b) a burst of 40 simultaneous kernel clients (python in R) to one
 *     announced conversation: every one is accepted through `listen`,
 *     none reset or refused, with the default backlog and with `backlog
 *     8`, where the calls beyond the queue wait in SYN retransmission
 *     (or with their handshake held) until listens take calls.
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
import { ORDWR } from '../../src/ninep/types.js';
import { netGate } from '../helpers/net-gate.js';
import { collectLines, sh } from '../helpers/netns.js';

const gate = netGate({ root: true, tun: true, commands: ['ip', 'python3', 'sysctl'] }, 'TCP /net ↔ kernel router interop');
gate.failIfRequired();
const addonMissing = tapAddonUnavailable();

const id = randomBytes(3).toString('hex');
const TAP = `9nt${id}`;
const NS_R = `9nt${id}r`;
const NS_T = `9nt${id}t`;
const VETH_R = `9nv${id}r`;
const VETH_T = `9nv${id}t`;
const N = 16 + (parseInt(id.slice(0, 2), 16) % 200);
const US = `10.${N}.1.2`;
const ROUTER = `10.${N}.1.1`;
const ROUTER2 = `10.${N}.2.1`;
const TARGET = `10.${N}.2.2`;

/** Kernel clients: `n` threads start together, each connects, sends "hello i", expects "ok i". */
const CLIENTS_PY = String.raw`
import socket, sys, threading
host, port, n, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
bar = threading.Barrier(n)
lock = threading.Lock()
def say(s):
    with lock: print(s, flush=True)
def one(i):
    try:
        bar.wait()
        c = socket.create_connection((host, port), timeout=90)
        say("connected %d" % i)
        c.sendall(b"hello %d\n" % i)
        buf = b""
        while not buf.endswith(b"\n"):
            d = c.recv(100)
            if not d: break
            buf += d
        c.close()
        say("ok %d" % i if buf == b"ok %d\n" % i else "err %d reply %r" % (i, buf))
    except Exception as e:
        say("err %d %s %s" % (i, type(e).__name__, e))
ts = [threading.Thread(target=one, args=(base + k,)) for k in range(n)]
for t in ts: t.start()
for t in ts: t.join()
say("done")
`;

/** The target in T: echoes each connection's bytes back, upper-cased. */
const ECHO_PY = String.raw`
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("${TARGET}", 7100)); s.listen(8); print("ready", flush=True)
def serve(c):
    while True:
        d = c.recv(4096)
        if not d: break
        c.sendall(d.upper())
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

interface Py {
  lines: string[];
  done: Promise<number>;
}

describe.skipIf(gate.skip)('our TCP through /net and a kernel router', () => {
  let net: StackNet;
  let server: Server;
  let c: Client;
  const children: ChildProcess[] = [];
  const logs: string[] = [];

  function py(ns: string, code: string, args: string[] = []): Py {
    const p = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', code, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(p);
    const lines: string[] = [];
    collectLines(p.stdout!, lines);
    return { lines, done: new Promise<number>((r) => p.once('close', (code) => r(code ?? -1))) };
  }

  async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
    for (const end = Date.now() + ms; !cond(); ) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async function clone(): Promise<{ n: string; ctl: File }> {
    const ctl = await c.open('/tcp/clone', ORDWR);
    return { n: (await ctl.read(20)).toString().trim(), ctl };
  }

  beforeAll(async () => {
    if (addonMissing) throw new Error(addonMissing);
    net = new StackNet({ eve: 'eve', clock: new RealClock(), rng: new CryptoRng() });
    const link = TapLink.open({ name: TAP, mode: 'create' });
    const port = net.addEther(link);
    sh('ip', ['netns', 'add', NS_R]);
    sh('ip', ['netns', 'add', NS_T]);
    sh('ip', ['link', 'set', TAP, 'netns', NS_R]);
    sh('ip', ['-n', NS_R, 'link', 'add', VETH_R, 'type', 'veth', 'peer', 'name', VETH_T, 'netns', NS_T]);
    sh('ip', ['-n', NS_R, 'addr', 'add', `${ROUTER}/24`, 'dev', TAP]);
    sh('ip', ['-n', NS_R, 'addr', 'add', `${ROUTER2}/24`, 'dev', VETH_R]);
    sh('ip', ['-n', NS_T, 'addr', 'add', `${TARGET}/24`, 'dev', VETH_T]);
    for (const [ns, dev] of [[NS_R, TAP], [NS_R, VETH_R], [NS_R, 'lo'], [NS_T, VETH_T], [NS_T, 'lo']] as const) {
      sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    sh('ip', ['-n', NS_T, 'route', 'add', 'default', 'via', ROUTER2]);
    sh('ip', ['netns', 'exec', NS_R, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    net.configure(port, US, 24, ROUTER);
    server = new Server({ root: () => net.tree, log: (l) => logs.push(l) });
    const l = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    c = await Client.dial(`tcp!127.0.0.1!${(l.address() as AddressInfo).port}`, { uname: 'eve' });
  }, 30_000);

  afterAll(async () => {
    for (const ch of children) ch.kill('SIGKILL');
    c?.close();
    await server?.close();
    await net?.close();
    for (const ns of [NS_T, NS_R]) {
      try { sh('ip', ['netns', 'delete', ns]); } catch { /* not created */ }
    }
    try { sh('ip', ['link', 'delete', TAP]); } catch { /* gone with its namespace */ }
    expect(logs.filter((l) => l.includes('internal error'))).toEqual([]);
  });

  it('fails a connect with ttl 1 with `ttl exceeded at` the kernel router, and connects with a higher ttl', async () => {
    const echo = py(NS_T, ECHO_PY);
    await until(() => echo.lines.includes('ready'), 10_000, 'the target');
    const t1 = await clone();
    await t1.ctl.write('ttl 1');
    await expect(t1.ctl.write(`connect ${TARGET}!7100`)).rejects.toThrow(`ttl exceeded at ${ROUTER}`);
    await t1.ctl.close();
    const ok = await clone();
    await ok.ctl.write('ttl 2');
    await ok.ctl.write(`connect ${TARGET}!7100`);
    expect((await c.readFile(`/tcp/${ok.n}/status`)).toString()).toMatch(/^Established /);
    const d = await c.open(`/tcp/${ok.n}/data`, ORDWR);
    await d.write('one hop away');
    let got = '';
    while (got.length < 12) got += (await d.read(100)).toString();
    expect(got).toBe('ONE HOP AWAY');
    await d.close();
    await ok.ctl.close();
  }, 30_000);

  /**
   * Serves `calls` calls of announced conversation `ann` through /net
   * listen, each at once and concurrently: reads "hello i", answers "ok i".
   */
  async function acceptAll(ann: string, calls: number): Promise<void> {
    const served: Promise<void>[] = [];
    for (let k = 0; k < calls; k++) {
      const lctl = await c.open(`/tcp/${ann}/listen`, ORDWR);
      served.push((async () => {
        const m = (await lctl.read(20)).toString().trim();
        const d = await c.open(`/tcp/${m}/data`, ORDWR);
        let line = '';
        while (!line.endsWith('\n')) {
          const b = await d.read(100);
          if (b.length === 0) break;
          line += b.toString();
        }
        await d.write(`ok ${line.trim().replace('hello ', '')}\n`);
        await d.close();
        await lctl.close();
      })());
    }
    await Promise.all(served);
  }

  const results = (p: Py): { ok: number; errs: string[] } => ({
    ok: p.lines.filter((l) => l.startsWith('ok ')).length,
    errs: p.lines.filter((l) => l.startsWith('err ')),
  });

  it('accepts a burst of 40 simultaneous kernel clients through listen, none reset or refused', async () => {
    const ann = await clone();
    await ann.ctl.write('announce 7200');
    const overflowsBefore = net.tcp.listenOverflows;
    const k = py(NS_R, CLIENTS_PY, [US, '7200', '40', '0']);
    await acceptAll(ann.n, 40);
    expect(await k.done).toBe(0);
    expect(results(k)).toEqual({ ok: 40, errs: [] });
    expect(net.tcp.listenOverflows - overflowsBefore).toBe(0); // 40 fit the default backlog (64)
    await ann.ctl.close();
  }, 60_000);

  it('with backlog 8, the calls beyond the queue wait for listens, then all complete', async () => {
    const ann = await clone();
    await ann.ctl.write('backlog 8');
    await ann.ctl.write('announce 7201');
    const before = net.tcp.listenOverflows;
    const rstsBefore = net.tcp.stats.OutRsts;
    // Eight calls fill the queue (nobody listens yet).
    const first = py(NS_R, CLIENTS_PY, [US, '7201', '8', '0']);
    await until(() => first.lines.filter((l) => l.startsWith('connected')).length === 8 && net.tcp.limboCount === 0, 20_000, 'the first eight');
    // 32 more at once: their SYNs find the queue full and go unanswered; they retransmit.
    const rest = py(NS_R, CLIENTS_PY, [US, '7201', '32', '8']);
    await until(() => net.tcp.listenOverflows - before >= 32, 20_000, 'the SYNs dropped for want of room');
    expect(rest.lines.filter((l) => l.startsWith('connected'))).toEqual([]);
    // Listens take the calls: every client gets in at its next SYN and is answered.
    await acceptAll(ann.n, 40);
    expect(await first.done).toBe(0);
    expect(await rest.done).toBe(0);
    expect(results(first)).toEqual({ ok: 8, errs: [] });
    expect(results(rest)).toEqual({ ok: 32, errs: [] });
    expect(net.tcp.stats.OutRsts - rstsBefore).toBe(0);
    await ann.ctl.close();
  }, 120_000);
});
