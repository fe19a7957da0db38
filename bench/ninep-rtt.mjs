// 9P round trips per second: Tread of a small file (a conversation's ctl,
// 1 byte) with 1 and 16 requests in flight, against a plain Node TCP server
// that answers each 23-byte request with a reply of the same size as the
// Rread (12 bytes), measured in the same run. Both servers run in their own
// process; the client is the same loop for both.
//   node bench/ninep-rtt.mjs [seconds]
import * as net from 'node:net';
import { Client } from '../dist/ninep/client.js';
import { encode } from '../dist/ninep/codec.js';
import { MsgType, ORDWR } from '../dist/ninep/types.js';
import { fmt, freePort, ratio, start9net, startChild } from './lib.mjs';

const seconds = Number(process.argv[2] ?? 3);
const REQ = 23;
const REPLY = 12;

// The baseline server: one reply write per request, like a 9P server.
const baselineSrc = `
const net = require('node:net');
const reply = Buffer.alloc(${REPLY});
const s = net.createServer({ noDelay: true }, (c) => {
  let pend = 0;
  c.on('data', (d) => {
    pend += d.length;
    while (pend >= ${REQ}) { pend -= ${REQ}; c.write(reply); }
  });
  c.on('error', () => {});
});
s.listen(Number(process.argv[1]), '127.0.0.1', () => console.log('ready'));
`;

/** Keep `inflight` requests outstanding for `seconds`; returns replies/s. */
function drive(sock, makeReq, inflight, replySize) {
  return new Promise((res) => {
    let done = 0;
    let pend = 0;
    let stop = false;
    const t0 = performance.now();
    sock.on('data', (d) => {
      pend += d.length;
      let n = 0;
      while (pend >= replySize) { pend -= replySize; n++; }
      done += n;
      if (stop) return;
      if (performance.now() - t0 > seconds * 1000) {
        stop = true;
        return res(done / ((performance.now() - t0) / 1000));
      }
      const bufs = [];
      for (let i = 0; i < n; i++) bufs.push(makeReq());
      if (bufs.length) sock.write(bufs.length === 1 ? bufs[0] : Buffer.concat(bufs));
    });
    const first = [];
    for (let i = 0; i < inflight; i++) first.push(makeReq());
    sock.write(Buffer.concat(first));
  });
}

async function ninep(inflight) {
  const srv = await start9net();
  try {
    // Set up a fid on a conversation ctl with the client library, then drive raw frames on a second connection.
    const c = await Client.dial(srv.addr, { uname: 'bench' });
    const ctl = await c.open('/tcp/clone', ORDWR);
    const n = (await ctl.read(10)).toString();
    const raw = net.connect(srv.port, '127.0.0.1');
    raw.setNoDelay(true);
    await new Promise((r) => raw.once('connect', r));
    const vreq = encode({ type: MsgType.Tversion, tag: 0xffff, msize: 8192, version: '9P2000' }, '9P2000');
    const steps = [
      vreq,
      encode({ type: MsgType.Tattach, tag: 1, fid: 0, afid: 0xffffffff, uname: 'bench', aname: '' }, '9P2000'),
      encode({ type: MsgType.Twalk, tag: 1, fid: 0, newfid: 1, wnames: ['tcp', n, 'ctl'] }, '9P2000'),
      encode({ type: MsgType.Topen, tag: 1, fid: 1, mode: 0 }, '9P2000'),
    ];
    for (const s of steps) {
      raw.write(s);
      await new Promise((r) => raw.once('data', r));
    }
    const reqs = [];
    for (let t = 0; t < inflight; t++) reqs.push(encode({ type: MsgType.Tread, tag: t + 10, fid: 1, offset: 0n, count: 100 }, '9P2000'));
    if (reqs[0].length !== REQ) throw new Error('Tread size');
    let i = 0;
    const rate = await drive(raw, () => reqs[i++ % inflight], inflight, REPLY);
    raw.destroy();
    await ctl.close();
    c.close();
    return rate;
  } finally {
    srv.stop();
  }
}

async function baseline(inflight) {
  const port = await freePort();
  const child = await startChild(['-e', baselineSrc, String(port)], /ready/);
  try {
    const sock = net.connect(port, '127.0.0.1');
    sock.setNoDelay(true);
    await new Promise((r) => sock.once('connect', r));
    const req = Buffer.alloc(REQ);
    const rate = await drive(sock, () => req, inflight, REPLY);
    sock.destroy();
    return rate;
  } finally {
    child.stop();
  }
}

const results = [];
for (const inflight of [1, 16]) {
  const base = await baseline(inflight);
  const ours = await ninep(inflight);
  results.push({ inflight, ours, base });
  console.log(`9P Tread round trips, ${String(inflight).padStart(2)} in flight: ${fmt(ours)} /s; plain Node TCP: ${fmt(base)} /s; ratio ${ratio(ours, base)} (target >= 0.6)`);
}
export default results;
