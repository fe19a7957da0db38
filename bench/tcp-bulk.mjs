// Bulk writes into /net/tcp/N/data (msize 1 MiB, host-socket backend) to a
// local sink, against a direct Node socket to the same sink, in the same run.
// The sink runs in its own process and reports when every byte has arrived,
// so the figure is end to end, not bytes accepted by a buffer.
//   node bench/tcp-bulk.mjs [MiB] [rounds]
import * as net from 'node:net';
import { Client } from '../dist/ninep/client.js';
import { MsgType, ORDWR } from '../dist/ninep/types.js';
import { cli, fmt, freePort, ratio, start9net, startChild } from './lib.mjs';

async function start9netUnix(path) {
  const c = await startChild([cli, 'serve', '-l', `unix!${path}`]);
  return { ...c, addr: `unix!${path}` };
}

const MiB = 1024 * 1024;
const total = Number(process.argv[2] ?? 1024) * MiB;
const CHUNK = MiB;
/** Twrites kept in flight. */
const INFLIGHT = 4;

const sinkSrc = `
const net = require('node:net');
const want = Number(process.argv[2]);
const s = net.createServer((c) => {
  let got = 0;
  c.on('data', (d) => { got += d.length; if (got >= want) { console.log('done ' + got); } });
  c.on('error', () => {});
});
s.listen(Number(process.argv[1]), '127.0.0.1', () => console.log('ready'));
`;

async function sink() {
  const port = await freePort();
  const child = await startChild(['-e', sinkSrc, String(port), String(total)], /ready/);
  const done = new Promise((res) => {
    let out = '';
    child.proc.stdout.on('data', (d) => { out += d; if (/done/.test(out)) res(); });
  });
  return { port, done, stop: child.stop };
}

const payload = Buffer.alloc(CHUNK, 0x61);

async function direct() {
  const s = await sink();
  const sock = net.connect(s.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const t0 = performance.now();
  for (let sent = 0; sent < total; sent += CHUNK) {
    if (!sock.write(payload)) await new Promise((r) => sock.once('drain', r));
  }
  await s.done;
  const secs = (performance.now() - t0) / 1000;
  sock.destroy();
  s.stop();
  return total / secs;
}

async function through9net(transport) {
  const s = await sink();
  const path = `/tmp/9net-bench-${process.pid}.sock`;
  const srv = transport === 'unix' ? await start9netUnix(path) : await start9net();
  const c = await Client.dial(srv.addr, { uname: 'bench', msize: MiB + 24 });
  const ctl = await c.open('/tcp/clone', ORDWR);
  const n = (await ctl.read(10)).toString();
  await ctl.write(`connect 127.0.0.1!${s.port}`);
  const data = await c.open(`/tcp/${n}/data`, ORDWR);
  const chunk = payload.subarray(0, Math.min(CHUNK, c.iounit));
  const t0 = performance.now();
  let sent = 0;
  const inflight = new Set();
  while (sent < total) {
    while (inflight.size < INFLIGHT && sent < total) {
      const p = c.rpc({ type: MsgType.Twrite, fid: data.fid, offset: 0n, data: chunk }).then(() => inflight.delete(p));
      inflight.add(p);
      sent += chunk.length;
    }
    await Promise.race(inflight);
  }
  await Promise.all(inflight);
  await s.done;
  const secs = (performance.now() - t0) / 1000;
  await data.close();
  await ctl.close();
  c.close();
  srv.stop();
  s.stop();
  return total / secs;
}

const gbit = (x) => fmt((x * 8) / 1e9, 2);
/** Rounds of the three measurements, interleaved; medians are reported (the machine is shared). */
const ROUNDS = Number(process.argv[3] ?? 3);
const runs = { base: [], tcp: [], unix: [] };
for (let r = 0; r < ROUNDS; r++) {
  runs.base.push(await direct());
  runs.tcp.push(await through9net('tcp'));
  runs.unix.push(await through9net('unix'));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const base = median(runs.base);
const tcp = median(runs.tcp);
const unix = median(runs.unix);
console.log(`bulk writes into /net/tcp/N/data (msize 1 MiB, ${total / MiB} MiB each, median of ${ROUNDS} interleaved rounds) to a local sink`);
console.log(`  direct Node socket ${gbit(base)} Gbit/s; 9P over tcp!127.0.0.1 ${gbit(tcp)} Gbit/s, ratio ${ratio(tcp, base)}; 9P over unix! ${gbit(unix)} Gbit/s, ratio ${ratio(unix, base)} (target >= 0.5)`);
export default { tcp, unix, base };
