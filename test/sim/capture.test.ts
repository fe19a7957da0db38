// Live capture files on our stack (/net/tcp/N/pcap, /net/ipifc/N/pcap,
// /net/ether0/pcap) under simulated time: tshark reads the streams into
// the segments /net/tcp/stats counts, a filter keeps only what matches,
// and a reader that stops reading changes nothing in the transfer while
// its losses show in the stream's drop count.
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_CAPTURE_READERS } from '../../src/netfs/lossy.js';
import { drive, errorOf, lan, runFor } from './netfs-sim.js';
import type { SimClient, SimNet } from './netfs-sim.js';
import { announce, connect, conversation, pattern, readQueued, readToEof, stats, take, transfer, tshark } from './observe.js';

let net: SimNet | null = null;
afterEach(async () => {
  await net?.close();
  net = null;
});

const IN = 1;
const OUT = 2;
const TCP_FIELDS = ['frame.packet_flags_direction', 'tcp.flags.syn', 'tcp.flags.ack', 'tcp.flags.fin', 'tcp.seq', 'tcp.len', 'frame.drop_count', 'tcp.srcport', 'tcp.dstport'];

interface Seg {
  dir: number;
  syn: boolean;
  ack: boolean;
  fin: boolean;
  seq: number;
  len: number;
  drops: number;
}

function segs(rows: string[][]): Seg[] {
  return rows.map((r) => ({
    dir: Number(r[0]),
    syn: r[1] === '1' || r[1] === 'True',
    ack: r[2] === '1' || r[2] === 'True',
    fin: r[3] === '1' || r[3] === 'True',
    seq: Number(r[4]),
    len: Number(r[5]),
    drops: r[6] ? Number(r[6]) : 0,
  }));
}

describe('/net/tcp/N/pcap', () => {
  it('is read by tshark into the segments /net/tcp/stats counts, with their flags and sequence numbers', async () => {
    net = lan(2);
    const [cli, srv] = net.clients as [SimClient, SimClient];
    const ann = await announce(net, srv, 7000);
    const conv = await conversation(cli);
    // Opened before connect: the capture has the SYN.
    const pcap = await cli.open(`${conv.dir}/pcap`);
    const c = await connect(net, cli, conv, '10.0.0.2!7000');
    const s = await take(net, srv, ann.n);
    const bytes = pattern(256 * 1024);
    await transfer(net, c, s, bytes);
    // The last close sends our FIN and ends the capture: no time passes before the stats are taken.
    c.data.close();
    c.ctl.close();
    const st = await stats(cli);
    const stream = await readToEof(net, pcap);
    const all = segs(tshark(stream, TCP_FIELDS));
    const out = all.filter((x) => x.dir === OUT);
    const inn = all.filter((x) => x.dir === IN);
    expect(out.length).toBe(st.OutSegs);
    expect(inn.length).toBe(st.InSegs);
    expect(st.RetransSegs).toBe(0);
    // One SYN each way, first; our FIN last, after every byte.
    expect(all[0]).toMatchObject({ dir: OUT, syn: true, ack: false, seq: 0 });
    expect(all[1]).toMatchObject({ dir: IN, syn: true, ack: true, seq: 0 });
    expect(all.filter((x) => x.syn).length).toBe(2);
    const fin = out.filter((x) => x.fin);
    expect(fin.length).toBe(1);
    expect(fin[0]!.seq).toBe(1 + bytes.length);
    // Data in order, no gaps, no overlaps (relative sequence numbers).
    let next = 1;
    for (const x of out.filter((y) => y.len > 0)) {
      expect(x.seq).toBe(next);
      next += x.len;
    }
    expect(next).toBe(1 + bytes.length);
    expect(all.every((x) => x.drops === 0)).toBe(true);
    for (const f of [pcap, s.data, s.ctl, ann.ctl]) f.close();
  });

  it('loses what a reader does not read, without slowing the transfer; the drop count says how much', async () => {
    const run = async (capture: boolean): Promise<{ end: number; out: number; rows?: Seg[]; stats?: Record<string, number> }> => {
      const n = lan(2, { seed: 5 });
      net = n;
      const [cli, srv] = n.clients as [SimClient, SimClient];
      const ann = await announce(n, srv, 7001);
      const conv = await conversation(cli);
      const pcap = capture ? await cli.open(`${conv.dir}/pcap`) : null;
      const c = await connect(n, cli, conv, '10.0.0.2!7001');
      const s = await take(n, srv, ann.n);
      await transfer(n, c, s, pattern(6 * 1024 * 1024));
      const end = n.clock.now();
      const out = (await stats(cli)).OutSegs!;
      let rows: Seg[] | undefined;
      let st: Record<string, number> | undefined;
      if (pcap) {
        // The reader comes back: what was queued, then the FIN with the count of all that was lost.
        const queued = readQueued(pcap);
        c.data.close();
        c.ctl.close();
        st = await stats(cli);
        rows = segs(tshark(Buffer.concat([queued, await readToEof(n, pcap)]), TCP_FIELDS));
        pcap.close();
      } else {
        c.data.close();
        c.ctl.close();
      }
      for (const f of [s.data, s.ctl, ann.ctl]) f.close();
      await n.close();
      net = null;
      return { end, out, ...(rows ? { rows } : {}), ...(st ? { stats: st } : {}) };
    };
    const bare = await run(false);
    const watched = await run(true);
    // The same transfer, segment for segment and to the simulated millisecond.
    expect(watched.end).toBe(bare.end);
    expect(watched.out).toBe(bare.out);
    const rows = watched.rows!;
    const lost = rows.reduce((a, x) => a + x.drops, 0);
    expect(lost).toBeGreaterThan(1000);
    expect(rows[rows.length - 1]!.fin).toBe(true);
    expect(rows[rows.length - 1]!.drops).toBe(lost);
    // Every segment is either in the stream or counted as lost.
    expect(rows.length + lost).toBe(watched.stats!.OutSegs! + watched.stats!.InSegs!);
  });
});

