/**
 * ndb lookups through a served /net/cs, as Plan 9's libndb does them from
 * a program: csgetvalue (libndb/csgetval.c) writes `!attr=value rattr=*`
 * and takes the value of the first `rattr` in the answer tuples.
 */
import type { Client } from '../ninep/client.js';
import { ORDWR } from '../ninep/types.js';
import { servedPath } from './netcall.js';

/** Bytes read per cs answer line. */
const ANSWER_MAX = 8192;
/** Answer lines read per query. */
const MAX_LINES = 64;

/** One ndb tuple: attr=value (libndb/ndbparse.c); a value may be quoted. */
export interface Tuple {
  attr: string;
  val: string;
}

/** The tuples of one line of ndb text (`attr=value`, or `attr` alone, blank separated, "..." quoting). */
export function parseTuples(line: string): Tuple[] {
  const out: Tuple[] = [];
  const re = /([^\s=]+)(?:=(?:"([^"]*)"|(\S*)))?/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) out.push({ attr: m[1]!, val: m[2] ?? m[3] ?? '' });
  return out;
}

/**
 * csgetvalue: the value of `rattr` in cs's answer to `!attr=val rattr=*`,
 * or null when cs has none (or answers only the wildcard back).
 */
export async function csGetValue(c: Client, netroot: string, attr: string, val: string, rattr: string): Promise<string | null> {
  let cs;
  try {
    cs = await c.open(servedPath(`${netroot}/cs`), ORDWR);
  } catch {
    return null;
  }
  try {
    await cs.write(`!${attr}=${val} ${rattr}=*`);
    for (let i = 0; i < MAX_LINES; i++) {
      const line = (await cs.read(ANSWER_MAX, undefined, 0n)).toString();
      if (line === '') return null;
      const t = parseTuples(line).find((x) => x.attr === rattr);
      if (t) return t.val === '*' ? null : t.val;
    }
    return null;
  } catch {
    return null;
  } finally {
    await cs.close().catch(() => {});
  }
}
