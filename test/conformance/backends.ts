/**
 * The four /nets every conformance case runs against, as smoltcp runs one
 * test over several media:
 *
 *   host        host sockets (src/backend/host)
 *   stack       our stack (src/backend/stack StackNet) on an in-memory hub
 *   over host   src/backend/over on a lower 9P server carried by host sockets
 *   over stack  src/backend/over on a lower 9P server carried by our stack
 *
 * Each is served by a real 9P Server on a loopback port; clients attach to
 * it as a given user. Its peer (peer.ts) is the host's sockets for the host
 * carriers and, for the stack carriers, a second StackNet on the same hub
 * driven through its own /net. The stack fixtures use the real clock; no
 * case depends on timing.
 *
 * close() closes everything the fixture opened and fails when something was
 * left behind: a conversation still referenced or not Idle, a host socket
 * or listener still open, a stack TCP connection not finished, or a line a
 * server logged as an internal error (no backend error may be one).
 */
import type * as net from 'node:net';
import { hostNet } from '../../src/backend/host/backend.js';
import type { HostNet } from '../../src/backend/host/backend.js';
import { overNet } from '../../src/backend/over/backend.js';
import type { OverNet } from '../../src/backend/over/backend.js';
import { StackNet } from '../../src/backend/stack/backend.js';
import { RealClock } from '../../src/lib/clock.js';
import { SeededRng } from '../../src/lib/rng.js';
import { Hub } from '../../src/link/hub.js';
import type { ProtoDir } from '../../src/netfs/protodir.js';
import { Client } from '../../src/ninep/client.js';
import type { Node } from '../../src/ninep/node.js';
import { Server } from '../../src/ninep/server.js';
import { ORDWR } from '../../src/ninep/types.js';
import { EVE, closedTcpPort, stuckListener } from '../netfs/harness.js';
import { NetPeer, SocketPeer } from './peer.js';
import type { Peer } from './peer.js';

export { EVE };

export type BackendName = 'host' | 'stack' | 'over host' | 'over stack';

export interface Fixture {
  readonly name: BackendName;
  /** What finally carries the packets. */
  readonly carrier: 'host' | 'stack';
  /** Served through src/backend/over. */
  readonly over: boolean;
  /** Our address as the peer sees it (and as our `local` shows toward the peer). */
  readonly addr: string;
  readonly peer: Peer;
  /** The /net under test's protocol directories, for waiting on events /net does not show (a pending listen). */
  readonly tcpDir: ProtoDir;
  readonly udpDir: ProtoDir;
  /** A client attached as `uname` to the /net under test; closed by close(). */
  client(uname?: string): Promise<Client>;
  /** `A!P` where a TCP connect stays in Syn_sent until flushed or hung up. */
  blackHole(): Promise<{ addr: string; close(): Promise<void> }>;
  /** A local TCP port nothing uses (connect's third field). */
  freePort(): Promise<number>;
  /**
   * What is still in use: conversations referenced or not Idle (ours and,
   * over another /net, the lower ones), host sockets, unfinished stack TCP
   * connections (ours and the peer stack's). Empty when everything was closed.
   */
  live(): string[];
  close(): Promise<void>;
}

/** Bounded wait for the cleanup checks. */
const SETTLE_MS = 15_000;
/** The stacks' segment. */
const NET = '10.77.0';
const OURS = `${NET}.1`;
const PEERS = `${NET}.2`;
/** On the segment, with a static ARP entry to a MAC nobody has: SYNs go out and nothing answers. */
const NOBODY = `${NET}.99`;
const NOBODY_MAC = '02:00:5e:00:00:99';

/** A 9P server for one /net tree on 127.0.0.1. */
class Served {
  readonly logs: string[] = [];
  readonly server: Server;
  private readonly clients: Client[] = [];
  port = 0;

  constructor(readonly label: string, root: () => Node) {
    this.server = new Server({ root: () => root(), log: (l) => this.logs.push(l) });
  }

  static async start(label: string, root: () => Node): Promise<Served> {
    const s = new Served(label, root);
    const lsn = await s.server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    s.port = (lsn.address() as net.AddressInfo).port;
    return s;
  }

  get addr(): string {
    return `tcp!127.0.0.1!${this.port}`;
  }

  async client(uname = 'alice'): Promise<Client> {
    const c = await Client.dial(this.addr, { uname });
    this.clients.push(c);
    return c;
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.close();
    await this.server.close();
  }

