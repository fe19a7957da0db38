/**
 * Our stack configuring itself from real servers: dnsmasq as DHCP and DNS
 * server on the kernel side of a TAP, in a network namespace the test
 * creates (10.x addresses that exist only there; dnsmasq binds only to the
 * namespace's end of the TAP, reads no resolv.conf or hosts file and has
 * no upstream servers, so nothing leaves). Through 9P only: ipifc ctl
 * `dhcp`, the lease with router, DNS, domain and MTU applied and shown in
 * /net/ndb, renewal at T1, /net/dns answering the A, AAAA, PTR, MX, CNAME
 * and TXT records dnsmasq serves and NXDOMAIN in ndb/dns's words, cs
 * resolving a dnsmasq name and a dial by that name, a name only the host's
 * resolver knows not resolved by the stack, and `dhcp release`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackNet } from '../../src/backend/stack/backend.js';
import { RealClock } from '../../src/lib/clock.js';
import { CryptoRng } from '../../src/lib/rng.js';
import { tapAddonUnavailable } from '../../src/link/native.js';
import { TapLink } from '../../src/link/tap.js';
import { Client } from '../../src/ninep/client.js';
import { Server } from '../../src/ninep/server.js';
import { ORDWR } from '../../src/ninep/types.js';
import { errorOf, waitFor } from '../netfs/harness.js';
import { queryFile } from '../helpers/query.js';
import { collectLines, sh } from '../helpers/netns.js';
import { netGate } from '../helpers/net-gate.js';

const gate = netGate({ root: true, tun: true, commands: ['ip', 'dnsmasq', 'python3'] }, 'DHCP and DNS against dnsmasq');
gate.failIfRequired();
const addonMissing = tapAddonUnavailable();

const id = randomBytes(3).toString('hex');
const TAP = `9nd${id}`;
const NS = `9nd${id}`;
const octet = 16 + (parseInt(id.slice(0, 2), 16) % 200);
const NET = `10.${octet}.8`;
const KERNEL = `${NET}.1`;
const DOMAIN = 'ninenet.test';
const SYS = 'ninestack';

describe.skipIf(gate.skip)('our stack against dnsmasq over a TAP', () => {
  let net: StackNet;
  let server: Server;
  let c: Client;
  let dnsmasq: ChildProcess | null = null;
  const children: ChildProcess[] = [];
  const dnsmasqLog: string[] = [];
  const ourLog: string[] = [];
  let dir: string;
  let ifc: string;

  beforeAll(async () => {
    if (addonMissing) throw new Error(addonMissing);
    dir = mkdtempSync(join(tmpdir(), '9net-dnsmasq-'));
    net = new StackNet({ eve: 'eve', clock: new RealClock(), rng: new CryptoRng(), sysname: SYS, ndbFiles: [], log: (l) => ourLog.push(l) });
    const link = TapLink.open({ name: TAP, mode: 'create' });
    net.addEther(link);
    sh('ip', ['netns', 'add', NS]);
    sh('ip', ['link', 'set', TAP, 'netns', NS]);
    sh('ip', ['-n', NS, 'addr', 'add', `${KERNEL}/24`, 'dev', TAP]);
    sh('ip', ['-n', NS, 'link', 'set', TAP, 'up']);
    sh('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    dnsmasq = spawn('ip', ['netns', 'exec', NS, 'dnsmasq',
      '--keep-in-foreground', '--log-facility=-', '--log-dhcp', '--log-queries',
      '--conf-file=/dev/null', `--interface=${TAP}`, '--bind-interfaces', '--except-interface=lo',
      '--no-resolv', '--no-hosts', '--no-poll', '--user=root', '--group=root',
      `--pid-file=${join(dir, 'pid')}`, `--dhcp-leasefile=${join(dir, 'leases')}`,
      `--dhcp-range=${NET}.50,${NET}.60,255.255.255.0,2m`,
      `--dhcp-option=option:router,${KERNEL}`, `--dhcp-option=option:dns-server,${KERNEL}`,
      '--dhcp-option=option:mtu,1400', '--dhcp-option=option:T1,4', '--dhcp-option=option:T2,100',
      `--domain=${DOMAIN}`, `--local=/${DOMAIN}/`,
      `--host-record=web.${DOMAIN},${KERNEL},fd00:9::1`,
      `--cname=www.${DOMAIN},web.${DOMAIN}`,
      `--mx-host=${DOMAIN},web.${DOMAIN},10`,
      `--txt-record=${DOMAIN},nine net`, '--no-ping',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    collectLines(dnsmasq.stdout!, dnsmasqLog);
    collectLines(dnsmasq.stderr!, dnsmasqLog);
    await waitFor(() => dnsmasqLog.some((l) => /DHCP, IP range/.test(l)), 'dnsmasq to start', 10_000);
    server = new Server({ root: () => net.tree, log: () => {} });
    const l = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    c = await Client.dial(`tcp!127.0.0.1!${(l.address() as AddressInfo).port}`, { uname: 'eve' });
  }, 30_000);

  afterAll(async () => {
    for (const ch of children) ch.kill('SIGKILL');
    dnsmasq?.kill('SIGTERM');
    c?.close();
    await server?.close();
    await net?.close();
    try { sh('ip', ['netns', 'delete', NS]); } catch { /* not created */ }
    try { sh('ip', ['link', 'delete', TAP]); } catch { /* gone with the link */ }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const query = (file: string, q: string): Promise<string[]> => queryFile(c, file, q);

  it('gets a lease and applies router, DNS, domain and MTU; /net/ndb shows them', async () => {
    const ctl = await c.open('/ipifc/clone', ORDWR);
    ifc = (await ctl.read(20)).toString();
    await ctl.write('bind ether /net/ether0');
    await ctl.write('dhcp');
    await ctl.close();
    await waitFor(() => net.names.ndb.text() !== '', 'a lease from dnsmasq', 20_000);
    const ndb = (await c.readFile('/ndb')).toString();
    const m = new RegExp(`^ip=(${NET.replace(/\./g, '\\.')}\\.\\d+) ipmask=/120 ipgw=${KERNEL.replace(/\./g, '\\.')}\\n`).exec(ndb);
    expect(m, ndb).not.toBeNull();
    expect(ndb).toBe(`ip=${m![1]} ipmask=/120 ipgw=${KERNEL}\n\tsys=${SYS}\n\tdom=${SYS}.${DOMAIN}\n\tdns=${KERNEL}\n`);
    const st = (await c.readFile(`/ipifc/${ifc}/status`)).toString();
    expect(st).toMatch(/maxtu 1414 /);
    expect(st).toContain(`\t${m![1]} `);
    expect((await c.readFile('/iproute')).toString()).toMatch(new RegExp(`^0\\.0\\.0\\.0\\s+/96\\s+${KERNEL.replace(/\./g, '\\.')}\\s+4\\s+dhcp`, 'm'));
    expect(dnsmasqLog.some((l) => /DHCPACK\(/.test(l) && l.includes(m![1]!))).toBe(true);
  }, 30_000);

  it('renews the lease at T1', async () => {
    await waitFor(() => ourLog.some((l) => l.includes('dhcp: ether0: renewed')), 'a renewal', 20_000);
    expect(dnsmasqLog.filter((l) => /DHCPREQUEST\(/.test(l)).length).toBeGreaterThanOrEqual(2);
    expect(net.names.ndb.text()).toContain(`ipgw=${KERNEL}`);
  }, 30_000);

  it('answers A, AAAA, PTR, MX, CNAME and TXT through /net/dns, and NXDOMAIN as ndb/dns', async () => {
    expect(await query('/dns', `web.${DOMAIN} ip`)).toEqual([`web.${DOMAIN} ip\t${KERNEL}`]);
    expect(await query('/dns', `web.${DOMAIN} ipv6`)).toEqual([`web.${DOMAIN} ipv6\tfd00:9::1`]);
    expect(await query('/dns', `${KERNEL} ptr`)).toEqual([`1.8.${octet}.10.in-addr.arpa ptr\tweb.${DOMAIN}`]);
    expect(await query('/dns', `${DOMAIN} mx`)).toEqual([`${DOMAIN} mx\t10 web.${DOMAIN}`]);
    expect(await query('/dns', `www.${DOMAIN} cname`)).toEqual([`www.${DOMAIN} cname\tweb.${DOMAIN}`]);
    expect(await query('/dns', `www.${DOMAIN} ip`)).toEqual([`web.${DOMAIN} ip\t${KERNEL}`]);
    expect(await query('/dns', `${DOMAIN} txt`)).toEqual([`${DOMAIN} txt\tnine net`]);
    expect(await query('/dns', 'web ip')).toEqual([`web.${DOMAIN} ip\t${KERNEL}`]);
    expect(await errorOf(query('/dns', `gone.${DOMAIN} ip`))).toBe('dns: name does not exist');
    expect(dnsmasqLog.some((l) => l.includes(`query[A] web.${DOMAIN}`))).toBe(true);
  }, 30_000);

  it('resolves a dnsmasq name in cs and dials it', async () => {
    const echo = spawn('ip', ['netns', 'exec', NS, 'python3', '-c', `
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("${KERNEL}", 7777))
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
c.sendall(c.recv(100).upper())
c.close()
`], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(echo);
    await new Promise((r) => echo.stdout!.once('data', r));
    const [answer] = await query('/cs', `tcp!web.${DOMAIN}!7777`);
    expect(answer).toBe(`/net/tcp/clone ${KERNEL}!7777`);
    const ctl = await c.open('/tcp/clone', ORDWR);
    const n = (await ctl.read(20)).toString();
    await ctl.write(`connect ${answer!.split(' ')[1]}`);
    const d = await c.open(`/tcp/${n}/data`, ORDWR);
    await d.write('dialled by name');
    expect((await d.read(100)).toString()).toBe('DIALLED BY NAME');
    await d.close();
    await ctl.close();
  }, 30_000);

  it("does not resolve a name only the host's resolver knows", async () => {
    const name = hostname();
    expect((await lookup(name)).address).toBeTruthy(); // the host knows it
    expect(await errorOf(query('/cs', `tcp!${name}!80`))).toBe("cs: can't translate address");
    expect(await query('/cs', 'tcp!localhost!80')).toEqual(['/net/tcp/clone 127.0.0.1!80']);
    expect(await query('/cs', `tcp!${SYS}!80`)).toEqual([`/net/tcp/clone ${/^ip=(\S+)/.exec(net.names.ndb.text())![1]}!80`]);
  }, 30_000);

  it('releases the lease', async () => {
    const ctl = await c.open(`/ipifc/${ifc}/ctl`, ORDWR);
    await ctl.write('dhcp release');
    await ctl.close();
    await waitFor(() => dnsmasqLog.some((l) => /DHCPRELEASE\(/.test(l)), 'dnsmasq to see the RELEASE', 10_000);
    expect((await c.readFile('/ndb')).toString()).toBe('');
  }, 30_000);
});
