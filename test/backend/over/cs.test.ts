/**
 * /net/cs carried by the lower server's cs: answers and errors as the lower
 * gives them, one per read, clone paths under our /net; a dial done the
 * way dial(2) does it; and the fallback when the lower server has no cs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostNet } from '../../../src/backend/host/backend.js';
import type { HostInterfaces } from '../../../src/backend/host/interfaces.js';
import { parseIp, parseMask } from '../../../src/netfs/ipaddr.js';
import type { Ip } from '../../../src/netfs/ipaddr.js';
import { netRoot } from '../../../src/netfs/net.js';
import { overNet } from '../../../src/backend/over/backend.js';
import type { Client } from '../../../src/ninep/client.js';
import { ORDWR } from '../../../src/ninep/types.js';
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

const both: HostInterfaces = {
  list: () => [{
    name: 'lo',
    mtu: 65536,
    addrs: [
      { ip: parseIp('127.0.0.1')!, mask: parseMask('/8')! },
      { ip: parseIp('::1')!, mask: parseMask('/128', false)! },
    ],
  }],
  isLocal: (ip) => ip[12] === 127 || ip[15] === 1,
};

let fx: OverFixture;
let echo: TcpPeer;

beforeAll(async () => {
  fx = await startOver({ resolve, interfaces: both });
  echo = await TcpPeer.echo();
});

afterAll(async () => {
  await fx.close();
  await echo.close();
});

async function ask(c: Client, query: string): Promise<string[]> {
  const f = await c.open('/cs', ORDWR);
  try {
    await f.write(query);
    const out: string[] = [];
    for (;;) {
      const b = await f.read(512, undefined, 0n);
      if (b.length === 0) return out;
      out.push(b.toString());
    }
  } finally {
    await f.close();
  }
}

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
    expect(await errorOf(f.write('tcp!127.0.0.1!nosuchsvc'))).toBe("can't translate service");
    expect(await errorOf(f.write('tcp!no.such.name.example!80'))).toBe("can't translate address");
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
      expect(await errorOf(f.write('tcp!plan9.example!80'))).toBe("can't translate address");
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
