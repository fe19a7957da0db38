/**
 * /net/cs as Plan 9's own programs use it, with the exact bytes each writes
 * and the way each reads and parses the answers, taken from their sources:
 * libndb/csgetval.c (csgetvalue), cmd/ip/netstat.c (getport and the remote
 * name), cmd/ip/ping.c (Plan 9's isv4name, 9front's dial of
 * `icmp!host!1`), cmd/ndb/csquery.c and libc/9sys/dial.c (csdial, call).
 * Against the host backend and our stack; localhost never reaches the
 * resolver.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackNet } from '../../src/backend/stack/backend.js';
import { RealClock } from '../../src/lib/clock.js';
import { SeededRng } from '../../src/lib/rng.js';
import { Hub } from '../../src/link/hub.js';
import { parseIp } from '../../src/netfs/ipaddr.js';
import type { Ip } from '../../src/netfs/ipaddr.js';
import { Client } from '../../src/ninep/client.js';
import { NinepError } from '../../src/ninep/error.js';
import { Server } from '../../src/ninep/server.js';
import { ORDWR } from '../../src/ninep/types.js';
import { loopbackBoth } from './cs-helpers.js';
import { TcpPeer, readFull, startNet } from './harness.js';
import type { NetFixture } from './harness.js';

/** Every name a resolver was asked for. */
const asked: string[] = [];

async function resolve(host: string): Promise<Ip[]> {
  asked.push(host);
  if (host === 'plan9.example') return [parseIp('192.0.2.7')!];
  throw new Error(`ENOTFOUND ${host}`);
}

let host: NetFixture;
let hostc: Client;
let stack: { net: StackNet; server: Server; c: Client };
let echo: TcpPeer;

beforeAll(async () => {
  host = await startNet({ resolve, interfaces: loopbackBoth });
  hostc = await host.client();
  const net = new StackNet({ eve: 'eve', clock: new RealClock(), rng: new SeededRng(3), resolve });
  net.configure(net.addEther(new Hub({ rng: new SeededRng(4) }).port()), `10.${process.pid % 250}.0.1`, 24);
  const server = new Server({ root: () => net.tree, log: () => {} });
  const l = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
  const c = await Client.dial(`tcp!127.0.0.1!${(l.address() as AddressInfo).port}`, { uname: 'eve' });
  stack = { net, server, c };
  echo = await TcpPeer.echo();
});

afterAll(async () => {
  stack.c.close();
  await stack.server.close();
  await stack.net.close();
  await host.close();
  await echo.close();
});

/** _ndbparseline: blank-separated attr=value tuples. */
function ndbparseline(line: string): { attr: string; val: string }[] {
  return line.split(/[ \t\n]+/).filter((f) => f !== '').map((f) => {
    const eq = f.indexOf('=');
    return eq < 0 ? { attr: f, val: '' } : { attr: f.slice(0, eq), val: f.slice(eq + 1) };
  });
}

/**
 * libndb/csgetval.c csgetvalue: open cs ORDWR, write `!attr=val rattr=*`
 * (a failed write → nil), seek 0, read 1022-byte records until 0, parse
 * each as a line; the value is the first rattr tuple's.
 */
async function csgetvalue(c: Client, attr: string, val: string, rattr: string): Promise<string | null> {
  const fd = await c.open('/cs', ORDWR);
  try {
    try {
      await fd.write(`!${attr}=${val} ${rattr}=*`);
    } catch {
      return null;
    }
    let rv: string | null = null;
    for (let off: bigint | undefined = 0n; ; off = undefined) {
      const line = await fd.read(1024 - 2, undefined, off);
      if (line.length <= 0) return rv;
      for (const t of ndbparseline(`${line.toString()}\n`)) if (rv === null && t.attr === rattr) rv = t.val;
    }
  } finally {
    await fd.close();
  }
}

/** netstat.c getport: the service name for a port (at most 9 bytes), else the number. */
async function getport(c: Client, net: string, p: string): Promise<string> {
  const name = await csgetvalue(c, 'port', p, net);
  return (name ?? p).slice(0, 9);
}

/** csquery.c query: write the address, seek 0, print each read (of `bufsize`-1 bytes) on a line. */
async function csquery(c: Client, addr: string, bufsize: number): Promise<string[]> {
  const fd = await c.open('/cs', ORDWR);
  const out: string[] = [];
  try {
    try {
      await fd.write(addr);
    } catch (e) {
      return [`translating ${addr}: ${(e as NinepError).ename}`];
    }
    for (let off: bigint | undefined = 0n; ; off = undefined) {
      const b = await fd.read(bufsize - 1, undefined, off);
      if (b.length <= 0) return out;
      out.push(b.toString());
    }
  } finally {
    await fd.close();
  }
}

