// The `impair` ctl verb on our stack under simulated time: a seed makes a
// run drop exactly the same segments; over 10 000 datagrams loss and delay
// are what was asked; a rate limit spaces packets by their size; a
// conversation's impairment touches no other conversation.
import { afterEach, describe, expect, it } from 'vitest';
import type { StackNet } from '../../src/backend/stack/backend.js';
import { drive, errorOf, lan } from './netfs-sim.js';
import type { SimClient, SimNet } from './netfs-sim.js';
import { announce, connect, conversation, pattern, queuedLines, readQueued, stats, take, transfer, tshark } from './observe.js';
import { ip } from '../stack/helpers.js';

let net: SimNet | null = null;
afterEach(async () => {
  await net?.close();
  net = null;
});

/** The segments that reached the server's conversation: relative sequence number and length, in order. */
async function lossyRun(stackSeed: number, impairSeed: number): Promise<{ arrived: string; status: string }> {
  const n = lan(2, { seed: stackSeed });
  net = n;
  const [cli, srv] = n.clients as [SimClient, SimClient];
  const ann = await announce(n, srv, 7200);
  const conv = await conversation(cli);
  await drive(n.clock, conv.ctl.write(`impair out loss 5% seed ${impairSeed}`));
  const c = await connect(n, cli, conv, '10.0.0.2!7200');
  const s = await take(n, srv, ann.n);
  const pcap = await srv.open(`${s.dir}/pcap`);
  await transfer(n, c, s, pattern(1024 * 1024));
  const rows = tshark(readQueued(pcap), ['frame.packet_flags_direction', 'tcp.seq', 'tcp.len'], 'tcp.len > 0');
  const status = (await cli.text(`${conv.dir}/status`)).split('\n')[1]!;
  for (const f of [pcap, c.data, c.ctl, s.data, s.ctl, ann.ctl]) f.close();
  await n.close();
  net = null;
  return { arrived: rows.filter((r) => Number(r[0]) === 1).map((r) => `${r[1]}+${r[2]}`).join(' '), status };
}

describe('impair on a conversation', () => {
  it('drops exactly the same segments in two runs with one seed (whatever else differs), others with another', async () => {
    const a = await lossyRun(1, 7);
    const b = await lossyRun(2, 7);
    const c = await lossyRun(1, 8);
    expect(a.status).toMatch(/^impair out loss 5% seed 7 dropped [1-9]\d* /);
    expect(b.arrived).toBe(a.arrived);
    expect(b.status).toBe(a.status);
    expect(c.arrived).not.toBe(a.arrived);
  });

  it('leaves the other conversations alone', async () => {
    net = lan(2, { seed: 4 });
    const [cli, srv] = net.clients as [SimClient, SimClient];
    const ann = await announce(net, srv, 7201);
    const convA = await conversation(cli);
    const convB = await conversation(cli);
    const evB = await cli.open(`${convB.dir}/events`, 0);
    const pcapB = await cli.open(`${convB.dir}/pcap`);
    await drive(net.clock, convA.ctl.write('impair loss 10% seed 3'));
    const a = await connect(net, cli, convA, '10.0.0.2!7201');
    const sa = await take(net, srv, ann.n);
    const b = await connect(net, cli, convB, '10.0.0.2!7201');
    const sb = await take(net, srv, ann.n);
    // Both at once: B's segments share the interface with A's.
    await Promise.all([transfer(net, a, sa, pattern(512 * 1024)), transfer(net, b, sb, pattern(512 * 1024))]);
    const st = await stats(cli);
    expect(st.RetransSegs).toBeGreaterThan(0);
    expect(await cli.text(`${convA.dir}/status`)).toMatch(/\nimpair in loss 10% seed 3 dropped [1-9]/);
    expect(await cli.text(`${convB.dir}/status`)).not.toMatch(/impair/);
    expect(await cli.text('/ipifc/1/status')).not.toMatch(/impair/);
    const lines = queuedLines(evB);
    expect(lines.filter((l) => / (rto|recovery|rack|tlp) /.test(l))).toEqual([]);
    // B's data left once each, in order.
    const out = tshark(readQueued(pcapB), ['tcp.seq', 'tcp.len'], 'frame.packet_flags_direction == 2 && tcp.len > 0');
    let next = 1;
    for (const [seq, len] of out) {
      expect(Number(seq)).toBe(next);
      next += Number(len);
    }
    expect(next).toBe(1 + 512 * 1024);
    for (const f of [evB, pcapB, a.data, a.ctl, b.data, b.ctl, sa.data, sa.ctl, sb.data, sb.ctl, ann.ctl]) f.close();
  });

  it('on an announcement, impairs each call it accepts', async () => {
    net = lan(2);
    const [cli, srv] = net.clients as [SimClient, SimClient];
    const ann = await announce(net, srv, 7202);
    await drive(net.clock, ann.ctl.write('impair in loss 10% seed 2'));
    const c = await connect(net, cli, await conversation(cli), '10.0.0.2!7202');
    const s = await take(net, srv, ann.n);
    await transfer(net, c, s, pattern(256 * 1024));
    expect(await srv.text(`${s.dir}/status`)).toMatch(/\nimpair in loss 10% seed 2 dropped [1-9]\d* /);
    expect((await stats(cli)).RetransSegs).toBeGreaterThan(0);
    for (const f of [c.data, c.ctl, s.data, s.ctl, ann.ctl]) f.close();
  });

  it('says what is wrong with a request, and goes with off', async () => {
    net = lan(1);
    const [cli] = net.clients as [SimClient];
    const c = await conversation(cli);
    expect(await errorOf(net.clock, c.ctl.write('impair loss 200%'))).toBe('impair: bad loss 200% (want 0-100%)');
    expect(await errorOf(net.clock, c.ctl.write('impair delay 5ms jitter 10ms'))).toBe('impair: jitter must not exceed delay');
    expect(await errorOf(net.clock, c.ctl.write('impair rate fast'))).toBe('impair: bad rate fast (want e.g. 10mbit)');
    expect(await errorOf(net.clock, c.ctl.write('impair loss'))).toBe('impair: loss needs a value');
    expect(await errorOf(net.clock, c.ctl.write('impair wobble 3'))).toBe('impair: unknown setting wobble');
    expect(await errorOf(net.clock, c.ctl.write('impair'))).toMatch(/^impair: what impairment\?/);
    await drive(net.clock, c.ctl.write('impair in dup 0.5% reorder 1% delay 40ms jitter 5ms rate 10mbit seed 9'));
    expect((await cli.text(`${c.dir}/status`)).split('\n')[1]).toBe(
      'impair in dup 0.5% reorder 1% delay 40ms jitter 5ms rate 10mbit seed 9 dropped 0 duplicated 0 corrupted 0 reordered 0 delayed 0 overflow 0',
    );
    await drive(net.clock, c.ctl.write('impair off'));
    expect(await cli.text(`${c.dir}/status`)).not.toMatch(/impair/);
    const lo = await cli.open('/ipifc/0/ctl');
    expect(await errorOf(net.clock, lo.write('impair loss 1%'))).toBe('impair: the loopback has no link to impair');
    for (const f of [lo, c.ctl]) f.close();
  });
});

