/**
 * `9net snoop [-f FILTER] [-w FILE] [-c N] PATH`: a live capture through
 * a served capture file (PATH is /net/ether0, /net/ipifc/1, /net/tcp/3 or
 * /net/udp/2, or one's pcap file), printed one packet a line as Plan 9's
 * snoopy decodes it (capture/summary.ts), preceded by the stack's time and
 * the direction; `lost N` where the server dropped packets for a slow
 * reader. With -w the pcapng stream goes to FILE (`-`: standard output)
 * instead, for Wireshark or tshark. -f writes the filter
 * (capture/filter.ts) before reading; -c stops after N packets.
 */
import type { Command } from 'commander';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { PcapError, PcapngReader } from '../capture/pcapng.js';
import { summarize } from '../capture/summary.js';
import { formatSeconds } from '../netfs/events.js';
import { OREAD, ORDWR } from '../ninep/types.js';
import type { File } from '../ninep/client.js';
import { addressHelp, connectOrDie, die } from './common.js';
import type { ClientFlags } from './common.js';

interface SnoopFlags extends ClientFlags {
  filter?: string;
  write?: string;
  count?: string;
}

/** The served path of PATH's capture file (the served tree's root is /net). */
export function pcapPath(path: string): string {
  const p = path.replace(/^\/net(\/|$)/, '/').replace(/\/+$/, '');
  return p.endsWith('/pcap') ? p : `${p === '' ? '' : p}/pcap`;
}

async function write(out: Writable, b: Uint8Array): Promise<void> {
  if (!out.write(b)) await new Promise((r) => out.once('drain', r));
}

/**
 * Reads `f` (a capture file) until EOF or `count` packets: lines to `out`,
 * or with `raw` the stream itself, cut after the last packet counted.
 */
export async function snoop(f: File, out: Writable, opts: { raw: boolean; count: number }): Promise<void> {
  const r = new PcapngReader();
  let seen = 0;
  /** Stream bytes in the chunks before this one. */
  let taken = 0;
  for (;;) {
    const chunk = await f.read();
    if (chunk.length === 0) return;
    r.push(chunk);
    for (;;) {
      const rec = r.next();
      if (rec === null) break;
      if (rec instanceof PcapError) throw new Error(`capture stream: ${rec.reason}`);
      seen++;
      if (!opts.raw) {
        if (rec.drops > 0) await write(out, Buffer.from(`lost ${rec.drops}\n`));
        await write(out, Buffer.from(`${formatSeconds(rec.micros / 1000)} ${rec.dir ?? '-'} ${summarize(rec.data, rec.linktype)}\n`));
      }
      if (seen === opts.count) {
        // The counted packet's block ends in this chunk, r.offset - taken bytes in.
        if (opts.raw) await write(out, chunk.subarray(0, r.offset - taken));
        return;
      }
    }
    taken += chunk.length;
    if (opts.raw) await write(out, chunk);
  }
}

export function addSnoop(program: Command): void {
  program
    .command('snoop')
    .description('watch a live capture of /net/etherN, /net/ipifc/N, /net/tcp/N or /net/udp/N, one decoded line per packet (as Plan 9\'s snoopy), or save it as pcapng')
    .argument('<path>', 'e.g. /net/ether0, /net/ipifc/1, /net/tcp/3')
    .option('-a, --address <addr>', addressHelp)
    .option('-u, --user <name>', 'user name to attach as')
    .option('-A, --aname <name>', 'attach name (a topology\'s stack)')
    .option('-f, --filter <expr>', 'keep only matching packets, e.g. "tcp port 80 and out" (see README)')
    .option('-w, --write <file>', 'write the pcapng stream to FILE (- for standard output) instead of decoding it')
    .option('-c, --count <n>', 'stop after N packets')
    .action(async (path: string, o: SnoopFlags) => {
      const count = o.count === undefined ? -1 : Number(o.count);
      if (o.count !== undefined && !(Number.isInteger(count) && count > 0)) die(`bad --count ${o.count}`);
      const client = await connectOrDie(o);
      try {
        const f = await client.open(pcapPath(path), o.filter !== undefined ? ORDWR : OREAD);
        if (o.filter !== undefined) await f.write(o.filter);
        const out: Writable = o.write === undefined || o.write === '-' ? process.stdout : createWriteStream(o.write);
        await snoop(f, out, { raw: o.write !== undefined, count });
        if (out !== process.stdout) await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
        client.close();
        process.exit(0);
      } catch (e) {
        client.close();
        die((e as Error).message);
      }
    });
}
