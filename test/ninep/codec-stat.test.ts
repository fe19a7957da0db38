/**
 * Tests of stat entries (src/ninep/stat.ts): sizes, encode against the §7
 * vectors (V23/V35 stat part), strict decodeStat, directory-read parsing, and a
 * seeded fuzz run showing decodeStat/decodeDirEntries never throw.
 */
import { describe, expect, it } from 'vitest';
import { decodeDirEntries, decodeStat, encodeStat, statSize, writeStat } from '../../src/ninep/stat.js';
import { SeededRng } from '../../src/lib/rng.js';
import type { Dialect, Dir } from '../../src/ninep/types.js';
import { DMDIR, QTDIR, STATFIXLEN, nochangeDir } from '../../src/ninep/types.js';

const helloDir: Dir = {
  type: 0, dev: 0, qid: { type: 0, vers: 0, path: 1n }, mode: 0o644,
  atime: 1700000000, mtime: 1700000000, length: 13n,
  name: 'hello.txt', uid: 'glenda', gid: 'glenda', muid: 'glenda',
};
const helloU: Dir = { ...helloDir, extension: '', nUid: 1000, nGid: 1000, nMuid: 1000 };
/** Stat part of V23 (9P2000) and V35 (9P2000.u). */
const V23_STAT =
  '4a0000000000000000000000000100000000000000a401000000f1536500f153650d00000000000000090068656c6c6f2e7478740600676c656e64610600676c656e64610600676c656e6461';
const V35_STAT =
  '580000000000000000000000000100000000000000a401000000f1536500f153650d00000000000000090068656c6c6f2e7478740600676c656e64610600676c656e64610600676c656e64610000e8030000e8030000e8030000';

const rootDir: Dir = {
  type: 0, dev: 0, qid: { type: QTDIR, vers: 0, path: 0n }, mode: (DMDIR | 0o555) >>> 0,
  atime: 0, mtime: 0, length: 0n, name: '/', uid: 'ルート', gid: 'sys', muid: '',
};
const uniDir: Dir = { ...helloDir, name: 'ﬁlé 😀', qid: { type: 0, vers: 7, path: 0xffffffffffffffffn } };

const withU = (d: Dir, ext = ''): Dir => ({ ...d, extension: ext, nUid: 0, nGid: 1, nMuid: 0xffffffff });

describe('stat encode', () => {
  it('matches the V23 and V35 stat bytes', () => {
    expect(encodeStat(helloDir, '9P2000').toString('hex')).toBe(V23_STAT);
    expect(encodeStat(helloU, '9P2000.u').toString('hex')).toBe(V35_STAT);
    expect(statSize(helloDir, '9P2000')).toBe(76);
    expect(statSize(helloU, '9P2000.u')).toBe(90);
  });

  it('statSize counts STATFIXLEN plus UTF-8 string bytes (.u: +14 + extension)', () => {
    const empty = nochangeDir();
    expect(statSize(empty, '9P2000')).toBe(STATFIXLEN);
    expect(statSize(empty, '9P2000.u')).toBe(STATFIXLEN + 14);
    expect(statSize({ ...empty, name: 'é', extension: 'abc' }, '9P2000.u')).toBe(STATFIXLEN + 2 + 14 + 3);
    for (const d of [helloDir, rootDir, uniDir]) {
      for (const dl of ['9P2000', '9P2000.u'] as const) expect(encodeStat(d, dl).length).toBe(statSize(d, dl));
    }
  });

  it('writeStat writes at an offset and returns the new offset', () => {
    const n = statSize(helloDir, '9P2000');
    const buf = Buffer.alloc(10 + 2 * n, 0xee);
    let off = writeStat(helloDir, '9P2000', buf, 10);
    expect(off).toBe(10 + n);
    off = writeStat(helloDir, '9P2000', buf, off);
    expect(off).toBe(10 + 2 * n);
    expect(buf.subarray(10, 10 + n).toString('hex')).toBe(V23_STAT);
    expect(buf.subarray(10 + n).toString('hex')).toBe(V23_STAT);
    expect(buf[9]).toBe(0xee);
    expect(() => writeStat(helloDir, '9P2000', buf, 11 + n)).toThrow(RangeError);
  });

  it('.u encodes absent fields as "" and ~0; plain ignores them', () => {
    const r = decodeStat(encodeStat(helloDir, '9P2000.u'), '9P2000.u');
    expect(r).toStrictEqual({ ok: true, dir: { ...helloDir, extension: '', nUid: 0xffffffff, nGid: 0xffffffff, nMuid: 0xffffffff } });
    expect(encodeStat(helloU, '9P2000').toString('hex')).toBe(V23_STAT);
  });

  it('throws on strings with NUL and entries over 65535 bytes', () => {
    expect(() => encodeStat({ ...helloDir, uid: 'a\0' }, '9P2000')).toThrow(RangeError);
    expect(() => encodeStat({ ...helloDir, name: 'x'.repeat(65535 - 47 - 15 + 1) }, '9P2000')).toThrow(RangeError);
  });
});

