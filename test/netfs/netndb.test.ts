/**
 * /net/ndb (src/netfs/netndb.ts): entries and quoting as libndb parses
 * them (ndbparse.c: `attr="value with white space"`), ipconfig's putndb entry and merge, and the file's
 * devip semantics over 9P (host owner writes, OTRUNC, offsets, the 32 KiB
 * bound, the qid version).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIp, parseMask } from '../../src/netfs/ipaddr.js';
import { NDB_MAX, NdbFile, formatEntry, ipconfigEntry, putNdb } from '../../src/netfs/netndb.js';
import { Ndb, values } from '../../src/netfs/ndb.js';

const parseNdb = (text: string) => Ndb.parse(text).entries;
const ndbValues = values;
import { netRoot } from '../../src/netfs/net.js';
import { OREAD, OTRUNC, OWRITE } from '../../src/ninep/types.js';
import { startUpper } from '../backend/over/harness.js';
import type { UpperFixture } from '../backend/over/harness.js';
import { EVE, errorOf } from './harness.js';

describe('ndb text', () => {
  it('parses entries, continuation lines, quotes and comments', () => {
    const e = parseNdb(`# a comment
ip=10.0.0.1 sys=gnot dom=gnot.example
\tether=0000deadbeef # trailing comment
\ttxt="hello world" q=plain

ipnet=lan ip=10.0.0.0 ipmask=255.255.255.0
  dns=10.0.0.53
`);
    expect(e).toHaveLength(2);
    expect(ndbValues(e[0]!, 'sys')).toEqual(['gnot']);
    expect(ndbValues(e[0]!, 'ether')).toEqual(['0000deadbeef']);
    expect(ndbValues(e[0]!, 'txt')).toEqual(['hello world']);
    expect(ndbValues(e[0]!, 'q')).toEqual(['plain']);
    expect(ndbValues(e[1]!, 'dns')).toEqual(['10.0.0.53']);
    expect(formatEntry(e[0]!)).toBe('ip=10.0.0.1 sys=gnot dom=gnot.example\n\tether=0000deadbeef\n\ttxt="hello world" q=plain\n');
  });

  it("writes ipconfig's entry", () => {
    const entry = ipconfigEntry({
      ip: parseIp('10.0.2.15')!, mask: parseMask('255.255.255.0')!, gw: parseIp('10.0.2.2')!,
      sys: 'gnot', domain: 'example', dns: [parseIp('10.0.2.3')!, parseIp('10.0.2.4')!],
    });
    expect(formatEntry(entry)).toBe('ip=10.0.2.15 ipmask=/120 ipgw=10.0.2.2\n\tsys=gnot\n\tdom=gnot.example\n\tdns=10.0.2.3\n\tdns=10.0.2.4\n');
    // A dotted name gives the domain; no gateway prints as ::.
    const dotted = ipconfigEntry({ ip: parseIp('10.0.2.15')!, mask: parseMask('/24')!, gw: parseIp('0.0.0.0')!, sys: 'gnot.lab.example' });
    expect(formatEntry(dotted)).toBe('ip=10.0.2.15 ipmask=/120 ipgw=0.0.0.0\n\tsys=gnot\n\tdom=gnot.lab.example\n');
  });

  it('merges as putndb: ours first, other addresses of ours and ipnet entries kept, stale ones dropped', () => {
    const old = 'ip=10.0.2.15 ipmask=/120 ipgw=10.0.2.2\n\tsys=old\n\nip=10.0.3.7 ipmask=/120 ipgw=::\n\nip=192.0.2.1 sys=stale\n\nipnet=lab ip=10.0.0.0\n\nauth=a.example\n';
    const entry = parseNdb('ip=10.0.2.15 ipmask=/120 ipgw=10.0.2.9\n')[0]!;
    const mine = (s: string): boolean => s === '10.0.2.15' || s === '10.0.3.7';
    expect(putNdb(old, '10.0.2.15', entry, mine)).toBe(
      'ip=10.0.2.15 ipmask=/120 ipgw=10.0.2.9\n\nip=10.0.3.7 ipmask=/120 ipgw=::\n\nipnet=lab ip=10.0.0.0\n\nauth=a.example\n');
    expect(putNdb(old, '10.0.2.15', null, (s) => s === '10.0.3.7')).toBe('ip=10.0.3.7 ipmask=/120 ipgw=::\n\nipnet=lab ip=10.0.0.0\n\nauth=a.example\n');
  });
});

describe('/net/ndb', () => {
  const ndb = new NdbFile(EVE);
  let up: UpperFixture;

  beforeAll(async () => {
    ndb.set('ip=10.0.2.15 ipmask=/120 ipgw=10.0.2.2\n');
    up = await startUpper(() => netRoot(EVE, () => [ndb.node]));
  });
  afterAll(async () => {
    await up.close();
  });

  it('is readable by anyone, with its length and a qid version that counts changes', async () => {
    const c = await up.client('alice');
    expect((await c.readFile('/ndb')).toString()).toBe('ip=10.0.2.15 ipmask=/120 ipgw=10.0.2.2\n');
    const d = await c.stat('/ndb');
    expect(d.mode & 0o777).toBe(0o666);
    expect(d.uid).toBe('network');
    expect(d.length).toBe(39n);
    const v = d.qid.vers;
    ndb.set('ip=10.0.2.16\n');
    expect((await c.stat('/ndb')).qid.vers).toBe(v + 1);
  });

  it('lets only the host owner write; OTRUNC empties it and writes land at their offset', async () => {
    const alice = await up.client('alice');
    expect(await errorOf(alice.open('/ndb', OWRITE))).toBe('permission denied');
    const eve = await up.client(EVE);
    const f = await eve.open('/ndb', OWRITE | OTRUNC);
    expect(ndb.text()).toBe('');
    await f.write('ip=10.0.0.1\n');
    f.offset = 3n;
    await f.write('99');
    expect(ndb.text()).toBe('ip=99.0.0.1\n');
    f.offset = 100n;
    expect(await errorOf(f.write('x'))).toBe('i/o error');
    f.offset = 0n;
    expect(await errorOf(f.write(Buffer.alloc(NDB_MAX, 0x61)))).toBe('i/o error');
    await f.close();
    const r = await alice.open('/ndb', OREAD);
    expect((await r.read(100)).toString()).toBe('ip=99.0.0.1\n');
    await r.close();
  });
});
