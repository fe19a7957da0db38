/**
 * Tests of the 9P codec (src/ninep/codec.ts): hex vectors of whole messages
 * laid out as intro(5) and stat(5) define them (V1–V35 decode and encode exactly, N1–N7 are rejected), round trips of every
 * message in both dialects, strict string/length checks, Rerror truncation,
 * encodedSize, and a seeded fuzz run showing decode() never throws.
 */
import { describe, expect, it } from 'vitest';
import { decode, encode, encodedSize } from '../../src/ninep/codec.js';
import type { DecodeResult } from '../../src/ninep/codec.js';
import { FrameReader } from '../../src/ninep/framer.js';
import { SeededRng } from '../../src/lib/rng.js';
import type { Dialect, Dir, Fcall } from '../../src/ninep/types.js';
import {
  DMDIR, ERRMAX_SEND, MsgType, NOFID, NOTAG, ORDWR, OTRUNC, QTDIR, nochangeDir,
} from '../../src/ninep/types.js';

// ---------------------------------------------------------------------------
// §7 vectors

interface Vector {
  id: string;
  dialect: Dialect;
  hex: string;
  msg: Fcall;
}

/** hello.txt of the sample tree (§7). */
const helloDir: Dir = {
  type: 0, dev: 0, qid: { type: 0, vers: 0, path: 1n }, mode: 0o644,
  atime: 1700000000, mtime: 1700000000, length: 13n,
  name: 'hello.txt', uid: 'glenda', gid: 'glenda', muid: 'glenda',
};

/** The 74+2 byte stat entry of hello.txt, as inside V23 and V24. */
const helloStatHex =
  '4a0000000000000000000000000100000000000000a401000000f1536500f153650d00000000000000090068656c6c6f2e7478740600676c656e64610600676c656e64610600676c656e6461';

const fileQid = { type: 0, vers: 0, path: 1n };
const P = '9P2000' as const;
const U = '9P2000.u' as const;

