/**
 * The client tools against our own stacks, no privileges needed: a
 * --topology server with stacks a (10.1.0.2) and b (10.1.0.1) on one
 * in-process hub, and c on it unconfigured. `-A` picks the stack for 9p,
 * dial and listen1 (an unknown name lists the names); ping goes through
 * /net/icmp, netstat and ipconfig read and write ipifc, csquery and con
 * use cs and tcp as Plan 9's do.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, collect, exited, finished, run, start, startServer, stderrLine, waitFor } from './harness.js';

let A = '';
let H = '';
const dir = mkdtempSync(join(tmpdir(), '9net-cli-'));

beforeAll(async () => {
  const topo = join(dir, 'topo.json');
  writeFileSync(topo, JSON.stringify({
    default: 'a',
    stacks: {
      a: { ifaces: [{ hub: 'lan', ip: '10.1.0.2/24' }] },
      b: { ifaces: [{ hub: 'lan', ip: '10.1.0.1/24' }] },
      c: { ifaces: [{ hub: 'lan' }] },
    },
    hubs: { lan: {} },
  }));
  A = (await startServer(['--topology', topo])).addr;
  H = (await startServer()).addr;
});

afterAll(async () => {
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** listen1 in stack b on PORT running argv; resolves once it has announced. */
async function listenInB(port: number, argv: string[]): Promise<void> {
  const l = start(['listen1', '-v', '-A', 'b', '-a', A, `tcp!*!${port}`, ...argv]);
  await stderrLine(l, /announced/);
}

