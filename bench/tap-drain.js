// Frames per second from a TAP into JS: the link-layer baseline the stack
// benchmark is compared against. Needs root and `npm run build:native`;
// case (b) also needs `npm run build` (dist/).
//
//   node bench/tap-drain.js [seconds=3]
//
// For each case a fresh TAP is created, moved into a private network
// namespace and brought up; native/build/Release/tapflood transmits 60-byte
// frames (EtherType 0x88B5) out of that one interface as fast as it can,
// from inside the namespace. Nothing is sent anywhere else. The namespace
// and devices are removed at exit. Two measurements per case:
//   steady: flooder and drain run together for `seconds` (txqueuelen 1000;
//           the kernel drops what does not fit). On 2 cores the flooder is
//           often the bottleneck: frames/wakeup well below the batch limit
//           means the drain kept up and the number is the sender's rate.
//   drain:  with polling stopped the queue is filled (txqueuelen 100000),
//           then polling starts and the time to drain it is measured: the
//           drain capacity with no sender competing. Best and median of 5.
//
// Cases:
//   (a) addon, batches of up to 64 frames per wakeup, one JS call per batch
//   (b) TapLink: the same batches, plus one receiver call and one
//       Uint8Array view per frame (what the stack will see)
//   (c) addon with batch = 1: one JS call per frame
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const addonPath = `${root}native/build/Release/tap.node`;
const flooder = `${root}native/build/Release/tapflood`;
const distTap = `${root}dist/link/tap.js`;
const seconds = Number(process.argv[2] ?? 3);
const DST_MAC = '02:39:6e:00:00:99';

if (process.getuid?.() !== 0) fail('needs root (creates a TAP and a network namespace)');
if (!existsSync(addonPath) || !existsSync(flooder)) fail('native addon not built: run npm run build:native');
if (!(seconds > 0 && seconds <= 60)) fail('seconds must be in (0, 60]');

const addon = createRequire(import.meta.url)(addonPath);
const suffix = randomBytes(3).toString('hex');
const NS = `9nb-${suffix}`;
const TAP = `9nd${suffix}`;

function fail(msg) {
  console.error(`tap-drain: ${msg}`);
  process.exit(1);
}
const sh = (...args) => execFileSync(args[0], args.slice(1), { encoding: 'utf8', stdio: 'pipe' });
const cleanup = () => {
  spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
  if (spawnSync('ip', ['link', 'show', TAP], { stdio: 'ignore' }).status === 0) spawnSync('ip', ['link', 'del', TAP], { stdio: 'ignore' });
};
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const readDrops = () => Number(sh('ip', 'netns', 'exec', NS, 'cat', `/sys/class/net/${TAP}/statistics/tx_dropped`));
const DRAIN_QUEUE = 100000;
/** Drain rates per case label, for the ratios printed at the end. */
const results = new Map();
const DRAIN_ROUNDS = 5;

/** Counts frames; `hit()` is called by receivers once the target is reached. */
function counter() {
  const c = {
    frames: 0,
    target: Infinity,
    tEnd: 0,
    done: () => {},
    hit() {
      if (!c.tEnd) {
        c.tEnd = performance.now();
        c.done();
      }
    },
  };
  return c;
}