const positive: Vector[] = [
  { id: 'V1', dialect: P, hex: '1300000064ffff002000000600395032303030',
    msg: { type: MsgType.Tversion, tag: NOTAG, msize: 8192, version: '9P2000' } },
  { id: 'V2', dialect: P, hex: '1300000065ffff002000000600395032303030',
    msg: { type: MsgType.Rversion, tag: NOTAG, msize: 8192, version: '9P2000' } },
  { id: 'V3', dialect: P, hex: '1500000064ffff0000020008003950323030302e75',
    msg: { type: MsgType.Tversion, tag: NOTAG, msize: 131072, version: '9P2000.u' } },
  { id: 'V4', dialect: P, hex: '1300000065ffff000001000600395032303030',
    msg: { type: MsgType.Rversion, tag: NOTAG, msize: 65536, version: '9P2000' } },
  { id: 'V5', dialect: P, hex: '1400000065ffff002000000700756e6b6e6f776e',
    msg: { type: MsgType.Rversion, tag: NOTAG, msize: 8192, version: 'unknown' } },
  { id: 'V6', dialect: P, hex: '15000000660000050000000600676c656e64610000',
    msg: { type: MsgType.Tauth, tag: 0, afid: 5, uname: 'glenda', aname: '' } },
  { id: 'V7', dialect: P, hex: '240000006b00001b0061757468656e7469636174696f6e206e6f74207265717569726564',
    msg: { type: MsgType.Rerror, tag: 0, ename: 'authentication not required' } },
  { id: 'V8', dialect: P, hex: '1900000068010000000000ffffffff0600676c656e64610000',
    msg: { type: MsgType.Tattach, tag: 1, fid: 0, afid: NOFID, uname: 'glenda', aname: '' } },
  { id: 'V9', dialect: P, hex: '1400000069010080000000000000000000000000',
    msg: { type: MsgType.Rattach, tag: 1, qid: { type: 0x80, vers: 0, path: 0n } } },
  { id: 'V10', dialect: P, hex: '1c0000006e020000000000010000000100090068656c6c6f2e747874',
    msg: { type: MsgType.Twalk, tag: 2, fid: 0, newfid: 1, wnames: ['hello.txt'] } },
  { id: 'V11', dialect: P, hex: '160000006f0200010000000000000100000000000000',
    msg: { type: MsgType.Rwalk, tag: 2, qids: [fileQid] } },
  { id: 'V12', dialect: P, hex: '110000006e030000000000030000000000',
    msg: { type: MsgType.Twalk, tag: 3, fid: 0, newfid: 3, wnames: [] } },
  { id: 'V13', dialect: P, hex: '090000006f03000000',
    msg: { type: MsgType.Rwalk, tag: 3, qids: [] } },
  { id: 'V14', dialect: P, hex: '220000006e040000000000040000000200090068656c6c6f2e74787404006e6f7065',
    msg: { type: MsgType.Twalk, tag: 4, fid: 0, newfid: 4, wnames: ['hello.txt', 'nope'] } },
  { id: 'V15', dialect: P, hex: '160000006f0400010000000000000100000000000000',
    msg: { type: MsgType.Rwalk, tag: 4, qids: [fileQid] } },
  { id: 'V16', dialect: P, hex: '1c0000006b0200130066696c6520646f6573206e6f74206578697374',
    msg: { type: MsgType.Rerror, tag: 2, ename: 'file does not exist' } },
  { id: 'V17', dialect: P, hex: '0c0000007005000100000000',
    msg: { type: MsgType.Topen, tag: 5, fid: 1, mode: 0 } },
  { id: 'V18', dialect: P, hex: '1800000071050000000000000100000000000000e81f0000',
    msg: { type: MsgType.Ropen, tag: 5, qid: fileQid, iounit: 8168 } },
  { id: 'V19', dialect: P, hex: '17000000740600010000000000000000000000e81f0000',
    msg: { type: MsgType.Tread, tag: 6, fid: 1, offset: 0n, count: 8168 } },
  { id: 'V20', dialect: P, hex: '180000007506000d00000068656c6c6f2c20776f726c640a',
    msg: { type: MsgType.Rread, tag: 6, data: Buffer.from('hello, world\n') } },
  { id: 'V21', dialect: P, hex: '0b00000075060000000000',
    msg: { type: MsgType.Rread, tag: 6, data: Buffer.alloc(0) } },
  { id: 'V22', dialect: P, hex: '0b0000007c070001000000',
    msg: { type: MsgType.Tstat, tag: 7, fid: 1 } },
  { id: 'V23', dialect: P, hex: '550000007d07004c004a0000000000000000000000000100000000000000a401000000f1536500f153650d00000000000000090068656c6c6f2e7478740600676c656e64610600676c656e64610600676c656e6461',
    msg: { type: MsgType.Rstat, tag: 7, stat: helloDir } },
  { id: 'V24', dialect: P, hex: '570000007508004c0000004a0000000000000000000000000100000000000000a401000000f1536500f153650d00000000000000090068656c6c6f2e7478740600676c656e64610600676c656e64610600676c656e6461',
    msg: { type: MsgType.Rread, tag: 8, data: Buffer.from(helloStatHex, 'hex') } },
  { id: 'V25', dialect: P,
    hex: '3e0000007e09000100000031002f00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff00000000000000000000000000000000',
    msg: { type: MsgType.Twstat, tag: 9, fid: 1, stat: { ...nochangeDir(), length: 0n } } },
  { id: 'V26', dialect: P, hex: '070000007f0900',
    msg: { type: MsgType.Rwstat, tag: 9 } },
  { id: 'V27', dialect: P, hex: '090000006c0a000600',
    msg: { type: MsgType.Tflush, tag: 10, oldtag: 6 } },
  { id: 'V28', dialect: P, hex: '070000006d0a00',
    msg: { type: MsgType.Rflush, tag: 10 } },
  { id: 'V29', dialect: P, hex: '0b000000780b0001000000',
    msg: { type: MsgType.Tclunk, tag: 11, fid: 1 } },
  { id: 'V30', dialect: P, hex: '07000000790b00',
    msg: { type: MsgType.Rclunk, tag: 11 } },
  { id: 'V31', dialect: P, hex: '1c000000760c0002000000000000000000000005000000717569740a',
    msg: { type: MsgType.Twrite, tag: 12, fid: 2, offset: 0n, data: Buffer.from('quit\n') } },
  { id: 'V32', dialect: P, hex: '0b000000770c0005000000',
    msg: { type: MsgType.Rwrite, tag: 12, count: 5 } },
  { id: 'V33', dialect: U, hex: '1d00000068010000000000ffffffff0600676c656e64610000e8030000',
    msg: { type: MsgType.Tattach, tag: 1, fid: 0, afid: NOFID, uname: 'glenda', aname: '', nUname: 1000 } },
  { id: 'V34', dialect: U, hex: '200000006b0200130066696c6520646f6573206e6f7420657869737402000000',
    msg: { type: MsgType.Rerror, tag: 2, ename: 'file does not exist', errno: 2 } },
  { id: 'V35', dialect: U,
    hex: '630000007d07005a00580000000000000000000000000100000000000000a401000000f1536500f153650d00000000000000090068656c6c6f2e7478740600676c656e64610600676c656e64610600676c656e64610000e8030000e8030000e8030000',
    msg: { type: MsgType.Rstat, tag: 7, stat: { ...helloDir, extension: '', nUid: 1000, nGid: 1000, nMuid: 1000 } } },
];

interface NegVector {
  id: string;
  hex: string;
  /** What is wrong (from §7.2). */
  why: string;
}

