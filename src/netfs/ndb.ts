/**
 * The network database cs answers from, in ndb(6) form: the files in
 * fs/ndb (`local`, as Plan 9's /lib/ndb/local, then `common`, the service
 * table), searched as libndb does.
 *
 * An entry starts on a line that begins with a non-blank; lines that begin
 * with blanks continue it, comment lines do not end it, an empty line does. A tuple is `attr=value` (or a bare `attr`); a
 * value may be quoted with `"`; `#` outside quotes starts a comment
 * (libndb/ndbparse.c, _ndbparseline). Searches are exact (ndbsearch), in
 * file order, `local` before `common` (ndbcat).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface Tuple {
  attr: string;
  val: string;
}

/** One entry: its lines, each a list of tuples. */
export type Entry = readonly (readonly Tuple[])[];

/** Longest ndb file read; the rest is ignored. */
export const MAX_NDB_BYTES = 1 << 20;
/** Longest attribute kept (libndb's Ndbalen); longer ones are cut. */
const MAX_ATTR = 32;

/** The tuples of one line (without its leading blanks' meaning). */
export function parseLine(line: string): Tuple[] {
  const out: Tuple[] = [];
  let i = 0;
  const blank = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r';
  while (i < line.length) {
    while (blank(line[i])) i++;
    if (i >= line.length || line[i] === '#' || line[i] === '\n') break;
    let attr = '';
    while (i < line.length && !blank(line[i]) && line[i] !== '=' && line[i] !== '#' && line[i] !== '\n') attr += line[i++];
    let val = '';
    if (line[i] === '=') {
      i++;
      if (line[i] === '"') {
        const end = line.indexOf('"', i + 1);
        const stop = end < 0 ? line.length : end;
        val = line.slice(i + 1, stop);
        i = stop + 1;
      } else {
        while (i < line.length && !blank(line[i]) && line[i] !== '#' && line[i] !== '\n') val += line[i++];
      }
    }
    if (attr !== '') out.push({ attr: attr.slice(0, MAX_ATTR), val });
  }
  return out;
}

export class Ndb {
  constructor(readonly entries: readonly Entry[]) {}

  /** The entries of one file's text. */
  static parse(text: string): Ndb {
    const entries: Tuple[][][] = [];
    let current: Tuple[][] | null = null;
    for (const raw of text.slice(0, MAX_NDB_BYTES).split('\n')) {
      // A line that starts with neither a blank nor `#` (an empty one too) ends the entry.
      if (raw[0] !== ' ' && raw[0] !== '\t' && raw[0] !== '\r' && raw[0] !== '#') current = null;
      const tuples = parseLine(raw);
      if (tuples.length === 0) continue;
      if (current) current.push(tuples);
      else entries.push((current = [tuples]));
    }
    return new Ndb(entries);
  }

  /** The files, in order, as one database; a missing file adds nothing. */
  static load(paths: readonly string[]): Ndb {
    const entries: Entry[] = [];
    for (const p of paths) {
      let text: string;
      try {
        text = readFileSync(p, 'utf8');
      } catch {
        continue;
      }
      entries.push(...Ndb.parse(text).entries);
    }
    return new Ndb(entries);
  }

  /** The database shipped in fs/ndb. */
  static builtin(): Ndb {
    const dir = new URL('../../fs/ndb/', import.meta.url);
    return Ndb.load(['local', 'common'].map((f) => fileURLToPath(new URL(f, dir))));
  }

  /** Entries that have the tuple attr=val, in order (ndbsearch, ndbsnext). */
  *search(attr: string, val: string): Generator<Entry> {
    for (const e of this.entries) if (e.some((l) => l.some((t) => t.attr === attr && t.val === val))) yield e;
  }

  /** The first rattr value of the first entry with attr=val that has one (ndbgetvalue). */
  getvalue(attr: string, val: string, rattr: string): string | null {
    for (const e of this.search(attr, val)) {
      const v = values(e, rattr)[0];
      if (v !== undefined) return v;
    }
    return null;
  }
}

/** Every value of attr in an entry, in order. */
export function values(e: Entry, attr: string): string[] {
  return e.flatMap((l) => l.filter((t) => t.attr === attr).map((t) => t.val));
}

/** The entry as ndb text, one answer per line (cs.c qreply): `attr=val attr=val`. */
export function formatLines(e: Entry): string[] {
  return e.map((l) => l.map((t) => `${t.attr}=${t.val}`).join(' '));
}
