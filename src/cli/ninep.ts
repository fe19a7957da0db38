/** `9net 9p`: plan9port 9p(1) — ls, read, write, rdwr, stat on a 9P server. */
import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import type { Dir } from '../ninep/types.js';
import { DMDIR, OREAD, ORDWR, OTRUNC, OWRITE } from '../ninep/types.js';
import { addressHelp, connect, die } from './common.js';
import type { ClientFlags } from './common.js';

function modeString(m: number): string {
  const rwx = (b: number): string => `${b & 4 ? 'r' : '-'}${b & 2 ? 'w' : '-'}${b & 1 ? 'x' : '-'}`;
  const kind = m & DMDIR ? 'd' : m & 0x40000000 ? 'a' : m & 0x20000000 ? 'l' : '-';
  return `${kind}-${rwx((m >> 6) & 7)}${rwx((m >> 3) & 7)}${rwx(m & 7)}`;
}

/** plan9port's %D format. */
export function formatDir(d: Dir): string {
  const path = d.qid.path.toString(16).padStart(16, '0');
  return `'${d.name}' '${d.uid}' '${d.gid}' '${d.muid}' q (${path} ${d.qid.vers} ${d.qid.type.toString(16).padStart(2, '0')}) m 0${(d.mode >>> 0).toString(8)} at ${d.atime} mt ${d.mtime} l ${d.length} t ${d.type} d ${d.dev}`;
}

async function readStdin(): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return chunks;
}

export function addNinep(program: Command): void {
  const cmd = program
    .command('9p')
    .description('talk 9P to a server, as plan9port 9p(1)')
    .option('-a, --address <addr>', addressHelp)
    .option('-A, --aname <aname>', 'attach name', '')
    .option('-u, --user <name>', 'user name to attach as (default: $USER)');
  const flags = (): ClientFlags => cmd.opts<ClientFlags>();
  const run = (fn: () => Promise<void>) => async () => {
    try {
      await fn();
    } catch (e) {
      die((e as Error).message);
    }
  };

  cmd.command('ls').argument('<path...>').option('-l', 'long listing').description('list directories (or stat files)')
    .action((paths: string[], o: { l?: boolean }) => run(async () => {
      const c = await connect(flags());
      try {
        for (const p of paths) {
          const st = await c.stat(p);
          const dirs = st.mode & DMDIR ? await c.ls(p) : [st];
          for (const d of dirs) {
            console.log(o.l ? `${modeString(d.mode)} ${d.uid} ${d.gid} ${String(d.length).padStart(8)} ${d.name}` : d.name);
          }
        }
      } finally {
        c.close();
      }
    })());

  cmd.command('read').argument('<path>').description('print a file (reads until a 0-byte read)')
    .action((path: string) => run(async () => {
      const c = await connect(flags());
      try {
        const f = await c.open(path, OREAD);
        for (;;) {
          const b = await f.read();
          if (b.length === 0) break;
          await new Promise<void>((r) => process.stdout.write(b, () => r()));
        }
        await f.close();
      } finally {
        c.close();
      }
    })());

  cmd.command('write').argument('<path>').description('write standard input to a file (OWRITE|OTRUNC, one Twrite per chunk)')
    .action((path: string) => run(async () => {
      const c = await connect(flags());
      try {
        const f = await c.open(path, OWRITE | OTRUNC);
        const chunks = await readStdin();
        if (chunks.length === 0) await f.write(Buffer.alloc(0));
        for (const ch of chunks) await f.write(ch);
        await f.close();
      } finally {
        c.close();
      }
    })());

  cmd.command('rdwr').argument('<path>').description('open ORDWR; print a read, then for each input line write it and print a read')
    .action((path: string) => run(async () => {
      const c = await connect(flags());
      try {
        const f = await c.open(path, ORDWR);
        const show = async (): Promise<void> => {
          const b = await f.read(f.iounit, undefined, 0n);
          process.stdout.write(b.length && b[b.length - 1] !== 10 ? Buffer.concat([b, Buffer.from('\n')]) : b);
        };
        await show();
        for await (const line of createInterface({ input: process.stdin })) {
          f.offset = 0n;
          await f.write(line);
          await show();
        }
        await f.close();
      } finally {
        c.close();
      }
    })());

  cmd.command('stat').argument('<path>').description('print a file\'s stat entry')
    .action((path: string) => run(async () => {
      const c = await connect(flags());
      try {
        console.log(formatDir(await c.stat(path)));
      } finally {
        c.close();
      }
    })());
}
