// `9net dial` through our own stack against slirp4netns, both directions, in
// one run (root: a TAP device and network namespaces this benchmark creates
// and removes):
//   9net:        9net dial → 9P → `9net serve --tap` (our TCP) → a TAP whose
//                kernel side is in a namespace with the peer (10.98.0.1).
//   slirp4netns: socat - in a namespace whose only link is slirp4netns, to the
//                peer on the host's 127.0.0.1 (via 10.0.2.2): slirp4netns
//                reaches nothing but that loopback listener.
// "up" sends N bytes to the peer, "down" receives N from it; the receiver
// times its first to its last byte. MTU 1500 and 65520.
//   node bench/dial-stack.mjs [MiB=256]        (root; npm run build && npm run build:native)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cli, freePort, ratio, startChild, tapIntoNamespace } from './lib.mjs';
import { bothWays, counterFile, quote } from './peer.mjs';

const MiB = 1024 * 1024;
const total = Number(process.argv[2] ?? 256) * MiB;
if (process.getuid?.() !== 0) { console.error('dial-stack: needs root (TAP devices, namespaces)'); process.exit(1); }
for (const tool of ['socat', 'slirp4netns', 'python3', 'ip']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) {
    console.error(`dial-stack: needs ${tool}`);
    process.exit(1);
  }
}

const id = randomBytes(3).toString('hex');
const counter = counterFile();
const cleanups = [];
const cleanup = () => { for (const f of cleanups.splice(0).reverse()) { try { f(); } catch { /* best effort */ } } };
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
const sh = (...a) => execFileSync(a[0], a.slice(1), { encoding: 'utf8', stdio: 'pipe' });

// ---- 9net dial through our stack on a TAP ----
async function ninenet(mtu) {
  const ns = `9nd${id}`;
  const tap = `9nd${id}`;
  const port9p = await freePort();
  const server = await startChild([cli, 'serve', '-l', `tcp!127.0.0.1!${port9p}`, '--tap', tap, '--ip', '10.98.0.2/24', '--mtu', String(mtu)]);
  cleanups.push(() => server.stop());
  sh('ip', 'netns', 'add', ns);
  cleanups.push(() => spawnSync('ip', ['netns', 'del', ns]));
  // The TAP's file stays with the server; its kernel side goes into the namespace with the peer.
  tapIntoNamespace(tap, ns, mtu, '10.98.0.1/24');
  const addr = `tcp!127.0.0.1!${port9p}`;
  // Up with -e: the end of input closes the conversation whether or not the stack has hangupxmit.
  const dial = (dir, port) => `node ${[cli, 'dial', ...(dir === 'up' ? ['-e'] : []), '-a', addr, `tcp!10.98.0.1!${port}`].map(quote).join(' ')}${dir === 'down' ? ' 2>/dev/null' : ''}`;
  try {
    return await bothWays(total, counter, ['ip', 'netns', 'exec', ns, 'python3', counter, '--host', '10.98.0.1'], dial);
  } finally {
    cleanup();
  }
}

// ---- socat through slirp4netns to the host's loopback ----
async function slirp(mtu) {
  const ns = `9ns${id}`;
  sh('ip', 'netns', 'add', ns);
  cleanups.push(() => spawnSync('ip', ['netns', 'del', ns]));
  const proc = spawn('slirp4netns', ['--configure', `--mtu=${mtu}`, '--netns-type=path', `/var/run/netns/${ns}`, 'tap0'], { stdio: 'ignore' });
  cleanups.push(() => proc.kill('SIGKILL'));
  let up = false;
  for (let i = 0; i < 50 && !up; i++) {
    up = spawnSync('ip', ['-n', ns, '-4', 'route', 'show', 'default'], { encoding: 'utf8' }).stdout.includes('default');
    if (!up) await new Promise((r) => setTimeout(r, 100));
  }
  if (!up) throw new Error('slirp4netns: the namespace was not configured');
  const client = (dir, port) => `ip netns exec ${ns} socat -u ${dir === 'up' ? `- TCP:10.0.2.2:${port}` : `TCP:10.0.2.2:${port} -`}`;
  try {
    return await bothWays(total, counter, ['python3', counter, '--host', '127.0.0.1'], client);
  } finally {
    cleanup();
  }
}

const f = (x) => x.toFixed(2).padStart(6);
console.log(`dial-stack: ${total / MiB} MiB each way, Gbit/s (receiver's first to last byte)`);
for (const mtu of [1500, 65520]) {
  const ours = await ninenet(mtu);
  const theirs = await slirp(mtu).catch((e) => ({ error: e.message }));
  if (theirs.error) {
    console.log(`MTU ${String(mtu).padStart(5)}: 9net dial up ${f(ours.up)} down ${f(ours.down)} | slirp4netns: ${theirs.error}`);
    continue;
  }
  console.log(`MTU ${String(mtu).padStart(5)}: 9net dial via our stack on a TAP up ${f(ours.up)} down ${f(ours.down)} | socat via slirp4netns up ${f(theirs.up)} down ${f(theirs.down)} | ratio up ${ratio(ours.up, theirs.up)}, down ${ratio(ours.down, theirs.down)}`);
}
process.exit(0);
