/**
 * A topology whose hub is bridged to a real TAP: the kernel (in a network
 * namespace the test creates, 10.x addresses only) is one more host on the
 * hub, and reaches a stack behind our router stack. The test creates the
 * TAP (through the topology's bridge), moves it into the namespace, and
 * deletes both at the end.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/lib/clock.js';
import { CryptoRng } from '../../src/lib/rng.js';
import { tapAddonUnavailable } from '../../src/link/native.js';
import { Client } from '../../src/ninep/client.js';
import { Server } from '../../src/ninep/server.js';
import { ORDWR } from '../../src/ninep/types.js';
import { Topology } from '../../src/topo/topology.js';
import { inNs as runInNs, sh as run } from '../helpers/netns.js';
import { netGate } from '../helpers/net-gate.js';

const gate = netGate({ root: true, tun: true, commands: ['ip', 'ping'] }, 'topology TAP bridge');
gate.failIfRequired();

const id = randomBytes(3).toString('hex');
const TAP = `9nb${id}`;
const NS = `9nb${id}`;
const o = 16 + (parseInt(id.slice(0, 2), 16) % 200);
const KERNEL = `10.${o}.8.1`;
const ROUTER = `10.${o}.8.2`;
const FAR = `10.${o}.9.2`;

function sh(args: string[]): string {
  return run('ip', args);
}
const inNs = (args: string[]): Promise<{ code: number; out: string }> => runInNs(NS, args);

describe.skipIf(gate.skip)('a hub bridged to a kernel TAP', () => {
  let topo: Topology;
  let server: Server;
  let c: Client;

  beforeAll(async () => {
    const missing = tapAddonUnavailable();
    if (missing) throw new Error(missing);
    topo = await Topology.fromJson({
      stacks: {
        r: { forwarding: true, ifaces: [{ hub: 'lan', ip: `${ROUTER}/24` }, { hub: 'back', ip: `10.${o}.9.1/24` }] },
        c: { ifaces: [{ hub: 'back', ip: `${FAR}/24`, gw: `10.${o}.9.1` }] },
      },
      hubs: { lan: { tap: TAP }, back: {} },
    }, { eve: 'eve', clock: new RealClock(), rng: new CryptoRng() });
    sh(['netns', 'add', NS]);
    sh(['link', 'set', TAP, 'netns', NS]);
    sh(['-n', NS, 'addr', 'add', `${KERNEL}/24`, 'dev', TAP]);
    sh(['-n', NS, 'link', 'set', TAP, 'up']);
    sh(['-n', NS, 'link', 'set', 'lo', 'up']);
    sh(['-n', NS, 'route', 'add', `10.${o}.9.0/24`, 'via', ROUTER]);
    server = new Server({ root: (a, u) => topo.root(a, u), log: () => {} });
    const l = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    c = await Client.dial(`tcp!127.0.0.1!${(l.address() as AddressInfo).port}`, { uname: 'eve', aname: 'c' });
  }, 30_000);

  afterAll(async () => {
    c?.close();
    await server?.close();
    await topo?.close();
    try { sh(['netns', 'delete', NS]); } catch { /* not created */ }
    try { sh(['link', 'delete', TAP]); } catch { /* gone with the namespace */ }
  });

  it('lets the kernel ping a stack behind the router stack', async () => {
    const { code, out } = await inNs(['ping', '-c', '3', '-i', '0.2', '-W', '2', FAR]);
    expect(out).toMatch(/3 packets transmitted, 3 received/);
    expect(out).toMatch(/ttl=254/); // c's 255, less one at r
    expect(code).toBe(0);
  });

  it('lets the far stack ping the kernel through /net/icmp', async () => {
    const ctl = await c.open('/icmp/clone', ORDWR);
    const n = (await ctl.read(20)).toString().trim();
    await ctl.write(`connect ${KERNEL}!1`);
    const d = await c.open(`/icmp/${n}/data`, ORDWR);
    const msg = Buffer.alloc(40);
    msg[20] = 8;
    await d.write(msg);
    const reply = await d.read(2000);
    expect([...reply.subarray(12, 16)]).toEqual(KERNEL.split('.').map(Number));
    expect(reply[20]).toBe(0);
    expect(reply[8]).toBe(63); // Linux's 64, less one at r
    await d.close();
    await ctl.close();
  });
});
