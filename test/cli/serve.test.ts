/**
 * `9net serve` as its operator sees it (the attach and detach of each
 * client, --trace with ctl writes as text, errors without Node's codes)
 * and the command's usage: --version, usage errors, help without noise.
 */
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, localServer, run, startServer } from './harness.js';

afterAll(cleanup);

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('9net serve', { timeout: 60_000 }, () => {
  it('logs each client\'s attach and detach with its user and address', async () => {
    const s = await startServer();
    const r = await run(['9p', '-u', 'glenda', '-a', s.addr, 'ls', '/']);
    expect(r.code).toBe(0);
    const attach = await s.logged(/9net: (127\.0\.0\.1!\d+)( uid \d+)?: attach as glenda\n/);
    await s.logged(new RegExp(`9net: ${attach[1]}${attach[2] ?? ''}: detach glenda\\n`));
  });

  it('--trace shows every message and the text of ctl writes', async () => {
    const s = await startServer(['--trace']);
    let connected!: () => void;
    const got = new Promise<void>((r) => { connected = r; });
    const port = await localServer(() => connected());
    const r = await run(['9p', '-a', s.addr, 'write', '/tcp/clone'], `connect 127.0.0.1!${port}\n`);
    expect(r.code).toBe(0);
    await got;
    await s.logged(new RegExp(`<- Twrite tag=\\d+ fid=\\d+ text "connect 127\\.0\\.0\\.1!${port}\\\\n"`));
    expect(s.log()).toMatch(/<- Tattach tag=\d+ fid=0 /);
  });

  it('an address in use, a missing file: the system\'s words, not Node\'s codes', async () => {
    const busy = net.createServer();
    await new Promise<void>((res) => busy.listen(0, '127.0.0.1', () => res()));
    const port = (busy.address() as net.AddressInfo).port;
    const inUse = await run(['serve', '-l', `tcp!127.0.0.1!${port}`]);
    busy.close();
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toBe(`9net: listen tcp!127.0.0.1!${port}: address already in use\n`);
    const topo = await run(['serve', '--topology', '/nonexistent/topo.json']);
    expect(topo.stderr).toBe('9net: --topology /nonexistent/topo.json: no such file or directory\n');
    const users = await run(['serve', '--users', '/nonexistent/users']);
    expect(users.stderr).toBe('9net: --users /nonexistent/users: no such file or directory\n');
    for (const r of [inUse, topo, users]) expect(r.stderr).not.toMatch(/\bE[A-Z]{3,}\b/);
  });

  it('--mtu abc is a usage error', async () => {
    const r = await run(['serve', '--tap', 'tap9', '--mtu', 'abc']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: option '--mtu <n>' argument 'abc' is invalid. want an integer from 68 to 65535.\n(9net --help for usage)\n");
  });
});

describe('usage', { timeout: 60_000 }, () => {
  it('--version prints the package version', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await run([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });

  const commands = ['serve', '9p', 'dial', 'listen1', 'con', 'csquery', 'netstat', 'ping', 'ipconfig'];
  it('every subcommand\'s --help exits 0 and shows no empty defaults', async () => {
    const top = await run(['--help']);
    for (const c of commands) expect(top.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    for (const c of commands) {
      const r = await run([c, '--help']);
      expect(r.code, c).toBe(0);
      expect(r.stdout, c).toMatch(/^Usage: 9net /);
      expect(r.stdout, c).not.toMatch(/\(default: (\[\]|"")\)/);
    }
  });
});
