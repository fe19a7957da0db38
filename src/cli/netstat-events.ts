/**
 * `9net netstat -e`: TCP and interface events as they happen, from every
 * /net/tcp/N/events and /net/ipifc/N/events, one line each prefixed with
 * where it came from:
 *
 *     tcp/3 1.000000 rto syn backoff 1 next 2000
 *     ipifc/1 0.004120 arp resolved 10.0.0.2 02396e010002
 *
 * The directories are listed again every RELIST_MS for new conversations
 * and interfaces; a stream that ends (its conversation was closed) is
 * opened again when its directory is listed (it then follows whatever
 * conversation has that number). At most MAX_WATCHED streams at once.
 */
import type { Writable } from 'node:stream';
import type { Client, File } from '../ninep/client.js';
import { OREAD } from '../ninep/types.js';
import { connectOrDie } from './common.js';
import type { ClientFlags } from './common.js';

/** How often the directories are listed again. */
export const RELIST_MS = 1000;
/** Event streams watched at once. */
export const MAX_WATCHED = 2048;

/** Copies one events file's lines to `out`, each after `prefix`, until EOF, an error or `signal`. */
async function follow(f: File, prefix: string, out: Writable, signal: AbortSignal): Promise<void> {
  let partial = '';
  try {
    for (;;) {
      const b = await f.read(f.iounit, signal);
      if (b.length === 0) return;
      const text = partial + b.toString();
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      if (lines.length > 0 && !out.write(lines.map((l) => `${prefix} ${l}\n`).join(''))) await new Promise((r) => out.once('drain', r));
    }
  } catch {
    // flushed, or the stream went away: it is opened again when listed
  } finally {
    await f.close().catch(() => {});
  }
}

/** Watches every events file of `client`'s /net until `signal`; `ready` is told after the first listing. */
export async function watchEvents(client: Client, out: Writable, signal: AbortSignal, ready?: () => void): Promise<void> {
  const watched = new Map<string, Promise<void>>();
  while (!signal.aborted) {
    for (const proto of ['tcp', 'ipifc']) {
      let names: string[];
      try {
        names = (await client.ls(`/${proto}`)).map((d) => d.name).filter((n) => /^\d+$/.test(n));
      } catch {
        continue; // no such directory (the host backend's ipifc has no events)
      }
      for (const n of names) {
        const where = `${proto}/${n}`;
        if (watched.has(where) || watched.size >= MAX_WATCHED) continue;
        let f: File;
        try {
          f = await client.open(`/${where}/events`, OREAD);
        } catch {
          continue;
        }
        const p = follow(f, where, out, signal).finally(() => watched.delete(where));
        watched.set(where, p);
      }
    }
    ready?.();
    ready = undefined;
    await new Promise<void>((r) => {
      const t = setTimeout(r, RELIST_MS);
      signal.addEventListener('abort', () => { clearTimeout(t); r(); }, { once: true });
    });
  }
  await Promise.all(watched.values());
}

/** The `-e` action of `9net netstat`: watch until interrupted. */
export async function netstatEvents(flags: ClientFlags): Promise<void> {
  const client = await connectOrDie(flags);
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  client.onClose(() => ac.abort());
  await watchEvents(client, process.stdout, ac.signal);
  client.close();
}
