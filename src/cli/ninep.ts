/** `9net 9p`: plan9port 9p(1) — ls, read, write, rdwr, stat on a 9P server. */
import type { Command } from 'commander';
import type { Client } from '../ninep/client.js';
import { createInterface } from 'node:readline';
import type { Dir } from '../ninep/types.js';
import { DMDIR, OREAD, ORDWR, OTRUNC, OWRITE } from '../ninep/types.js';
import { clientOptions, connect, die } from './common.js';
import type { ClientFlags } from './common.js';

/** plan9port's %M (dirmodefmt). */
function modeString(m: number): string {
  const rwx = (b: number): string => `${b & 4 ? 'r' : '-'}${b & 2 ? 'w' : '-'}${b & 1 ? 'x' : '-'}`;
  const kind = m & DMDIR ? 'd' : m & 0x40000000 ? 'a' : m & 0x08000000 ? 'A' : '-';
  const excl = m & 0x20000000 ? 'l' : '-';
  return `${kind}${excl}${rwx((m >> 6) & 7)}${rwx((m >> 3) & 7)}${rwx(m & 7)}`;
}

/** plan9port's qid type letters (fcallfmt.c qidtype). */
function qidType(t: number): string {
  return `${t & 0x80 ? 'd' : ''}${t & 0x40 ? 'a' : ''}${t & 0x20 ? 'l' : ''}${t & 0x08 ? 'A' : ''}`;
}

/** plan9port's %D format (fcallfmt.c dirfmt): qid type as letters, mode as %#luo. */
export function formatDir(d: Dir): string {
  const path = d.qid.path.toString(16).padStart(16, '0');
  const mode = d.mode >>> 0;
  return `'${d.name}' '${d.uid}' '${d.gid}' '${d.muid}' q (${path} ${d.qid.vers} ${qidType(d.qid.type)}) m ${mode === 0 ? '0' : `0${mode.toString(8)}`} at ${d.atime} mt ${d.mtime} l ${d.length} t ${d.type} d ${d.dev}`;
}

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** plan9port 9p's %T: the time of day within six months, else the year. */
function formatTime(t: number): string {
  const d = new Date(t * 1000);
  const day = String(d.getDate()).padStart(2);
  if (Date.now() / 1000 - t < 6 * 30 * 86400) {
    return `${months[d.getMonth()]} ${day} ${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  }
  return `${months[d.getMonth()]} ${day} ${String(d.getFullYear()).padStart(5)}`;
}

/** Plan 9 %q: quoted when empty or holding blanks, controls or quotes. */
function quote(s: string): string {
  return s === '' || /[\x00-\x20']/.test(s) ? `'${s.replace(/'/g, "''")}'` : s;
}

/** plan9port `9p ls -l` lines: `%M %C %*d %-*s %-*s %*lld %T %q`, sorted by name, columns aligned. */
function longListing(dirs: Dir[]): string[] {
  const w = [0, 0, 0];
  for (const d of dirs) {
    w[0] = Math.max(w[0]!, d.uid.length);
    w[1] = Math.max(w[1]!, d.gid.length);
    w[2] = Math.max(w[2]!, String(d.length).length);
  }
  return [...dirs]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((d) => `${modeString(d.mode)} M 0 ${d.uid.padEnd(w[0]!)} ${d.gid.padEnd(w[1]!)} ${String(d.length).padStart(w[2]!)} ${formatTime(d.mtime)} ${quote(d.name)}`);
}

async function readStdin(): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return chunks;
}

export function addNinep(program: Command): void {
  const cmd = clientOptions(program
    .command('9p')
    .description('talk 9P to a server, as plan9port 9p(1)'));
  const flags = (): ClientFlags => cmd.opts<ClientFlags>();
  /** Connect, run fn with the client, hang up; any error is one line and exit 1. */
  const run = (fn: (c: Client) => Promise<void>) => async () => {
    try {
      const c = await connect(flags());
      try {
        await fn(c);
      } finally {
        c.close();
      }
    } catch (e) {
      die((e as Error).message);
    }
  };

  cmd.command('ls').argument('<path...>').option('-l', 'long listing').description('list directories (or stat files)')
    .action((paths: string[], o: { l?: boolean }) => run(async (c) => {
      for (const p of paths) {
        const st = await c.stat(p);
        const dirs = st.mode & DMDIR ? await c.ls(p) : [st];
        for (const line of o.l ? longListing(dirs) : dirs.map((d) => d.name)) console.log(line);
      }
    })());

  cmd.command('read').argument('<path>').description('print a file (reads until a 0-byte read)')
    .action((path: string) => run(async (c) => {
      const f = await c.open(path, OREAD);
      for (;;) {
        const b = await f.read();
        if (b.length === 0) break;
        await new Promise<void>((r) => process.stdout.write(b, () => r()));
      }
      await f.close();
    })());

  cmd.command('write').argument('<path>').description('write standard input to a file (OWRITE|OTRUNC, one Twrite per chunk)')
    .action((path: string) => run(async (c) => {
      const f = await c.open(path, OWRITE | OTRUNC);
      const chunks = await readStdin();
      if (chunks.length === 0) await f.write(Buffer.alloc(0));
      for (const ch of chunks) await f.write(ch);
      await f.close();
    })());

  cmd.command('rdwr').argument('<path>').description('open ORDWR; print a read, then for each input line write it and print a read')
    .action((path: string) => run(async (c) => {
      const f = await c.open(path, ORDWR);
      // As plan9port: each read is printed followed by a newline; read and
      // write errors are reported on stderr and the loop goes on.
      const show = async (): Promise<void> => {
        try {
          const b = await f.read(f.iounit, undefined, 0n);
          process.stdout.write(Buffer.concat([b, Buffer.from('\n')]));
        } catch (e) {
          console.error(`read: ${(e as Error).message}`);
        }
      };
      await show();
      for await (const line of createInterface({ input: process.stdin })) {
        f.offset = 0n;
        try {
          await f.write(line);
        } catch (e) {
          console.error(`write: ${(e as Error).message}`);
        }
        await show();
      }
      await f.close();
    })());

  cmd.command('stat').argument('<path>').description('print a file\'s stat entry')
    .action((path: string) => run(async (c) => {
      console.log(formatDir(await c.stat(path)));
    })());
}