/**
 * dial.c csdial: write `proto!rem`, seek 0, read records into a 64*80-byte
 * list (a newline added after each), then parse `clone dest` lines.
 */
async function csdial(c: Client, proto: string, rem: string): Promise<{ clone: string; dest: string }[]> {
  const fd = await c.open('/cs', ORDWR);
  let list = '';
  try {
    await fd.write(`${proto}!${rem}`);
    let bleft = 64 * 80 - 2;
    for (let off: bigint | undefined = 0n; bleft > 0; off = undefined) {
      let rec = (await fd.read(bleft, undefined, off)).toString();
      if (rec.length <= 0) break;
      if (!rec.endsWith('\n')) rec += '\n';
      list += rec;
      bleft -= rec.length;
    }
  } finally {
    await fd.close();
  }
  return list.split('\n').filter((l) => l !== '').map((l) => {
    const sp = l.indexOf(' ');
    if (sp < 0) throw new Error(`malformed clone cmd from cs \`${l}'`);
    return { clone: l.slice(0, sp), dest: l.slice(sp + 1) };
  });
}

/** dial.c call: the clone file under our netdir (root of the served tree), connect, open data. */
async function call(c: Client, clone: string, dest: string): Promise<{ data: Awaited<ReturnType<Client['open']>>; close(): Promise<void> }> {
  const cname = `/${clone.replace(/^\/[^/]*\//, '')}`;
  const cfd = await c.open(cname, ORDWR);
  const name = String(Number.parseInt((await cfd.read(255)).toString().trimStart(), 10));
  const dir = cname.slice(0, cname.lastIndexOf('/'));
  await cfd.write(`connect ${dest}`);
  const data = await c.open(`${dir}/${name}/data`, ORDWR);
  return { data, close: async () => { await data.close(); await cfd.close(); } };
}

describe('netstat (cmd/ip/netstat.c)', () => {
  it('gets service names for ports with !port=N net=*', async () => {
    expect(await getport(hostc, 'tcp', '7')).toBe('echo');
    expect(await getport(hostc, 'tcp', '564')).toBe('9fs');
    expect(await getport(hostc, 'tcp', '17019')).toBe('rcpu');
    expect(await getport(hostc, 'udp', '53')).toBe('domain');
    expect(await getport(stack.c, 'tcp', '22')).toBe('ssh');
    // Unknown ports stay numbers (the write fails: cs: no match).
    expect(await getport(hostc, 'tcp', '40000')).toBe('40000');
  });

  it('prints a conversation as netstat does: ports, and the remote name from !ip=A dom=*', async () => {
    const conv = await call(hostc, '/net/tcp/clone', `127.0.0.1!${echo.port}`);
    try {
      const dirs = (await hostc.ls('/tcp')).map((d) => d.name).filter((d) => /^\d+$/.test(d));
      const lines: string[] = [];
      for (const d of dirs) {
        const local = (await hostc.readFile(`/tcp/${d}/local`)).toString().slice(0, -1);
        const remote = (await hostc.readFile(`/tcp/${d}/remote`)).toString().slice(0, -1);
        const [, lport] = local.split('!') as [string, string];
        const [raddr, rport] = remote.split('!') as [string, string];
        if (rport !== String(echo.port)) continue;
        const dname = await csgetvalue(hostc, 'ip', raddr, 'dom');
        lines.push(`${await getport(hostc, 'tcp', lport)} ${await getport(hostc, 'tcp', rport)} ${dname ?? raddr}`);
      }
      expect(lines).toEqual([expect.stringMatching(new RegExp(`^\\d+ ${echo.port} localhost$`))]);
      // An address with no name in fs/ndb is printed as it is.
      expect(await csgetvalue(hostc, 'ip', '192.0.2.7', 'dom')).toBeNull();
    } finally {
      await conv.close();
    }
  });
});

