/**
 * Splitting ctl messages into fields as Plan 9's tokenize does
 * (plan9-net.md §1.1): one trailing newline removed, fields separated by
 * blanks, tabs and newlines, single quotes group, '' is a literal quote.
 */
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

/** The text of a ctl write. */
export function ctlText(data: Uint8Array): string {
  return decoder.decode(data);
}
