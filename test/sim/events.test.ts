// Event streams on our stack under simulated time: /net/tcp/N/events
// during a transfer under impairment has exactly the RTO and recovery
// lines /net/tcp/stats counts; /net/ipifc/N/events tells of addresses and
// ARP; a reader that falls behind finds `lost N`.
import { afterEach, describe, expect, it } from 'vitest';
import { drive, errorOf, lan, runFor } from './netfs-sim.js';
import type { SimNet } from './netfs-sim.js';
import { StackNet } from '../../src/backend/stack/backend.js';
import { ManualClock } from '../../src/lib/clock.js';
import { SeededRng } from '../../src/lib/rng.js';
import { Hub } from '../../src/link/hub.js';
import { EVENTS_MAX_BYTES, EVENTS_MAX_LINES } from '../../src/netfs/events.js';
import { Stack } from '../../src/stack/stack.js';
import { ip } from '../stack/helpers.js';
import { TestDhcpServer } from '../stack/servers.js';
import { SimClient } from './netfs-sim.js';
import { announce, connect, conversation, pattern, queuedLines, readToEof, stats, take, transfer } from './observe.js';

let net: SimNet | null = null;
afterEach(async () => {
  await net?.close();
  net = null;
});

const count = (lines: string[], re: RegExp): number => lines.filter((l) => re.test(l)).length;

describe('/net/tcp/N/events', () => {
  it('shows RTO and recovery lines whose counts match /net/tcp/stats, under impairment', async () => {
    net = lan(2, { seed: 3 });
    const [cli, srv] = net.clients as [SimClient, SimClient];
    const ann = await announce(net, srv, 7100);
    const conv = await conversation(cli);
    const ev = await cli.open(`${conv.dir}/events`, 0);
    await drive(net.clock, conv.ctl.write('impair loss 4% seed 11'));
    const c = await connect(net, cli, conv, '10.0.0.2!7100');
    const s = await take(net, srv, ann.n);
    const lines: string[] = [];
    // Half a MiB at a time, reading the events between (the reader keeps up).
    for (let i = 0; i < 4; i++) {
      await transfer(net, c, s, pattern(512 * 1024));
      lines.push(...queuedLines(ev));
    }
    const st = await stats(cli);
    expect(count(lines, /^lost /)).toBe(0);
    expect(st.RetransTimeouts).toBeGreaterThan(0);
    expect(st.Recovery).toBeGreaterThan(0);
    expect(count(lines, /^\S+ rto /)).toBe(st.RetransTimeouts);
    expect(count(lines, / recovery enter /)).toBe(st.Recovery);
    expect(count(lines, / recovery leave ack /)).toBe(st.RecoveryDone);
    expect(count(lines, / recovery leave rto /)).toBe(st.RecoveryRTO);
    // The other kinds a lossy transfer brings, each line stamped with the stack's time in order.
    expect(lines[0]).toMatch(/^0\.000000 state Closed Syn_sent connect$/);
    expect(lines.some((l) => / state Syn_sent Established syn-ack$/.test(l))).toBe(true);
    expect(lines.some((l) => / cwnd \d+ ssthresh (\d+|inf)$/.test(l))).toBe(true);
    expect(lines.some((l) => / sack \d+-\d+/.test(l))).toBe(true);
    expect(lines.some((l) => / window \d+ \d+$/.test(l))).toBe(true);
    const times = lines.map((l) => Number(l.split(' ')[0]));
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1]!);
    // The conversation's status shows its impairment and what it did.
    expect(await cli.text(`${conv.dir}/status`)).toMatch(/\nimpair in loss 4% seed 11 dropped \d+ .*\nimpair out loss 4% seed 11 dropped [1-9]\d* /);
    // The last close ends the stream: EOF after what is queued.
    c.data.close();
    c.ctl.close();
    expect((await readToEof(net, ev)).toString()).toMatch(/state Established Finwait1 close\n$/);
    for (const f of [ev, s.data, s.ctl, ann.ctl]) f.close();
  });

  it('a reader that falls behind finds lost N where lines were dropped', async () => {
    net = lan(2);
    const [cli, srv] = net.clients as [SimClient, SimClient];
    const ann = await announce(net, srv, 7101);
    const conv = await conversation(cli);
    const ev = await cli.open(`${conv.dir}/events`, 0);
    // Loss makes events (SACK blocks, cwnd, recovery) far beyond what one reader may queue.
    await drive(net.clock, conv.ctl.write('impair out loss 10% seed 5'));
    const c = await connect(net, cli, conv, '10.0.0.2!7101');
    const s = await take(net, srv, ann.n);
    await transfer(net, c, s, pattern(8 * 1024 * 1024));
    const lines = queuedLines(ev);
    // As many lines as the reader's queue holds, then, once they are read, the count of those that did not fit.
    const kept = lines.slice(0, -1);
    expect(kept.length).toBeGreaterThan(1000);
    expect(kept.length).toBeLessThanOrEqual(EVENTS_MAX_LINES);
    expect(kept.reduce((n, l) => n + l.length + 1, 0)).toBeLessThanOrEqual(EVENTS_MAX_BYTES);
    expect(kept.every((l) => /^\d+\.\d{6} /.test(l))).toBe(true);
    expect(lines[lines.length - 1]).toMatch(/^lost [1-9]\d*$/);
    // Room again: the next event comes as it happens.
    await drive(net.clock, c.ctl.write('hangupxmit'));
    expect(queuedLines(ev)[0]).toMatch(/state Established Finwait1 hangupxmit$/);
    expect(await errorOf(net.clock, ev.write('x'))).not.toBe('no error');
    for (const f of [ev, c.data, c.ctl, s.data, s.ctl, ann.ctl]) f.close();
  });
});

