import { describe, expect, it } from 'vitest';
import { ARP_LEN, type ArpRepr, arpBufferLen, emitArp, parseArp } from '../../../src/stack/wire/arp.js';
import { WireError } from '../../../src/stack/wire/result.js';
import { ARP_REPLY_PADDED, ARP_REQUEST } from './goldens.js';
import { toHex } from './util.js';

const REQUEST: ArpRepr = {
  op: 'request',
  senderMac: 0x525400123456,
  senderIp: 0x0a00020f,
  targetMac: 0,
  targetIp: 0x0a000202,
};
const REPLY: ArpRepr = {
  op: 'reply',
  senderMac: 0x52550a000202,
  senderIp: 0x0a000202,
  targetMac: 0x525400123456,
  targetIp: 0x0a00020f,
};

describe('arp (RFC 826)', () => {
  it('parses a request and emits it byte-exactly', () => {
    const body = ARP_REQUEST.subarray(14);
    expect(parseArp(body)).toEqual(REQUEST);
    const out = new Uint8Array(ARP_LEN);
    expect(emitArp(REQUEST, out)).toBe(28);
    expect(toHex(out)).toBe(toHex(body));
  });

  it('parses a padded reply, ignoring the Ethernet padding', () => {
    const body = ARP_REPLY_PADDED.subarray(14);
    expect(body.length).toBe(46);
    expect(parseArp(body)).toEqual(REPLY);
    const out = new Uint8Array(arpBufferLen(REPLY) + 3);
    emitArp(REPLY, out, 3);
    expect(toHex(out.subarray(3))).toBe(toHex(body.subarray(0, 28)));
  });

  it('rejects truncated packets', () => {
    const body = ARP_REQUEST.subarray(14);
    for (let n = 0; n < ARP_LEN; n++) expect(parseArp(body.subarray(0, n))).toBe(WireError.truncated);
  });

  it('rejects anything but Ethernet/IPv4 request/reply', () => {
    const cases: Array<[number, number]> = [
      [1, 6], // htype 6 (IEEE 802)
      [3, 0xdd], // ptype 0x08dd
      [4, 8], // hlen 8
      [5, 16], // plen 16
      [7, 3], // op 3 (RARP request)
      [6, 1], // op 0x0101
    ];
    for (const [at, v] of cases) {
      const b = ARP_REQUEST.slice(14);
      b[at] = v;
      expect(parseArp(b), `byte ${at} = ${v}`).toBe(WireError.unsupported);
    }
  });
});
