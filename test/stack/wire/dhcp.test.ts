/**
 * DHCP messages (src/stack/wire/dhcp.ts): a DISCOVER and an OFFER golden
 * both ways, every typed option, repeated options concatenated (RFC 3396),
 * options in `file`/`sname` (overload, RFC 2131 §4.1), and malformed input
 * — short messages, a BOOTP cookie, hlen > 16, options past the end, known
 * options of the wrong length — always an error value, never a throw
 * (prefixes and 100 000 seeded mutations).
 */
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../../src/lib/rng.js';
import {
  BOOTP_MIN_LEN,
  BOOTREPLY,
  BOOTREQUEST,
  DHCP_MSG,
  DHCP_OPT,
  emitDhcp,
  noOptions,
  parseDhcp,
} from '../../../src/stack/wire/dhcp.js';
import type { DhcpRepr } from '../../../src/stack/wire/dhcp.js';
import { WireError } from '../../../src/stack/wire/result.js';
import { hex, toHex } from './util.js';

const MAC = '00053c048d59';
const zeros = (n: number): string => '00'.repeat(n);

/**
 * DISCOVER from 00:05:3c:04:8d:59, xid 3903f326, asking for 192.168.1.100
 * and options 1, 3, 15, 6; padded to 300 bytes.
 */
const DISCOVER = hex(`
  01 01 06 00  3903f326  0000 0000  ${zeros(16)}
  ${MAC} ${zeros(10)}  ${zeros(64)} ${zeros(128)}
  63825363
  35 01 01
  3d 07 01 ${MAC}
  32 04 c0a80164
  37 04 01 03 0f 06
  ff ${zeros(300 - 240 - 3 - 9 - 6 - 6 - 1)}`);

/**
 * OFFER of 192.168.1.100 from server 192.168.1.1: lease 86400, T1 43200,
 * mask /24, router .1, DNS .1 and 9.9.9.9, domain "lan", MTU 1400.
 */
const OFFER = hex(`
  02 01 06 00  3903f326  0000 0000  00000000 c0a80164 c0a80101 00000000
  ${MAC} ${zeros(10)}  ${zeros(64)} ${zeros(128)}
  63825363
  35 01 02
  36 04 c0a80101
  33 04 00015180
  3a 04 0000a8c0
  01 04 ffffff00
  03 04 c0a80101
  06 08 c0a80101 09090909
  0f 03 6c616e
  1a 02 0578
  ff`);

function ok(b: Uint8Array): DhcpRepr {
  const m = parseDhcp(b);
  if (m instanceof WireError) throw new Error(`parse failed: ${m.reason}`);
  return m;
}

function base(): DhcpRepr {
  return {
    op: BOOTREQUEST, htype: 1, hops: 0, xid: 1, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
    chaddr: hex(MAC), sname: '', file: '', options: noOptions(),
  };
}

describe('DHCP goldens', () => {
  it('parses a DISCOVER and emits it byte for byte', () => {
    const m = ok(DISCOVER);
    expect(m.op).toBe(BOOTREQUEST);
    expect(m.xid).toBe(0x3903f326);
    expect(toHex(m.chaddr)).toBe(MAC);
    expect(m.options).toEqual({
      messageType: DHCP_MSG.DISCOVER,
      clientId: hex(`01${MAC}`),
      requestedIp: 0xc0a80164,
      paramRequest: [1, 3, 15, 6],
      other: new Map(),
    });
    expect(toHex(emitDhcp(m))).toBe(toHex(DISCOVER));
  });

  it('parses an OFFER with every address option and emits it back', () => {
    const m = ok(OFFER);
    expect(m.op).toBe(BOOTREPLY);
    expect(m.yiaddr).toBe(0xc0a80164);
    expect(m.siaddr).toBe(0xc0a80101);
    expect(m.options).toEqual({
      messageType: DHCP_MSG.OFFER, serverId: 0xc0a80101, leaseTime: 86400, renewalTime: 43200, subnetMask: 0xffffff00,
      routers: [0xc0a80101], dnsServers: [0xc0a80101, 0x09090909], domainName: 'lan', mtu: 1400, other: new Map(),
    });
    const again = emitDhcp(m);
    expect(again.length).toBe(BOOTP_MIN_LEN);
    expect(toHex(again.subarray(0, OFFER.length))).toBe(toHex(OFFER));
    expect(ok(again)).toEqual(m);
  });
});

