/**
 * /net/cs on every backend (ndb/cs.c): one query per
 * fid, one answer per read without a newline, then 0 bytes; a failed
 * translation fails the write. And issue 8 item 1: the ndb queries Plan 9's
 * csgetvalue writes (libndb/csgetval.c: `!attr=value rattr=*`, answered by
 * ndb/cs genquery with the matching tuple, `no match` otherwise), and a
 * query ending in the newline a shell's echo adds.
 */
import { expect, it } from 'vitest';
import type { Client } from '../../src/ninep/client.js';
import { ORDWR } from '../../src/ninep/types.js';
import { errorOf, onEveryBackend } from './suite.js';

/** Write `query` on a fresh fid, then read every answer from offset 0 as csgetvalue and csquery do. */
async function ask(c: Client, query: string): Promise<string[]> {
  const f = await c.open('/cs', ORDWR);
  try {
    expect(await f.write(query)).toBe(Buffer.byteLength(query));
    const out: string[] = [];
    for (let b = await f.read(1022, undefined, 0n); b.length > 0; b = await f.read(1022)) out.push(b.toString());
    return out;
  } finally {
    await f.close();
  }
}

/** The error a query fails with. */
async function refused(c: Client, query: string): Promise<string> {
  const f = await c.open('/cs', ORDWR);
  try {
    return await errorOf(f.write(query));
  } finally {
    await f.close();
  }
}

onEveryBackend('cs', (fx) => {
  it('translates literal addresses and numeric or named services, one answer per read, then 0 bytes', async () => {
    const c = await fx().client();
    expect(await ask(c, 'tcp!10.1.2.3!80')).toEqual(['/net/tcp/clone 10.1.2.3!80']);
    expect(await ask(c, 'tcp!10.1.2.3!http')).toEqual(['/net/tcp/clone 10.1.2.3!80']);
    expect(await ask(c, 'udp!10.1.2.3!53')).toEqual(['/net/udp/clone 10.1.2.3!53']);
    expect(await ask(c, 'net!10.1.2.3!9fs')).toEqual(['/net/tcp/clone 10.1.2.3!564']);
    expect(await ask(c, 'tcp!*!echo')).toEqual(['/net/tcp/clone 7']);
    expect(await ask(c, 'tcp!*!*')).toEqual(['/net/tcp/clone *']);
    expect(await ask(c, 'tcp!10.1.2.3!ssh!r')).toEqual(['/net/tcp/clone 10.1.2.3!22!r']);
  });

  it('a failed translation fails the write with cs\'s text (cs.c sendmsg prefixes "cs: ")', async () => {
    const c = await fx().client();
    expect(await refused(c, 'tcp!10.1.2.3!nosuchsvc')).toBe("cs: can't translate service");
    expect(await refused(c, 'tcp!10.1.2.3')).toBe("cs: can't translate service");
  });

  it('state is per fid: each open file keeps its own query and answers', async () => {
    const c = await fx().client();
    const f1 = await c.open('/cs', ORDWR);
    const f2 = await c.open('/cs', ORDWR);
    await f1.write('tcp!10.1.2.3!80');
    await f2.write('udp!10.1.2.4!53');
    expect((await f2.read(512, undefined, 0n)).toString()).toBe('/net/udp/clone 10.1.2.4!53');
    expect((await f1.read(512, undefined, 0n)).toString()).toBe('/net/tcp/clone 10.1.2.3!80');
    expect((await f1.read(512)).length).toBe(0);
    // A new query on a fid replaces its answers.
    await f1.write('tcp!10.1.2.5!7');
    expect((await f1.read(512, undefined, 0n)).toString()).toBe('/net/tcp/clone 10.1.2.5!7');
    await f1.close();
    await f2.close();
  });

  it('item 1: csgetvalue\'s `!port=7 tcp=*` is answered with the matching ndb tuple, `tcp=echo port=7`', async () => {
    const c = await fx().client();
    expect(await ask(c, '!port=7 tcp=*')).toEqual(['tcp=echo port=7']);
    expect(await ask(c, '!port=7 udp=*')).toEqual(['udp=echo port=7']);
    expect(await ask(c, '!tcp=echo port=*')).toEqual(['tcp=echo port=7']);
    expect(await ask(c, '!port=564 tcp=9fs')).toEqual(['tcp=9fs port=564']);
  });

  it('item 1: an ndb query that matches nothing fails with cs: no match (ndb/cs genquery)', async () => {
    const c = await fx().client();
    expect(await refused(c, '!port=64999 tcp=*')).toBe('cs: no match');
    expect(await refused(c, '!port=7 il=*')).toBe('cs: no match');
  });

  it('item 1: a query ending in one newline, as `echo \'tcp!host!echo\' > cs` writes it, is translated', async () => {
    const c = await fx().client();
    expect(await ask(c, 'tcp!10.1.2.3!echo\n')).toEqual(['/net/tcp/clone 10.1.2.3!7']);
    expect(await ask(c, 'tcp!10.1.2.3!80\n')).toEqual(['/net/tcp/clone 10.1.2.3!80']);
  });
});
