// Single-stream TCP throughput between a user-space stack and a Linux peer,
// both directions, at MTU 1500 and 65520, in one run:
//   9net:        our TCP (in this process) over a TAP whose kernel side is in a
//                namespace with the Linux peer.
//   slirp4netns: a Linux client in a namespace whose only link is slirp4netns,
//                talking to the same kind of peer on the host (via 10.0.2.2).
//   pasta:       a reference only: pasta's loopback port forwarding (-T: the
//                namespace's 127.0.0.1 spliced to the host's 127.0.0.1), not
//                its TAP path, so that no connection can leave the machine.
// "up" = from the stack's side to the peer; "down" = peer to the stack's side.
// The receiver measures from its first to its last byte.
//   node bench/tcp-peers.mjs [MiB=256]        (root; npm run build && npm run build:native)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, tapIntoNamespace } from './lib.mjs';

const MiB = 1024 * 1024;
const total = Number(process.argv[2] ?? 256) * MiB;
if (process.getuid?.() !== 0) { console.error('tcp-peers: needs root (TAP devices, namespaces)'); process.exit(1); }

const { TapLink } = await import(`${root}/dist/link/tap.js`);
const { Stack } = await import(`${root}/dist/stack/stack.js`);
const { TcpLayer } = await import(`${root}/dist/stack/tcp/tcp.js`);
const { RealClock } = await import(`${root}/dist/lib/clock.js`);
const { CryptoRng, SeededRng } = await import(`${root}/dist/lib/rng.js`);
const { FaultLink } = await import(`${root}/dist/link/fault.js`);

// The Linux peer: sink (receive until EOF, report) or source (send N bytes).
const peerPy = join(tmpdir(), `9net-peer-${process.pid}.py`);
writeFileSync(peerPy, `
import socket, sys, time, json
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
n = int(sys.argv[4]) if len(sys.argv) > 4 else 0
def recv_all(c):
    buf = bytearray(1 << 20); got = 0; t0 = None
    while True:
        k = c.recv_into(buf)
        if k == 0: break
        if t0 is None: t0 = time.monotonic()
        got += k
    return got, (time.monotonic() - t0) if t0 else 0.0
def send_all(c, n):
    blk = bytes(1 << 20); left = n
    while left > 0:
        c.sendall(blk[:min(left, len(blk))]); left -= min(left, len(blk))
if mode in ("sink", "source"):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port)); s.listen(1); print("ready", flush=True)
    c, _ = s.accept()
else:
    print("ready", flush=True)
    c = socket.create_connection((host, port))
if mode in ("sink", "recv"):
    got, secs = recv_all(c); print(json.dumps({"bytes": got, "seconds": secs}), flush=True)
else:
    send_all(c, n); c.shutdown(socket.SHUT_WR); c.recv(1)
c.close()
`);

const id = randomBytes(3).toString('hex');
const cleanups = [];
const cleanup = () => { for (const f of cleanups.splice(0).reverse()) { try { f(); } catch { /* best effort */ } } };
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
const sh = (...a) => execFileSync(a[0], a.slice(1), { encoding: 'utf8', stdio: 'pipe' });

/** Start a peer (optionally inside a namespace); resolves once it is listening/ready. */
function peer(ns, args) {
  const cmd = ns ? ['ip', 'netns', 'exec', ns, 'python3', peerPy, ...args] : ['python3', peerPy, ...args];
  const p = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  const ready = new Promise((r) => { const f = () => (out.includes('ready') ? r() : p.stdout.once('data', f)); f(); });
  const done = new Promise((r) => p.on('close', () => r(out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))[0])));
  return { ready, done, kill: () => p.kill('SIGKILL') };
}

const gbit = (bytes, secs) => (bytes * 8) / secs / 1e9;

// ---- 9net ----
/** `loss`: drop this share of frames both ways on our side of the TAP (this kernel has no netem). */
async function ninenet(mtu, loss = 0) {
  const ns = `9np${id}`;
  const tap = `9np${id}`;
  const tapLink = TapLink.open({ name: tap, mode: 'create', mtu });
  const link = loss > 0 ? new FaultLink(tapLink, { rng: new SeededRng(42), tx: { drop: loss }, rx: { drop: loss } }) : tapLink;
  const stack = new Stack({ clock: new RealClock(), rng: new CryptoRng() });
  const tcp = new TcpLayer(stack, { batchInput: process.env.BATCH !== '0' });
  sh('ip', 'netns', 'add', ns);
  cleanups.push(() => spawnSync('ip', ['netns', 'del', ns]));
  tapIntoNamespace(tap, ns, mtu, '10.97.0.1/24');
  const ip = (s) => s.split('.').reduce((a, x) => ((a << 8) | Number(x)) >>> 0, 0);
  stack.addInterface(link, 'ether0').addAddress(ip('10.97.0.2'), 24);
  const res = {};
  try {
    // up: we send to a kernel sink
    {
      const k = peer(ns, ['sink', '10.97.0.1', '7101']);
      await k.ready;
      await new Promise((resolve, reject) => {
        const blk = new Uint8Array(1 << 20);
        let left = total;
        const pump = () => {
          while (left > 0) {
            const n = conn.write(blk.subarray(0, Math.min(left, blk.length)), stack.now());
            left -= n;
            if (n < Math.min(left + n, blk.length)) return;
          }
          conn.close(stack.now());
          resolve();
        };
        const conn = tcp.connect({ remoteAddr: ip('10.97.0.1'), remotePort: 7101, handler: { onOpen: pump, onWritable: pump, onClosed: (r) => r && reject(new Error(r)) } });
      });
      const r = await k.done;
      res.up = gbit(r.bytes, r.seconds);
      res.upStats = { ...tcp.stats };
    }
    // down: a kernel source sends to us
    {
      const k = peer(ns, ['source', '10.97.0.1', '7102', String(total)]);
      await k.ready;
      res.down = await new Promise((resolve, reject) => {
        let got = 0;
        let t0 = 0;
        const conn = tcp.connect({
          remoteAddr: ip('10.97.0.1'), remotePort: 7102,
          handler: {
            onData: (d) => { if (!t0) t0 = performance.now(); got += d.length; },
            onEnd: () => { const secs = (performance.now() - t0) / 1000; conn.close(stack.now()); resolve(gbit(got, secs)); },
            onClosed: (r) => r && reject(new Error(r)),
          },
        });
      });
      await k.done;
      res.downStats = { ...tcp.stats };
    }
  } finally {
    tcp.dispose();
    stack.close();
    await link.close();
    if (link !== tapLink) await tapLink.close();
    cleanup();
  }
  return res;
}