const negative: NegVector[] = [
  { id: 'N1', why: 'size 20 but 19 bytes of content (1 trailing byte)', hex: '1400000064ffff00200000060039503230303000' },
  { id: 'N2', why: 'string length 7 but only 6 bytes left', hex: '1300000064ffff002000000700395032303030' },
  { id: 'N3', why: 'Twalk nwname 17 > MAXWELEM',
    hex: '440000006e01000100000002000000110001006101006201006301006401006501006601006701006801006901006a01006b01006c01006d01006e01006f010070010071' },
  { id: 'N4', why: 'Twrite count 6 but 5 data bytes', hex: '1c000000760c0002000000000000000000000006000000717569740a' },
  { id: 'N5', why: 'size field 6 (< 7)', hex: '06000000780000' },
  { id: 'N6', why: 'Twstat outer n 49 but inner stat.size 50',
    hex: '3e0000007e09000100000031003200ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff00000000000000000000000000000000' },
  { id: 'N7', why: 'type 98 (plan9port Topenfd) unknown', hex: '0c000000620d000100000000' },
];

function hex(s: string): Buffer {
  return Buffer.from(s, 'hex');
}

function decodeOk(frame: Uint8Array, dialect: Dialect): Fcall {
  const r = decode(frame, dialect);
  if (!r.ok) throw new Error(`decode failed: ${r.error}`);
  return r.msg;
}

function expectError(r: DecodeResult, type: number, tag: number): string {
  expect(r.ok).toBe(false);
  if (r.ok) throw new Error('unreachable');
  expect(typeof r.error).toBe('string');
  expect(r.error.length).toBeGreaterThan(0);
  expect(r.type).toBe(type);
  expect(r.tag).toBe(tag);
  return r.error;
}

const OTHER: Record<Dialect, Dialect> = { '9P2000': '9P2000.u', '9P2000.u': '9P2000' };

describe('§7.1 positive vectors', () => {
  it('has all 35 vectors with the sizes stated in the spec', () => {
    expect(positive.map((v) => v.id)).toEqual(Array.from({ length: 35 }, (_, i) => `V${i + 1}`));
    for (const v of positive) expect(hex(v.hex).readUInt32LE(0)).toBe(v.hex.length / 2);
  });

  for (const v of positive) {
    it(`${v.id} decodes to the expected ${MsgType[v.msg.type]} (${v.dialect})`, () => {
      expect(decodeOk(hex(v.hex), v.dialect)).toStrictEqual(v.msg);
    });
    it(`${v.id} encodes to the exact hex (${v.dialect})`, () => {
      const b = encode(v.msg, v.dialect);
      expect(b.toString('hex')).toBe(v.hex);
      expect(encodedSize(v.msg, v.dialect)).toBe(b.length);
    });
  }

  it('plain-9P2000 vectors decode in .u too unless they carry a .u-specific layout', () => {
    const uSpecific = new Set([
      MsgType.Tauth, MsgType.Tattach, MsgType.Rerror, MsgType.Tcreate, MsgType.Rstat, MsgType.Twstat,
    ]);
    for (const v of positive) {
      const r = decode(hex(v.hex), OTHER[v.dialect]);
      const isDirRead = v.id === 'V24'; // Rread data is opaque to the codec
      expect(r.ok, v.id).toBe(!uSpecific.has(v.msg.type) || isDirRead);
      if (!r.ok) expect(r.tag, v.id).toBe(hex(v.hex).readUInt16LE(5));
    }
  });

  it('V24 (directory Rread) carries exactly the V23 stat entry', () => {
    const m = decodeOk(hex(positive.find((v) => v.id === 'V24')!.hex), '9P2000');
    expect(m.type).toBe(MsgType.Rread);
    if (m.type === MsgType.Rread) expect(Buffer.from(m.data).toString('hex')).toBe(helloStatHex);
  });

  it('Tversion decoding does not depend on the dialect', () => {
    for (const id of ['V1', 'V3']) {
      const v = positive.find((x) => x.id === id)!;
      expect(decodeOk(hex(v.hex), '9P2000.u')).toStrictEqual(v.msg);
    }
  });
});

describe('§7.2 negative vectors', () => {
  const neg = (id: string): Buffer => hex(negative.find((n) => n.id === id)!.hex);

  it('N1: trailing byte after Tversion (size counts it)', () => {
    expectError(decode(neg('N1'), '9P2000'), MsgType.Tversion, NOTAG);
    expectError(decode(neg('N1'), '9P2000.u'), MsgType.Tversion, NOTAG);
  });
  it('N2: string runs past the end of the frame', () => {
    expectError(decode(neg('N2'), '9P2000'), MsgType.Tversion, NOTAG);
  });
  it('N3: Twalk nwname 17', () => {
    const e = expectError(decode(neg('N3'), '9P2000'), MsgType.Twalk, 1);
    expect(e).toMatch(/nwname 17/);
  });
  it('N4: Twrite count 6 with 5 data bytes', () => {
    expectError(decode(neg('N4'), '9P2000'), MsgType.Twrite, 12);
  });
  it('N5: size field 6 is rejected by the framer and by decode', () => {
    const fr = new FrameReader(8192);
    const frames: Buffer[] = [];
    const err = fr.push(neg('N5'), (f) => frames.push(f));
    expect(err).toMatch(/size 6/);
    expect(frames).toHaveLength(0);
    // decode() of the same bytes: 7 bytes long, but the size field is wrong.
    expectError(decode(neg('N5'), '9P2000'), 0x78, 0);
  });
  it('N6: Twstat inner stat.size = n-1', () => {
    const e = expectError(decode(neg('N6'), '9P2000'), MsgType.Twstat, 9);
    expect(e).toMatch(/stat size 50/);
  });
  it('N7: unknown type 98 with readable type and tag', () => {
    const e = expectError(decode(neg('N7'), '9P2000'), 98, 13);
    expect(e).toMatch(/unknown message type 98/);
  });
  it('every negative vector is rejected in both dialects', () => {
    for (const n of negative) {
      for (const d of ['9P2000', '9P2000.u'] as const) expect(decode(hex(n.hex), d).ok, n.id).toBe(false);
    }
  });
});

