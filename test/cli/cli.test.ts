/**
 * The 9net command end to end (needs dist/, built by `tsc -p .` before the
 * tests): `9net serve` on a loopback port chosen by the OS, then the
 * plan9port-style `9p` subcommands, `dial` and `listen1` against it, their
 * --help, and one-line errors with a non-zero exit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, connectTo, freePort, localServer, run, start, startServer, stderrLine } from './harness.js';

/** Connect to 127.0.0.1:port, send `send`, and collect what arrives until the server ends. */
function converse(port: number, send: string, endAfterSend = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connectTo(port);
    let got = '';
    s.on('data', (b: Buffer) => { got += b.toString(); });
    s.once('connect', () => {
      if (send) s.write(send);
      if (endAfterSend) s.end();
    });
    s.once('end', () => resolve(got));
    s.once('error', reject);
  });
}

let A = '';

beforeAll(async () => {
  A = (await startServer()).addr;
});

afterAll(cleanup);

describe('9net 9p', () => {
  it('ls lists the root', async () => {
    const r = await run(['9p', '-a', A, 'ls', '/']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l)).toEqual(['tcp', 'udp', 'ipifc', 'cs', 'dns']);
  });

  it('ls -l prints plan9port\'s long format', async () => {
    const r = await run(['9p', '-a', A, 'ls', '-l', '/tcp']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^--rw-rw-rw- M 0 network \S+ 0 \w{3} [ \d]\d [ \d]\d:\d\d clone$|^--rw-rw-rw- M 0 network \S+ 0 \w{3} [ \d]\d +\d{4} clone$/);
    expect(lines[1]).toMatch(/^--r--r--r-- M 0 network \S+ 0 .* stats$/);
  });

  it('stat prints plan9port\'s %D', async () => {
    const file = await run(['9p', '-a', A, 'stat', '/tcp/clone']);
    expect(file.code).toBe(0);
    expect(file.stdout).toMatch(/^'clone' 'network' '\S+' 'network' q \(0000000000020009 0 \) m 0666 at \d+ mt \d+ l 0 t 0 d 0\n$/);
    const dir = await run(['9p', '-a', A, 'stat', '/tcp']);
    expect(dir.stdout).toMatch(/^'tcp' 'network' '\S+' 'network' q \(0000000000020008 0 d\) m 020000000555 at \d+ mt \d+ l 0 t 0 d 0\n$/);
  });

  it('read prints a file; reading cs without a query prints nothing', async () => {
    const stats = await run(['9p', '-a', A, 'read', '/tcp/stats']);
    expect(stats.code).toBe(0);
    expect(stats.stdout).toMatch(/^MaxConn: \d+\n/);
    const cs = await run(['9p', '-a', A, 'read', '/cs']);
    expect(cs.code).toBe(0);
    expect(cs.stdout).toBe('');
  });

  it('write sends standard input as one ctl message', async () => {
    let connected!: () => void;
    const got = new Promise<void>((r) => { connected = r; });
    const port = await localServer(() => connected());
    const ok = await run(['9p', '-a', A, 'write', '/tcp/clone'], `connect 127.0.0.1!${port}\n`);
    expect(ok.code).toBe(0);
    await got;
    const bad = await run(['9p', '-a', A, 'write', '/tcp/clone'], 'bogus\n');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('unknown control request');
  });

  it('rdwr on /tcp/clone prints the conversation, writes each line, and goes on after an error', async () => {
    const port = await localServer((s) => s.pipe(s));
    const r = await run(['9p', '-a', A, 'rdwr', '/tcp/clone'], `bogus\nconnect 127.0.0.1!${port}\n`);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^\d+$/);
    expect(lines.slice(0, 3)).toEqual([lines[0], lines[0], lines[0]]);
    expect(r.stderr).toBe('write: unknown control request\n');
  });

  it('a missing file is a one-line error', async () => {
    const r = await run(['9p', '-a', A, 'ls', '/nonexistent']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe('9net: file does not exist\n');
  });
});