describe('ip/ping localhost (cmd/ip/ping.c)', () => {
  /** Plan 9's isv4name: csgetvalue sys/dom ip/ipv6, then the answer's own syntax (recursively). */
  async function isv4name(c: Client, name: string, depth = 0): Promise<boolean> {
    if (depth > 4) throw new Error(`isv4name recursion on ${name}: ping would never finish`);
    const rem = name.includes('!') ? name.slice(name.indexOf('!') + 1) : name;
    if (/^[\d.]+$/.test(rem) && rem.includes('.')) return true;
    if (/^[\da-fA-F:]+$/.test(rem) && rem.includes(':')) return false;
    const ip = await csgetvalue(c, 'sys', rem, 'ip') ?? await csgetvalue(c, 'dom', rem, 'ip')
      ?? await csgetvalue(c, 'sys', rem, 'ipv6') ?? await csgetvalue(c, 'dom', rem, 'ipv6');
    return ip === null ? true : isv4name(c, ip, depth + 1);
  }

  /** netmkaddr(addr, defnet, defsvc) for an addr without `!`. */
  const netmkaddr = (addr: string, net: string, svc: string): string => (addr.includes('!') ? addr : `${net}!${addr}!${svc}`);

  it('finds an IPv4 address for localhost and dials icmp!localhost!1 on our stack', async () => {
    asked.length = 0;
    expect(await csgetvalue(stack.c, 'sys', 'localhost', 'ip')).toBe('127.0.0.1');
    expect(await isv4name(stack.c, 'localhost')).toBe(true);
    const ds = netmkaddr('localhost', 'icmp', '1');
    expect(ds).toBe('icmp!localhost!1');
    const [proto, rem] = [ds.slice(0, ds.indexOf('!')), ds.slice(ds.indexOf('!') + 1)];
    expect(await csdial(stack.c, proto, rem)).toEqual([{ clone: '/net/icmp/clone', dest: '127.0.0.1!1' }]);
    // 9front's ping dials the same string; its fallback icmpv6 has no network here.
    expect(await csquery(stack.c, 'icmpv6!localhost!1', 8193)).toEqual(["translating icmpv6!localhost!1: cs: can't translate address"]);
    expect(asked).toEqual([]);
  });

  it('terminates for a name cs does not know (no answer of `*` to recurse on)', async () => {
    expect(await csgetvalue(hostc, 'sys', '*', 'ip')).toBeNull();
    expect(await isv4name(hostc, 'nosuchhost')).toBe(true);
    expect(await csquery(hostc, 'icmp!nosuchhost!1', 8193)).toEqual(["translating icmp!nosuchhost!1: cs: can't translate address"]);
  });
});

describe('ndb/csquery (cmd/ndb/csquery.c)', () => {
  it('prints one answer per read for dial strings and general queries', async () => {
    asked.length = 0;
    expect(await csquery(hostc, 'tcp!localhost!9fs', 128)).toEqual(['/net/tcp/clone 127.0.0.1!564', '/net/tcp/clone ::1!564']);
    expect(await csquery(hostc, '!sys=localhost ip=*', 8193)).toEqual(['ip=127.0.0.1 sys=localhost dom=localhost', 'ip=::1']);
    expect(await csquery(hostc, '!port=23 tcp=*', 128)).toEqual(['tcp=telnet port=23']);
    expect(await csquery(hostc, '!port=23 foo', 128)).toEqual(['translating !port=23 foo: cs: bad query']);
    expect(asked).toEqual([]);
    expect(await csquery(hostc, 'tcp!plan9.example!http', 128)).toEqual(['/net/tcp/clone 192.0.2.7!80']);
  });

  it('reads an answer longer than its 127-byte buffer in two reads, as from Plan 9 cs', async () => {
    const name = `${'x'.repeat(107)}.example`;
    const long = `!dom=${name} ip=*`;
    expect(long.length).toBe(125);
    const named = async (h: string): Promise<Ip[]> => (h === name ? [parseIp('192.0.2.9')!] : resolve(h));
    const fx = await startNet({ resolve: named, interfaces: loopbackBoth });
    try {
      const c = await fx.client();
      const answer = `dom=${name} ip=192.0.2.9`;
      expect(await csquery(c, long, 128)).toEqual([answer.slice(0, 127), answer.slice(127)]);
      expect(await csquery(c, long, 8193)).toEqual([answer]);
    } finally {
      await fx.close();
    }
  });
});

describe('dial(2) (libc/9sys/dial.c)', () => {
  it('dials tcp!localhost!port: cs answers, then clone, connect and data', async () => {
    asked.length = 0;
    const answers = await csdial(hostc, 'tcp', `localhost!${echo.port}`);
    expect(answers).toEqual([
      { clone: '/net/tcp/clone', dest: `127.0.0.1!${echo.port}` },
      { clone: '/net/tcp/clone', dest: `::1!${echo.port}` },
    ]);
    const conv = await call(hostc, answers[0]!.clone, answers[0]!.dest);
    try {
      await conv.data.write('dialled localhost');
      expect((await readFull(conv.data, 17)).toString()).toBe('dialled localhost');
    } finally {
      await conv.close();
    }
    expect(asked).toEqual([]);
  });

  it('fails with cs\'s error for what cs cannot translate', async () => {
    await expect(csdial(hostc, 'tcp', 'localhost!nosuchsvc')).rejects.toThrow("cs: can't translate service");
    await expect(csdial(stack.c, 'net', 'localhost')).rejects.toThrow("cs: can't translate service");
  });
});