describe('decodeStat (strict)', () => {
  it('decodes V23/V35 stats and round-trips unicode and extreme values', () => {
    expect(decodeStat(Buffer.from(V23_STAT, 'hex'), '9P2000')).toStrictEqual({ ok: true, dir: helloDir });
    expect(decodeStat(Buffer.from(V35_STAT, 'hex'), '9P2000.u')).toStrictEqual({ ok: true, dir: helloU });
    for (const d of [rootDir, uniDir, nochangeDir()]) {
      expect(decodeStat(encodeStat(d, '9P2000'), '9P2000')).toStrictEqual({ ok: true, dir: d });
      const du = withU(d, 'b 8 1');
      expect(decodeStat(encodeStat(du, '9P2000.u'), '9P2000.u')).toStrictEqual({ ok: true, dir: du });
    }
  });

  it('accepts a plain Uint8Array', () => {
    expect(decodeStat(new Uint8Array(Buffer.from(V23_STAT, 'hex')), '9P2000')).toStrictEqual({ ok: true, dir: helloDir });
  });

  it('rejects a size field that differs from the bytes present', () => {
    const b = Buffer.from(V23_STAT, 'hex');
    for (const size of [73, 75, 0, 0xffff]) {
      const c = Buffer.from(b);
      c.writeUInt16LE(size, 0);
      expect(decodeStat(c, '9P2000').ok, `size ${size}`).toBe(false);
    }
    expect(decodeStat(Buffer.concat([b, Buffer.from([0])]), '9P2000').ok).toBe(false);
    expect(decodeStat(b.subarray(0, b.length - 1), '9P2000').ok).toBe(false);
  });

  it('rejects extra bytes inside the entry (a fifth string in plain 9P2000)', () => {
    const b = Buffer.concat([Buffer.from(V23_STAT, 'hex'), Buffer.from([0, 0])]);
    b.writeUInt16LE(b.length - 2, 0);
    const r = decodeStat(b, '9P2000');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/left over/);
  });

  it('rejects the other dialect’s layout', () => {
    expect(decodeStat(Buffer.from(V23_STAT, 'hex'), '9P2000.u').ok).toBe(false);
    expect(decodeStat(Buffer.from(V35_STAT, 'hex'), '9P2000').ok).toBe(false);
  });

  it('rejects tiny buffers, bad UTF-8 and NUL', () => {
    for (const b of [Buffer.alloc(0), Buffer.alloc(1), Buffer.from([0, 0]), Buffer.from([1, 0, 0])]) {
      expect(decodeStat(b, '9P2000').ok).toBe(false);
    }
    const b = encodeStat({ ...helloDir, name: 'abc' }, '9P2000');
    const nameAt = 2 + 2 + 4 + 13 + 4 + 4 + 4 + 8 + 2;
    for (const bad of [0x00, 0xff, 0x80]) {
      const c = Buffer.from(b);
      c[nameAt + 1] = bad;
      const r = decodeStat(c, '9P2000');
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatch(bad === 0 ? /NUL/ : /UTF-8/);
    }
  });
});

