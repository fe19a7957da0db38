/**
 * Splitting ctl messages into fields as Plan 9's tokenize does
 * (libc/port/tokenize.c, port/parse.c parsecmd): one trailing newline
 * removed, fields separated by blanks, tabs and newlines, single quotes
 * group, '' is a literal quote.
 */
import { NinepError } from '../ninep/error.js';

export function tokenize(text: string): string[] {
  const s = text.endsWith('\n') ? text.slice(0, -1) : text;
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r')) i++;
    if (i >= s.length) break;
    let field = '';
    let quoted = false;
    while (i < s.length) {
      const c = s[i]!;
      if (quoted) {
        if (c === "'") {
          if (s[i + 1] === "'") { field += "'"; i += 2; continue; }
          quoted = false;
          i++;
          continue;
        }
        field += c;
        i++;
        continue;
      }
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') break;
      if (c === "'") { quoted = true; i++; continue; }
      field += c;
      i++;
    }
    out.push(field);
  }
  return out;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Largest ctl message (bytes). Plan 9 bounds ctl writes by the mount
 * driver's iounit and its devices' small command buffers (netif.c keeps
 * 256 bytes); every verb of ours fits in far less, so a larger write is
 * refused before any parsing.
 */
export const MAX_CTL = 4096;
/** port/error.h Etoobig. */
export const Etoobig = 'read or write too large';

/** The text of a ctl write; throws Etoobig for one over MAX_CTL bytes. */
export function ctlText(data: Uint8Array): string {
  if (data.length > MAX_CTL) throw new NinepError(Etoobig);
  return decoder.decode(data);
}
