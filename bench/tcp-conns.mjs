// Our TCP, both ends in this process over an in-memory pair (no kernel, no
// 9P): connection setup rate (connect + handshake + close, 64 at a time) and
// heap per idle established connection with 10 000 open.
//   node --expose-gc bench/tcp-conns.mjs [connections=10000]
import { root } from './lib.mjs';

const { createPair } = await import(`${root}/dist/link/pair.js`);
const { Stack } = await import(`${root}/dist/stack/stack.js`);
const { TcpLayer } = await import(`${root}/dist/stack/tcp/tcp.js`);
const { RealClock } = await import(`${root}/dist/lib/clock.js`);
const { SeededRng } = await import(`${root}/dist/lib/rng.js`);

const N = Number(process.argv[2] ?? 10000);
// The stack's timers do not keep Node alive (RealClock unrefs them); the bench does.
const keepAlive = setInterval(() => {}, 1000);
const gc = globalThis.gc ?? (() => {});
const ip = (s) => s.split('.').reduce((a, x) => ((a << 8) | Number(x)) >>> 0, 0);

const [la, lb] = createPair({ limit: 65536 });
const mk = (link, addr, seed) => {
  const stack = new Stack({ clock: new RealClock(), rng: new SeededRng(seed) });
  stack.addInterface(link, 'ether0').addAddress(ip(addr), 16);
  // Time_wait short so that closed connections leave the table during the run.
  return { stack, tcp: new TcpLayer(stack, { maxConnections: 2 * N + 16384, timeWaitMs: 1000, sendBuffer: 16384, recvBuffer: 16384 }) };
};
const A = mk(la, '10.5.0.1', 1);
const B = mk(lb, '10.5.0.2', 2);
let accepted = 0;
const server = [];
B.tcp.listen({ localPort: 80, backlog: 4096, onAccept: (c) => { accepted++; server.push(c); return {}; } });

function connect() {
  return new Promise((resolve, reject) => {
    const c = A.tcp.connect({ remoteAddr: ip('10.5.0.2'), remotePort: 80, handler: { onOpen: () => resolve(c), onClosed: (r) => r && reject(new Error(r)) } });
  });
}

// Setup rate: connect, handshake, close; 64 in flight.
{
  const total = 5000;
  let done = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (done < total) {
      done++;
      const c = await connect();
      c.close(A.stack.now());
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  const secs = (performance.now() - t0) / 1000;
  console.log(`connection setup (connect + handshake + close), 64 in flight: ${(total / secs).toFixed(0)} /s`);
  for (const s of server.splice(0)) s.close(B.stack.now());
  await new Promise((r) => setTimeout(r, 1500));
}

// Memory per idle established connection.
gc();
await new Promise((r) => setTimeout(r, 50));
gc();
const before = process.memoryUsage().heapUsed;
const conns = [];
for (let i = 0; i < N; i += 256) {
  const batch = [];
  for (let j = i; j < Math.min(N, i + 256); j++) batch.push(connect());
  conns.push(...(await Promise.all(batch)));
}
await new Promise((r) => setTimeout(r, 200));
gc();
await new Promise((r) => setTimeout(r, 50));
gc();
const after = process.memoryUsage().heapUsed;
const per = (after - before) / (2 * N);
console.log(`${N} idle established connections (both ends in this process): ${((after - before) / 1048576).toFixed(1)} MiB heap, ${(per / 1024).toFixed(1)} KiB per connection end (A: ${A.tcp.size}, B: ${B.tcp.size} in the tables)`);
clearInterval(keepAlive);
process.exit(0);
