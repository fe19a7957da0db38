/**
 * `9net csquery`: Plan 9's ndb/csquery (sys/src/cmd/ndb/csquery.c) on a
 * served /net/cs. Each query is written to a fresh open of cs and every
 * answer line read back is printed; with ADDRs on the command line those
 * are the queries (exit status non-zero if any failed), else lines of
 * standard input, each after a "> " prompt. -s prints nothing: only the
 * exit status tells.
 */
import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import type { Client } from '../ninep/client.js';
import { ORDWR } from '../ninep/types.js';
import { clientOptions, connect, exit, message } from './common.js';
import type { ClientFlags } from './common.js';
import { servedPath } from './netcall.js';

/** Bytes read per answer line (csquery.c reads 127; ours are longer at most). */
const ANSWER_MAX = 8192;
/** Answer lines printed per query. */
const MAX_LINES = 1024;

/** One query: true if cs took it. */
async function query(c: Client, server: string, addr: string, statusOnly: boolean): Promise<boolean> {
  let fd;
  try {
    fd = await c.open(servedPath(server), ORDWR);
  } catch (e) {
    exit(1, `csquery: cannot open ${server}: ${message(e)}`);
    return false;
  }
  try {
    try {
      await fd.write(addr);
    } catch (e) {
      if (!statusOnly) console.error(`translating ${addr}: ${message(e)}`);
      return false;
    }
    if (statusOnly) return true;
    for (let i = 0; i < MAX_LINES; i++) {
      const b = await fd.read(ANSWER_MAX, undefined, 0n).catch(() => Buffer.alloc(0));
      if (b.length === 0) break;
      process.stdout.write(`${b.toString()}\n`);
    }
    return true;
  } finally {
    await fd.close().catch(() => {});
  }
}

export function addCsquery(program: Command): void {
  const cmd = program
    .command('csquery')
    .description('Plan 9\'s ndb/csquery: write queries to cs and print its answers')
    .argument('[server]', 'the cs file on the server', '/net/cs')
    .argument('[addr...]', 'queries (default: lines of standard input)');
  clientOptions(cmd)
    .option('-s', 'print nothing; the exit status says whether every query was taken')
    .action(async (server: string, addrs: string[], o: ClientFlags & { s?: boolean }) => {
      let c: Client;
      try {
        c = await connect(o);
      } catch (e) {
        return exit(1, `csquery: ${message(e)}`);
      }
      const statusOnly = o.s ?? false;
      if (addrs.length > 0) {
        let ok = true;
        for (const a of addrs) ok = (await query(c, server, a, statusOnly)) && ok;
        return exit(ok ? 0 : 1);
      }
      const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
      for (;;) {
        process.stdout.write('> ');
        const next = await lines.next();
        if (next.done) break;
        await query(c, server, next.value, statusOnly);
      }
      exit(0);
    });
}
