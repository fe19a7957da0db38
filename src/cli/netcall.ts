/**
 * Plan 9's dial(2), announce and listen, done with file operations on a
 * /net reached over 9P (libc/9sys/dial.c; libc/9sys/announce.c).
 */
import type { Client, File } from '../ninep/client.js';
import { NinepError } from '../ninep/error.js';
import { ORDWR } from '../ninep/types.js';

export interface Call {
  /** The conversation directory, e.g. /net/tcp/4 (as served). */
  dir: string;
  ctl: File;
  data: File;
}

/** Ask /cs for a dial string's answers; without cs use the string verbatim. */
export async function csQuery(c: Client, dialstring: string): Promise<{ clone: string; addr: string }[]> {
  let cs: File;
  try {
    cs = await c.open('/cs', ORDWR);
  } catch {
    const i = dialstring.indexOf('!');
    return [{ clone: `/net/${dialstring.slice(0, i)}/clone`, addr: dialstring.slice(i + 1) }];
  }
  try {
    await cs.write(dialstring);
    const out: { clone: string; addr: string }[] = [];
    for (;;) {
      const line = (await cs.read(512, undefined, 0n)).toString();
      if (line === '') return out;
      const [clone, addr] = line.split(' ');
      if (clone && addr !== undefined) out.push({ clone, addr });
    }
  } finally {
    await cs.close();
  }
}

/** A path in the served tree: cs answers /net/... (and users write /net/cs), our root is /net. */
export function servedPath(clone: string): string {
  return clone.replace(/^\/net(\/|$)/, '/');
}

async function openConv(c: Client, clone: string): Promise<{ dir: string; ctl: File }> {
  const ctl = await c.open(servedPath(clone), ORDWR);
  const n = (await ctl.read(64, undefined, 0n)).toString().trim();
  const dir = servedPath(clone).replace(/\/clone$/, `/${n}`);
  return { dir, ctl };
}

/**
 * A dial string must name a network (`net!host!service`); the common
 * mistake `host:port` gets the spelling it meant.
 */
export function checkDialString(ds: string): void {
  if (ds.includes('!')) return;
  const m = /^\[?([^\]]*?)\]?:(\w+)$/.exec(ds);
  const hint = m ? `tcp!${m[1]}!${m[2]}` : `tcp!${ds || 'host'}!port`;
  throw new NinepError(`bad dial string ${ds}: use tcp!host!port (here ${hint})`);
}

/**
 * dial(2): try each cs answer in turn; the first that connects wins. A
 * failure names the dial string, and the addresses tried when cs
 * translated it into something else.
 */
export async function dial(c: Client, dialstring: string): Promise<Call> {
  checkDialString(dialstring);
  let answers: { clone: string; addr: string }[];
  try {
    answers = await csQuery(c, dialstring);
  } catch (e) {
    throw new NinepError(`dial ${dialstring}: ${(e as Error).message}`);
  }
  let err: Error = new NinepError(`can't translate address`);
  const tried: string[] = [];
  for (const a of answers) {
    tried.push(a.addr);
    let conv: { dir: string; ctl: File };
    try {
      conv = await openConv(c, a.clone);
    } catch (e) {
      err = e as Error;
      continue;
    }
    try {
      await conv.ctl.write(`connect ${a.addr}`);
      const data = await c.open(`${conv.dir}/data`, ORDWR);
      return { dir: conv.dir, ctl: conv.ctl, data };
    } catch (e) {
      await conv.ctl.close();
      err = e as Error;
    }
  }
  const same = tried.length === 1 && dialstring.endsWith(`!${tried[0]}`);
  const via = tried.length === 0 || same ? '' : ` (tried ${tried.join(', ')})`;
  throw new NinepError(`dial ${dialstring}: ${err.message}${via}`);
}

/** announce(2): the first cs answer; returns the announcement's ctl and dir. */
export async function announce(c: Client, dialstring: string): Promise<{ dir: string; ctl: File }> {
  checkDialString(dialstring);
  try {
    const [a] = await csQuery(c, dialstring);
    if (!a) throw new NinepError(`can't translate address`);
    const conv = await openConv(c, a.clone);
    try {
      await conv.ctl.write(`announce ${a.addr}`);
    } catch (e) {
      await conv.ctl.close();
      throw e;
    }
    return conv;
  } catch (e) {
    throw new NinepError(`announce ${dialstring}: ${(e as Error).message}`);
  }
}

/** listen(2) + accept(2): wait for a call on an announcement, open its data. */
export async function listen(c: Client, dir: string, signal?: AbortSignal): Promise<Call> {
  const ctl = await c.open(`${dir}/listen`, ORDWR, signal);
  const n = (await ctl.read(64, undefined, 0n)).toString().trim();
  const ndir = dir.replace(/\/[^/]+$/, `/${n}`);
  try {
    const data = await c.open(`${ndir}/data`, ORDWR);
    return { dir: ndir, ctl, data };
  } catch (e) {
    await ctl.close();
    throw e;
  }
}
