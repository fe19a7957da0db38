/**
 * /net/cs carried by the lower server's cs: dial strings and general
 * (`!attr=val`) queries, newline-terminated or not, go down as the query
 * Plan 9's cs expects; answers and errors come back as the lower gives
 * them, one per read, clone paths under our /net; a dial done the way
 * dial(2) does it; and the fallback when the lower server has no cs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostNet } from '../../../src/backend/host/backend.js';
import { parseIp } from '../../../src/netfs/ipaddr.js';
import type { Ip } from '../../../src/netfs/ipaddr.js';
import { netRoot } from '../../../src/netfs/net.js';
import { overNet } from '../../../src/backend/over/backend.js';
import type { Client } from '../../../src/ninep/client.js';
import { NinepError } from '../../../src/ninep/error.js';
import type { Node } from '../../../src/ninep/node.js';
import { SynthFile } from '../../../src/ninep/synth.js';
import { ORDWR, QTFILE, qid } from '../../../src/ninep/types.js';
import { ask, loopbackBoth } from '../../netfs/cs-helpers.js';
import { EVE, TcpPeer, errorOf, readFull } from '../../netfs/harness.js';
import { startOver, startUpper } from './harness.js';
import type { OverFixture } from './harness.js';

const names: Record<string, string[]> = {
  'plan9.example': ['192.0.2.7', '2001:db8::7'],
};

async function resolve(host: string): Promise<Ip[]> {
  const a = names[host];
  if (!a) throw new Error(`ENOTFOUND ${host}`);
  return a.map((t) => parseIp(t)!);
}

let fx: OverFixture;
let echo: TcpPeer;

beforeAll(async () => {
  fx = await startOver({ resolve, interfaces: loopbackBoth });
  echo = await TcpPeer.echo();
});

afterAll(async () => {
  await fx.close();
  await echo.close();
});

describe('cs through the upper /net', () => {
  it('answers as the lower cs does, one per read', async () => {
    const c = await fx.client();
    expect(await ask(c, 'tcp!127.0.0.1!80')).toEqual(['/net/tcp/clone 127.0.0.1!80']);
    expect(await ask(c, 'udp!127.0.0.1!domain')).toEqual(['/net/udp/clone 127.0.0.1!53']);
    expect(await ask(c, 'tcp!*!8080')).toEqual(['/net/tcp/clone 8080']);
    expect(await ask(c, 'tcp!plan9.example!http')).toEqual([
      '/net/tcp/clone 192.0.2.7!80',
      '/net/tcp/clone 2001:db8::7!80',
    ]);
    expect(await ask(c, 'ether0!0x800')).toEqual(['/net/ether0/clone 0x800']);
  });

  it('fails the write with the lower cs error', async () => {
    const c = await fx.client();
    const f = await c.open('/cs', ORDWR);
    expect(await errorOf(f.write('tcp!127.0.0.1!nosuchsvc'))).toBe("cs: can't translate service");
    expect(await errorOf(f.write('tcp!no.such.name.example!80'))).toBe("cs: can't translate address");
    expect(await errorOf(f.write('!port=40000 tcp=*'))).toBe('cs: no match');
    // A failed query leaves no answers.
    expect((await f.read(512, undefined, 0n)).length).toBe(0);
    await f.close();
  });

  it('keeps state per fid and is owned by the attaching user', async () => {
    const c = await fx.client('carol');
    const f1 = await c.open('/cs', ORDWR);
    const f2 = await c.open('/cs', ORDWR);
    await f1.write('tcp!127.0.0.1!80');
    await f2.write('udp!127.0.0.2!53');
    expect((await f2.read(512, undefined, 0n)).toString()).toBe('/net/udp/clone 127.0.0.2!53');
    expect((await f1.read(512, undefined, 0n)).toString()).toBe('/net/tcp/clone 127.0.0.1!80');
    expect((await f1.read(512, undefined, 0n)).length).toBe(0);
    await f1.close();
    await f2.close();
    const d = (await c.ls('/')).find((e) => e.name === 'cs');
    expect(d!.uid).toBe('carol');
    expect(d!.mode & 0o777).toBe(0o666);
  });

  it('a dial as dial(2) does it: cs, then the clone it names, connect, data', async () => {
    const c = await fx.client();
    const [answer] = await ask(c, `tcp!127.0.0.1!${echo.port}`);
    const [clonePath, addr] = answer!.split(' ');
    expect(clonePath).toBe('/net/tcp/clone');
    const ctl = await c.open(clonePath!.replace(/^\/net/, ''), ORDWR);
    const n = (await ctl.read(64, undefined, 0n)).toString();
    await ctl.write(`connect ${addr}`);
    const data = await c.open(`/tcp/${n}/data`, ORDWR);
    await ctl.close();
    await data.write('via cs');
    expect((await readFull(data, 6)).toString()).toBe('via cs');
    await data.close();
  });
});

describe('general and shell queries through the upper /net', () => {
  it('passes !attr=val queries down and returns the lower tuples, one per read', async () => {
    const c = await fx.client();
    expect(await ask(c, '!port=7 tcp=*')).toEqual(['tcp=echo port=7']);
    expect(await ask(c, '!port=53 udp=*')).toEqual(['udp=domain port=53']);
    // Names the upper cannot resolve itself: the answer is the lower's.
    expect(await ask(c, '!dom=plan9.example ip=*')).toEqual(['dom=plan9.example ip=192.0.2.7', 'dom=plan9.example ip=2001:db8::7']);
    expect(await ask(c, '!sys=localhost ip=*')).toEqual(['ip=127.0.0.1 sys=localhost dom=localhost', 'ip=::1']);
  });

  it('takes a query that ends in one newline', async () => {
    const c = await fx.client();
    expect(await ask(c, 'tcp!plan9.example!http\n')).toEqual(['/net/tcp/clone 192.0.2.7!80', '/net/tcp/clone 2001:db8::7!80']);
    expect(await ask(c, '!port=7 tcp=*\n')).toEqual(['tcp=echo port=7']);
  });
});

/** Queries a Plan 9 cs below us was sent, byte for byte. */
const sent: string[] = [];