describe('/net/ipifc/N/pcap and /net/ether0/pcap', () => {
  it('capture every frame of the interface, and a filter keeps only what matches', async () => {
    net = lan(2);
    const [cli, srv] = net.clients as [SimClient, SimClient];
    const ifc = await srv.open('/ipifc/1/pcap');
    const ether = await srv.open('/ether0/pcap');
    const udp9 = await cli.open('/ipifc/1/pcap');
    await drive(net.clock, udp9.write('udp and dst port 9'));
    const icmpIn = await cli.open('/ipifc/1/pcap');
    await drive(net.clock, icmpIn.write('in and (icmp or arp) and src host 10.0.0.2'));
    const ann = await announce(net, srv, 7002);
    const c = await connect(net, cli, await conversation(cli), '10.0.0.2!7002');
    const s = await take(net, srv, ann.n);
    await transfer(net, c, s, pattern(64 * 1024));
    // Datagrams to a port nobody has: each answered by an ICMP port unreachable.
    const u = await cli.clone('udp');
    await drive(net.clock, u.ctl.write('ignoreadvice'));
    await drive(net.clock, u.ctl.write('connect 10.0.0.2!9'));
    const udata = await cli.open(`${u.dir}/data`);
    for (let i = 0; i < 5; i++) {
      await drive(net.clock, udata.write(`datagram ${i}`));
      await runFor(net.clock, 100); // the answer comes before the next
    }
    const st = await stats(srv);
    const fields = ['frame.packet_flags_direction', 'ip.proto', 'udp.dstport', 'icmp.type', 'eth.type'];
    const onIfc = tshark(readQueued(ifc), fields);
    const onEther = tshark(readQueued(ether), fields);
    const tcp = onIfc.filter((r) => r[1] === '6');
    expect(tcp.length).toBe(st.InSegs! + st.OutSegs!);
    expect(tcp.filter((r) => Number(r[0]) === IN).length).toBe(st.InSegs);
    // The device sees the same frames as the interface bound to it.
    expect(onEther.map((r) => r.join())).toEqual(onIfc.map((r) => r.join()));
    const only9 = tshark(readQueued(udp9), fields);
    expect(only9.length).toBe(5);
    expect(only9.every((r) => r[1] === '17' && r[2] === '9' && Number(r[0]) === OUT)).toBe(true);
    const unreach = tshark(readQueued(icmpIn), fields);
    expect(unreach.length).toBe(5);
    expect(unreach.every((r) => r[3] === '3' && Number(r[0]) === IN)).toBe(true);
    // A bad filter is an error, and the capture goes on unfiltered as before.
    expect(await errorOf(net.clock, icmpIn.write('tcp port eighty'))).toBe('filter: bad port eighty');
    expect(await errorOf(net.clock, icmpIn.write('host 10.0.0.300'))).toBe('filter: bad address 10.0.0.300');
    for (const f of [ifc, ether, udp9, icmpIn, udata, u.ctl, c.data, c.ctl, s.data, s.ctl, ann.ctl]) f.close();
  });

  it('are bounded per stack: one more reader than it allows finds no free devices', async () => {
    net = lan(1);
    const [cli] = net.clients as [SimClient];
    const files = [];
    for (let i = 0; i < MAX_CAPTURE_READERS; i++) files.push(await cli.open(i % 2 ? '/ipifc/1/pcap' : '/ether0/pcap'));
    await expect(cli.open('/ipifc/1/pcap')).rejects.toThrow('no free devices');
    const conv = await conversation(cli);
    await expect(cli.open(`${conv.dir}/pcap`)).rejects.toThrow('no free devices');
    files.pop()!.close();
    files.push(await cli.open(`${conv.dir}/pcap`));
    for (const f of [...files, conv.ctl]) f.close();
  });

  it('are the host owner\'s: others may not open them', async () => {
    net = lan(1);
    const { SimClient: Client } = await import('./netfs-sim.js');
    const other = new Client(net.nets[0]!.tree, net.clock, 'glenda');
    await expect(other.open('/ipifc/1/pcap')).rejects.toThrow('permission denied');
    await expect(other.open('/ether0/pcap')).rejects.toThrow('permission denied');
  });
});