// ---------------------------------------------------------------------------
// Round trips

const MAX64 = 0xffffffffffffffffn;
const uniDir: Dir = {
  type: 0xffff, dev: 0xffffffff, qid: { type: QTDIR, vers: 0xffffffff, path: MAX64 },
  mode: (DMDIR | 0o755) >>> 0, atime: 0, mtime: 0xffffffff, length: MAX64 - 1n,
  name: 'Ünïcødé 名前 😀', uid: 'ユーザー', gid: '', muid: 'x',
};
const longName = 'n'.repeat(255);

/** Messages covering every type and edge cases; .u fields filled in when `u`. */
function samples(u: boolean): Fcall[] {
  const dirs: Dir[] = [
    helloDir, uniDir, nochangeDir(),
    { ...helloDir, name: longName, uid: 'é'.repeat(100) },
  ].map((d) => (u ? { ...d, extension: d === uniDir ? '/target of link' : '', nUid: 1000, nGid: 0, nMuid: 0xffffffff } : d));
  const names16 = Array.from({ length: 16 }, (_, i) => (i % 2 ? `名前${i}` : `n${i}`));
  const q = (i: number) => ({ type: i % 2 ? QTDIR : 0, vers: i, path: MAX64 - BigInt(i) });
  const uf = <T extends object>(m: T, extra: object): T => (u ? { ...m, ...extra } : m);
  const msgs: Fcall[] = [
    { type: MsgType.Tversion, tag: NOTAG, msize: 0xffffffff, version: '' },
    { type: MsgType.Rversion, tag: NOTAG, msize: 0, version: '9P2000.u' },
    uf({ type: MsgType.Tauth, tag: 0, afid: 0, uname: '', aname: '' }, { nUname: 0 }),
    uf({ type: MsgType.Tauth, tag: 0xfffe, afid: NOFID - 1, uname: 'ユーザー', aname: 'main' }, { nUname: 0xffffffff }),
    { type: MsgType.Rauth, tag: 1, aqid: { type: 0x08, vers: 0, path: 1n << 63n } },
    uf({ type: MsgType.Tattach, tag: 2, fid: 0, afid: NOFID, uname: 'nobody', aname: '' }, { nUname: 0xffffffff }),
    // Linux's per-user .u attach: empty uname, numeric uid.
    uf({ type: MsgType.Tattach, tag: 3, fid: 7, afid: NOFID, uname: '', aname: '/net' }, { nUname: 1000 }),
    { type: MsgType.Rattach, tag: 2, qid: { type: QTDIR, vers: 0, path: 0n } },
    uf({ type: MsgType.Rerror, tag: 4, ename: '' }, { errno: 0 }),
    uf({ type: MsgType.Rerror, tag: 4, ename: 'permission denied — ünïcode' }, { errno: 13 }),
    { type: MsgType.Tflush, tag: 10, oldtag: 0xffff },
    { type: MsgType.Rflush, tag: 10 },
    { type: MsgType.Twalk, tag: 5, fid: 1, newfid: 2, wnames: [] },
    { type: MsgType.Twalk, tag: 5, fid: 1, newfid: 2, wnames: names16 },
    { type: MsgType.Twalk, tag: 5, fid: 1, newfid: 1, wnames: ['..', longName, ''] },
    { type: MsgType.Rwalk, tag: 5, qids: [] },
    { type: MsgType.Rwalk, tag: 5, qids: Array.from({ length: 16 }, (_, i) => q(i)) },
    { type: MsgType.Topen, tag: 6, fid: 3, mode: 0xff },
    { type: MsgType.Topen, tag: 6, fid: 3, mode: ORDWR | OTRUNC },
    { type: MsgType.Ropen, tag: 6, qid: q(3), iounit: 0 },
    uf({ type: MsgType.Tcreate, tag: 7, fid: 3, name: 'new dir ✓', perm: (DMDIR | 0o777) >>> 0, mode: 0 }, { extension: '' }),
    uf({ type: MsgType.Tcreate, tag: 7, fid: 3, name: 'dev', perm: 0x00800000 | 0o600, mode: 2 }, { extension: 'c 1 3' }),
    { type: MsgType.Rcreate, tag: 7, qid: q(1), iounit: 0xffffffff },
    { type: MsgType.Tread, tag: 8, fid: 4, offset: MAX64, count: 0xffffffff },
    { type: MsgType.Tread, tag: 8, fid: 4, offset: 1n << 63n, count: 0 },
    { type: MsgType.Rread, tag: 8, data: Buffer.alloc(0) },
    { type: MsgType.Rread, tag: 8, data: Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff)) },
    { type: MsgType.Twrite, tag: 9, fid: 4, offset: MAX64 - 1n, data: Buffer.alloc(0) },
    { type: MsgType.Twrite, tag: 9, fid: 4, offset: 12345678901234567890n, data: Buffer.from('quit\n') },
    { type: MsgType.Rwrite, tag: 9, count: 0 },
    { type: MsgType.Rwrite, tag: 9, count: 0xffffffff },
    { type: MsgType.Tclunk, tag: 11, fid: NOFID },
    { type: MsgType.Rclunk, tag: 11 },
    { type: MsgType.Tremove, tag: 12, fid: 0 },
    { type: MsgType.Rremove, tag: 12 },
    { type: MsgType.Tstat, tag: 13, fid: 9 },
    { type: MsgType.Rwstat, tag: 14 },
  ];
  for (const stat of dirs) {
    msgs.push({ type: MsgType.Rstat, tag: 13, stat });
    msgs.push({ type: MsgType.Twstat, tag: 14, fid: 9, stat });
  }
  return msgs;
}

