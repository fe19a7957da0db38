// TCP interop with the Linux kernel: our stack on a TapLink whose kernel
// side lives in a network namespace this file creates (10.x addresses
// only). 9net connects to kernel listeners and accepts kernel clients;
// 100 MB each way, sha256-verified; the same under netem loss, reordering
// and delay; a kernel RST and a kernel close seen correctly. afterAll
// deletes the namespace and the device even on failure.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/lib/clock.js';
import { CryptoRng, SeededRng } from '../../src/lib/rng.js';
import { FaultLink } from '../../src/link/fault.js';
import { tapAddonUnavailable } from '../../src/link/native.js';
import { TapLink } from '../../src/link/tap.js';
import { Stack } from '../../src/stack/stack.js';
import type { TcpConn } from '../../src/stack/tcp/conn.js';
import { TcpLayer } from '../../src/stack/tcp/tcp.js';
import type { TcpHandler } from '../../src/stack/tcp/types.js';
import { parseIpv4Addr } from '../../src/stack/wire/ipv4.js';
import { netGate, netTestsRequired } from '../helpers/net-gate.js';
import { collectLines } from '../helpers/netns.js';

const gate = netGate({ root: true, tun: true, commands: ['ip', 'tc', 'python3'] }, 'TCP kernel interop');
gate.failIfRequired();
const addonMissing = tapAddonUnavailable();
if (addonMissing && !netTestsRequired) console.warn(`skipping TCP kernel interop: ${addonMissing}`);
const skip = gate.skip || (addonMissing !== null && !netTestsRequired);

const MB = 1_000_000;
const BIG = 100 * MB;
const NETEM_SIZE = 100 * MB;

const suffix = randomBytes(3).toString('hex');
const NS = `9nk-${suffix}`;
const TAP = `9nk${suffix}`;
const net = randomInt(1, 255);
const KERNEL = `10.78.${net}.1`;
const US = `10.78.${net}.2`;
const ipnum = (s: string): number => parseIpv4Addr(s)!;

/** Kernel-side helper: python3 in the namespace. */
const PY = String.raw`
import socket, hashlib, sys, os, struct, time
role, mode, host, port, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
if role == 'server':
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port)); ls.listen(4)
    print('ready', flush=True)
    c, _ = ls.accept()
else:
    c = socket.create_connection((host, port), timeout=30)
    c.settimeout(None)
    print('connected', flush=True)
if mode == 'recv':
    h = hashlib.sha256(); t = 0
    while True:
        b = c.recv(1 << 20)
        if not b: break
        h.update(b); t += len(b)
    print(t, h.hexdigest(), flush=True)
    c.close()
elif mode == 'send':
    h = hashlib.sha256(); t = 0; blk = bytearray(os.urandom(1 << 20))
    while t < n:
        k = min(len(blk), n - t); m = memoryview(blk)[:k]
        c.sendall(m); h.update(m); t += k
        blk[t % 4096] ^= 0x5a
    print(t, h.hexdigest(), flush=True)
    c.close()
elif mode == 'rst':
    c.recv(100)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    c.close()
    print('reset', flush=True)
elif mode == 'close':
    c.sendall(b'bye')
    c.close()
    print('closed', flush=True)
`;

interface Py {
  lines: string[];
  wait(pred: (lines: string[]) => boolean, ms: number, what: string): Promise<void>;
  exit: Promise<number | null>;
  kill(): void;
}