// ---- slirp4netns / pasta: a Linux client in a namespace, the peer on the host ----
async function userNet(kind, mtu) {
  const ns = `9ns${id}`;
  sh('ip', 'netns', 'add', ns);
  cleanups.push(() => spawnSync('ip', ['netns', 'del', ns]));
  let proc;
  let gw;
  if (kind === 'slirp4netns') {
    proc = spawn('slirp4netns', ['--configure', `--mtu=${mtu}`, '--netns-type=path', `/var/run/netns/${ns}`, 'tap0'], { stdio: 'ignore' });
    gw = '10.0.2.2';
  } else {
    proc = spawn('pasta', ['--config-net', '-m', String(mtu), '-f', '--runas', '0', '-T', '7201,7202', '--netns', `/var/run/netns/${ns}`], { stdio: 'ignore' });
    gw = '127.0.0.1';
  }
  cleanups.push(() => proc.kill('SIGKILL'));
  // Wait for the namespace to be configured.
  let up = false;
  for (let i = 0; i < 50 && !up; i++) {
    up = spawnSync('ip', ['-n', ns, '-4', 'route', 'show', 'default'], { encoding: 'utf8' }).stdout.includes('default');
    if (!up) await new Promise((r) => setTimeout(r, 100));
  }
  if (!up) { cleanup(); throw new Error(`${kind}: the namespace was not configured`); }
  if (kind === 'pasta') await new Promise((r) => setTimeout(r, 300));
  const res = {};
  try {
    {
      const host = peer(null, ['sink', '127.0.0.1', '7201']);
      await host.ready;
      const c = peer(ns, ['send', gw, '7201', String(total)]);
      await c.ready;
      const r = await host.done;
      await c.done;
      res.up = gbit(r.bytes, r.seconds);
    }
    {
      const host = peer(null, ['source', '127.0.0.1', '7202', String(total)]);
      await host.ready;
      const c = peer(ns, ['recv', gw, '7202']);
      const r = await c.done;
      await host.done;
      res.down = gbit(r.bytes, r.seconds);
    }
  } finally {
    cleanup();
  }
  return res;
}

const f = (x) => (x === undefined ? '   n/a' : x.toFixed(2).padStart(6));
console.log(`tcp-peers: ${total / MiB} MiB per transfer, Gbit/s (receiver's first to last byte)`);
for (const mtu of [1500, 65520]) {
  const ours = await ninenet(mtu);
  const slirp = await userNet('slirp4netns', mtu).catch((e) => ({ error: e.message }));
  const pasta = await userNet('pasta', mtu).catch((e) => ({ error: e.message }));
  console.log(`MTU ${String(mtu).padStart(5)}: 9net up ${f(ours.up)} down ${f(ours.down)} | slirp4netns up ${f(slirp.up)} down ${f(slirp.down)}${slirp.error ? ` (${slirp.error})` : ''} | pasta -T (loopback splice, reference) up ${f(pasta.up)} down ${f(pasta.down)}${pasta.error ? ` (${pasta.error})` : ''}`);
  if (slirp.up && slirp.down) console.log(`           ratio 9net/slirp4netns: up ${(ours.up / slirp.up).toFixed(2)}, down ${(ours.down / slirp.down).toFixed(2)} (target >= 1, aim 1.5)`);
}
{
  const clean = await ninenet(1500);
  const lossy = await ninenet(1500, 0.01);
  console.log(`MTU  1500, 1% loss each way on our side of the TAP (no netem in this kernel): 9net up ${f(lossy.up)} down ${f(lossy.down)}; ratio to lossless (same run): up ${(lossy.up / clean.up).toFixed(2)}, down ${(lossy.down / clean.down).toFixed(2)}`);
  // Diagnostics: our side's TCP counters in the lossy run, per direction.
  const keys = ['OutSegs', 'InSegs', 'RetransSegs', 'RetransTimeouts', 'Recovery', 'RecoveryDone', 'RecoveryRTO', 'RecoveryPA', 'OutOfOrder', 'Delayack'];
  const diff = (a, b) => keys.map((k) => `${k}=${(a?.[k] ?? 0) - (b?.[k] ?? 0)}`).join(' ');
  if (lossy.upStats) console.log(`           9net counters, lossy up:   ${diff(lossy.upStats, {})}`);
  if (lossy.downStats) console.log(`           9net counters, lossy down: ${diff(lossy.downStats, lossy.upStats)}`);
}
if (existsSync(peerPy)) spawnSync('rm', ['-f', peerPy]);