describe('round trips', () => {
  for (const d of ['9P2000', '9P2000.u'] as const) {
    it(`every message type round-trips exactly in ${d}`, () => {
      const msgs = samples(d === '9P2000.u');
      const seen = new Set(msgs.map((m) => m.type));
      const all = Object.values(MsgType).filter((v): v is number => typeof v === 'number');
      expect([...seen].sort()).toEqual([...all].sort());
      for (const m of msgs) {
        const b = encode(m, d);
        expect(b.length, MsgType[m.type]).toBe(encodedSize(m, d));
        expect(b.readUInt32LE(0)).toBe(b.length);
        expect(decodeOk(b, d), MsgType[m.type]).toStrictEqual(m);
      }
    });
  }

  it('.u encodes absent optional fields as ~0 / "" / 0', () => {
    const plain = samples(false);
    for (const m of plain) {
      const got = decodeOk(encode(m, '9P2000.u'), '9P2000.u');
      let want: Fcall = m;
      switch (m.type) {
        case MsgType.Tauth: case MsgType.Tattach: want = { ...m, nUname: 0xffffffff }; break;
        case MsgType.Rerror: want = { ...m, errno: 0 }; break;
        case MsgType.Tcreate: want = { ...m, extension: '' }; break;
        case MsgType.Rstat: case MsgType.Twstat:
          want = { ...m, stat: { ...m.stat, extension: '', nUid: 0xffffffff, nGid: 0xffffffff, nMuid: 0xffffffff } };
          break;
        default: break;
      }
      expect(got).toStrictEqual(want);
    }
  });

  it('plain 9P2000 ignores .u fields on encode and leaves them absent on decode', () => {
    for (const m of samples(true)) {
      const got = decodeOk(encode(m, '9P2000'), '9P2000');
      expect(encode(got, '9P2000').equals(encode(m, '9P2000'))).toBe(true);
      const hasU = (o: object) => ['nUname', 'errno', 'extension', 'nUid', 'nGid', 'nMuid'].some((k) => k in o);
      expect(hasU(got)).toBe(false);
      if (got.type === MsgType.Rstat || got.type === MsgType.Twstat) expect(hasU(got.stat)).toBe(false);
    }
  });

  it('decodes frames given as plain Uint8Array (not Buffer)', () => {
    for (const v of positive) {
      const u8 = new Uint8Array(hex(v.hex));
      expect(decodeOk(u8, v.dialect)).toStrictEqual(v.msg);
    }
  });
});

