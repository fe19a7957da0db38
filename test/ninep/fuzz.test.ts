/**
 * The stateful 9P fuzzer (test/helpers/fuzz9p.ts) against /net on our
 * stack: FUZZ_MESSAGES messages (default 100 000; bench/fuzz.mjs runs a
 * million). Nothing may crash, nothing may be logged as an internal
 * error, a good client keeps working throughout, and once every fuzzed
 * session is gone every conversation is free again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackNet } from '../../src/backend/stack/backend.js';
import { RealClock } from '../../src/lib/clock.js';
import { SeededRng } from '../../src/lib/rng.js';
import { createPair } from '../../src/link/pair.js';
import { Server } from '../../src/ninep/server.js';
import { Client } from '../../src/ninep/client.js';
import type { AddressInfo } from 'node:net';
import { fuzz9p } from '../helpers/fuzz9p.js';

const MESSAGES = Number(process.env.FUZZ_MESSAGES ?? 100_000);
const SEED = Number(process.env.FUZZ_SEED ?? 9);

let us: StackNet;
let peer: StackNet;
let server: Server;
const logs: string[] = [];

beforeAll(() => {
  const [a, b] = createPair();
  const opts = { eve: 'eve', clock: new RealClock(), resolve: () => Promise.resolve([]) };
  us = new StackNet({ ...opts, rng: new SeededRng(1) });
  peer = new StackNet({ ...opts, rng: new SeededRng(2) });
  us.configure(us.addEther(a), '10.7.0.1', 24);
  peer.configure(peer.addEther(b), '10.7.0.2', 24);
  server = new Server({ root: (aname) => us.root(aname), log: (l) => logs.push(l) });
});

afterAll(async () => {
  await server.close();
  await us.close();
  await peer.close();
});

describe('stateful 9P fuzzing', () => {
  it(`${MESSAGES} messages: no crash, no internal error, a good client unaffected, everything released`, async () => {
    const l = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    const good = await Client.dial(`tcp!127.0.0.1!${(l.address() as AddressInfo).port}`, { uname: 'carol' });
    let worst = 0;
    let rpcs = 0;
    let stop = false;
    const probe = (async () => {
      while (!stop) {
        const t0 = performance.now();
        const st = await good.stat('/tcp');
        expect(st.name).toBe('tcp');
        worst = Math.max(worst, performance.now() - t0);
        rpcs++;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 50);
    const stats = await fuzz9p(server, new SeededRng(SEED), MESSAGES);
    stop = true;
    await probe;
    clearInterval(sampler);
    // Fuzzed sessions are gone; the good client's connection remains.
    for (let i = 0; i < 500 && server.connections.size > 1; i++) await new Promise((r) => setTimeout(r, 5));
    expect(server.connections.size).toBe(1);
    // Every conversation is released: owned by nobody again (devip's "network").
    for (const proto of ['tcp', 'udp', 'icmp']) {
      const held = (await good.ls(`/${proto}`)).filter((d) => /^\d+$/.test(d.name) && d.uid !== 'network');
      expect(held.map((d) => `${proto}/${d.name} ${d.uid}`)).toEqual([]);
    }
    good.close();
    const internal = logs.filter((x) => x.includes('internal error'));
    expect(internal).toEqual([]);
    expect(stats.messages).toBeGreaterThanOrEqual(MESSAGES);
    expect(rpcs).toBeGreaterThan(0);
    console.log(`fuzz9p: ${JSON.stringify({ ...stats, crashes: 0, goodRpcs: rpcs, worstLatencyMs: Math.round(worst * 10) / 10, peakRssMB: Math.round(peakRss / 1e6), rssBeforeMB: Math.round(rssBefore / 1e6) })}`);
  }, 600_000);
});