  /** Lines that show a bug: internal errors, failed clunks. */
  internal(): string[] {
    return this.logs.filter((l) => l.includes('internal error') || l.includes('clunk:')).map((l) => `${this.label}: ${l}`);
  }
}

/** Wait (bounded) until `left()` returns nothing; else fail with what is left. */
async function settled(what: string, left: () => string[]): Promise<void> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const l = left();
    if (l.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${what} left behind: ${l.join('; ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Conversations still referenced or not Idle. */
function busy(label: string, dirs: ProtoDir[]): string[] {
  return dirs.flatMap((d) => d.convs
    .filter((c) => c.refs > 0 || c.state !== 'Idle' || c.queued)
    .map((c) => `${label} ${d.proto.name}/${c.index} (${c.state}, ${c.refs} refs)`));
}

function hostLeft(label: string, hn: HostNet): string[] {
  const out: string[] = [];
  if (hn.tcp.liveSockets > 0) out.push(`${label}: ${hn.tcp.liveSockets} tcp sockets`);
  if (hn.tcp.liveServers > 0) out.push(`${label}: ${hn.tcp.liveServers} tcp listeners`);
  if (hn.udp.liveSockets > 0) out.push(`${label}: ${hn.udp.liveSockets} udp sockets`);
  return out;
}

/** StackNet keeps its protocol directories private; the cases only read them. */
function stackDirs(sn: StackNet): { tcpDir: ProtoDir; udpDir: ProtoDir } {
  const d = sn as unknown as { tcpDir: ProtoDir; udpDir: ProtoDir };
  return { tcpDir: d.tcpDir, udpDir: d.udpDir };
}

/** TCP connections of a stack that are neither closed nor in Time_wait. */
function stackLeft(label: string, sn: StackNet): string[] {
  return sn.tcp.connections()
    .filter((c) => c.state !== 'Time_wait' && c.state !== 'Closed')
    .map((c) => `${label}: tcp connection ${c.localPort}→${c.remotePort} in ${c.state}`);
}

function failOnLogs(served: Served[]): void {
  const bad = served.flatMap((s) => s.internal());
  if (bad.length > 0) throw new Error(`a server logged internal errors:\n${bad.join('\n')}`);
}

// ---- the two carriers ----

interface Carrier {
  served: Served;
  dirs: ProtoDir[];
  left(): string[];
  blackHole(): Promise<{ addr: string; close(): Promise<void> }>;
  freePort(): Promise<number>;
  close(): Promise<void>;
}

function hostCarrier(served: Served, hn: HostNet, label: string): Carrier {
  return {
    served,
    dirs: [hn.tcpDir, hn.udpDir],
    left: () => hostLeft(label, hn),
    async blackHole() {
      const s = await stuckListener();
      return { addr: `127.0.0.1!${s.port}`, close: () => s.close() };
    },
    freePort: () => closedTcpPort(),
    close: () => hn.close(),
  };
}

async function startHostCarrier(label: string): Promise<{ carrier: Carrier; hn: HostNet }> {
  const hn = hostNet({ eve: EVE });
  const served = await Served.start(label, () => hn.tree);
  return { carrier: hostCarrier(served, hn, label), hn };
}

interface Segment {
  hub: Hub;
  ours: StackNet;
  peer: StackNet;
  oursServed: Served;
  peerServed: Served;
}

let seed = 1;

function stackNet(hub: Hub, addr: string): StackNet {
  const sn = new StackNet({ eve: EVE, clock: new RealClock(), rng: new SeededRng(seed++) });
  sn.configure(sn.addEther(hub.port()), addr, 24);
  return sn;
}

/** Our stack and the peer's on one in-memory hub, each served over 9P. */
async function startSegment(label: string): Promise<Segment> {
  const hub = new Hub({ rng: new SeededRng(seed++) });
  const ours = stackNet(hub, OURS);
  const peer = stackNet(hub, PEERS);
  const oursServed = await Served.start(label, () => ours.tree);
  const peerServed = await Served.start(`${label} peer`, () => peer.tree);
  // The black hole: a neighbour whose MAC is known and absent.
  const eve = await Client.dial(oursServed.addr, { uname: EVE });
  try {
    const arp = await eve.open('/arp', ORDWR);
    await arp.write(`add ${NOBODY} ${NOBODY_MAC}`);
    await arp.close();
  } finally {
    eve.close();
  }
  return { hub, ours, peer, oursServed, peerServed };
}

function stackCarrier(seg: Segment, label: string): Carrier {
  let nextFree = 20000;
  return {
    served: seg.oursServed,
    dirs: Object.values(stackDirs(seg.ours)),
    left: () => [...stackLeft(label, seg.ours), ...stackLeft(`${label} peer`, seg.peer)],
    blackHole: () => Promise.resolve({ addr: `${NOBODY}!4444`, close: () => Promise.resolve() }),
    freePort: () => Promise.resolve(nextFree++),
    async close() {
      await seg.ours.close();
      await seg.peer.close();
    },
  };
}

// ---- fixtures ----

function fixture(
  name: BackendName,
  carrierKind: 'host' | 'stack',
  over: OverNet | null,
  top: Served,
  carrier: Carrier,
  peer: Peer,
  addr: string,
  dirs: { tcpDir: ProtoDir; udpDir: ProtoDir },
  extra: { served: Served[]; close(): Promise<void> },
): Fixture {
  return {
    name,
    carrier: carrierKind,
    over: over !== null,
    addr,
    peer,
    tcpDir: dirs.tcpDir,
    udpDir: dirs.udpDir,
    client: (uname = 'alice') => top.client(uname),
    blackHole: () => carrier.blackHole(),
    freePort: () => carrier.freePort(),
    live: () => [
      ...busy(name, [dirs.tcpDir, dirs.udpDir]),
      ...(over ? busy(`${name} lower`, carrier.dirs) : []),
      ...carrier.left(),
    ],
    async close() {
      await peer.close();
      await top.close();
      await settled(`${name}: conversations`, () => busy(name, [dirs.tcpDir, dirs.udpDir]));
      if (over) {
        await over.close();
        await carrier.served.close();
        await settled(`${name}: lower conversations`, () => busy(`${name} lower`, carrier.dirs));
      }
      await extra.close();
      await settled(`${name}: transports`, () => carrier.left());
      await carrier.close();
      failOnLogs([top, ...extra.served, ...(over ? [carrier.served] : [])]);
    },
  };
}

async function startHost(): Promise<Fixture> {
  const { carrier, hn } = await startHostCarrier('host');
  return fixture('host', 'host', null, carrier.served, carrier, new SocketPeer(), '127.0.0.1', hn, { served: [], close: () => Promise.resolve() });
}

async function startStack(): Promise<Fixture> {
  const seg = await startSegment('stack');
  const carrier = stackCarrier(seg, 'stack');
  const peer = new NetPeer(await seg.peerServed.client(EVE), PEERS);
  return fixture('stack', 'stack', null, seg.oursServed, carrier, peer, OURS, stackDirs(seg.ours), {
    served: [seg.peerServed],
    close: () => seg.peerServed.close(),
  });
}

async function startOverOn(name: BackendName, lower: Carrier): Promise<{ over: OverNet; top: Served; logs: string[] }> {
  const logs: string[] = [];
  const over = await overNet({ eve: EVE, lower: lower.served.addr, log: (l) => logs.push(l) });
  const top = await Served.start(name, () => over.tree);
  return { over, top, logs };
}

async function startOverHost(): Promise<Fixture> {
  const { carrier } = await startHostCarrier('over host lower');
  const { over, top } = await startOverOn('over host', carrier);
  return fixture('over host', 'host', over, top, carrier, new SocketPeer(), '127.0.0.1', over, { served: [], close: () => Promise.resolve() });
}

async function startOverStack(): Promise<Fixture> {
  const seg = await startSegment('over stack lower');
  const carrier = stackCarrier(seg, 'over stack lower');
  const { over, top } = await startOverOn('over stack', carrier);
  const peer = new NetPeer(await seg.peerServed.client(EVE), PEERS);
  return fixture('over stack', 'stack', over, top, carrier, peer, OURS, over, {
    served: [seg.peerServed],
    close: () => seg.peerServed.close(),
  });
}

export interface Backend {
  name: BackendName;
  carrier: 'host' | 'stack';
  start(): Promise<Fixture>;
}

/** Every case runs against each of these (describe.each). */
export const BACKENDS: Backend[] = [
  { name: 'host', carrier: 'host', start: startHost },
  { name: 'stack', carrier: 'stack', start: startStack },
  { name: 'over host', carrier: 'host', start: startOverHost },
  { name: 'over stack', carrier: 'stack', start: startOverStack },
];
