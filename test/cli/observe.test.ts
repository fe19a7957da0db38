/**
 * `9net snoop`, `9net serve --clock manual` and the events watch of
 * `9net netstat -e` end to end (needs dist/, built by `tsc -p .` before the
 * tests): a topology of two stacks on a hub served on a loopback port the
 * OS chooses, snoop's decoded lines and its pcapng file (read by tshark),
 * /net/clock through `9net 9p`, and events as they happen.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/ninep/client.js';
import type { File } from '../../src/ninep/client.js';
import { ORDWR } from '../../src/ninep/types.js';
import { currentUser } from '../../src/cli/common.js';
import { watchEvents } from '../../src/cli/netstat-events.js';

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const children = new Set<ChildProcessWithoutNullStreams>();
const dir = mkdtempSync(join(tmpdir(), `9net-observe-${process.pid}-`));
const clients: Client[] = [];

function start(args: string[]): ChildProcessWithoutNullStreams {
  const p = spawn(process.execPath, [MAIN, ...args], { stdio: 'pipe' });
  children.add(p);
  p.once('exit', () => children.delete(p));
  return p;
}

interface Result { code: number | null; stdout: Buffer; stderr: string }

function finish(p: ChildProcessWithoutNullStreams): Promise<Result> {
  const out: Buffer[] = [];
  let stderr = '';
  p.stdout.on('data', (b: Buffer) => out.push(b));
  p.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  p.stdin.end();
  return new Promise((resolve) => p.once('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr })));
}

/** Serves `topology` (and `args`); resolves to its address once it says it serves. */
async function serve(name: string, topology: object, ...args: string[]): Promise<string> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(topology));
  const p = start(['serve', '--topology', file, '-l', 'tcp!127.0.0.1!0', ...args]);
  const port = await new Promise<string>((resolve, reject) => {
    let buf = '';
    p.stderr.on('data', (b: Buffer) => {
      buf += b.toString();
      const m = /on tcp!127\.0\.0\.1!(\d+)/.exec(buf);
      if (m) resolve(m[1]!);
    });
    p.once('exit', (code) => reject(new Error(`serve exited ${code}: ${buf}`)));
  });
  return `tcp!127.0.0.1!${port}`;
}

async function attach(addr: string, aname: string): Promise<Client> {
  const c = await Client.dial(addr, { uname: currentUser(), aname });
  clients.push(c);
  return c;
}

/** A UDP conversation of `c` connected to `to` (ICMP advice ignored); its data file. */
async function udpTo(c: Client, to: string): Promise<File> {
  const ctl = await c.open('/udp/clone', ORDWR);
  const n = (await ctl.read(32, undefined, 0n)).toString().trim();
  await ctl.write('ignoreadvice');
  await ctl.write(`connect ${to}`);
  const data = await c.open(`/udp/${n}/data`, ORDWR);
  return data;
}