/**
 * A cs that behaves as Plan 9's (cs.c): the query is taken as written (a
 * newline would be part of it), answers are served at byte offsets,
 * errors are `cs: ...`.
 */
function plan9Cs(): Node {
  const table: Record<string, string[]> = {
    '!port=7 tcp=*': ['tcp=echo port=7'],
    '!sys=plan9 ip=*': ['ip=192.0.2.7 sys=plan9 dom=plan9.example', 'ip=2001:db8::7'],
    'tcp!plan9!http': ['/net.alt/tcp/clone 192.0.2.7!80', '/net.alt/tcp/clone 2001:db8::7!80'],
  };
  return new SynthFile(qid(QTFILE, 0x7001n), () => ({ name: 'cs', uid: EVE, mode: 0o666 }), () => {
    let replies: Buffer[] = [];
    return {
      write: (_off, data) => {
        const q = Buffer.from(data).toString();
        sent.push(q);
        const a = table[q];
        if (!a) throw new NinepError(q.startsWith('!') ? 'cs: no match' : "cs: can't translate service");
        replies = a.map((r) => Buffer.from(r));
        return data.length;
      },
      read: (off, count) => {
        let toff = 0n;
        for (const r of replies) {
          if (off < toff + BigInt(r.length)) return r.subarray(Number(off - toff), Number(off - toff) + count);
          toff += BigInt(r.length);
        }
        return new Uint8Array(0);
      },
    };
  });
}

describe('over a Plan 9 cs', () => {
  it('sends the query without the newline, reads the answers at their offsets, passes errors unchanged', async () => {
    const hn = hostNet({ eve: EVE });
    const lower = await startUpper(() => netRoot(EVE, () => [hn.tcpDir.node, hn.udpDir.node, plan9Cs()]));
    const over = await overNet({ eve: EVE, lower: `tcp!127.0.0.1!${lower.port}` });
    const upper = await startUpper(() => over.tree);
    try {
      const c = await upper.client();
      sent.length = 0;
      expect(await ask(c, '!port=7 tcp=*\n')).toEqual(['tcp=echo port=7']);
      expect(await ask(c, '!sys=plan9 ip=*')).toEqual(['ip=192.0.2.7 sys=plan9 dom=plan9.example', 'ip=2001:db8::7']);
      expect(await ask(c, 'tcp!plan9!http\n')).toEqual(['/net/tcp/clone 192.0.2.7!80', '/net/tcp/clone 2001:db8::7!80']);
      const f = await c.open('/cs', ORDWR);
      expect(await errorOf(f.write('!port=9 tcp=*'))).toBe('cs: no match');
      expect(await errorOf(f.write('tcp!plan9!nosuch\n'))).toBe("cs: can't translate service");
      await f.close();
      expect(sent).toEqual(['!port=7 tcp=*', '!sys=plan9 ip=*', 'tcp!plan9!http', '!port=9 tcp=*', 'tcp!plan9!nosuch']);
    } finally {
      await upper.close();
      await over.close();
      await lower.close();
    }
  });
});

describe('a lower server without cs', () => {
  it('translates literal addresses and known services itself; names fail', async () => {
    const hn = hostNet({ eve: EVE });
    const lower = await startUpper(() => netRoot(EVE, () => [hn.tcpDir.node, hn.udpDir.node]));
    const over = await overNet({ eve: EVE, lower: `tcp!127.0.0.1!${lower.port}` });
    const upper = await startUpper(() => over.tree);
    try {
      const c = await upper.client();
      expect(await ask(c, 'tcp!127.0.0.1!80')).toEqual(['/net/tcp/clone 127.0.0.1!80']);
      expect(await ask(c, 'tcp!127.0.0.1!http')).toEqual(['/net/tcp/clone 127.0.0.1!80']);
      expect(await ask(c, 'tcp!*!8080')).toEqual(['/net/tcp/clone 8080']);
      const f = await c.open('/cs', ORDWR);
      expect(await errorOf(f.write('tcp!plan9.example!80'))).toBe("cs: can't translate address");
      // General queries and localhost from our own fs/ndb.
      expect(await ask(c, '!port=7 tcp=*\n')).toEqual(['tcp=echo port=7']);
      expect(await ask(c, 'tcp!localhost!80')).toEqual(['/net/tcp/clone 127.0.0.1!80', '/net/tcp/clone ::1!80']);
      expect(await errorOf(f.write('!port=40000 tcp=*'))).toBe('cs: no match');
      await f.close();
      // The transport itself still works.
      const ctl = await c.open('/tcp/clone', ORDWR);
      const n = (await ctl.read(64, undefined, 0n)).toString();
      await ctl.write(`connect 127.0.0.1!${echo.port}`);
      const data = await c.open(`/tcp/${n}/data`, ORDWR);
      await data.write('no cs');
      expect((await readFull(data, 5)).toString()).toBe('no cs');
      await data.close();
      await ctl.close();
    } finally {
      await upper.close();
      await over.close();
      await lower.close();
    }
  });
});
