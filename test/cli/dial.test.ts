/**
 * `9net dial` on the host-socket backend: data both ways through the 9P
 * windows, the end of input (half-close; -e with replies in flight), exit
 * status (a closed standard output, a lost 9P server, UDP's port
 * unreachable), and errors that say what was dialled.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIN, cleanup, closedUdpPort, collect, exited, finished, freePort, localServer, run, sh, start, startServer, stderrLine, waitFor } from './harness.js';

let A = '';

beforeAll(async () => {
  A = (await startServer()).addr;
});

afterAll(cleanup);

describe('9net dial', { timeout: 60_000 }, () => {
  it('copies 8 MiB both ways intact, with a small msize and window as with the defaults', async () => {
    const data = randomBytes(8 << 20);
    // An echo server that closes once it has echoed everything.
    const port = await localServer((s) => {
      let n = 0;
      s.on('data', (b: Buffer) => {
        n += b.length;
        s.write(b);
        if (n === data.length) s.end();
      });
    });
    for (const extra of [[], ['-m', '4120', '-w', '2']]) {
      const p = start(['dial', ...extra, '-a', A, `tcp!127.0.0.1!${port}`]);
      const chunks: Buffer[] = [];
      p.stdout.on('data', (b: Buffer) => chunks.push(b));
      const code = exited(p);
      p.stdin.end(data);
      expect(await code, extra.join(' ')).toBe(0);
      expect(Buffer.concat(chunks).equals(data), extra.join(' ')).toBe(true);
    }
  });

  it('at the end of input half-closes the TCP conversation and prints what the peer sends after it', async () => {
    // A sink that answers only once it has seen our FIN.
    const port = await localServer((s) => {
      let n = 0;
      s.on('data', (b: Buffer) => { n += b.length; });
      s.on('end', () => s.end(`got ${n} bytes\n`));
    });
    const p = start(['dial', '-a', A, `tcp!127.0.0.1!${port}`]);
    const out = collect(p);
    const done = exited(p);
    p.stdin.end('twelve bytes');
    // A server without hangupxmit says so at once: fail then rather than wait for a FIN that never comes.
    const refused = stderrLine(p, /cannot half-close.*/).then((m) => { throw new Error(m[0]); });
    await Promise.race([done, refused]);
    expect(await done).toBe(0);
    expect(out.out()).toBe('got 12 bytes\n');
    expect(out.err()).toBe('');
  });

  it('-e exits at the end of input, after writing the replies already in flight', async () => {
    const traced = await startServer(['--trace']);
    let answer!: () => void;
    const answered = new Promise<void>((r) => { answer = r; });
    // The peer answers a question and keeps the connection open.
    const port = await localServer((s) => {
      s.on('data', () => s.write('answer\n', () => answer()));
    });
    const p = start(['dial', '-e', '-a', traced.addr, `tcp!127.0.0.1!${port}`]);
    const res = finished(p);
    p.stdin.write('question\n');
    await answered;
    // The server has sent the Rread carrying the answer (7 bytes) to dial: it is in flight.
    await traced.logged(/-> Rread tag=\d+ data\[7\]/);
    p.stdin.end();
    const r = await res;
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('answer\n');
  });

  it('a standard output closed by its reader ends dial quietly with status 0 (dial | head -3)', async () => {
    const port = await localServer((s) => {
      const line = Buffer.from('a line of output from the peer\n'.repeat(4096));
      const more = (): void => { while (s.write(line)); };
      s.on('drain', more);
      more();
    });
    const r = await sh(`{ '${process.execPath}' '${MAIN}' dial -a '${A}' 'tcp!127.0.0.1!${port}' < /dev/null; echo "status $?" >&2; } | head -3`);
    expect(r.stdout).toBe('a line of output from the peer\n'.repeat(3));
    // On a server without hangupxmit dial also says it cannot half-close; nothing else.
    expect(r.stderr.split('\n').filter((l) => l && !/cannot half-close/.test(l))).toEqual(['status 0']);
  });

  it('a lost 9P connection is an error and a non-zero status', async () => {
    const doomed = await startServer();
    let accepted!: () => void;
    const connected = new Promise<void>((r) => { accepted = r; });
    const port = await localServer(() => accepted());
    const p = start(['dial', '-a', doomed.addr, `tcp!127.0.0.1!${port}`]);
    const res = finished(p);
    await connected;
    doomed.proc.kill('SIGKILL');
    const r = await res;
    expect(r.code).toBe(1);
    // A FIN, or a reset when the dying server left data unread.
    expect(r.stderr).toMatch(new RegExp(`^9net: lost the 9P connection to ${doomed.addr}: (connection closed|connection reset by peer)\n$`));
  });

  it('UDP: datagrams that meet port unreachable are reported with a non-zero status', async () => {
    const port = await closedUdpPort();
    const r = await run(['dial', '-a', A, `udp!127.0.0.1!${port}`], 'anyone there?\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`9net: udp!127.0.0.1!${port}: port unreachable\n`);
  });
});

describe('dial errors say what was dialled', { timeout: 60_000 }, () => {
  it('connection refused names the dial string', async () => {
    const port = await freePort();
    const r = await run(['dial', '-a', A, `tcp!127.0.0.1!${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`9net: dial tcp!127.0.0.1!${port}: connection refused\n`);
  });

  it('a name cs translates is reported with the addresses tried', async () => {
    const port = await freePort();
    const r = await run(['dial', '-a', A, `tcp!localhost!${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^9net: dial tcp!localhost!${port}: connection refused \\(tried [^)]*!${port}\\)\\n$`));
  });

  it('host:port is a bad dial string that gets the right spelling', async () => {
    const r = await run(['dial', '-a', A, '127.0.0.1:17007']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('9net: bad dial string 127.0.0.1:17007: use tcp!host!port (here tcp!127.0.0.1!17007)\n');
  });

  it('a 9P server that cannot be reached says so, without Node error codes', async () => {
    const port = await freePort();
    const r = await run(['dial', '-a', `tcp!127.0.0.1!${port}`, 'tcp!127.0.0.1!1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`9net: 9P server: dial tcp!127.0.0.1!${port}: connection refused\n`);
  });

  it('a bad -m or -w is a usage error', async () => {
    for (const args of [['-m', 'abc'], ['-m', '10'], ['-w', '0'], ['-w', '1000']]) {
      const r = await run(['dial', ...args, '-a', A, 'tcp!127.0.0.1!1']);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(/^error: option '-[mw], --\w+ <\w+>' argument '\w+' is invalid\. want an integer from \d+ to \d+\./);
    }
  });
});