/** Sends datagrams on `data` until `p` settles (snoop has seen what it waits for). */
async function sendUntil<T>(data: File, p: Promise<T>): Promise<T> {
  let done = false;
  void p.finally(() => { done = true; });
  for (let i = 0; !done && i < 2000; i++) {
    await data.write(`datagram ${i}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return p;
}

const TWO = {
  stacks: {
    a: { ifaces: [{ hub: 'lan', ip: '10.9.0.1/24' }] },
    b: { ifaces: [{ hub: 'lan', ip: '10.9.0.2/24' }] },
  },
  hubs: { lan: {} },
};

let A = '';

beforeAll(async () => {
  A = await serve('two', TWO);
});

afterAll(async () => {
  for (const c of clients) c.close();
  const exits = [...children].map((p) => new Promise((r) => p.once('exit', r)));
  for (const p of children) p.kill('SIGTERM');
  await Promise.all(exits);
  rmSync(dir, { recursive: true, force: true });
});

describe('9net snoop', () => {
  it('prints one decoded line per packet that passes the filter', async () => {
    const a = await attach(A, 'a');
    const data = await udpTo(a, '10.9.0.2!7777');
    const r = await sendUntil(data, finish(start(['snoop', '-a', A, '-A', 'a', '-c', '3', '-f', 'udp and dst port 7777', '/net/ipifc/1'])));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.toString().trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const l of lines) {
      expect(l).toMatch(/^\d+\.\d{6} out ether\(s=[0-9a-f]{12} d=[0-9a-f]{12} pr=0800 ln=\d+\) ip\(s=10\.9\.0\.1 d=10\.9\.0\.2 id=[0-9a-f]{4} frag=0000 ttl=255 pr=17 ln=\d+\) udp\(s=\d+ d=7777 ck=[0-9a-f]{4} ln=\d+\)$/);
    }
    await data.close();
  });

  it('writes the pcapng stream to a file tshark reads', async () => {
    const a = await attach(A, 'a');
    const data = await udpTo(a, '10.9.0.2!7778');
    const file = join(dir, 'snoop.pcapng');
    const r = await sendUntil(data, finish(start(['snoop', '-a', A, '-A', 'b', '-c', '2', '-f', 'udp', '-w', file, '/net/ether0'])));
    expect(r.code).toBe(0);
    const t = spawnSync('tshark', ['-r', file, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.packet_flags_direction', '-e', 'ip.src', '-e', 'udp.dstport', '-e', 'frame.interface_name'], { encoding: 'utf8' });
    expect(t.status).toBe(0);
    const rows = t.stdout.trim().split('\n').map((l) => l.split('|'));
    expect(rows.map((x) => [Number(x[0]), ...x.slice(1)])).toEqual([[1, '10.9.0.1', '7778', 'ether0'], [1, '10.9.0.1', '7778', 'ether0']]);
    expect(readFileSync(file).readUInt32LE(0)).toBe(0x0a0d0d0a);
    await data.close();
  });

  it('fails in one line on a bad filter or a path without a capture', async () => {
    const bad = await finish(start(['snoop', '-a', A, '-A', 'a', '-f', 'tcp port http', '/net/ether0']));
    expect([bad.code, bad.stderr]).toEqual([1, '9net: filter: bad port http\n']);
    const none = await finish(start(['snoop', '-a', A, '-A', 'a', '/net/arp']));
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^9net: .*\n$/);
  });
});

describe('9net serve --clock manual', () => {
  it('serves /net/clock, frozen until written', async () => {
    const M = await serve('manual', TWO, '--clock', 'manual');
    const run = (...args: string[]): Promise<Result> => finish(start(['9p', '-a', M, '-A', 'a', ...args]));
    expect((await run('read', '/clock')).stdout.toString()).toBe('0.000000 frozen\n');
    const w = start(['9p', '-a', M, '-A', 'b', 'write', '/clock']);
    w.stdin.write('advance 2500ms\n');
    const done = finish(w);
    expect((await done).code).toBe(0);
    // One clock for the topology: every stack's /net/clock shows it.
    expect((await run('read', '/clock')).stdout.toString()).toBe('2.500000 frozen\n');
  });

  it('is refused without our stack', async () => {
    const r = await finish(start(['serve', '--clock', 'manual', '-l', 'tcp!127.0.0.1!0']));
    expect([r.code, r.stderr]).toEqual([1, '9net: --clock needs our stack: --tap, --pcap, --ether-over or --topology\n']);
  });
});

describe('netstat -e (watchEvents)', () => {
  it('prints each TCP event as it happens, after where it came from', async () => {
    const a = await attach(A, 'a');
    const out = new PassThrough();
    let text = '';
    out.on('data', (b: Buffer) => { text += b.toString(); });
    const seen = (re: RegExp): Promise<void> => new Promise((resolve) => {
      const check = (): void => { if (re.test(text)) { out.off('data', check); resolve(); } };
      out.on('data', check);
      check();
    });
    const ctl = await a.open('/tcp/clone', ORDWR);
    const n = (await ctl.read(32, undefined, 0n)).toString().trim();
    const ac = new AbortController();
    let ready!: () => void;
    const listed = new Promise<void>((r) => { ready = r; });
    const watching = watchEvents(a, out, ac.signal, ready);
    await listed;
    // Nobody listens on 10.9.0.2!9: refused at once, with the states on the way.
    await expect(ctl.write('connect 10.9.0.2!9')).rejects.toThrow('connection refused');
    await seen(new RegExp(`tcp/${n} \\d+\\.\\d{6} state Syn_sent Closed connection-refused\\n`));
    expect(text).toMatch(new RegExp(`tcp/${n} \\d+\\.\\d{6} state Closed Syn_sent connect\\n`));
    ac.abort();
    await watching;
    await ctl.close();
  });
});
