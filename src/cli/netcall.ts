/**
 * Plan 9's dial(2), announce and listen, done with file operations on a
 * /net reached over 9P (plan9-net.md §13.2–§13.3).
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
    if (i < 0) throw new NinepError(`bad dial string: ${dialstring}`);
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

/** The clone file's path in the served tree: cs answers /net/..., our root is /net. */
function servedPath(clone: string): string {
  return clone.replace(/^\/net(\/|$)/, '/');
}

async function openConv(c: Client, clone: string): Promise<{ dir: string; ctl: File }> {
  const ctl = await c.open(servedPath(clone), ORDWR);
  const n = (await ctl.read(64, undefined, 0n)).toString().trim();
  const dir = servedPath(clone).replace(/\/clone$/, `/${n}`);
  return { dir, ctl };
}

/** dial(2): try each cs answer in turn; the first that connects wins. */
export async function dial(c: Client, dialstring: string): Promise<Call> {
  const answers = await csQuery(c, dialstring);
  let err: Error = new NinepError(`can't translate address`);
  for (const a of answers) {
    const { dir, ctl } = await openConv(c, a.clone);
    try {
      await ctl.write(`connect ${a.addr}`);
      const data = await c.open(`${dir}/data`, ORDWR);
      return { dir, ctl, data };
    } catch (e) {
      await ctl.close();
      err = e as Error;
    }
  }
  throw err;
}

/** announce(2): the first cs answer; returns the announcement's ctl and dir. */
export async function announce(c: Client, dialstring: string): Promise<{ dir: string; ctl: File }> {
  if (!dialstring.includes('!')) throw new NinepError(`bad dial string: ${dialstring}`);
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
