// Frames per second through our stack below TCP, in this process (no kernel,
// no 9P): a stack on a link whose send() only counts, fed prebuilt frames as
// fast as one loop can call the link's receiver.
//   node bench/stack-flood.mjs [frames=200000]
//   BASE=dir node bench/stack-flood.mjs    compare with another build of src/ (e.g.
//                                          dist/ of an older commit, copied);
//                                          DIST=dir replaces dist/ as the first one
// Cases:
//   udp in     UDP datagrams (18 bytes of data) to a bound endpoint: Ethernet,
//              IPv4 and UDP parsing, the demux and the payload copy
//   echo       ICMP echo requests answered: input as above plus a reply built
//              into one allocation (IPv4, ICMP, Ethernet) and handed to ARP
//   udp out    endpoint.send() of 18 bytes: routing, header writing, checksum
// 11 rounds of `frames` frames after a warm-up; the median and best rounds are
// printed (on a loaded machine the best is the steadier figure).
// With BASE the two builds run in alternate rounds, so that load from other
// processes falls on both alike, and the ratio of the medians is printed.
import { root } from './lib.mjs';

const N = Number(process.argv[2] ?? 200000);
const ROUNDS = 11;

async function load(dist) {
  const m = async (p) => import(`${dist}/${p}`);
  return {
    dist,
    Stack: (await m('stack/stack.js')).Stack,
    ManualClock: (await m('lib/clock.js')).ManualClock,
    SeededRng: (await m('lib/rng.js')).SeededRng,
    newLinkStats: (await m('link/link.js')).newLinkStats,
  };
}

const builds = [await load(process.env.DIST ?? `${root}/dist`)];
if (process.env.BASE) builds.push(await load(process.env.BASE));

const ip = (s) => s.split('.').reduce((a, x) => ((a << 8) | Number(x)) >>> 0, 0);
const US = ip('10.0.0.1');
const PEER = ip('10.0.0.2');
const MAC_US = [2, 0, 0, 0, 0, 1];
const MAC_PEER = [2, 0, 0, 0, 0, 2];

// Frames are built here byte by byte, independently of either build's codec.
function sum16(b, start, end, init = 0) {
  let s = init;
  for (let i = start; i < end; i += 2) s += (b[i] << 8) | (i + 1 < end ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}
function frame(protocol, upper) {
  const f = new Uint8Array(14 + 20 + upper.length);
  f.set(MAC_US, 0);
  f.set(MAC_PEER, 6);
  f[12] = 0x08;
  const o = 14;
  f.set([0x45, 0, (20 + upper.length) >> 8, (20 + upper.length) & 0xff, 0, 1, 0, 0, 64, protocol], o);
  for (let i = 0; i < 4; i++) {
    f[o + 12 + i] = (PEER >>> (24 - 8 * i)) & 0xff;
    f[o + 16 + i] = (US >>> (24 - 8 * i)) & 0xff;
  }
  const c = ~sum16(f, o, o + 20) & 0xffff;
  f[o + 10] = c >> 8;
  f[o + 11] = c & 0xff;
  f.set(upper, o + 20);
  return f;
}
const data = new Uint8Array(18).fill(0x61);
const udp = new Uint8Array(8 + data.length);
udp.set([4000 >> 8, 4000 & 0xff, 0, 7, 0, udp.length], 0);
udp.set(data, 8);
{
  const pseudo = new Uint8Array(12);
  pseudo.set(frame(17, udp).subarray(26, 34), 0);
  pseudo[9] = 17;
  pseudo[11] = udp.length;
  const c = ~sum16(udp, 0, udp.length, sum16(pseudo, 0, 12)) & 0xffff;
  udp[6] = c >> 8;
  udp[7] = c & 0xff;
}
const udpFrame = frame(17, udp);
const echo = new Uint8Array(8 + 56);
echo.set([8, 0, 0, 0, 0, 9, 0, 1], 0);
{
  const c = ~sum16(echo, 0, echo.length) & 0xffff;
  echo[2] = c >> 8;
  echo[3] = c & 0xff;
}
const echoFrame = frame(1, echo);

function setup(lib) {
  const stack = new lib.Stack({ clock: new lib.ManualClock(0), rng: new lib.SeededRng(1) });
  let rx = null;
  const link = {
    mtu: 1500,
    mac: Uint8Array.from(MAC_US),
    stats: lib.newLinkStats(),
    sent: 0,
    send() { link.sent++; },
    sendBatch(f) { link.sent += f.length; },
    attach(h) { rx = h; return { dispose() { rx = null; } }; },
    close: async () => {},
    inject(f) { rx(f); },
  };
  stack.addInterface(link, 'ether0').addAddress(US, 24);
  stack.arp.add(PEER, 0x020000000002);
  let got = 0;
  const ep = stack.udp.open({ localPort: 7, onDatagram: () => { got++; } });
  return { link, ep, got: () => got };
}

const cases = [
  ['udp in', (s, n) => { for (let i = 0; i < n; i++) s.link.inject(udpFrame); }, (s) => s.got() > 0],
  ['echo', (s, n) => { for (let i = 0; i < n; i++) s.link.inject(echoFrame); }, (s) => s.link.sent > 0],
  ['udp out', (s, n) => { for (let i = 0; i < n; i++) s.ep.send(data, PEER, 4000); }, (s) => s.link.sent > 0],
];

const k = (x) => `${(x / 1000).toFixed(0)}k`;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const [name, body, ok] of cases) {
  const runs = builds.map((lib) => ({ s: setup(lib), rates: [] }));
  for (const r of runs) body(r.s, 20000); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of runs) {
      const t0 = process.hrtime.bigint();
      body(r.s, N);
      r.rates.push(N / (Number(process.hrtime.bigint() - t0) / 1e9));
    }
  }
  for (const r of runs) if (!ok(r.s)) throw new Error(`${name}: nothing happened`);
  const [cur, base] = runs.map((r) => ({ med: median(r.rates), best: Math.max(...r.rates) }));
  let line = `${name.padEnd(8)} median ${k(cur.med)} best ${k(cur.best)} frames/s`;
  if (base !== undefined) {
    line += `   base: median ${k(base.med)} best ${k(base.best)}   ratio: median ${(cur.med / base.med).toFixed(2)} best ${(cur.best / base.best).toFixed(2)}`;
  }
  console.log(line);
}
