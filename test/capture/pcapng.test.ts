// The pcapng writer and reader: a round trip, tshark reading what we
// write, and malformed streams as errors.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LINKTYPE_ETHERNET, packetBlock, PcapError, PcapngReader, pcapngHeader, SNAPLEN } from '../../src/capture/pcapng.js';
import { summarize } from '../../src/capture/summary.js';

/** An Ethernet frame holding a UDP datagram 10.0.0.1:1234 → 10.0.0.2:53 with `n` bytes of data. */
function frame(n: number): Uint8Array {
  const f = new Uint8Array(14 + 28 + n);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
  const ip = 14;
  f[ip] = 0x45;
  f[ip + 2] = (28 + n) >> 8; f[ip + 3] = (28 + n) & 255;
  f[ip + 8] = 64; f[ip + 9] = 17;
  f.set([10, 0, 0, 1, 10, 0, 0, 2], ip + 12);
  f.set([0x04, 0xd2, 0, 53, (8 + n) >> 8, (8 + n) & 255], ip + 20);
  return f;
}

function stream(): Uint8Array {
  return Buffer.concat([
    pcapngHeader(LINKTYPE_ETHERNET, 'ether0'),
    packetBlock(frame(3), 1_500_000, 'out', 0),
    packetBlock(frame(100), 2_000_001, 'in', 7),
    packetBlock(frame(1), 2 ** 33 + 5, 'in', 0),
  ]);
}

describe('pcapng', () => {
  it('reads back what it writes, pushed a byte at a time', () => {
    const s = stream();
    const r = new PcapngReader();
    const got = [];
    for (let i = 0; i < s.length; i++) {
      r.push(s.subarray(i, i + 1));
      for (let x = r.next(); x !== null; x = r.next()) got.push(x);
    }
    expect(got.map((x) => (x instanceof PcapError ? x.reason : [x.micros, x.dir, x.drops, x.data.length, x.ifname, x.linktype]))).toEqual([
      [1_500_000, 'out', 0, 45, 'ether0', 1],
      [2_000_001, 'in', 7, 142, 'ether0', 1],
      [2 ** 33 + 5, 'in', 0, 43, 'ether0', 1],
    ]);
    expect(r.offset).toBe(s.length);
    const first = got[0];
    if (first instanceof PcapError || first === undefined) throw new Error('no record');
    expect(summarize(first.data, first.linktype)).toBe(
      'ether(s=020000000001 d=020000000002 pr=0800 ln=45) ip(s=10.0.0.1 d=10.0.0.2 id=0000 frag=0000 ttl=64 pr=17 ln=31) udp(s=1234 d=53 ck=0000 ln=11)',
    );
  });

  it('is what tshark reads: times, directions, drop counts, the interface name', () => {
    const dir = mkdtempSync(join(tmpdir(), `9net-pcapng-${process.pid}-`));
    try {
      const file = join(dir, 'x.pcapng');
      writeFileSync(file, stream());
      const r = spawnSync('tshark', ['-r', file, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.time_epoch', '-e', 'frame.packet_flags_direction', '-e', 'frame.drop_count', '-e', 'frame.interface_name', '-e', 'udp.dstport', '-e', 'frame.len'], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      const rows = r.stdout.trim().split('\n').map((l) => l.split('|'));
      expect(rows.map((x) => [Number(x[0]).toFixed(6), Number(x[1]), x[2], x[3], x[4], x[5]])).toEqual([
        ['1.500000', 2, '', 'ether0', '53', '45'],
        ['2.000001', 1, '7', 'ether0', '53', '142'],
        [((2 ** 33 + 5) / 1e6).toFixed(6), 1, '', 'ether0', '53', '43'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('snaps packets to SNAPLEN', () => {
    const r = new PcapngReader();
    r.push(pcapngHeader(1, 'x'));
    r.push(packetBlock(new Uint8Array(SNAPLEN + 10), 0, 'out', 0));
    const x = r.next();
    if (x === null || x instanceof PcapError) throw new Error('no record');
    expect([x.data.length, x.origLen]).toEqual([SNAPLEN, SNAPLEN + 10]);
  });

  it('says what is wrong with a malformed stream', () => {
    const bad = (bytes: Uint8Array): string => {
      const r = new PcapngReader();
      r.push(bytes);
      const x = r.next();
      return x instanceof PcapError ? x.reason : String(x);
    };
    const s = new Uint8Array(stream());
    expect(bad(s.subarray(28))).toBe('not a pcapng stream');
    const be = s.slice();
    be.set([0x1a, 0x2b, 0x3c, 0x4d], 8);
    expect(bad(be)).toBe('not a little-endian pcapng section');
    const odd = s.slice();
    odd[4] = 27;
    expect(bad(odd)).toBe('bad block length 27');
    const huge = s.slice();
    huge.set([0, 0, 0, 1], 4);
    expect(bad(huge)).toBe('bad block length 16777216');
    const tail = s.slice();
    tail[24] = 32;
    expect(bad(tail)).toBe('block lengths differ');
    const noIdb = Buffer.concat([s.subarray(0, 28), packetBlock(frame(1), 0, 'in', 0)]);
    expect(bad(noIdb)).toBe('packet of an undescribed interface');
    // A stream cut short is not an error: it waits for more.
    expect(bad(s.subarray(0, 40))).toBe('null');
  });
});
