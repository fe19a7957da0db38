// Memory under incomplete 9P messages (issue: a client must not take
// gigabytes with partial frames). N connections (default 1000) each
// negotiate msize 2 MiB and send a Twrite of 2 MiB less one byte; the
// server (its own process) must hold at most its bound (128 MiB of
// incomplete messages, evicting the oldest holder), stay responsive for a
// good client, and give the memory back when they close. Prints RSS before,
// at the peak, and after, the server's ArrayBuffer bytes after a GC (what
// it still holds), and how many holders the server cut off. The server runs
// in its own process (--expose-gc, asked over IPC to collect and report).
//   node bench/partial-frames.mjs [N]
import { fork } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, root } from './lib.mjs';

const N = Number(process.argv[2] ?? 1000);
const MSIZE = 2 * 1024 * 1024;

function rssMB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : -1;
}
function msg(type, tag, body) {
  const b = Buffer.alloc(7 + body.length);
  b.writeUInt32LE(b.length, 0); b[4] = type; b.writeUInt16LE(tag, 5); body.copy(b, 7); return b;
}
function str(s) { const b = Buffer.alloc(2 + Buffer.byteLength(s)); b.writeUInt16LE(Buffer.byteLength(s), 0); b.write(s, 2); return b; }
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0, 0); return b; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A connection that negotiates msize and then sends a Twrite header and all but one byte of its body. */
function holder(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let closed = false;
    s.on('error', () => {});
    s.on('close', () => { closed = true; });
    s.once('connect', () => {
      s.write(msg(100, 0xffff, Buffer.concat([u32(MSIZE), str('9P2000')])));
      s.once('data', () => {
        const size = MSIZE;
        const head = Buffer.alloc(23);
        head.writeUInt32LE(size, 0); head[4] = 118; head.writeUInt16LE(1, 5); head.writeUInt32LE(0, 7);
        head.writeUInt32LE(size - 23, 19);
        s.write(head);
        s.write(Buffer.alloc(size - 23 - 1, 0x61), () => resolve({ s, closed: () => closed }));
      });
    });
  });
}

/** One Tversion round trip on a fresh connection, in ms. */
function probe(port) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = net.connect(port, '127.0.0.1', () => s.write(msg(100, 0xffff, Buffer.concat([u32(8192), str('9P2000')]))));
    s.once('data', () => { resolve(performance.now() - t0); s.destroy(); });
    s.on('error', () => resolve(-1));
  });
}

// The server: 9net's host /net on a loopback port; answers 'mem' with its memory after a GC.
const script = join(tmpdir(), `9net-partial-${process.pid}.mjs`);
writeFileSync(script, `
const { Server } = await import(${JSON.stringify(join(root, 'dist/ninep/server.js'))});
const { hostNet } = await import(${JSON.stringify(join(root, 'dist/backend/host/backend.js'))});
const srv = new Server({ root: hostNet({ eve: 'eve' }).root, log: () => {} });
await srv.listen({ kind: 'tcp', host: '127.0.0.1', port: Number(process.argv[2]) });
process.on('message', () => { gc(); gc(); const m = process.memoryUsage(); process.send({ arrayBuffers: m.arrayBuffers, heapUsed: m.heapUsed, held: srv.incompleteBytes, conns: srv.connections.size }); });
process.send('ready');
`);
const port = await freePort();
const child = fork(script, [String(port)], { execArgv: ['--expose-gc'] });
await new Promise((r) => child.once('message', r));
const srv = { port, stop: () => child.kill('SIGKILL') };
const mem = () => new Promise((r) => { child.once('message', r); child.send('mem'); });
const pid = child.pid;
await sleep(300);
const memBefore = await mem();
const before = rssMB(pid);
let peak = before;
const holders = [];
let worst = 0;
for (let i = 0; i < N; i++) {
  holders.push(await holder(srv.port));
  if (i % 50 === 0) {
    peak = Math.max(peak, rssMB(pid));
    worst = Math.max(worst, await probe(srv.port));
  }
}
await sleep(500);
peak = Math.max(peak, rssMB(pid));
const cut = holders.filter((h) => h.closed()).length;
for (const h of holders) h.s.destroy();
await sleep(2000);
const memAfter = await mem();
const after = rssMB(pid);
srv.stop();
rmSync(script, { force: true });
console.log(`partial frames: ${N} connections x ${(MSIZE - 1) / 1048576} MiB incomplete Twrites`);
console.log(`  server RSS: before ${before} MB, peak ${peak} MB, after close ${after} MB (peak - before ${peak - before} MB; bound on held bytes 128 MB)`);
console.log(`  after a GC the server holds ${Math.round(memAfter.arrayBuffers / 1e6)} MB of ArrayBuffers (before the load ${Math.round(memBefore.arrayBuffers / 1e6)} MB), heap ${Math.round(memAfter.heapUsed / 1e6)} MB (before ${Math.round(memBefore.heapUsed / 1e6)} MB), ${memAfter.held} bytes of incomplete messages, ${memAfter.conns} connections`);
console.log('  (RSS stays where the allocator keeps freed pages; what the process still holds is the ArrayBuffer figure)');
console.log(`  holders disconnected by the bound: ${cut} of ${N}; a good client's worst Tversion round trip meanwhile: ${worst.toFixed(1)} ms`);