function py(role: 'server' | 'client', mode: string, host: string, port: number, n = 0): Py {
  const p = spawn('ip', ['netns', 'exec', NS, 'python3', '-c', PY, role, mode, host, String(port), String(n)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let err = '';
  collectLines(p.stdout, lines);
  p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  return {
    lines,
    exit,
    kill: () => {
      if (p.exitCode === null) p.kill();
    },
    async wait(pred, ms, what) {
      for (const end = Date.now() + ms; !pred(lines); ) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; python stderr: ${err}`);
        if (p.exitCode !== null && !pred(lines)) throw new Error(`python exited ${p.exitCode} before ${what}: ${err}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  for (const end = Date.now() + ms; !cond(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Receives into a sha256; counts bytes; records end/close. */
function hashSink(): { h: TcpHandler; n: () => number; digest: () => string; end: () => boolean; closed: () => string | null | undefined; reset: () => boolean } {
  const hash = createHash('sha256');
  let n = 0;
  let end = false;
  let reset = false;
  let closed: string | null | undefined;
  return {
    h: {
      onData: (d) => {
        hash.update(d);
        n += d.length;
      },
      onEnd: () => (end = true),
      onReset: () => (reset = true),
      onClosed: (r) => (closed = r),
    },
    n: () => n,
    digest: () => hash.digest('hex'),
    end: () => end,
    closed: () => closed,
    reset: () => reset,
  };
}

/** Sends `total` pseudo-random bytes as the send buffer allows; returns the sha256 of what was sent. */
function sender(conn: () => TcpConn | null, total: number, now: () => number) {
  const hash = createHash('sha256');
  const block = randomBytes(1 << 20);
  let sent = 0;
  const kick = (): void => {
    const c = conn();
    if (c === null) return;
    while (sent < total) {
      const k = Math.min(block.length - (sent % block.length), total - sent, 256 * 1024);
      const view = block.subarray(sent % block.length, (sent % block.length) + k);
      let n: number;
      try {
        n = c.write(view, now());
      } catch {
        return;
      }
      if (n === 0) return;
      hash.update(view.subarray(0, n));
      sent += n;
    }
  };
  return { kick, sent: () => sent, digest: () => hash.digest('hex') };
}

describe.skipIf(skip)('TCP against the Linux kernel over a TAP', () => {
  let link: TapLink;
  let stack: Stack;
  let tcp: TcpLayer;
  const clock = new RealClock();
  const now = (): number => clock.now();
  const rates: string[] = [];

  beforeAll(() => {
    link = TapLink.open({ name: TAP, mode: 'create', rng: new CryptoRng(), batch: 256 });
    execFileSync('ip', ['netns', 'add', NS]);
    spawnSync('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1'], { stdio: 'ignore' });
    execFileSync('ip', ['link', 'set', TAP, 'netns', NS]);
    execFileSync('ip', ['-n', NS, 'link', 'set', TAP, 'up']);
    execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    execFileSync('ip', ['-n', NS, 'addr', 'add', `${KERNEL}/24`, 'dev', TAP]);
    stack = new Stack({ clock, rng: new CryptoRng() });
    const ifc = stack.addInterface(link);
    ifc.addAddress(ipnum(US), 24);
    tcp = new TcpLayer(stack, { timeWaitMs: 2000 });
  });

  afterAll(async () => {
    if (rates.length) console.log(`TCP kernel interop throughput:\n  ${rates.join('\n  ')}`);
    tcp?.dispose();
    await link?.close();
    spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
    for (const dev of [TAP, `9nj${suffix}`]) if (spawnSync('ip', ['link', 'show', dev], { stdio: 'ignore' }).status === 0) spawnSync('ip', ['link', 'del', dev]);
  });

  async function upload(size: number, port: number, label: string): Promise<void> {
    // 9net connects to a kernel listener and sends `size` bytes.
    const k = py('server', 'recv', KERNEL, port);
    await k.wait((l) => l.includes('ready'), 10_000, 'kernel listener');
    let conn: TcpConn | null = null;
    const sink = hashSink();
    const s = sender(() => conn, size, now);
    let opened = false;
    const t0 = performance.now();
    conn = tcp.connect({
      remoteAddr: ipnum(KERNEL),
      remotePort: port,
      handler: { ...sink.h, onOpen: () => ((opened = true), s.kick()), onWritable: () => s.kick() },
    });
    await until(() => opened || sink.closed() !== undefined, 10_000, 'connect');
    expect(sink.closed()).toBeUndefined();
    await until(() => s.sent() === size, 90_000, `upload of ${size} bytes`);
    conn.close(now());
    await k.wait((l) => l.length >= 2, 60_000, 'kernel digest');
    const secs = (performance.now() - t0) / 1000;
    rates.push(`${label}: ${(size / MB / secs).toFixed(1)} MB/s (${secs.toFixed(2)} s)`);
    const [count, digest] = k.lines[1]!.split(' ');
    expect(Number(count)).toBe(size);
    expect(digest).toBe(s.digest());
    await k.exit;
  }

  async function download(size: number, port: number, label: string): Promise<void> {
    // A kernel client connects to our listener and sends `size` bytes.
    const sink = hashSink();
    let accepted: TcpConn | null = null;
    const l = tcp.listen({
      localPort: port,
      onAccept: (c) => {
        accepted = c;
        return sink.h;
      },
    });
    const t0 = performance.now();
    const k = py('client', 'send', US, port, size);
    try {
      await until(() => sink.end() || sink.closed() !== undefined, 90_000, `download of ${size} bytes`);
      const secs = (performance.now() - t0) / 1000;
      rates.push(`${label}: ${(size / MB / secs).toFixed(1)} MB/s (${secs.toFixed(2)} s)`);
      expect(sink.closed()).toBeUndefined();
      expect(sink.n()).toBe(size);
      await k.wait((x) => x.length >= 2, 10_000, 'kernel digest');
      const [count, digest] = k.lines[1]!.split(' ');
      expect(Number(count)).toBe(size);
      expect(sink.digest()).toBe(digest);
      expect(accepted!.state).toBe('Close_wait');
      accepted!.close(now());
      await until(() => accepted!.state === 'Closed', 5000, 'Last_ack → Closed');
      await k.exit;
    } finally {
      l.close();
      k.kill();
    }
  }

  it('connects to a kernel listener and sends 100 MB (sha256 verified)', async () => {
    await upload(BIG, 7001, '9net → kernel, 100 MB');
  }, 120_000);

  it('accepts a kernel client and receives 100 MB (sha256 verified)', async () => {
    await download(BIG, 7002, 'kernel → 9net, 100 MB');
  }, 120_000);

  it('reports connection refused for a closed kernel port', async () => {
    const sink = hashSink();
    tcp.connect({ remoteAddr: ipnum(KERNEL), remotePort: 7999, handler: sink.h });
    await until(() => sink.closed() !== undefined, 5000, 'refusal');
    expect(sink.closed()).toBe('connection refused');
  });

  it('sees a kernel RST (SO_LINGER 0) as a reset', async () => {
    const k = py('server', 'rst', KERNEL, 7003);
    await k.wait((l) => l.includes('ready'), 10_000, 'kernel listener');
    const sink = hashSink();
    const conn = tcp.connect({
      remoteAddr: ipnum(KERNEL),
      remotePort: 7003,
      handler: { ...sink.h, onOpen: () => conn.write(new TextEncoder().encode('hello'), now()) },
    });
    await until(() => sink.closed() !== undefined, 10_000, 'reset');
    expect(sink.reset()).toBe(true);
    expect(sink.closed()).toBe('connection refused');
    expect(conn.state).toBe('Closed');
    expect(tcp.stats.EstabResets).toBeGreaterThanOrEqual(1);
    await k.exit;
  });

  it('sees a kernel close: data, then EOF, then our close completes', async () => {
    const k = py('server', 'close', KERNEL, 7004);
    await k.wait((l) => l.includes('ready'), 10_000, 'kernel listener');
    const got: number[] = [];
    const sink = hashSink();
    const conn = tcp.connect({
      remoteAddr: ipnum(KERNEL),
      remotePort: 7004,
      handler: { ...sink.h, onData: (d) => got.push(...d) },
    });
    await until(() => sink.end(), 10_000, 'EOF');
    expect(new TextDecoder().decode(Uint8Array.from(got))).toBe('bye');
    expect(conn.state).toBe('Close_wait');
    conn.close(now());
    await until(() => conn.state === 'Closed', 5000, 'Closed');
    await k.exit;
  });

  describe('at MTU 65520 (MSS from the route MTU)', () => {
    const TAP2 = `9nj${suffix}`;
    const K2 = `10.79.${net}.1`;
    const U2 = `10.79.${net}.2`;
    let link2: TapLink;
    let stack2: Stack;
    let tcp2: TcpLayer;
    beforeAll(() => {
      link2 = TapLink.open({ name: TAP2, mode: 'create', rng: new CryptoRng(), mtu: 65520, batch: 128 });
      execFileSync('ip', ['link', 'set', TAP2, 'netns', NS]);
      execFileSync('ip', ['-n', NS, 'link', 'set', TAP2, 'mtu', '65520']);
      execFileSync('ip', ['-n', NS, 'link', 'set', TAP2, 'up']);
      execFileSync('ip', ['-n', NS, 'addr', 'add', `${K2}/24`, 'dev', TAP2]);
      stack2 = new Stack({ clock, rng: new CryptoRng() });
      stack2.addInterface(link2).addAddress(ipnum(U2), 24);
      tcp2 = new TcpLayer(stack2, { timeWaitMs: 2000 });
    });
    afterAll(async () => {
      tcp2?.dispose();
      stack2?.close();
      await link2?.close();
    });

    it('moves 100 MB each way with 65480-byte segments', async () => {
      // upload
      const k = py('server', 'recv', K2, 7021);
      await k.wait((l) => l.includes('ready'), 10_000, 'kernel listener');
      let conn: TcpConn | null = null;
      const s = sender(() => conn, BIG, now);
      let opened = false;
      let t0 = performance.now();
      conn = tcp2.connect({ remoteAddr: ipnum(K2), remotePort: 7021, handler: { onOpen: () => ((opened = true), s.kick()), onWritable: () => s.kick() } });
      await until(() => opened, 10_000, 'connect');
      expect(conn.info().mss).toBe(65480 - 12);
      await until(() => s.sent() === BIG, 90_000, 'upload');
      conn.close(now());
      await k.wait((l) => l.length >= 2, 60_000, 'kernel digest');
      let secs = (performance.now() - t0) / 1000;
      rates.push(`9net → kernel, MTU 65520, 100 MB: ${(BIG / MB / secs).toFixed(1)} MB/s (${secs.toFixed(2)} s)`);
      expect(k.lines[1]).toBe(`${BIG} ${s.digest()}`);
      await k.exit;
      // download
      const sink = hashSink();
      const l = tcp2.listen({ localPort: 7022, onAccept: () => sink.h });
      t0 = performance.now();
      const k2 = py('client', 'send', U2, 7022, BIG);
      try {
        await until(() => sink.end() || sink.closed() !== undefined, 90_000, 'download');
        secs = (performance.now() - t0) / 1000;
        rates.push(`kernel → 9net, MTU 65520, 100 MB: ${(BIG / MB / secs).toFixed(1)} MB/s (${secs.toFixed(2)} s)`);
        await k2.wait((x) => x.length >= 2, 10_000, 'kernel digest');
        expect(`${sink.n()} ${sink.digest()}`).toBe(k2.lines[1]);
      } finally {
        l.close();
        k2.kill();
      }
    }, 120_000);
  });

  describe('with 1% loss, 10 ms delay and reordering on the kernel → 9net path', () => {
    // tc netem on the kernel side of the TAP when the kernel has sch_netem;
    // otherwise (e.g. a VM kernel without the module) the same impairment is
    // applied by a seeded FaultLink to the frames the kernel sends us.
    let mode = 'tc netem loss 1% delay 10ms reorder 25% 50%';
    let replaced = false;
    beforeAll(async () => {
      const r = spawnSync('ip', ['netns', 'exec', NS, 'tc', 'qdisc', 'add', 'dev', TAP, 'root', 'netem', 'loss', '1%', 'delay', '10ms', 'reorder', '25%', '50%', 'limit', '10000'], { encoding: 'utf8' });
      if (r.status !== 0) {
        mode = 'FaultLink rx drop 1% delay 10ms reorder 25% (no sch_netem in this kernel)';
        replaced = true;
        tcp.dispose();
        stack.close();
        const fl = new FaultLink(link, { rng: new SeededRng(42), clock, rx: { drop: 0.01, delay: 10, reorder: 0.25 }, limit: 65536 });
        stack = new Stack({ clock, rng: new CryptoRng() });
        stack.addInterface(fl).addAddress(ipnum(US), 24);
        tcp = new TcpLayer(stack, { timeWaitMs: 2000 });
      }
      rates.push(`impairment: ${mode}`);
    });
    afterAll(() => {
      if (!replaced) spawnSync('ip', ['netns', 'exec', NS, 'tc', 'qdisc', 'del', 'dev', TAP, 'root'], { stdio: 'ignore' });
    });

    it(`sends ${NETEM_SIZE / MB} MB to a kernel listener`, async () => {
      await upload(NETEM_SIZE, 7011, `9net → kernel, impaired, ${NETEM_SIZE / MB} MB`);
    }, 120_000);

    it(`receives ${NETEM_SIZE / MB} MB from a kernel client`, async () => {
      await download(NETEM_SIZE, 7012, `kernel → 9net, impaired, ${NETEM_SIZE / MB} MB`);
    }, 120_000);
  });
});
