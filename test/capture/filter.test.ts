// The capture filter language: what matches, and errors as values.
import { describe, expect, it } from 'vitest';
import { packetFields, parseFilter } from '../../src/capture/filter.js';
import type { PacketFilter } from '../../src/capture/filter.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../../src/capture/pcapng.js';

/** An IPv4 packet (raw) from src to dst with ports, protocol `proto`. */
function ipPacket(proto: number, src: string, dst: string, sport: number, dport: number): Uint8Array {
  const b = new Uint8Array(40);
  b[0] = 0x45;
  b[9] = proto;
  src.split('.').forEach((x, i) => { b[12 + i] = Number(x); });
  dst.split('.').forEach((x, i) => { b[16 + i] = Number(x); });
  b[20] = sport >> 8; b[21] = sport & 255; b[22] = dport >> 8; b[23] = dport & 255;
  return b;
}

function ether(type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  f[12] = type >> 8;
  f[13] = type & 255;
  f.set(payload, 14);
  return f;
}

function arp(spa: string, tpa: string): Uint8Array {
  const b = new Uint8Array(28);
  spa.split('.').forEach((x, i) => { b[14 + i] = Number(x); });
  tpa.split('.').forEach((x, i) => { b[24 + i] = Number(x); });
  return ether(0x0806, b);
}

function f(text: string): PacketFilter {
  const r = parseFilter(text);
  if ('error' in r) throw new Error(r.error);
  return r.filter;
}

const tcp80 = packetFields(ipPacket(6, '10.0.0.1', '10.0.0.2', 40000, 80), LINKTYPE_RAW, 'out');
const udp53 = packetFields(ether(0x0800, ipPacket(17, '10.0.0.2', '192.168.1.1', 53, 5353)), LINKTYPE_ETHERNET, 'in');
const arpIn = packetFields(arp('10.0.0.9', '10.0.0.1'), LINKTYPE_ETHERNET, 'in');

describe('capture filters', () => {
  it('match direction, protocol, host, net and port, combined', () => {
    const cases: [string, boolean, boolean, boolean][] = [
      ['', true, true, true],
      ['out', true, false, false],
      ['in', false, true, true],
      ['tcp', true, false, false],
      ['udp or arp', false, true, true],
      ['ip', true, true, false],
      ['tcp port 80', true, false, false],
      ['dst port 80', true, false, false],
      ['src port 80', false, false, false],
      ['port 53', false, true, false],
      ['host 10.0.0.2', true, true, false],
      ['src 10.0.0.2', false, true, false],
      ['dst host 10.0.0.1', false, false, true],
      ['net 192.168.0.0/16', false, true, false],
      ['src net 10.0.0.0/24 and not arp', true, true, false],
      ['not (tcp || udp)', false, false, true],
      ['in && !arp', false, true, false],
      ['(in or out) and (host 10.0.0.9 or port 80)', true, false, true],
    ];
    for (const [text, a, b, c] of cases) {
      const m = f(text);
      expect([text, m(tcp80), m(udp53), m(arpIn)]).toEqual([text, a, b, c]);
    }
  });

  it('say what is wrong instead of throwing', () => {
    const errors: [string, string][] = [
      ['tcp port', 'filter: bad port (none)'],
      ['port 70000', 'filter: bad port 70000'],
      ['host 1.2.3', 'filter: bad address 1.2.3'],
      ['net 10.0.0.0/33', 'filter: bad net 10.0.0.0/33'],
      ['frobnicate', 'filter: unknown word frobnicate'],
      ['(tcp', 'filter: missing )'],
      ['tcp )', 'filter: unexpected )'],
      ['not', 'filter: ends too soon'],
      ['('.repeat(40) + 'tcp' + ')'.repeat(40), 'filter: nested too deeply'],
      ['tcp '.repeat(300), 'filter: too long'],
    ];
    for (const [text, err] of errors) expect(parseFilter(text)).toEqual({ error: err });
  });

  it('take short and odd packets without reading past them', () => {
    expect(packetFields(new Uint8Array(3), LINKTYPE_ETHERNET, 'in').net).toBeNull();
    expect(packetFields(ether(0x0800, new Uint8Array(10)), LINKTYPE_ETHERNET, 'in').net).toBeNull();
    const short = packetFields(ipPacket(6, '1.2.3.4', '5.6.7.8', 1, 2).subarray(0, 22), LINKTYPE_RAW, 'in');
    expect(short).toMatchObject({ net: 'ip', proto: 6, sport: -1, dport: -1 });
  });
});