describe('DHCP options', () => {
  it('round-trips every typed option and unknown ones', () => {
    const m = base();
    m.op = BOOTREPLY;
    m.sname = 'server';
    m.file = 'boot/9pc';
    m.options = {
      messageType: DHCP_MSG.ACK, serverId: 0x0a000001, requestedIp: 0x0a00000f, leaseTime: 0xffffffff, renewalTime: 10, rebindingTime: 20,
      subnetMask: 0xffffff00, routers: [0x0a000001, 0x0a000002], dnsServers: [0x0a000003], hostname: 'gnot', domainName: 'example',
      mtu: 9000, broadcast: 0x0a0000ff, paramRequest: [1, 3], message: 'hello', maxMessageSize: 1500, clientId: Uint8Array.of(1, 2, 3),
      other: new Map([[43, Uint8Array.of(1, 2)], [224, new Uint8Array(0)]]),
    };
    expect(ok(emitDhcp(m))).toEqual(m);
  });

  it('concatenates a repeated option and splits a long one (RFC 3396)', () => {
    const m = base();
    const routers = Array.from({ length: 100 }, (_, i) => 0x0a000000 + i);
    m.options = { ...noOptions(), routers };
    const b = emitDhcp(m);
    expect(b[240]).toBe(DHCP_OPT.ROUTER);
    expect(b[241]).toBe(255);
    expect(ok(b).options.routers).toEqual(routers);
  });

  it('reads options from file and sname when option 52 says so', () => {
    const b = new Uint8Array(300);
    b.set(ok(DISCOVER) && DISCOVER.subarray(0, 240));
    b.set(hex('35 01 05  34 01 03  ff'), 240);
    b.set(hex('01 04 ffffff00 ff'), 108); // file
    b.set(hex('0f 03 6c616e ff'), 44); // sname
    const m = ok(b);
    expect(m.options.messageType).toBe(DHCP_MSG.ACK);
    expect(m.options.subnetMask).toBe(0xffffff00);
    expect(m.options.domainName).toBe('lan');
    expect(m.file).toBe('');
    expect(m.sname).toBe('');
  });

  it('ignores an MTU below 68 and a size below 576 rather than the message', () => {
    const b = DISCOVER.slice();
    b.set(hex('1a 02 0020  39 02 0100  ff'), 240 + 3 + 9 + 6 + 6);
    const m = ok(b);
    expect(m.options.mtu).toBeUndefined();
    expect(m.options.maxMessageSize).toBeUndefined();
    expect(m.options.requestedIp).toBe(0xc0a80164);
  });
});

describe('malformed DHCP messages are error values', () => {
  it('refuses short messages, BOOTP and long hardware addresses', () => {
    for (let n = 0; n < 240; n++) expect(parseDhcp(DISCOVER.subarray(0, n))).toBe(WireError.truncated);
    const bootp = DISCOVER.slice();
    bootp[236] = 0;
    expect(parseDhcp(bootp)).toBe(WireError.unsupported);
    const long = DISCOVER.slice();
    long[2] = 17;
    expect(parseDhcp(long)).toBe(WireError.badLength);
  });

  it('refuses options past the end and known options of the wrong length', () => {
    const at = (opts: string): Uint8Array => {
      const b = new Uint8Array(240 + opts.replace(/\s+/g, '').length / 2);
      b.set(DISCOVER.subarray(0, 240));
      b.set(hex(opts), 240);
      return b;
    };
    expect(parseDhcp(at('35 05 01'))).toBe(WireError.badOption);
    expect(parseDhcp(at('35'))).toBe(WireError.badOption);
    expect(parseDhcp(at('01 03 ffffff ff'))).toBe(WireError.badOption);
    expect(parseDhcp(at('03 06 0a0000010a00 ff'))).toBe(WireError.badOption);
    expect(parseDhcp(at('35 02 0101 ff'))).toBe(WireError.badOption);
    expect(parseDhcp(at('34 01 04 ff'))).toBe(WireError.badOption);
    expect(parseDhcp(at('1a 01 05 ff'))).toBe(WireError.badOption);
    // Without an END option the options simply stop at the end of the message.
    expect(ok(at('35 01 01')).options.messageType).toBe(1);
  });

  it('never throws on 100 000 mutated messages; what parses re-emits to the same message', () => {
    const rng = new SeededRng(67);
    const seeds = [DISCOVER, OFFER];
    let parsed = 0;
    for (let i = 0; i < 100_000; i++) {
      let b: Uint8Array = seeds[i & 1]!.slice();
      for (let r = 1 + (rng.u32() % 3); r > 0; r--) {
        // Most mutations land in the options, where the lengths are.
        const at = rng.u32() % 4 === 0 ? rng.u32() % b.length : 236 + (rng.u32() % Math.max(1, b.length - 236));
        switch (rng.u32() % 4) {
          case 0: b[at]! ^= 1 << (rng.u32() % 8); break;
          case 1: b[at] = [0, 1, 2, 3, 4, 6, 8, 52, 0xfe, 0xff][rng.u32() % 10]!; break;
          case 2: b = b.subarray(0, at); break;
          default: b[at] = rng.u32() & 0xff;
        }
      }
      const m = parseDhcp(b);
      if (m instanceof WireError) continue;
      parsed++;
      if (m.chaddr.length > 16 || Buffer.byteLength(m.sname) > 63 || Buffer.byteLength(m.file) > 127) continue;
      expect(ok(emitDhcp(m))).toEqual(m);
    }
    expect(parsed).toBeGreaterThan(1000);
  });
});
