/**
 * The Linux kernel's own 9P client (v9fs, in a QEMU guest through
 * ../shared/clients/v9fs-run.sh) against our /net on host sockets, in both
 * 9P2000 and 9P2000.u: listing /net, dialing by file operations from sh,
 * `echo ... > ctl`, a refused connect reported as such, cs, a stream read
 * with O_NONBLOCK (one Tread), and a blocked read interrupted by a signal
 * (Linux sends Tflush and waits for Rflush).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostNet } from '../../src/backend/host/backend.js';
import { Server } from '../../src/ninep/server.js';
import { netGate } from '../helpers/net-gate.js';
import { closedTcpPort } from '../netfs/harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const runner = resolve(here, '../../../shared/clients/v9fs-run.sh');
const gate = netGate({ commands: ['qemu-system-x86_64', 'cpio', 'gcc'], files: [runner, '/usr/bin/busybox'] }, 'v9fs interop');
gate.failIfRequired();

describe.skipIf(gate.skip)('Linux v9fs against /net on host sockets', () => {
  let server: Server;
  let port = 0;
  const hosts: net.Server[] = [];
  let greetPort = 0;
  let silentPort = 0;
  let refusedPort = 0;
  let work = '';
  let nbread = '';

  function hostServer(onConn: (s: net.Socket) => void): Promise<number> {
    return new Promise((res) => {
      const s = net.createServer(onConn);
      s.on('error', () => {});
      s.listen(0, '127.0.0.1', () => res((s.address() as AddressInfo).port));
      hosts.push(s);
    });
  }

  beforeAll(async () => {
    const n = hostNet({ eve: 'nobody-is-eve' });
    server = new Server({ root: () => n.tree, log: () => {} });
    port = ((await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 })).address() as AddressInfo).port;
    // Greets, upper-cases one line back, closes.
    greetPort = await hostServer((c) => {
      c.on('error', () => {});
      c.write('hello from host\n');
      c.on('data', (d) => c.end(d.toString().toUpperCase()));
    });
    // Says nothing and keeps the connection open.
    silentPort = await hostServer((c) => c.on('error', () => {}));
    // Bound, then released: nothing listens there.
    refusedPort = await closedTcpPort();
    work = mkdtempSync(join(tmpdir(), '9net-v9fs-'));
    execFileSync('gcc', ['-static', '-nostdlib', '-Os', '-fno-stack-protector', '-fno-asynchronous-unwind-tables',
      '-Wl,--build-id=none', '-s', '-o', join(work, 'nbread'), join(here, 'nbread.c')]);
    nbread = readFileSync(join(work, 'nbread')).toString('base64');
  });

  afterAll(async () => {
    await server?.close();
    for (const h of hosts) h.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function script(): string {
    return `
M=$V9_MNT
echo "== ls"; ls $M
exec 3<>$M/tcp/clone
read -r N <&3
echo "conv=$N"
echo "connect 127.0.0.1!${greetPort}" >&3 && echo "connect ok"
echo "status=$(cut -d' ' -f1 $M/tcp/$N/status)"
echo "remote=$(cat $M/tcp/$N/remote)"
echo keepalive > $M/tcp/$N/ctl && echo "ctl redirect ok"
echo ping > $M/tcp/$N/data && echo "data write ok"
timeout 10 cat $M/tcp/$N/data; echo "cat rc=$?"
exec 3<&-
exec 4<>$M/tcp/clone
read -r N2 <&4
echo "connect 127.0.0.1!${refusedPort}" >&4; echo "refused rc=$?"
exec 4<&-
exec 5<>$M/cs
echo -n 'tcp!127.0.0.1!http' >&5
echo "cs=$(dd bs=200 count=1 <&5 2>/dev/null)"
exec 5<&-
echo "${nbread}" | base64 -d > /nbread; chmod +x /nbread
exec 6<>$M/tcp/clone
read -r N3 <&6
echo "connect 127.0.0.1!${greetPort}" >&6
echo "nb=[$(timeout 10 /nbread $M/tcp/$N3/data 4096)] rc=$?"
exec 6<&-
exec 7<>$M/tcp/clone
read -r N4 <&7
echo "connect 127.0.0.1!${silentPort}" >&7
timeout -s KILL 2 cat $M/tcp/$N4/data; echo "interrupted rc=$?"
echo "status after flush=$(cut -d' ' -f1 $M/tcp/$N4/status)"
exec 7<&-
echo "mounted as $(grep -o 'version=[^, ]*' /proc/mounts | head -1)"
echo "== done"
`;
  }

  function run(version: string): Promise<{ out: string; code: number }> {
    const file = join(work, `script-${version}.sh`);
    writeFileSync(file, script());
    return new Promise((res) => {
      const p = spawn('bash', [runner, String(port), file], { env: { ...process.env, V9FS_VERSION: version, V9FS_TIMEOUT: '120' } });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (out += d));
      p.on('close', (code) => res({ out, code: code ?? -1 }));
    });
  }

  // Linux's default 9p2000.L is answered with 9P2000.u, which Linux accepts.
  it.each([['9p2000'], ['9p2000.u'], ['9p2000.L']])('version %s', async (version) => {
    const { out, code } = await run(version);
    expect(code, out).toBe(0);
    expect(out).toMatch(/== ls\ncs\s+dns\s+ipifc\s+tcp\s+udp\n/);
    expect(out).toMatch(/conv=\d+\nconnect ok\nstatus=Established\n/);
    expect(out).toContain(`remote=127.0.0.1!${greetPort}`);
    expect(out).toContain('ctl redirect ok\ndata write ok\nhello from host\nPING\ncat rc=0');
    expect(out).toContain('refused rc=1');
    // Plain 9P2000 has no errno: Linux maps only its own strings (Unknown error 526).
    expect(out).toContain(version === '9p2000' ? 'write error: Unknown error 526' : 'write error: Connection refused');
    // Legacy mounts show no version= in /proc/mounts; .u and .L requests end up as 9p2000.u.
    if (version === '9p2000') expect(out).not.toContain('mounted as version=9p2000.u');
    else expect(out).toContain('mounted as version=9p2000.u');
    expect(out).toContain('cs=/net/tcp/clone 127.0.0.1!80');
    // O_NONBLOCK: one Tread, so the greeting comes back at once (a plain
    // read would keep asking until 4096 bytes or EOF).
    expect(out).toContain('nb=[hello from host] rc=0');
    // SIGKILL during a blocked read: Linux sends Tflush, we answer Rflush, the mount stays usable.
    expect(out).toContain('interrupted rc=137');
    expect(out).toContain('status after flush=Established');
    expect(out).toContain('== done');
  }, 180_000);
});