describe('/net/ipifc/N/events', () => {
  it('tells of addresses added and removed and of ARP resolving or failing', async () => {
    net = lan(2);
    const [cli, srv] = net.clients as [SimClient, SimClient];
    const sev = await srv.open('/ipifc/1/events', 0);
    const cev = await cli.open('/ipifc/1/events', 0);
    const ctl = await srv.open('/ipifc/1/ctl');
    await drive(net.clock, ctl.write('add 10.0.0.3 255.255.255.0'));
    // A datagram to the new address: the client must ask who has it.
    const u = await cli.clone('udp');
    await drive(net.clock, u.ctl.write('ignoreadvice'));
    await drive(net.clock, u.ctl.write('connect 10.0.0.3!9'));
    const data = await cli.open(`${u.dir}/data`);
    await drive(net.clock, data.write('who has 10.0.0.3'));
    await runFor(net.clock, 100);
    const mac = (await srv.text('/ether0/addr')).trim();
    const u2 = await cli.clone('udp');
    await drive(net.clock, u2.ctl.write('connect 10.0.0.77!9'));
    const d2 = await cli.open(`${u2.dir}/data`);
    await drive(net.clock, d2.write('nobody'));
    await runFor(net.clock, 5000);
    await drive(net.clock, ctl.write('remove 10.0.0.3 255.255.255.0'));
    expect(queuedLines(sev)).toEqual([
      expect.stringMatching(/^0\.\d{6} add 10\.0\.0\.3 255\.255\.255\.0$/),
      expect.stringMatching(/^5\.\d{6} remove 10\.0\.0\.3 255\.255\.255\.0$/),
    ]);
    const lines = queuedLines(cev);
    expect(lines[0]).toMatch(new RegExp(`^0\\.\\d{6} arp resolved 10\\.0\\.0\\.3 ${mac}$`));
    expect(lines[1]).toMatch(/^3\.\d{6} arp failed 10\.0\.0\.77$/);
    expect(lines.length).toBe(2);
    for (const f of [sev, cev, ctl, data, u.ctl, d2, u2.ctl]) f.close();
  });
});

describe('/net/ipifc/N/events and DHCP', () => {
  it('tells of the lease bound and released, with the addresses DHCP adds and removes', async () => {
    const clock = new ManualClock(0);
    const hub = new Hub({ clock });
    const infra = new Stack({ clock, rng: new SeededRng(31) });
    infra.addInterface(hub.port()).addAddress(ip('10.6.0.1'), 24);
    const dhcp = new TestDhcpServer(infra, ip('10.6.0.1'), [ip('10.6.0.50')], { leaseTime: 3600, subnetMask: 0xffffff00, routers: [ip('10.6.0.1')] });
    const stack = new StackNet({ eve: 'eve', clock, rng: new SeededRng(32), sysname: 'gnot', ndbFiles: [] });
    stack.addEther(hub.port());
    const sim: SimNet = { clock, nets: [stack], clients: [new SimClient(stack.tree, clock)], close: async () => { await stack.close(); dhcp.close(); infra.close(); } };
    net = sim;
    const cli = sim.clients[0]!;
    const ctl = await cli.open('/ipifc/clone');
    const n = Buffer.from(await drive(clock, ctl.read(20))).toString();
    await drive(clock, ctl.write('bind ether /net/ether0'));
    const ev = await cli.open(`/ipifc/${n}/events`, 0);
    await drive(clock, ctl.write('dhcp'));
    const lines: string[] = [];
    while (!lines.some((l) => / dhcp bound /.test(l))) {
      await runFor(clock, 500);
      lines.push(...queuedLines(ev));
    }
    await drive(clock, ctl.write('dhcp release'));
    await runFor(clock, 100);
    lines.push(...queuedLines(ev));
    const text = lines.map((l) => l.replace(/^\d+\.\d{6} /, ''));
    expect(text.filter((l) => !l.startsWith('arp '))).toEqual([
      'add 0.0.0.0 0.0.0.0',
      'remove 0.0.0.0 0.0.0.0',
      'add 10.6.0.50 255.255.255.0',
      'dhcp bound 10.6.0.50 255.255.255.0 server 10.6.0.1 seconds 3600',
      'remove 10.6.0.50 255.255.255.0',
      'dhcp lost',
    ]);
    for (const f of [ev, ctl]) f.close();
  });
});