// Every case drains the same frames: a 60-byte UDP datagram from KERNEL_IP
// to a closed port on STACK_IP, so that case (d), our stack, parses each one
// through Ethernet, IPv4 (header checksum) and UDP and counts it as NoPorts
// (answering with ICMP port unreachable, rate-limited).
const KERNEL_IP = [10, 99, 0, 1];
const STACK_IP = [10, 99, 0, 2];
function udpFrameHex() {
  const ip = Buffer.alloc(20 + 8 + 18);
  ip.set([0x45, 0, ip.length >> 8, ip.length & 0xff, 0, 1, 0, 0, 64, 17, 0, 0], 0);
  ip.set(KERNEL_IP, 12);
  ip.set(STACK_IP, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  ip.writeUInt16BE(40000, 20); // source port
  ip.writeUInt16BE(9, 22); // discard: closed on our stack
  ip.writeUInt16BE(8 + 18, 24);
  ip.write('9net stack bench!!', 28);
  return `0800${ip.toString('hex')}`;
}
const FRAME_HEX = udpFrameHex();

async function runFlooder(secs) {
  const child = spawn('ip', ['netns', 'exec', NS, flooder, TAP, String(secs), DST_MAC, FRAME_HEX], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise((r) => child.on('exit', r));
  if (code !== 0) throw new Error(`tapflood exited with ${code}`);
  return JSON.parse(out);
}

/** c: counter; io: { start(), stop(), wakeups() } for the case's receiver. */
async function measure(label, c, io) {
  sh('ip', 'link', 'set', TAP, 'netns', NS);
  sh('ip', '-n', NS, 'link', 'set', TAP, 'up');

  // steady
  io.start();
  const d0 = readDrops();
  const f0 = c.frames;
  const w0 = io.wakeups();
  const { sent, seconds: secs } = await runFlooder(seconds);
  const steady = (c.frames - f0) / secs;
  await sleep(100);
  const perWake = (c.frames - f0) / Math.max(1, io.wakeups() - w0);
  const sDrops = readDrops() - d0;

  // drain
  sh('ip', '-n', NS, 'link', 'set', TAP, 'txqueuelen', String(DRAIN_QUEUE));
  const rates = [];
  let queuedTotal = 0;
  for (let r = 0; r < DRAIN_ROUNDS; r++) {
    io.stop();
    await sleep(20);
    const dr0 = readDrops();
    const fl = await runFlooder(0.3);
    const queued = fl.sent - (readDrops() - dr0);
    queuedTotal += queued;
    const done = new Promise((res) => (c.done = res));
    c.tEnd = 0;
    c.target = c.frames + queued;
    const t0 = performance.now();
    io.start();
    const timeout = sleep(5000).then(() => 'timeout');
    if ((await Promise.race([done, timeout])) === 'timeout') throw new Error(`${label}: drain did not finish (${c.target - c.frames} missing)`);
    rates.push(queued / ((c.tEnd - t0) / 1000));
    c.target = Infinity;
  }
  rates.sort((a, b) => a - b);
  results.set(label, { best: rates.at(-1), median: rates[rates.length >> 1] });
  const m = (x) => (x / 1e6).toFixed(3).padStart(6);
  console.log(
    `${label.padEnd(42)} steady ${m(steady)} M/s (${perWake.toFixed(1)} frames/wakeup, sender ${m(sent / secs)} M/s, kernel drops ${sDrops})` +
      `   drain best ${m(rates.at(-1))} median ${m(rates[rates.length >> 1])} M/s (${DRAIN_ROUNDS}x ${Math.round(queuedTotal / DRAIN_ROUNDS)} frames)`,
  );
}

async function nativeCase(label, batch) {
  const tap = new addon.Tap({ name: TAP, mode: 'create', batch });
  const c = counter();
  const onBatch = (n) => {
    c.frames += n;
    if (c.frames >= c.target) c.hit();
  };
  const onError = (code, msg) => fail(`${code}: ${msg}`);
  try {
    await measure(label, c, {
      start: () => tap.start(onBatch, onError),
      stop: () => tap.stop(),
      wakeups: () => tap.counters().batches,
    });
  } finally {
    tap.close();
  }
}

async function tapLinkCase(label) {
  if (!existsSync(distTap)) {
    console.log(`${label.padEnd(42)} skipped: run npm run build (needs ${distTap})`);
    return;
  }
  const { TapLink } = await import(distTap);
  const link = TapLink.open({ name: TAP, mode: 'create' });
  const c = counter();
  let bytes = 0;
  const rx = (f) => {
    bytes += f.length; // touch the view like a receiver would
    if (++c.frames >= c.target) c.hit();
  };
  let sub = null;
  try {
    await measure(label, c, {
      start: () => (sub = link.attach(rx)),
      stop: () => sub?.dispose(),
      wakeups: () => link.rxBatches,
    });
  } finally {
    await link.close();
  }
  void bytes;
}

/** (d): our stack behind a TapLink; counts frames handed to it (each fully processed in the call). */
async function stackCase(label) {
  const distStack = `${root}dist/stack/stack.js`;
  if (!existsSync(distStack)) {
    console.log(`${label.padEnd(42)} skipped: run npm run build (needs ${distStack})`);
    return;
  }
  const { TapLink } = await import(distTap);
  const { Stack } = await import(distStack);
  const { RealClock } = await import(`${root}dist/lib/clock.js`);
  const { SeededRng } = await import(`${root}dist/lib/rng.js`);
  const mac = Uint8Array.from(DST_MAC.split(':').map((h) => parseInt(h, 16)));
  const link = TapLink.open({ name: TAP, mode: 'create', mac });
  const stack = new Stack({ clock: new RealClock(), rng: new SeededRng(1) });
  // A gate between the TAP and the stack, so the drain rounds can stop reading.
  let stackRx = null;
  const gate = {
    mtu: link.mtu, mac: link.mac, stats: link.stats,
    send: (f) => link.send(f), sendBatch: (fs) => link.sendBatch(fs),
    attach(rx) { stackRx = rx; return { dispose() { stackRx = null; } }; },
    close: async () => {},
  };
  const ip = (a) => ((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0;
  stack.addInterface(gate, 'ether0').addAddress(ip(STACK_IP), 24);
  const c = counter();
  const rx = (f) => {
    stackRx(f);
    if (++c.frames >= c.target) c.hit();
  };
  let sub = null;
  try {
    await measure(label, c, {
      start: () => (sub = link.attach(rx)),
      stop: () => sub?.dispose(),
      wakeups: () => link.rxBatches,
    });
    console.log(`${''.padEnd(42)} stack counted ${stack.stats.udp.NoPorts} of ${c.frames} frames as UDP NoPorts`);
  } finally {
    stack.close();
    await link.close();
  }
}

console.log(`tap-drain: node ${process.version}, ${cpus().length} CPUs, steady ${seconds}s per case, 60-byte UDP frames`);
sh('ip', 'netns', 'add', NS);
spawnSync('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], { stdio: 'ignore' });
try {
  await nativeCase('(a) addon, batch <= 64, 1 JS call/batch', 64);
  await tapLinkCase('(b) TapLink, per-frame view + callback');
  await nativeCase('(c) addon, batch = 1, 1 JS call/frame', 1);
  await stackCase('(d) our stack: Ethernet+IPv4+UDP per frame');
  const a = results.get('(a) addon, batch <= 64, 1 JS call/batch');
  const d = results.get('(d) our stack: Ethernet+IPv4+UDP per frame');
  if (a && d) console.log(`frames/s into the stack vs the addon alone draining the same flood: ratio ${(d.best / a.best).toFixed(2)} (best), ${(d.median / a.median).toFixed(2)} (median)`);
} finally {
  cleanup();
}
