/**
 * Helpers for the capture, events, impairment and clock tests: a TCP
 * transfer through /net files between two simulated stacks, reading a
 * stream file to its EOF or as far as it goes now, /net/tcp/stats as
 * numbers, and tshark over a captured pcapng stream.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drive } from './netfs-sim.js';
import type { SimClient, SimFile, SimNet } from './netfs-sim.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString();

/** Everything `f` gives until its EOF (a 0-byte read). */
export async function readToEof(net: SimNet, f: SimFile): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (;;) {
    const b = await drive(net.clock, f.read(1 << 20));
    if (b.length === 0) return Buffer.concat(parts);
    parts.push(Buffer.from(b));
  }
}

/** What `f` has queued now, without waiting. */
export function readQueued(f: SimFile): Buffer {
  const parts: Buffer[] = [];
  for (let b = f.tryRead(); b !== null && b.length > 0; b = f.tryRead()) parts.push(Buffer.from(b));
  return Buffer.concat(parts);
}

/** The lines `f` (an events file) has queued now. */
export function queuedLines(f: SimFile): string[] {
  return readQueued(f).toString().split('\n').filter((l) => l !== '');
}

/** /net/tcp/stats (or another stats file) as numbers by name. */
export async function stats(cli: SimClient, path = '/tcp/stats'): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await cli.text(path)).split('\n')) {
    const m = /^(\w+): (\d+)$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

export interface Conn {
  ctl: SimFile;
  data: SimFile;
  dir: string;
}

/** Announces `port` on `srv`; returns the announcer's ctl and number. */
export async function announce(net: SimNet, srv: SimClient, port: number): Promise<{ ctl: SimFile; n: string }> {
  const a = await srv.clone();
  await drive(net.clock, a.ctl.write(`announce ${port}`));
  return { ctl: a.ctl, n: a.n };
}

/** A new conversation on `cli` (not connected): its ctl, number and directory. */
export async function conversation(cli: SimClient): Promise<{ ctl: SimFile; n: string; dir: string }> {
  return cli.clone();
}

/** Connects conversation `c` to `addr` and opens its data. */
export async function connect(net: SimNet, cli: SimClient, c: { ctl: SimFile; dir: string }, addr: string): Promise<Conn> {
  await drive(net.clock, c.ctl.write(`connect ${addr}`));
  return { ctl: c.ctl, data: await cli.open(`${c.dir}/data`), dir: c.dir };
}

/** Takes the next call of announcement `ann` on `srv`. */
export async function take(net: SimNet, srv: SimClient, ann: string): Promise<Conn> {
  const ctl = await srv.open(`/tcp/${ann}/listen`);
  const m = text(await drive(net.clock, ctl.read(32))).trim();
  return { ctl, data: await srv.open(`/tcp/${m}/data`), dir: `/tcp/${m}` };
}

/** `n` bytes of a pattern that shows misplaced data. */
export function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8)) & 0xff;
  return b;
}

/** Writes `bytes` on `from` and reads them all on `to`; returns when the last byte arrived. */
export async function transfer(net: SimNet, from: Conn, to: Conn, bytes: Buffer, limitMs = 600_000): Promise<void> {
  const w = from.data.write(bytes);
  let got = 0;
  const parts: Buffer[] = [];
  while (got < bytes.length) {
    const b = await drive(net.clock, to.data.read(1 << 20), limitMs);
    if (b.length === 0) throw new Error(`EOF after ${got} of ${bytes.length} bytes`);
    parts.push(Buffer.from(b));
    got += b.length;
  }
  await drive(net.clock, w);
  if (!Buffer.concat(parts).equals(bytes)) throw new Error('the data arrived changed');
}

/**
 * Runs tshark over a pcapng stream (from a file, as CI runs it as root);
 * returns one array of the `fields` per packet.
 */
export function tshark(stream: Uint8Array, fields: string[], filter?: string): string[][] {
  const dir = mkdtempSync(join(tmpdir(), `9net-tshark-${process.pid}-`));
  try {
    const file = join(dir, 'capture.pcapng');
    writeFileSync(file, stream);
    const args = ['-r', file, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])];
    if (filter) args.push('-Y', filter);
    const r = spawnSync('tshark', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tshark failed (${r.status}): ${r.stderr}`);
    return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('|'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
