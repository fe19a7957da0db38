/**
 * Text formats of /net files as Plan 9 prints them (libip eipfmt.c, 9/ip/iproute.c,
 * arp.c, ipifc.c, libc tokenize.c):
 * %I/%M, iproute lines, arp lines, ipifc status, ctl tokenizing.
 */
import { describe, expect, it } from 'vitest';
import { arpText, parseMacText } from '../../src/netfs/arp.js';
import { tokenize } from '../../src/netfs/ctl.js';
import { formatIp, formatMask, parseIp, parseMask, prefixMask } from '../../src/netfs/ipaddr.js';
import { ifcStatus } from '../../src/netfs/ipifc.js';
import { parseRoute, routeText } from '../../src/netfs/iproute.js';

const ip = (s: string) => parseIp(s)!;

describe('addresses (%I, %M, parseip)', () => {
  it.each([
    ['192.168.1.10', '192.168.1.10'],
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['::', '::'],
    ['2001:db8::7', '2001:db8::7'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8::1:1:1:1:1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['10.1', '10.0.0.1'],
    ['10.1.2', '10.0.1.2'],
    ['172.16.1', '172.16.0.1'],
    ['::1', '::1'],
  ])('%s prints as %s', (s, want) => {
    expect(formatIp(ip(s))).toBe(want);
  });

  it('rejects names and junk', () => {
    for (const s of ['localhost', '*', '[::1]', '1.2.3.4.5', '256.1.1.1', '1:::2', '']) expect(parseIp(s)).toBeNull();
  });

  it('prints masks over 128 bits', () => {
    expect(formatMask(parseMask('/24')!)).toBe('/120');
    expect(formatMask(parseMask('255.255.255.0')!)).toBe('/120');
    expect(formatMask(parseMask('0.0.0.0')!)).toBe('/96');
    expect(formatMask(prefixMask(128))).toBe('/128');
    expect(formatMask(parseMask('/64', false)!)).toBe('/64');
  });
});

describe('/net/iproute', () => {
  it('prints the 9front example lines byte for byte', () => {
    const v4 = (s: string) => ip(s);
    const routes = [
      { target: v4('0.0.0.0'), mask: parseMask('/0')!, nexthop: v4('192.168.1.1'), flags: '4', tag: 'none', ifc: 0, source: v4('0.0.0.0'), smask: parseMask('/0')! },
      { target: v4('192.168.1.0'), mask: parseMask('/24')!, nexthop: v4('192.168.1.0'), flags: '4i', tag: 'ifc', ifc: 0, source: v4('192.168.1.10'), smask: parseMask('/32')! },
      { target: v4('192.168.1.10'), mask: parseMask('/32')!, nexthop: v4('192.168.1.10'), flags: '4u', tag: 'ifc', ifc: 0, source: v4('0.0.0.0'), smask: parseMask('/0')! },
    ];
    expect(routeText(routes)).toBe(
      '0.0.0.0         /96  192.168.1.1     4    none   0 0.0.0.0         /96 \n' +
      '192.168.1.0     /120 192.168.1.0     4i    ifc   0 192.168.1.10    /128\n' +
      '192.168.1.10    /128 192.168.1.10    4u    ifc   0 0.0.0.0         /96 \n');
  });

  it('parses the add forms and rejects bad ones', () => {
    expect(parseRoute(['0.0.0.0', '/0', '10.0.0.1'], 'none', false)).toMatchObject({ ifc: null, flags: null, tag: 'none' });
    expect(parseRoute(['10.2.0.0', '/16', '10.0.0.1', '1'], 't', false).ifc).toBe('1');
    expect(parseRoute(['10.2.0.0', '/16', '10.0.0.1', '4', 'mine', '-', '0.0.0.0', '/0'], 't', false)).toMatchObject({ tag: 'mine', ifc: null, flags: '4' });
    expect(() => parseRoute(['10.2.0.0', '/16'], 't', false)).toThrow('bad process or channel control request');
    expect(() => parseRoute(['bogus', '/16', '10.0.0.1'], 't', false)).toThrow('bad ip address syntax');
    expect(() => parseRoute(['10.2.0.0', '/16', '::1'], 't', false)).toThrow('bad ip address syntax');
    expect(() => parseRoute(['10.2.0.0', '/16', '10.0.0.1', 'zz', '0', '0.0.0.0', '/0'], 't', false)).toThrow('bad process or channel control request');
  });
});

describe('/net/arp', () => {
  it('prints the 9front example line', () => {
    expect(arpText([{ state: 'OK', ip: ip('192.168.1.1'), mac: parseMacText('00:12:a5:c3:e4:01'), ifcAddr: ip('192.168.1.10') }])).toBe(
      'ether  OK   192.168.1.1                              0012a5c3e401     192.168.1.10\n');
    expect(parseMacText('0012a5c3e4')).toBeNull();
  });
});

describe('ipifc status', () => {
  it('prints the 9front layout', () => {
    const s = ifcStatus({ index: 0, device: '/net/ether0', maxtu: 1514, pktin: 1234, pktout: 987, errin: 0, errout: 0,
      addrs: [{ ip: ip('192.168.1.10'), mask: parseMask('/24')!, net: ip('192.168.1.0') }] });
    expect(s).toBe('device /net/ether0 maxtu 1514 sendra 0 recvra 0 mflag 0 oflag 0 maxraint 600000 minraint 200000 linkmtu 0 reachtime 0 rxmitra 0 ttl 255 routerlt 1800 pktin 1234 pktout 987 errin 0 errout 0 speed 0 delay 40\n' +
      '\t192.168.1.10                             /120       192.168.1.0                              4294967295   4294967295  \n');
  });
});

describe('ctl tokenizing', () => {
  it('splits on blanks, honours quotes, drops one trailing newline', () => {
    expect(tokenize('connect 10.0.0.1!80\n')).toEqual(['connect', '10.0.0.1!80']);
    expect(tokenize("a 'b c' 'it''s'")).toEqual(['a', 'b c', "it's"]);
    expect(tokenize('  \t ')).toEqual([]);
  });
});
