/**
 * The ndb(6) database cs answers from (src/netfs/ndb.ts): entries over
 * continuation lines, comments, quoted values, searches in file order, and
 * the files shipped in fs/ndb.
 */
import { describe, expect, it } from 'vitest';
import { Ndb, formatLines, parseLine, values } from '../../src/netfs/ndb.js';

describe('ndb(6) text', () => {
  it('parses tuples, bare attributes, quoted values and comments', () => {
    expect(parseLine('ip=10.0.0.1 sys=a\tdom=a.example # the rest is a comment')).toEqual([
      { attr: 'ip', val: '10.0.0.1' }, { attr: 'sys', val: 'a' }, { attr: 'dom', val: 'a.example' },
    ]);
    expect(parseLine('tcp=echo port=7 restricted')).toEqual([
      { attr: 'tcp', val: 'echo' }, { attr: 'port', val: '7' }, { attr: 'restricted', val: '' },
    ]);
    expect(parseLine('txt="a b # c" x=1')).toEqual([{ attr: 'txt', val: 'a b # c' }, { attr: 'x', val: '1' }]);
    expect(parseLine('# only a comment')).toEqual([]);
    expect(parseLine(`${'a'.repeat(40)}=v`)).toEqual([{ attr: 'a'.repeat(32), val: 'v' }]);
  });

  it('groups continuation lines into entries and searches them in order', () => {
    const db = Ndb.parse([
      '# a comment line',
      'ipnet=lab ip=10.1.0.0 ipmask=255.255.0.0',
      '\tipgw=10.1.0.1',
      '# a comment inside the entry',
      '  dns=10.1.0.2',
      '',
      '\tauth=orphan',
      'sys=a ip=10.1.0.5',
      'sys=b ip=10.1.0.6',
      'sys=a ether=112233445566',
    ].join('\n'));
    // An empty line ends an entry: the blank-led line after it is one of its own.
    expect(db.entries).toHaveLength(5);
    expect(formatLines(db.entries[1]!)).toEqual(['auth=orphan']);
    expect(formatLines(db.entries[0]!)).toEqual(['ipnet=lab ip=10.1.0.0 ipmask=255.255.0.0', 'ipgw=10.1.0.1', 'dns=10.1.0.2']);
    expect([...db.search('sys', 'a')].map((e) => formatLines(e))).toEqual([['sys=a ip=10.1.0.5'], ['sys=a ether=112233445566']]);
    expect(db.getvalue('sys', 'a', 'ip')).toBe('10.1.0.5');
    expect(db.getvalue('sys', 'a', 'ether')).toBe('112233445566');
    expect(db.getvalue('sys', 'c', 'ip')).toBeNull();
    expect(values(db.entries[0]!, 'dns')).toEqual(['10.1.0.2']);
  });

  it('loads files in order and skips missing ones', () => {
    expect(Ndb.load(['/nonexistent/ndb']).entries).toEqual([]);
  });
});

describe('fs/ndb', () => {
  const db = Ndb.builtin();

  it('has localhost (as Plan 9\'s /lib/ndb/local) before the service table', () => {
    expect(formatLines(db.entries[0]!)).toEqual(['ip=127.0.0.1 sys=localhost dom=localhost', 'ip=::1']);
    expect(db.getvalue('sys', 'localhost', 'ip')).toBe('127.0.0.1');
  });

  it('names services as Plan 9\'s /lib/ndb/common', () => {
    expect(db.getvalue('tcp', 'echo', 'port')).toBe('7');
    expect(db.getvalue('port', '564', 'tcp')).toBe('9fs');
    expect(db.getvalue('port', '17019', 'tcp')).toBe('rcpu');
    expect(db.getvalue('udp', 'domain', 'port')).toBe('53');
  });
});
