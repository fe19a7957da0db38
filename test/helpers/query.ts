/**
 * One query on a fresh fid of a /net query file (dns, cs), as ndb/dnsquery
 * and dial(2) do it: write the query at offset 0, then read the answers
 * from offset 0 on, one per read, until a read returns 0 bytes.
 */
import type { Client } from '../../src/ninep/client.js';
import { ORDWR } from '../../src/ninep/types.js';

export async function queryFile(c: Client, file: string, q: string): Promise<string[]> {
  const f = await c.open(file, ORDWR);
  try {
    await f.write(q);
    f.offset = 0n;
    const out: string[] = [];
    for (let b = await f.read(512); b.length > 0; b = await f.read(512)) out.push(b.toString());
    return out;
  } finally {
    await f.close();
  }
}