describe('decode details', () => {
  it('Twrite.data and Rread.data are views into the frame, not copies', () => {
    const big = Buffer.alloc(100);
    const frame = encode({ type: MsgType.Twrite, tag: 1, fid: 2, offset: 3n, data: Buffer.from('abcdef') }, '9P2000');
    frame.copy(big, 10);
    const view = big.subarray(10, 10 + frame.length);
    const m = decodeOk(view, '9P2000');
    if (m.type !== MsgType.Twrite) throw new Error('type');
    expect(m.data.buffer).toBe(big.buffer);
    expect(m.data.byteOffset).toBe(big.byteOffset + 10 + 23);
    expect(Buffer.from(m.data).toString()).toBe('abcdef');
    const rframe = encode({ type: MsgType.Rread, tag: 1, data: Buffer.from('xy') }, '9P2000');
    const r = decodeOk(rframe, '9P2000');
    if (r.type !== MsgType.Rread) throw new Error('type');
    expect(r.data.byteOffset).toBe(rframe.byteOffset + 11);
    // Also when the frame is a plain Uint8Array.
    const u8 = new Uint8Array(frame);
    const m2 = decodeOk(u8, '9P2000');
    if (m2.type !== MsgType.Twrite) throw new Error('type');
    expect(m2.data.buffer).toBe(u8.buffer);
  });

  it('frames shorter than 7 bytes give type and tag -1', () => {
    for (let n = 0; n < 7; n++) expectError(decode(Buffer.alloc(n, 0x07), '9P2000'), -1, -1);
  });

  it('size field must equal the frame length', () => {
    const f = hex(positive[0]!.hex);
    expectError(decode(Buffer.concat([f, Buffer.from([0])]), '9P2000'), MsgType.Tversion, NOTAG);
    const short = Buffer.from(f.subarray(0, f.length - 1));
    expectError(decode(short, '9P2000'), MsgType.Tversion, NOTAG);
  });

  it('unknown types (Terror, 9P2000.L, plan9port, >127) are errors with type and tag', () => {
    for (const t of [0, 7, 12, 24, 40, 98, 99, 106, 128, 200, 255]) {
      const f = Buffer.from([7, 0, 0, 0, t, 0x34, 0x12]);
      expectError(decode(f, '9P2000'), t, 0x1234);
      expectError(decode(f, '9P2000.u'), t, 0x1234);
    }
  });

  it('fixed-size messages reject trailing garbage and truncation', () => {
    for (const m of samples(false)) {
      const b = encode(m, '9P2000');
      const longer = Buffer.concat([b, Buffer.from([0xaa])]);
      longer.writeUInt32LE(longer.length, 0);
      const shorter = Buffer.from(b.subarray(0, b.length - 1));
      shorter.writeUInt32LE(shorter.length, 0);
      // Appending a byte to Rread/Twrite breaks count; to anything else leaves garbage.
      expectError(decode(longer, '9P2000'), m.type, m.tag);
      if (shorter.length >= 7) expectError(decode(shorter, '9P2000'), m.type, m.tag);
    }
  });

  it('rejects invalid UTF-8 and NUL in strings, never decoding lossily', () => {
    const bad = [
      [0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x61, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x61, 0x00, 0x62], [0x00],
    ];
    for (const bytes of bad) {
      const name = Buffer.from(bytes);
      const f = Buffer.concat([Buffer.from([0, 0, 0, 0, MsgType.Twalk, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0]),
        Buffer.from([name.length, 0]), name]);
      f.writeUInt32LE(f.length, 0);
      const e = expectError(decode(f, '9P2000'), MsgType.Twalk, 1);
      expect(e).toMatch(bytes.includes(0) ? /NUL/ : /UTF-8/);
    }
  });

  it('keeps a leading byte-order mark (no silent BOM stripping)', () => {
    const m: Fcall = { type: MsgType.Twalk, tag: 1, fid: 0, newfid: 1, wnames: ['\ufeffname', '\ufeff'] };
    const b = encode(m, '9P2000');
    expect(b.subarray(17, 22).toString('hex')).toBe('0700efbbbf');
    expect(decodeOk(b, '9P2000')).toStrictEqual(m);
  });

  it('Rwalk with more than 16 qids is rejected', () => {
    const qids = Array.from({ length: 17 }, () => ({ type: 0, vers: 0, path: 0n }));
    const f = Buffer.alloc(9 + 13 * 17);
    f.writeUInt32LE(f.length, 0);
    f[4] = MsgType.Rwalk;
    f.writeUInt16LE(5, 5);
    f.writeUInt16LE(qids.length, 7);
    expect(expectError(decode(f, '9P2000'), MsgType.Rwalk, 5)).toMatch(/nwqid 17/);
  });

  it('Rread count must equal the bytes present', () => {
    const f = encode({ type: MsgType.Rread, tag: 1, data: Buffer.from('abc') }, '9P2000');
    f.writeUInt32LE(2, 7);
    expectError(decode(f, '9P2000'), MsgType.Rread, 1);
    f.writeUInt32LE(0xffffffff, 7);
    expectError(decode(f, '9P2000'), MsgType.Rread, 1);
  });

  it('Rstat/Twstat: outer n must equal the remaining bytes and inner size n-2', () => {
    const good = encode({ type: MsgType.Rstat, tag: 1, stat: helloDir }, '9P2000');
    for (const [n, inner] of [[75, 74], [77, 74], [76, 73], [76, 75], [0, 74], [1, 74]] as const) {
      const f = Buffer.from(good);
      f.writeUInt16LE(n, 7);
      f.writeUInt16LE(inner, 9);
      expectError(decode(f, '9P2000'), MsgType.Rstat, 1);
    }
    // A 9P2000 stat on a .u connection (and vice versa) is rejected.
    expectError(decode(good, '9P2000.u'), MsgType.Rstat, 1);
  });

  it('Tattach: .u needs n_uname, plain 9P2000 must not have it', () => {
    const v8 = hex(positive.find((v) => v.id === 'V8')!.hex);
    const v33 = hex(positive.find((v) => v.id === 'V33')!.hex);
    expect(expectError(decode(v33, '9P2000'), MsgType.Tattach, 1)).toMatch(/4 trailing bytes/);
    expectError(decode(v8, '9P2000.u'), MsgType.Tattach, 1);
  });
});