describe('decodeDirEntries', () => {
  const dl: Dialect = '9P2000';
  const entries = [helloDir, rootDir, uniDir];
  const data = Buffer.concat(entries.map((d) => encodeStat(d, dl)));

  it('parses entries back to back, and an empty read as no entries', () => {
    expect(decodeDirEntries(data, dl)).toStrictEqual({ ok: true, dirs: entries });
    expect(decodeDirEntries(Buffer.alloc(0), dl)).toStrictEqual({ ok: true, dirs: [] });
    const du = entries.map((d) => withU(d));
    const dataU = Buffer.concat(du.map((d) => encodeStat(d, '9P2000.u')));
    expect(decodeDirEntries(dataU, '9P2000.u')).toStrictEqual({ ok: true, dirs: du });
    expect(decodeDirEntries(dataU, '9P2000').ok).toBe(false);
    expect(decodeDirEntries(data, '9P2000.u').ok).toBe(false);
  });

  it('fails on a truncated entry at every cut that is not an entry boundary', () => {
    const bounds = new Map<number, number>();
    let at = 0;
    bounds.set(0, 0);
    entries.forEach((d, i) => { at += statSize(d, dl); bounds.set(at, i + 1); });
    for (let cut = 0; cut <= data.length; cut++) {
      const r = decodeDirEntries(data.subarray(0, cut), dl);
      const n = bounds.get(cut);
      if (n === undefined) expect(r.ok, `cut ${cut}`).toBe(false);
      else expect(r.ok && r.dirs.length, `cut ${cut}`).toBe(n);
    }
  });

  it('fails when an entry size field disagrees with its fields', () => {
    const c = Buffer.from(data);
    c.writeUInt16LE(c.readUInt16LE(0) + 2, 0); // first entry swallows 2 bytes of the next
    expect(decodeDirEntries(c, dl).ok).toBe(false);
  });
});

describe('fuzz: stat decoders never throw', () => {
  const rng = new SeededRng(0x57a7);
  const below = (n: number) => rng.u32() % n;
  const seeds: Array<[Buffer, Dialect]> = [];
  for (const d of [helloDir, rootDir, uniDir, nochangeDir()]) {
    seeds.push([encodeStat(d, '9P2000'), '9P2000']);
    seeds.push([encodeStat(withU(d, 'c 4 64'), '9P2000.u'), '9P2000.u']);
  }

  function mutate(src: Buffer): Buffer {
    let b: Buffer = Buffer.from(src);
    const ops = 1 + below(3);
    for (let k = 0; k < ops; k++) {
      switch (below(5)) {
        case 0: case 1: if (b.length) b[below(b.length)] = below(256); break;
        case 2: b = b.subarray(0, below(b.length + 1)); break;
        case 3: b = Buffer.concat([b, Buffer.from([below(256), below(3)])]); break;
        default: if (b.length > 2) { const at = below(b.length - 1); b[at] = below(2) ? 0xff : below(8); } break;
      }
    }
    if (b.length >= 2 && below(10) < 8) b.writeUInt16LE(Math.min(b.length - 2, 0xffff), 0);
    return b;
  }

  it('100 000 mutated stats: no throw; whatever decodes re-encodes identically', () => {
    let ok = 0;
    for (let i = 0; i < 100_000; i++) {
      const [seed, d0] = seeds[below(seeds.length)]!;
      const d: Dialect = below(6) ? d0 : d0 === '9P2000' ? '9P2000.u' : '9P2000';
      const b = mutate(seed);
      const r = decodeStat(b, d);
      if (r.ok) {
        ok++;
        if (!encodeStat(r.dir, d).equals(b)) throw new Error(`non-canonical: ${b.toString('hex')}`);
      } else if (typeof r.error !== 'string') {
        throw new Error('no error string');
      }
    }
    expect(ok).toBeGreaterThan(1_000);
  });

  it('20 000 mutated directory reads: no throw; whatever decodes re-encodes identically', () => {
    for (let i = 0; i < 20_000; i++) {
      const d: Dialect = below(2) ? '9P2000' : '9P2000.u';
      const parts: Buffer[] = [];
      const n = below(4);
      for (let k = 0; k < n; k++) {
        const [seed] = seeds[below(seeds.length)]!;
        parts.push(below(3) ? mutate(seed) : seed);
      }
      const b = Buffer.concat(parts);
      const r = decodeDirEntries(b, d);
      if (r.ok) {
        const again = Buffer.concat(r.dirs.map((x) => encodeStat(x, d)));
        if (!again.equals(b)) throw new Error(`non-canonical: ${b.toString('hex')}`);
      }
    }
  });
});