describe('9net dial', () => {
  it('copies the connection to standard output until EOF', async () => {
    const port = await localServer((s) => s.end('hello from the server\n'));
    const r = await run(['dial', '-a', A, `tcp!127.0.0.1!${port}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('hello from the server\n');
  });

  it('copies standard input to the connection', async () => {
    let received!: (s: string) => void;
    const got = new Promise<string>((r) => { received = r; });
    const port = await localServer((s) => {
      let buf = '';
      s.on('data', (b: Buffer) => {
        buf += b.toString();
        if (buf.endsWith('\n')) {
          received(buf);
          s.end('bye\n');
        }
      });
    });
    const r = await run(['dial', '-a', A, `tcp!127.0.0.1!${port}`], 'to the server\n');
    expect(await got).toBe('to the server\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('bye\n');
  });

  it('a refused connection is one line on stderr and a non-zero exit', async () => {
    const port = await freePort();
    const r = await run(['dial', '-a', A, `tcp!127.0.0.1!${port}`]);
    expect(r.code).not.toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('connection refused');
  });
});

describe('9net listen1', () => {
  it('runs the command for each call with its output on the call', async () => {
    const port = await freePort();
    const l = start(['listen1', '-v', '-a', A, `tcp!127.0.0.1!${port}`, 'sh', '-c', 'echo hi']);
    await stderrLine(l, /announced/);
    // The command exits: the call ends even though the client keeps its side open.
    expect(await converse(port, '')).toBe('hi\n');
    expect(await converse(port, '')).toBe('hi\n');
  });

  it('connects the call to the command\'s standard input', async () => {
    const port = await freePort();
    const l = start(['listen1', '-v', '-a', A, `tcp!127.0.0.1!${port}`, '/bin/cat']);
    await stderrLine(l, /announced/);
    expect(await converse(port, 'echo through cat\n', true)).toBe('echo through cat\n');
  });
});

describe('usage', () => {
  const subcommands = [
    ['--help'], ['serve', '--help'], ['9p', '--help'], ['9p', 'ls', '--help'], ['9p', 'read', '--help'],
    ['9p', 'write', '--help'], ['9p', 'rdwr', '--help'], ['9p', 'stat', '--help'], ['dial', '--help'], ['listen1', '--help'],
  ];
  for (const args of subcommands) {
    it(`${args.join(' ')} exits 0`, async () => {
      const r = await run(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: /);
    });
  }

  it('a bad 9P address is a one-line error with a non-zero exit', async () => {
    for (const args of [['9p', '-a', 'bogus', 'ls', '/'], ['dial', '-a', 'tcp!127.0.0.1!notaport', 'tcp!127.0.0.1!1'], ['serve', '-l', 'bogus']]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      const lines = r.stderr.split('\n').filter((x) => x);
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0]).toMatch(/^9net: .*(bad address|bad port)/);
    }
  });

  it('serve on an address other machines reach needs --allow-remote, and then says what that means', async () => {
    const r = await run(['serve', '-l', 'tcp!0.0.0.0!0']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^9net: listening on tcp!0\.0\.0\.0!0 reaches other machines.*--allow-remote to accept them\n$/);
    const p = start(['serve', '-l', 'tcp!0.0.0.0!0', '--allow-remote']);
    await stderrLine(p, /not authenticated and may attach as any user[\s\S]*serving \/net/);
    p.kill();
  });

  it('stack options without our stack are a one-line error', async () => {
    const r = await run(['serve', '--dns', '10.0.0.53']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe('9net: --ip, --gw, --mtu and --dns need --tap, --pcap or --ether-over\n');
  });

  it('a bad dial string is a one-line error', async () => {
    const r = await run(['dial', '-a', A, 'tcp!127.0.0.1!nosuchsvc']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe("9net: dial tcp!127.0.0.1!nosuchsvc: cs: can't translate service\n");
  });
});