describe('encode details', () => {
  it('encodedSize matches encode for every vector and sample', () => {
    for (const d of ['9P2000', '9P2000.u'] as const) {
      for (const m of [...samples(false), ...samples(true), ...positive.map((v) => v.msg)]) {
        expect(encode(m, d).length).toBe(encodedSize(m, d));
      }
    }
  });

  it('sizes match the §2 table', () => {
    const u = 'ab', a = 'cde';
    expect(encodedSize({ type: MsgType.Tauth, tag: 0, afid: 0, uname: u, aname: a }, '9P2000')).toBe(15 + 5);
    expect(encodedSize({ type: MsgType.Tauth, tag: 0, afid: 0, uname: u, aname: a }, '9P2000.u')).toBe(19 + 5);
    expect(encodedSize({ type: MsgType.Tattach, tag: 0, fid: 0, afid: 0, uname: u, aname: a }, '9P2000.u')).toBe(23 + 5);
    expect(encodedSize({ type: MsgType.Rerror, tag: 0, ename: a }, '9P2000.u')).toBe(13 + 3);
    expect(encodedSize({ type: MsgType.Tcreate, tag: 0, fid: 0, name: u, perm: 0, mode: 0, extension: a }, '9P2000.u')).toBe(20 + 2 + 3);
    expect(encodedSize({ type: MsgType.Tcreate, tag: 0, fid: 0, name: u, perm: 0, mode: 0 }, '9P2000')).toBe(18 + 2);
    expect(encodedSize({ type: MsgType.Rwalk, tag: 0, qids: [{ type: 0, vers: 0, path: 0n }] }, '9P2000')).toBe(22);
    expect(encodedSize({ type: MsgType.Rstat, tag: 0, stat: helloDir }, '9P2000')).toBe(85);
    expect(encodedSize({ type: MsgType.Twstat, tag: 0, fid: 0, stat: helloDir }, '9P2000')).toBe(13 + 76);
  });

  it('Rerror ename is cut to 126 bytes of UTF-8 on a character boundary', () => {
    const cases: Array<[string, number]> = [
      ['x'.repeat(126), 126],
      ['x'.repeat(127), 126],
      ['x'.repeat(5000), 126],
      ['é'.repeat(100), 126],
      ['a' + '€'.repeat(60), 124],
      ['😀'.repeat(40), 124],
      ['ab' + '😀'.repeat(40), 126],
    ];
    for (const [ename, bytes] of cases) {
      for (const d of ['9P2000', '9P2000.u'] as const) {
        const msg: Fcall = { type: MsgType.Rerror, tag: 3, ename };
        const b = encode(msg, d);
        expect(b.length).toBe(encodedSize(msg, d));
        expect(b.readUInt16LE(7)).toBe(bytes);
        expect(bytes).toBeLessThanOrEqual(ERRMAX_SEND);
        const got = decodeOk(b, d);
        if (got.type !== MsgType.Rerror) throw new Error('type');
        expect(ename.startsWith(got.ename)).toBe(true);
        expect(Buffer.byteLength(got.ename)).toBe(bytes);
      }
    }
  });

  it('throws on programmer errors', () => {
    const long = 'x'.repeat(65536);
    expect(() => encode({ type: MsgType.Tversion, tag: 0, msize: 0, version: long }, '9P2000')).toThrow(RangeError);
    expect(() => encode({ type: MsgType.Tversion, tag: 0, msize: 0, version: '€'.repeat(21846) }, '9P2000')).toThrow(RangeError);
    expect(encode({ type: MsgType.Tversion, tag: 0, msize: 0, version: 'x'.repeat(65535) }, '9P2000').length).toBe(13 + 65535);
    expect(() => encode({ type: MsgType.Twalk, tag: 0, fid: 0, newfid: 1, wnames: ['a\0b'] }, '9P2000')).toThrow(RangeError);
    const w17 = Array.from({ length: 17 }, () => 'a');
    expect(() => encode({ type: MsgType.Twalk, tag: 0, fid: 0, newfid: 1, wnames: w17 }, '9P2000')).toThrow(RangeError);
    expect(() => encode({ type: MsgType.Tclunk, tag: 0x10000, fid: 0 }, '9P2000')).toThrow(RangeError);
    expect(() => encode({ type: MsgType.Tread, tag: 0, fid: 0, offset: -1n, count: 0 }, '9P2000')).toThrow(RangeError);
    expect(() => encode({ type: MsgType.Tread, tag: 0, fid: 0, offset: 1n << 64n, count: 0 }, '9P2000')).toThrow(RangeError);
    const hugeStat = { ...helloDir, name: 'n'.repeat(65535 - 49 - 18 + 1) };
    expect(() => encode({ type: MsgType.Rstat, tag: 0, stat: hugeStat }, '9P2000')).toThrow(RangeError);
    const bad = { type: 106, tag: 0 } as unknown as Fcall;
    expect(() => encode(bad, '9P2000')).toThrow(RangeError);
  });

  it('Rread copies the data (a view of a larger buffer is fine)', () => {
    const src = Buffer.from('0123456789');
    const b = encode({ type: MsgType.Rread, tag: 1, data: src.subarray(3, 6) }, '9P2000');
    expect(b.toString('hex')).toBe('0e0000007501000300000033343' + '5');
    src[3] = 0x41;
    expect(b[11]).toBe(0x33);
  });
});

