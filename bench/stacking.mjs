// One TCP stream through each stacking level, in one run, each server its own
// process, the same Linux sink at the end:
//   direct:    client → A's /net/tcp (our stack on a TAP) → kernel
//   link:      client → B's /net/tcp (B's stack, its card A's /net/ether0 over 9P) → A → kernel
//   transport: client → C's /net/tcp (carried by B's /net over 9P) → B → A → kernel
// Where the time goes: CPU seconds each server process used during each transfer
// (from /proc), next to the throughput the kernel measured.
//   node bench/stacking.mjs [MiB=128]      (root; npm run build && npm run build:native)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client } from '../dist/ninep/client.js';
import { MsgType, ORDWR } from '../dist/ninep/types.js';
import { cli, freePort, startChild } from './lib.mjs';

const MiB = 1024 * 1024;
const total = Number(process.argv[2] ?? 128) * MiB;
if (process.getuid?.() !== 0) { console.error('stacking: needs root (a TAP and a namespace)'); process.exit(1); }

const id = randomBytes(3).toString('hex');
const TAP = `9nb${id}`;
const NS = `9nb${id}`;
const KERNEL = '10.96.0.1';
const procs = [];
const cleanup = () => {
  for (const p of procs) p.kill('SIGKILL');
  spawnSync('ip', ['netns', 'del', NS]);
};
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
const sh = (...a) => execFileSync(a[0], a.slice(1), { encoding: 'utf8', stdio: 'pipe' });

async function server(args) {
  const port = await freePort();
  const c = await startChild([cli, 'serve', '-l', `tcp!127.0.0.1!${port}`, ...args]);
  procs.push(c.proc);
  return { addr: `tcp!127.0.0.1!${port}`, pid: c.proc.pid };
}

/** utime + stime of a process, in seconds. */
function cpu(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

const a = await server(['--tap', TAP, '--ip', '10.96.0.2/24']);
sh('ip', 'netns', 'add', NS);
sh('ip', 'link', 'set', TAP, 'netns', NS);
sh('ip', '-n', NS, 'addr', 'add', `${KERNEL}/24`, 'dev', TAP);
sh('ip', '-n', NS, 'link', 'set', TAP, 'up');
const b = await server(['--ether-over', a.addr, '--ip', '10.96.0.3/24']);
const c = await server(['--over', b.addr]);

// The kernel sink: one connection per level, reports bytes and seconds (first to last byte).
const sink = spawn('ip', ['netns', 'exec', NS, 'python3', '-c', `
import socket, time, json
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("${KERNEL}", 7400)); s.listen(4); print("ready", flush=True)
buf = bytearray(1 << 20)
for _ in range(3):
    c, a = s.accept(); got = 0; t0 = None
    while got < ${total}:
        k = c.recv_into(buf)
        if k == 0: break
        if t0 is None: t0 = time.monotonic()
        got += k
    print(json.dumps({"bytes": got, "seconds": time.monotonic() - t0, "from": a[0]}), flush=True)
    c.sendall(b"x"); c.close()
`], { stdio: ['ignore', 'pipe', 'inherit'] });
procs.push(sink);
const reports = [];
let out = '';
let waiting = null;
sink.stdout.on('data', (d) => {
  out += d;
  for (;;) {
    const i = out.indexOf('\n');
    if (i < 0) break;
    const line = out.slice(0, i);
    out = out.slice(i + 1);
    if (line.startsWith('{')) { reports.push(JSON.parse(line)); waiting?.(); }
    else if (line === 'ready') waiting?.();
  }
});
await new Promise((r) => (waiting = r));

async function level(addr) {
  const client = await Client.dial(addr, { uname: 'bench', msize: 512 * 1024 + 24 });
  const ctl = await client.open('/tcp/clone', ORDWR);
  const n = (await ctl.read(20)).toString();
  await ctl.write(`connect ${KERNEL}!7400`);
  const data = await client.open(`/tcp/${n}/data`, ORDWR);
  const chunk = Buffer.alloc(client.iounit, 0x5a);
  const before = [a, b, c].map((s) => cpu(s.pid));
  const got = new Promise((r) => (waiting = r));
  let sent = 0;
  const inflight = new Set();
  while (sent < total) {
    while (inflight.size < 4 && sent < total) {
      const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
      const p = client.rpc({ type: MsgType.Twrite, fid: data.fid, offset: 0n, data: piece }).then(() => inflight.delete(p));
      inflight.add(p);
      sent += piece.length;
    }
    await Promise.race(inflight);
  }
  await Promise.all(inflight);
  await got;
  const after = [a, b, c].map((s) => cpu(s.pid));
  await data.read(10);
  await data.close();
  await ctl.close();
  client.close();
  const r = reports.at(-1);
  return { gbit: (r.bytes * 8) / r.seconds / 1e9, from: r.from, cpu: after.map((x, i) => x - before[i]), seconds: r.seconds };
}

const direct = await level(a.addr);
const link = await level(b.addr);
const transport = await level(c.addr);
const row = (name, r) =>
  `${name.padEnd(10)} ${r.gbit.toFixed(2).padStart(6)} Gbit/s (from ${r.from}, ratio to direct ${(r.gbit / direct.gbit).toFixed(2)}); CPU s in A ${r.cpu[0].toFixed(2)}, B ${r.cpu[1].toFixed(2)}, C ${r.cpu[2].toFixed(2)} over ${r.seconds.toFixed(2)} s`;
console.log(`stacking: ${total / MiB} MiB, one TCP stream per level to a kernel sink behind A's TAP`);
console.log(row('direct', direct));
console.log(row('link', link));
console.log(row('transport', transport));
cleanup();
process.exit(0);
