// /net/clock on a stack in simulated time (`--clock manual`): frozen, time
// moves only when written to; a connect to a peer that drops SYNs shows
// its retransmissions at exactly 1, 3 and 7 s in status and events, and
// Time_wait ends exactly its length after it began.
import { afterEach, describe, expect, it } from 'vitest';
import { errorOf, lan } from './netfs-sim.js';
import type { SimClient, SimFile, SimNet } from './netfs-sim.js';
import { announce, queuedLines, take } from './observe.js';

let net: SimNet | null = null;
afterEach(async () => {
  await net?.close();
  net = null;
});

/** Lets promise chains run (no time passes: the clock is frozen). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Writes `msg` to /net/clock, then lets what it set going settle. */
async function clock(f: SimFile, msg: string): Promise<void> {
  await f.write(msg);
  await settle();
}

/** The status line's state and its retransmission timer's backoff count. */
async function timer(cli: SimClient, dir: string): Promise<string> {
  const st = await cli.text(`${dir}/status`);
  const m = /^(\S+) .* timer\.start (\d+) timer\.count (\d+) /.exec(st);
  return m ? `${m[1]} ${m[2]} ${m[3]}` : st;
}

describe('/net/clock', () => {
  it('single-steps SYN retransmissions at 1, 3 and 7 s and Time_wait to its end', async () => {
    net = lan(2, { manual: true, tcp: { timeWaitMs: 60_000 } });
    const [cli, srv] = net.clients as [SimClient, SimClient];
    const clk = await cli.open('/clock');
    await clock(clk, 'freeze');
    expect(await cli.text('/clock')).toBe('0.000000 frozen\n');
    // The peer drops every frame it is given, SYNs included.
    const pctl = await srv.open('/ipifc/1/ctl');
    await pctl.write('impair in loss 100% seed 1');
    const ann = await announce(net, srv, 7300);
    const c = await cli.clone();
    const ev = await cli.open(`${c.dir}/events`, 0);
    let connected = false;
    const connecting = c.ctl.write('connect 10.0.0.2!7300').then(() => { connected = true; });
    await settle();
    expect(await timer(cli, c.dir)).toBe('Syn_sent 1000 0');
    expect(queuedLines(ev)).toEqual(['0.000000 state Closed Syn_sent connect']);
    await clock(clk, 'advance 999ms');
    expect(await timer(cli, c.dir)).toBe('Syn_sent 1000 0');
    expect(queuedLines(ev)).toEqual([]);
    await clock(clk, 'advance 1ms');
    expect(await timer(cli, c.dir)).toBe('Syn_sent 2000 1');
    expect(queuedLines(ev)).toEqual(['1.000000 rto syn backoff 1 next 2000']);
    await clock(clk, 'advance 1999ms');
    expect(queuedLines(ev)).toEqual([]);
    await clock(clk, 'advance 1ms');
    expect(await timer(cli, c.dir)).toBe('Syn_sent 4000 2');
    await clock(clk, 'advance 4s');
    expect(await timer(cli, c.dir)).toBe('Syn_sent 8000 3');
    expect(queuedLines(ev)).toEqual(['3.000000 rto syn backoff 2 next 4000', '7.000000 rto syn backoff 3 next 8000']);
    expect(await cli.text('/clock')).toBe('7.000000 frozen\n');
    expect(connected).toBe(false);
    // The peer takes frames again: the next SYN, at 15 s, connects.
    await pctl.write('impair off');
    await clock(clk, 'advance 8s');
    await connecting;
    const est = queuedLines(ev);
    expect(est[0]).toBe('15.000000 rto syn backoff 4 next 16000');
    expect(est).toContain('15.000000 state Syn_sent Established syn-ack');
    const s = await take(net, srv, ann.n);
    // We close first; the peer's close follows at 15.5 s: Time_wait from then.
    await c.ctl.write('hangupxmit');
    await clock(clk, 'advance 100ms');
    expect(await timer(cli, c.dir)).toMatch(/^Finwait2 /);
    await clock(clk, 'advance 400ms');
    await s.ctl.write('close');
    await clock(clk, 'advance 0ms');
    expect(await timer(cli, c.dir)).toMatch(/^Time_wait /);
    expect(queuedLines(ev).filter((l) => / state /.test(l))).toEqual([
      '15.000000 state Established Finwait1 hangupxmit',
      '15.000000 state Finwait1 Finwait2 fin-acked',
      '15.500000 state Finwait2 Time_wait fin',
    ]);
    await clock(clk, 'advance 59999ms');
    expect(await timer(cli, c.dir)).toMatch(/^Time_wait /);
    await clock(clk, 'advance 1ms');
    expect(queuedLines(ev).filter((l) => / state /.test(l))).toEqual(['75.500000 state Time_wait Closed timewait']);
    expect(await cli.text('/clock')).toBe('75.500000 frozen\n');
    for (const f of [ev, clk, pctl, c.ctl, s.data, s.ctl, ann.ctl]) f.close();
  });

  it('runs at a rate, and only the host owner steers it', async () => {
    net = lan(1, { manual: true });
    const [cli] = net.clients as [SimClient];
    const clk = await cli.open('/clock');
    await clock(clk, 'rate 0.5');
    expect(await cli.text('/clock')).toMatch(/^0\.\d{6} rate 0\.5\n$/);
    await clock(clk, 'real');
    expect(await cli.text('/clock')).toMatch(/ real\n$/);
    await clock(clk, 'freeze');
    const t = await cli.text('/clock');
    expect(await cli.text('/clock')).toBe(t);
    expect(await errorOf(net.clock, clk.write('advance 2d'))).toBe('bad arg in system call');
    expect(await errorOf(net.clock, clk.write('rate -1'))).toBe('bad arg in system call');
    expect(await errorOf(net.clock, clk.write('faster'))).toBe('unknown control request');
    const { SimClient: Client } = await import('./netfs-sim.js');
    const other = new Client(net.nets[0]!.tree, net.clock, 'glenda');
    await expect(other.open('/clock')).rejects.toThrow('permission denied');
    expect(await other.text('/clock')).toBe(t);
    clk.close();
  });
});

