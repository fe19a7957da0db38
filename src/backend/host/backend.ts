/**
 * The default backend: /net served by the host's own sockets. No
 * privileges needed. Serves tcp, udp, ipifc (read-only) and cs; there is
 * no icmp, ether, arp or iproute without our own stack (README).
 */
import * as dns from 'node:dns/promises';
import { ConnectionServer } from '../../netfs/cs.js';
import { Ndb } from '../../netfs/ndb.js';
import { DnsFile } from '../../netfs/dns.js';
import type { DnsSource } from '../../netfs/dns.js';
import { IpifcDir } from '../../netfs/ipifc.js';
import { fromNodeAddress, isV4 } from '../../netfs/ipaddr.js';
import type { Ip } from '../../netfs/ipaddr.js';
import { netRoot } from '../../netfs/net.js';
import { ProtoDir } from '../../netfs/protodir.js';
import type { Node } from '../../ninep/node.js';
import { singleRoot } from '../backend.js';
import type { NetBackend } from '../backend.js';
import { OsInterfaces } from './interfaces.js';
import type { HostInterfaces } from './interfaces.js';
import { hostDnsSource } from './dns.js';
import { HostIpifc } from './ipifc.js';
import { HostTcp } from './tcp.js';
import { HostUdp } from './udp.js';

export interface HostNetOptions {
  /** The host owner (passes conversation permission checks). */
  eve: string;
  /** Conversation table sizes (devip: 1024 each). */
  maxTcp?: number;
  maxUdp?: number;
  /** Conversations per user and protocol (netfs NetContext.userQuota). */
  userQuota?: number;
  interfaces?: HostInterfaces;
  /** Host name resolver (default: the host's, as getaddrinfo). */
  resolve?: (host: string) => Promise<Ip[]>;
  /** What /net/dns answers from (default: the host's resolver). */
  dns?: DnsSource;
}

export interface HostNet extends NetBackend {
  /** The /net tree (served for every default attach name). */
  tree: Node;
  tcp: HostTcp;
  udp: HostUdp;
  tcpDir: ProtoDir;
  udpDir: ProtoDir;
}

async function hostResolve(host: string): Promise<Ip[]> {
  const r = await dns.lookup(host, { all: true, verbatim: true });
  return r.map((a) => fromNodeAddress(a.address)).filter((x): x is Ip => x !== null);
}

export function hostNet(opts: HostNetOptions): HostNet {
  const ifcs = opts.interfaces ?? new OsInterfaces();
  const ctx = { eve: opts.eve, ...(opts.userQuota !== undefined ? { userQuota: opts.userQuota } : {}) };
  const tcp = new HostTcp(opts.maxTcp ?? 1024, ifcs);
  const udp = new HostUdp(opts.maxUdp ?? 1024, ifcs);
  const tcpDir = new ProtoDir(tcp, 1, ctx);
  const udpDir = new ProtoDir(udp, 2, ctx);
  tcp.dir = tcpDir;
  udp.dir = udpDir;
  tcpDir.onCallTaken = (parent) => tcp.callTaken(parent);
  const ipifc = new IpifcDir(new HostIpifc(ifcs), opts.eve);
  const cs = new ConnectionServer({
    protocols: () => ['tcp', 'udp'],
    resolve: opts.resolve ?? hostResolve,
    haveFamily: (v4) => ifcs.list().some((i) => i.addrs.some((a) => isV4(a.ip) === v4)),
    ndb: Ndb.builtin(),
  });
  const dnsFile = new DnsFile(opts.dns ?? hostDnsSource(), opts.eve);
  const root = netRoot(opts.eve, (user) => [tcpDir.node, udpDir.node, ipifc.node, cs.node(user), dnsFile.node(user)]);
  return { tree: root, root: singleRoot(root), what: 'host sockets', close: () => Promise.resolve(), tcp, udp, tcpDir, udpDir };
}
