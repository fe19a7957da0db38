/**
 * Our stack configuring itself and naming things through itself, through
 * 9P only: ipifc ctl `dhcp` against a DHCP server on another stack, the
 * lease in /net/ndb in ipconfig's form, /net/dns over our own UDP to the
 * DNS server DHCP named, cs resolving through /net/ndb, the fs/ndb files,
 * our sys name and DNS (never the host's resolver), a dial by name, and
 * `dhcp release`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackNet } from '../../../src/backend/stack/backend.js';
import { RealClock } from '../../../src/lib/clock.js';
import { SeededRng } from '../../../src/lib/rng.js';
import { Hub } from '../../../src/link/hub.js';
import { Client } from '../../../src/ninep/client.js';
import { ORDWR } from '../../../src/ninep/types.js';
import { Server } from '../../../src/ninep/server.js';
import { Stack } from '../../../src/stack/stack.js';
import { TcpLayer } from '../../../src/stack/tcp/tcp.js';
import { DHCP_MSG } from '../../../src/stack/wire/dhcp.js';
import { DNS_TYPE } from '../../../src/stack/wire/dns.js';
import { errorOf, waitFor } from '../../netfs/harness.js';
import { queryFile } from '../../helpers/query.js';
import { ip } from '../../stack/helpers.js';
import { TestDhcpServer, TestDnsServer } from '../../stack/servers.js';

const INFRA = ip('10.6.0.1');
const clock = new RealClock();
let dir: string;
let infra: Stack;
let infraTcp: TcpLayer;
let dhcp: TestDhcpServer;
let dns: TestDnsServer;
let net: StackNet;
let server: Server;
let c: Client;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), '9net-names-'));
  const hosts = join(dir, 'local');
  writeFileSync(hosts, 'ip=10.6.0.77 sys=printer dom=printer.example\n');
  const hub = new Hub({ rng: new SeededRng(9) });
  infra = new Stack({ clock, rng: new SeededRng(21) });
  infra.addInterface(hub.port()).addAddress(INFRA, 24);
  infraTcp = new TcpLayer(infra);
  infraTcp.listen({ localPort: 7, onAccept: (conn) => ({ onData: (d) => { conn.write(d.slice(), infra.now()); } }) });
  dhcp = new TestDhcpServer(infra, INFRA, [ip('10.6.0.50')], {
    leaseTime: 3600, subnetMask: 0xffffff00, routers: [INFRA], dnsServers: [INFRA], domainName: 'example', mtu: 1400,
  });
  dns = new TestDnsServer(infra, infraTcp);
  dns.add('web.example', DNS_TYPE.A, { kind: 'a', address: INFRA });
  dns.add('www.example', DNS_TYPE.CNAME, { kind: 'name', name: 'web.example' });
  dns.add('example', DNS_TYPE.MX, { kind: 'mx', preference: 10, exchange: 'web.example' });
  dns.nx.add('gone.example');
  net = new StackNet({ eve: 'eve', clock, rng: new SeededRng(22), sysname: 'gnot', ndbFiles: [hosts] });
  net.addEther(hub.port());
  server = new Server({ root: () => net.tree, log: () => {} });
  const l = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
  c = await Client.dial(`tcp!127.0.0.1!${(l.address() as AddressInfo).port}`, { uname: 'eve' });
});

afterAll(async () => {
  c?.close();
  await server?.close();
  await net?.close();
  infraTcp?.dispose();
  infra?.close();
  rmSync(dir, { recursive: true, force: true });
});

const query = (file: string, q: string): Promise<string[]> => queryFile(c, file, q);

describe('our stack named through itself', () => {
  it('configures an interface with ipifc ctl dhcp and shows the lease in /net/ndb', async () => {
    const ctl = await c.open('/ipifc/clone', ORDWR);
    const n = (await ctl.read(20)).toString();
    await ctl.write('bind ether /net/ether0');
    await ctl.write('dhcp');
    await waitFor(() => net.names.ndb.text() !== '', 'a DHCP lease', 10_000);
    expect((await c.readFile('/ndb')).toString()).toBe('ip=10.6.0.50 ipmask=/120 ipgw=10.6.0.1\n\tsys=gnot\n\tdom=gnot.example\n\tdns=10.6.0.1\n');
    const st = (await c.readFile(`/ipifc/${n}/status`)).toString();
    expect(st).toMatch(/maxtu 1414 /);
    expect(st).toContain('\t10.6.0.50 ');
    expect((await c.readFile('/iproute')).toString()).toMatch(/^0\.0\.0\.0\s+\/96\s+10\.6\.0\.1\s+4\s+dhcp/m);
    expect(await errorOf(ctl.write('dhcp sideways'))).toBe('bad arg in system call');
    await ctl.close();
  });

  it('answers /net/dns from the server DHCP named, over our own UDP', async () => {
    expect(await query('/dns', 'web.example ip')).toEqual(['web.example ip\t10.6.0.1']);
    expect(await query('/dns', 'www.example ip')).toEqual(['web.example ip\t10.6.0.1']);
    expect(await query('/dns', 'example mx')).toEqual(['example mx\t10 web.example']);
    // A name without a dot is tried under our domain.
    expect(await query('/dns', 'web ip')).toEqual(['web.example ip\t10.6.0.1']);
    expect(await errorOf(query('/dns', 'gone.example ip'))).toBe('dns: name does not exist');
    expect(dns.seen.some((s) => s.name === 'web.example' && s.over === 'udp')).toBe(true);
  });

  it('translates names in cs from ndb, our sys name and DNS, never the host resolver', async () => {
    expect(await query('/cs', 'tcp!web.example!7')).toEqual(['/net/tcp/clone 10.6.0.1!7']);
    expect(await query('/cs', 'tcp!printer!http')).toEqual(['/net/tcp/clone 10.6.0.77!80']);
    expect(await query('/cs', 'tcp!printer.example!80')).toEqual(['/net/tcp/clone 10.6.0.77!80']);
    expect(await query('/cs', 'tcp!gnot!564')).toEqual(['/net/tcp/clone 10.6.0.50!564']);
    expect(await query('/cs', 'tcp!localhost!564')).toEqual(['/net/tcp/clone 127.0.0.1!564']);
    const asked = dns.seen.length;
    expect(await errorOf(query('/cs', `tcp!${hostname()}!80`))).toBe("cs: can't translate address");
    expect(dns.seen.length).toBeGreaterThan(asked); // it asked our DNS server, not the host
  });

  it('dials a name: cs, then the clone file it names', async () => {
    const [answer] = await query('/cs', 'tcp!web.example!echo');
    const [clone, addr] = answer!.split(' ') as [string, string];
    const ctl = await c.open(clone.replace(/^\/net/, ''), ORDWR);
    const n = (await ctl.read(20)).toString();
    await ctl.write(`connect ${addr}`);
    const data = await c.open(`/tcp/${n}/data`, ORDWR);
    await data.write('hello by name');
    expect((await data.read(100)).toString()).toBe('hello by name');
    await data.close();
    await ctl.close();
  });

  it('releases the lease with dhcp release: address, route and ndb entry go', async () => {
    const ctl = await c.open('/ipifc/1/ctl', ORDWR);
    await ctl.write('dhcp release');
    await ctl.close();
    await waitFor(() => dhcp.count(DHCP_MSG.RELEASE) === 1, 'the RELEASE', 5000);
    expect((await c.readFile('/ndb')).toString()).toBe('');
    expect((await c.readFile('/ipifc/1/status')).toString()).not.toContain('10.6.0.50');
    expect((await c.readFile('/iproute')).toString()).not.toMatch(/dhcp/);
  });
});

describe('a static address and --dns', () => {
  it('writes the ndb entry ipconfig would, with the --dns servers', async () => {
    const hub = new Hub({ rng: new SeededRng(10) });
    const s = new StackNet({ eve: 'eve', clock, rng: new SeededRng(23), sysname: 'cpu', dnsServers: ['10.7.0.53'], ndbFiles: [] });
    try {
      s.configure(s.addEther(hub.port()), '10.7.0.2', 24, '10.7.0.1');
      expect(s.names.ndb.text()).toBe('ip=10.7.0.2 ipmask=/120 ipgw=10.7.0.1\n\tsys=cpu\n\tdns=10.7.0.53\n');
      expect(s.names.servers()).toEqual([ip('10.7.0.53')]);
    } finally {
      await s.close();
    }
  });
});
