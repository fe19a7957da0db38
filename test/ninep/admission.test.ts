/**
 * A client may attach only as a user its process is: a process running as
 * `nobody` connects over a Unix socket and over loopback TCP and tries its
 * own name, its uid, another user and the host owner. Needs root (to run
 * the client as another uid).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admission, parseUsersMap, passwdName, passwdUid } from '../../src/ninep/admission.js';
import { loopbackPeerUid, peerCredAddon } from '../../src/ninep/peer.js';
import { Server } from '../../src/ninep/server.js';
import { SynthDir } from '../../src/ninep/synth.js';
import { QTDIR, qid } from '../../src/ninep/types.js';
import { netGate } from '../helpers/net-gate.js';
import { Raw9p } from '../helpers/raw9p.js';

const NOBODY = 65534;
const gate = netGate({ root: true, files: ['/usr/bin/node'] }, 'attach admission with a second uid');

/**
 * A client, run as `uid`, that attaches as each name and prints one line
 * per attempt: the name, then `ok` or the error text. Raw 9P2000 bytes.
 */
const CLIENT = String.raw`
const net = require('node:net');
const [target, ...names] = process.argv.slice(1);
const s = target.startsWith('/') ? net.connect(target) : net.connect(Number(target), '127.0.0.1');
function msg(type, tag, body) {
  const b = Buffer.alloc(7 + body.length);
  b.writeUInt32LE(b.length, 0); b[4] = type; b.writeUInt16LE(tag, 5); body.copy(b, 7); return b;
}
function str(x) { const b = Buffer.alloc(2 + Buffer.byteLength(x)); b.writeUInt16LE(Buffer.byteLength(x), 0); b.write(x, 2); return b; }
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0, 0); return b; };
let buf = Buffer.alloc(0); const replies = [];
s.on('data', (d) => {
  buf = Buffer.concat([buf, d]);
  while (buf.length >= 4 && buf.length >= buf.readUInt32LE(0)) { const n = buf.readUInt32LE(0); replies.push(buf.subarray(0, n)); buf = buf.subarray(n); }
  if (replies.length === names.length + 1) {
    for (let i = 0; i < names.length; i++) {
      const r = replies[i + 1];
      console.log(names[i] + ' ' + (r[4] === 105 ? 'ok' : r.subarray(9, 9 + r.readUInt16LE(7)).toString()));
    }
    s.end();
  }
});
s.on('connect', () => {
  s.write(msg(100, 0xffff, Buffer.concat([u32(8192), str('9P2000')])));
  names.forEach((n, i) => s.write(msg(104, i + 1, Buffer.concat([u32(i + 1), u32(0xffffffff), str(n), str('')]))));
});
s.on('error', (e) => { console.log('error ' + e.message); });
`;

function runAs(uid: number, target: string, names: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/node', ['-e', CLIENT, target, ...names], { uid, gid: uid, stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out.trim().split('\n')) : reject(new Error(`client exited ${code}: ${err}`))));
  });
}

describe('Admission rules', () => {
  const a = new Admission({ ownerUid: 1234, eve: 'eve', grants: new Map([[1000, ['glenda']]]), loginName: (uid) => (uid === 1000 ? 'alice' : null) });
  it('lets a uid be its login name, its number and its grants, never eve; the owner and root anyone', () => {
    const alice = { kind: 'loopback' as const, uid: 1000 };
    expect(a.admit(alice, 'alice')).toBeNull();
    expect(a.admit(alice, '1000')).toBeNull();
    expect(a.admit(alice, 'glenda')).toBeNull();
    expect(a.admit(alice, 'bob')).toBe('permission denied');
    expect(a.admit(alice, 'eve')).toBe('permission denied');
    expect(a.admit({ kind: 'unix', uid: 1234 }, 'eve')).toBeNull();
    expect(a.admit({ kind: 'unix', uid: 0 }, 'bob')).toBeNull();
    expect(a.admit({ kind: 'stdio', uid: null }, 'eve')).toBeNull();
  });
  it('refuses peers of unknown uid unless remote users are allowed', () => {
    expect(a.admit({ kind: 'remote', uid: null }, 'alice')).toBe('permission denied');
    const open = new Admission({ ownerUid: 1234, eve: 'eve', allowRemote: true });
    expect(open.admit({ kind: 'remote', uid: null }, 'eve')).toBeNull();
  });
  it('reads a users map', () => {
    const m = parseUsersMap('# who may be whom\n1000 glenda bootes\nroot   adm\n', (n) => (n === 'root' ? 0 : null));
    expect(m).toEqual(new Map([[1000, ['glenda', 'bootes']], [0, ['adm']]]));
    expect(parseUsersMap('nosuch x', () => null)).toBe('line 1: no such user nosuch');
    expect(passwdUid('nobody')).toBe(NOBODY);
    expect(passwdName(NOBODY)).toBe('nobody');
  });
});

describe.skipIf(gate.skip)('a client running as nobody', () => {
  let server: Server;
  let port = 0;
  let dir = '';
  let sock = '';
  const logs: string[] = [];

  beforeAll(async () => {
    const root = new SynthDir(qid(QTDIR, 0n), () => ({ name: '/', uid: 'eve', mode: 0o555 }), () => []);
    const adm = new Admission({ ownerUid: process.getuid!(), eve: 'eve' });
    server = new Server({ root: () => root, log: (l) => logs.push(l), admit: (p, u) => adm.admit(p, u) });
    const l = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    port = (l.address() as AddressInfo).port;
    dir = mkdtempSync(join(tmpdir(), '9net-adm-'));
    chmodSync(dir, 0o755);
    sock = join(dir, 'srv');
    await server.listen({ kind: 'unix', path: sock });
  });
  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('over loopback TCP: may be nobody or 65534, not another user or the host owner', async () => {
    expect(await runAs(NOBODY, String(port), ['nobody', String(NOBODY), 'alice', 'eve', 'root'])).toEqual([
      'nobody ok', `${NOBODY} ok`, 'alice permission denied', 'eve permission denied', 'root permission denied',
    ]);
    expect(logs.some((l) => l.includes(`uid ${NOBODY}`) && l.includes('attach as alice refused'))).toBe(true);
  });

  it('over a Unix socket (SO_PEERCRED): the same', async () => {
    expect(peerCredAddon()).not.toBeNull();
    expect(await runAs(NOBODY, sock, ['nobody', 'alice', 'eve'])).toEqual(['nobody ok', 'alice permission denied', 'eve permission denied']);
  });

  it('the server\'s own uid (here root) may attach as anyone', async () => {
    const p = await Raw9p.connect(port);
    try {
      await p.start({ uname: 'alice' });
    } finally {
      p.close();
    }
    expect(loopbackPeerUid('127.0.0.1', 1, '127.0.0.1', 2)).toBeNull();
  });
});
gate.failIfRequired();