describe('-A: a stack by its attach name', { timeout: 60_000 }, () => {
  it('9p, dial and listen1 reach the named stacks: a dials b through the hub', async () => {
    const ls = await run(['9p', '-A', 'b', '-a', A, 'ls', '/']);
    expect(ls.code).toBe(0);
    expect(ls.stdout.split('\n')).toContain('ether0');
    // The command echoes six bytes and exits: the call ends, and so does dial.
    await listenInB(7, ['head', '-c', '6']);
    const r = await run(['dial', '-A', 'a', '-a', A, 'tcp!10.1.0.1!7'], 'hello\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('hello\n');
  });

  it('an unknown attach name is refused with the names there are', async () => {
    for (const args of [['dial', '-A', 'nosuch', '-a', A, 'tcp!10.1.0.1!7'], ['9p', '-A', 'nosuch', '-a', A, 'ls', '/'], ['listen1', '-A', 'nosuch', '-a', A, 'tcp!*!9', 'true']]) {
      const r = await run(args);
      expect(r.code, args[0]).toBe(1);
      expect(r.stderr, args[0]).toMatch(/^9net( listen1)?: attach to tcp!127\.0\.0\.1!\d+ as \S+ \(aname nosuch\): unknown attach name nosuch: this server has the stacks a, b, c \('' is a\) and topo \(the control tree\)\n$/);
    }
    const host = await run(['9p', '-A', 'nosuch', '-a', H, 'ls', '/']);
    expect(host.stderr).toMatch(/unknown attach name nosuch: this server has one \/net, under '', \/, net\n$/);
  });
});

describe('9net ping', { timeout: 60_000 }, () => {
  it('prints ping.c\'s lines for each reply and exits 0', async () => {
    const r = await run(['ping', '-A', 'a', '-a', A, '-n', '3', '-i', '1', '10.1.0.1']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('sending 3 64 byte messages 1 ms apart to icmp!10.1.0.1!1');
    for (let i = 0; i < 3; i++) expect(lines[i + 1]).toMatch(new RegExp(`^${i}: rtt \\d+ µs, avg rtt \\d+ µs, ttl = 255$`));
    expect(lines.slice(4)).toEqual(['']);
  });

  it('messages nobody answers are lost, and the status says so', async () => {
    const r = await run(['ping', '-A', 'a', '-a', A, '-n', '2', '-i', '1', '-w', '100', '10.1.0.77']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('sending 2 64 byte messages 1 ms apart to icmp!10.1.0.77!1\nlost 0\nlost 1\n2 out of 2 messages lost\n');
  });

  it('the host-socket backend has no icmp, and ping says so', async () => {
    const r = await run(['ping', '-a', H, '127.0.0.1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^9net: ping: this \/net has no icmp: the host-socket backend has none/);
  });
});

describe('9net netstat, ipconfig', { timeout: 60_000 }, () => {
  it('netstat lists conversations in netstat.c\'s columns; -i the interfaces', async () => {
    await listenInB(9, ['cat']);
    const r = await run(['netstat', '-n', '-A', 'b', '-a', A]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toContainEqual(expect.stringMatching(/^tcp  \d+ {4}\S+ +Listen {7}9 {10}0 {10}::$/));
    const i = await run(['netstat', '-i', '-A', 'b', '-a', A]);
    expect(i.code).toBe(0);
    // The loopback interface (ipifc 0) first, as on Plan 9 after ipconfig loopback.
    expect(i.stdout).toMatch(/^\/dev\/null +16384 127\.0\.0\.1 +\/104 127\.0\.0\.0 +\d+ +\d+ +\d+ +\d+\n\/net\/ether0 {3}1514 10\.1\.0\.1 +\/120 10\.1\.0\.0 +\d+ +\d+ +\d+ +\d+\n$/);
  });

  it('ipconfig adds an address to an unconfigured stack, which then answers ping; remove and unbind undo it', async () => {
    const add = await run(['ipconfig', '-A', 'c', '-a', A, 'ether', '/net/ether0', 'add', '10.1.0.9', '255.255.255.0']);
    expect(add.code, add.stderr).toBe(0);
    expect((await run(['netstat', '-i', '-A', 'c', '-a', A])).stdout).toMatch(/^\/net\/ether0 {3}1514 10\.1\.0\.9 +\/120 10\.1\.0\.0 /m);
    const ping = await run(['ping', '-A', 'a', '-a', A, '-n', '1', '10.1.0.9']);
    expect(ping.code).toBe(0);
    const rm = await run(['ipconfig', '-A', 'c', '-a', A, 'remove', '10.1.0.9', '255.255.255.0']);
    expect(rm.code, rm.stderr).toBe(0);
    // Only the loopback interface has an address left.
    expect((await run(['netstat', '-i', '-A', 'c', '-a', A])).stdout).toMatch(/^\/dev\/null +16384 127\.0\.0\.1 [^\n]*\n$/);
    const unbind = await run(['ipconfig', '-A', 'c', '-a', A, 'unbind']);
    expect(unbind.code, unbind.stderr).toBe(0);
    expect((await run(['9p', '-A', 'c', '-a', A, 'read', '/ipifc/1/status'])).stdout).toMatch(/^device  maxtu/);
  });

  it('ipconfig with a device the stack lacks is an error', async () => {
    const bad = await run(['ipconfig', '-A', 'c', '-a', A, 'ether', '/net/ether9', 'add', '10.1.0.10']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^9net: ipconfig: \/net\/ipifc\/clone: bind ether \/net\/ether9: .+\n$/);
  });
});

describe('9net csquery, con', { timeout: 60_000 }, () => {
  it('csquery prints each answer; a failed query is on stderr and in the status', async () => {
    const r = await run(['csquery', '-A', 'a', '-a', A, '/net/cs', 'tcp!10.1.0.1!echo', 'tcp!10.1.0.1!nosuchservice']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('/net/tcp/clone 10.1.0.1!7\n');
    expect(r.stderr).toBe("translating tcp!10.1.0.1!nosuchservice: cs: can't translate service\n");
  });

  it('csquery reads queries from standard input after a "> " prompt', async () => {
    const r = await run(['csquery', '-A', 'a', '-a', A], 'tcp!10.1.0.1!80\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('> /net/tcp/clone 10.1.0.1!80\n> ');
  });

  it('con -l: a plain connection, typed bytes out and the peer\'s bytes printed', async () => {
    await listenInB(23, ['sh', '-c', 'echo greetings; cat']);
    const p = start(['con', '-l', '-A', 'a', '-a', A, 'tcp!10.1.0.1!23']);
    const out = collect(p);
    await stderrLine(p, /^connected to tcp!10\.1\.0\.1!23 on \/net\/tcp\/\d+\n/);
    await waitFor(p.stdout, /greetings\n/, p);
    p.stdin.write('typed\n');
    await waitFor(p.stdout, /typed\n/, p);
    p.stdin.end();
    expect(await exited(p)).toBe(0);
    expect(out.out()).toBe('greetings\ntyped\n');
  });

  it('con tries rlogin first (the BSD handshake), then a plain connection; errors as con.c reports them', async () => {
    // A login service that checks the handshake: NUL, local user, remote user, terminal, then accepts.
    await listenInB(513, ['python3', '-c', [
      'import os, sys',
      'b = b""',
      'while b.count(b"\\0") < 4:',
      '    c = os.read(0, 1)',
      '    if not c: sys.exit(1)',
      '    b += c',
      'f = b.split(b"\\0")',
      'os.write(1, b"\\0" + f"welcome {f[1].decode()} as {f[2].decode()} on {f[3].decode()}\\n".encode())',
      'os.read(0, 1)',
    ].join('\n')]);
    const p = start(['con', '-A', 'a', '-a', A, '-u', 'glenda', '10.1.0.1']);
    const res = finished(p);
    await waitFor(p.stdout, /welcome/, p);
    p.stdin.end();
    const r = await res;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^welcome glenda as glenda on \S+\n$/);
    expect(r.stderr).toBe('connected to tcp!10.1.0.1!login on /net/tcp/' + r.stderr.match(/\/net\/tcp\/(\d+)/)![1] + '\n');
    // No login service and no plain service: the first real error, as con.c keeps it.
    const none = await run(['con', '-A', 'b', '-a', A, '10.1.0.2']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^9net: con: connection refused\n$/);
  });
});