// ---------------------------------------------------------------------------
// Robustness: seeded mutation fuzzing

describe('fuzz: decode never throws', () => {
  const rng = new SeededRng(0x9e7);
  const below = (n: number) => rng.u32() % n;

  const seeds: Array<[Buffer, Dialect]> = [];
  for (const v of positive) seeds.push([hex(v.hex), v.dialect]);
  for (const d of ['9P2000', '9P2000.u'] as const) {
    for (const m of samples(d === '9P2000.u')) {
      const b = encode(m, d);
      if (b.length <= 2048) seeds.push([b, d]);
    }
  }
  for (const n of negative) seeds.push([hex(n.hex), '9P2000']);

  function mutate(src: Buffer): Buffer {
    let b: Buffer = Buffer.from(src);
    const ops = 1 + below(4);
    for (let k = 0; k < ops; k++) {
      switch (below(8)) {
        case 0: case 1: // overwrite a byte
          if (b.length) b[below(b.length)] = below(256);
          break;
        case 2: // flip a bit
          if (b.length) b[below(b.length)]! ^= 1 << below(8);
          break;
        case 3: // truncate
          b = b.subarray(0, below(b.length + 1));
          break;
        case 4: { // extend with random bytes
          const extra = Buffer.alloc(1 + below(20));
          for (let i = 0; i < extra.length; i++) extra[i] = below(256);
          b = Buffer.concat([b, extra]);
          break;
        }
        case 5: { // delete or duplicate a run in the middle
          if (b.length < 2) break;
          const at = below(b.length), n = 1 + below(8);
          b = below(2) ? Buffer.concat([b.subarray(0, at), b.subarray(at + n)])
            : Buffer.concat([b.subarray(0, at), b.subarray(at, at + n), b.subarray(at)]);
          break;
        }
        case 6: // extreme values for a 16/32-bit field (lengths, counts)
          if (b.length >= 9) {
            const at = 7 + below(b.length - 8);
            const v = [0, 0xff, 0x7f, 0x10, 0x11][below(5)]!;
            b[at] = v;
            b[at + 1] = below(2) ? v : 0;
          }
          break;
        default: // change the type to any 9P type
          if (b.length >= 5) b[4] = 100 + below(28);
          break;
      }
    }
    // Usually keep the size field consistent, so the body parsers get exercised.
    if (b.length >= 4 && below(10) < 8) b.writeUInt32LE(b.length, 0);
    return b;
  }

  function check(f: Buffer, d: Dialect): boolean {
    const r = decode(f, d);
    if (!r.ok) {
      if (f.length < 7) {
        if (r.type !== -1 || r.tag !== -1) throw new Error('short frame must give -1/-1');
      } else if (r.type !== f[4] || r.tag !== f.readUInt16LE(5)) {
        throw new Error(`wrong type/tag in error for ${f.toString('hex')}`);
      }
      if (typeof r.error !== 'string' || r.error.length === 0) throw new Error('empty error');
      return false;
    }
    // Whatever decodes must re-encode to the identical bytes (the encoding is
    // canonical), except an Rerror whose ename the encoder would shorten.
    if (r.msg.type === MsgType.Rerror && Buffer.byteLength(r.msg.ename) > ERRMAX_SEND) return true;
    const again = encode(r.msg, d);
    if (!again.equals(f)) throw new Error(`non-canonical round trip for ${f.toString('hex')} (${d})`);
    return true;
  }

  it('120 000 mutated frames: no throw, errors carry type/tag, successes re-encode identically', () => {
    let ok = 0;
    for (let i = 0; i < 120_000; i++) {
      const [seed, d] = seeds[below(seeds.length)]!;
      const dialect = below(5) === 0 ? OTHER[d] : d;
      if (check(mutate(seed), dialect)) ok++;
    }
    // Both paths must be exercised substantially.
    expect(ok).toBeGreaterThan(1_000);
    expect(ok).toBeLessThan(119_000);
  });

  it('20 000 random frames of every type: no throw', () => {
    for (let i = 0; i < 20_000; i++) {
      const f = Buffer.alloc(7 + below(60));
      for (let j = 0; j < f.length; j++) f[j] = below(4) ? below(256) : below(3);
      if (below(10)) f.writeUInt32LE(f.length, 0);
      f[4] = below(4) ? 100 + below(28) : below(256);
      check(f, below(2) ? '9P2000' : '9P2000.u');
    }
  });

  it('decodes huge declared lengths without allocating them', () => {
    const f = Buffer.from('0f000000750100ffffffff00000000', 'hex'); // Rread count 0xffffffff
    f.writeUInt32LE(f.length, 0);
    expect(decode(f, '9P2000').ok).toBe(false);
  });
});