/** 10 000 datagrams (or `count`) from 10.0.0.1 to 10.0.0.2!9000, one per `gap` ms, `size` bytes; their one-way delays. */
function datagrams(n: SimNet, count: number, gap: number, size = 64): number[] {
  const [a, b] = n.nets as [StackNet, StackNet];
  const clock = n.clock;
  const delays: number[] = [];
  const rx = b.stack.udp.open({ localPort: 9000, onDatagram: (_s, _sp, _d, _dp, payload) => {
    delays.push(clock.now() - Buffer.from(payload).readDoubleBE(0));
  } });
  const tx = a.stack.udp.open({ remoteAddr: ip('10.0.0.2'), remotePort: 9000, onDatagram: () => {} });
  const body = Buffer.alloc(size);
  const t0 = clock.now();
  for (let i = 0; i < count; i++) {
    clock.runUntil(t0 + i * gap);
    body.writeDoubleBE(clock.now(), 0);
    tx.send(body);
  }
  clock.runUntil(t0 + count * gap + 60_000);
  rx.close();
  tx.close();
  return delays;
}

describe('impair on an interface', () => {
  it('loses and delays 10 000 datagrams as asked', async () => {
    net = lan(2);
    const [cli] = net.clients as [SimClient];
    const ctl = await cli.open('/ipifc/1/ctl');
    await drive(net.clock, ctl.write('impair out loss 5% delay 40ms jitter 5ms seed 11'));
    const delays = datagrams(net, 10_000, 1);
    const lost = 10_000 - delays.length;
    expect(lost).toBeGreaterThan(400);
    expect(lost).toBeLessThan(600);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(35);
    expect(Math.max(...delays)).toBeLessThanOrEqual(45);
    const mean = delays.reduce((x, y) => x + y, 0) / delays.length;
    expect(Math.abs(mean - 40)).toBeLessThan(0.25);
    // Spread over the range: each millisecond of it gets about a tenth.
    for (let ms = 35; ms < 45; ms++) {
      const share = delays.filter((d) => d >= ms && d < ms + 1).length / delays.length;
      expect(Math.abs(share - 0.1)).toBeLessThan(0.02);
    }
    expect((await cli.text('/ipifc/1/status')).split('\n').find((l) => l.startsWith('impair'))).toBe(
      `impair out loss 5% delay 40ms jitter 5ms seed 11 dropped ${lost} duplicated 0 corrupted 0 reordered 0 delayed ${delays.length} overflow 0`,
    );
    ctl.close();
  });

  it('sends at the rate asked, holding at most its bound', async () => {
    net = lan(2);
    const [cli] = net.clients as [SimClient];
    const ctl = await cli.open('/ipifc/1/ctl');
    await drive(net.clock, ctl.write('impair out rate 1mbit'));
    // 100 frames of 1042 bytes at once: one every 8.336 ms.
    const delays = datagrams(net, 100, 0, 1000);
    expect(delays.length).toBe(100);
    for (let i = 0; i < 100; i++) expect(delays[i]).toBeCloseTo((i + 1) * 8.336, 6);
    // Beyond the bound on held packets, the rest are dropped and counted.
    const more = datagrams(net, 1100, 0, 1000);
    expect(more.length).toBe(1024);
    expect(await cli.text('/ipifc/1/status')).toMatch(/\nimpair out rate 1mbit seed \d+ dropped 0 .* overflow 76\n/);
    ctl.close();
  });
});
