/**
 * /net served by our own stack: udp, icmp, ipifc, arp, iproute, one
 * etherN per link, and cs — everything Plan 9's #I and #l give, over
 * ether devices we own (TAP, in-memory hubs, later libpcap or a lower
 * server's ether). TCP joins when the stack has it.
 */
import { hostname } from 'node:os';
import type { Clock } from '../../lib/clock.js';
import type { Rng } from '../../lib/rng.js';
import type { Link } from '../../link/link.js';
import { arpNode } from '../../netfs/arp.js';
import { ConnectionServer } from '../../netfs/cs.js';
import { Ndb } from '../../netfs/ndb.js';
import { EtherDir } from '../../netfs/ether.js';
import type { EtherDirOptions } from '../../netfs/ether.js';
import { isV4, parseIp } from '../../netfs/ipaddr.js';
import type { Ip } from '../../netfs/ipaddr.js';
import { IpifcDir } from '../../netfs/ipifc.js';
import { iprouteNode } from '../../netfs/iproute.js';
import { netRoot } from '../../netfs/net.js';
import { ProtoDir } from '../../netfs/protodir.js';
import type { Node } from '../../ninep/node.js';
import { DEFAULT_ANAMES } from '../backend.js';
import type { NetBackend } from '../backend.js';
import type { Ifc } from '../../stack/ifc.js';
import { Stack } from '../../stack/stack.js';
import { EtherPort } from '../../link/etherport.js';
import { Client } from '../../ninep/client.js';
import { NinePEtherLink } from '../../link/ninep-ether.js';
import { StackIcmp } from './icmp.js';
import { StackIpifc } from './ipifc.js';
import { StackArp, StackRoutes } from './tables.js';
import { StackUdp } from './udp.js';
import { TcpLayer } from '../../stack/tcp/tcp.js';
import type { TcpLayerOptions } from '../../stack/tcp/types.js';
import { StackTcp } from './tcp.js';
import { stackCall, toV4 } from './addr.js';
import { DhcpService } from '../../stack/dhcpifc.js';
import { toMask } from '../../stack/ifc.js';
import { StackNames } from './names.js';
import { NinepError } from '../../ninep/error.js';
import { clockNode } from '../../netfs/clock.js';
import { readerBudgets } from '../../netfs/lossy.js';
import type { ClockControl } from '../../netfs/clock.js';

export interface StackNetOptions {
  eve: string;
  clock: Clock;
  rng: Rng;
  /** Host names for cs (default: ours, names.ts: /net/ndb, fs/ndb, our DNS resolver; never the host's). */
  resolve?: (host: string) => Promise<Ip[]>;
  /** Our sys name (default: the host's name). */
  sysname?: string;
  /** DNS servers to ask before those of /net/ndb (`--dns`). */
  dnsServers?: string[];
  /** ndb files with hosts entries for cs (default: fs/ndb/common and fs/ndb/local). */
  ndbFiles?: string[];
  log?: (line: string) => void;
  /** TCP bounds and defaults (buffers, Time_wait, congestion control...). */
  tcp?: TcpLayerOptions;
  /** Conversations per user and protocol (netfs NetContext.userQuota). */
  userQuota?: number;
  /** The stack runs in simulated time steered through /net/clock (`--clock manual`): `clock` itself, as a SimClock. */
  clockControl?: ClockControl;
}

export class StackNet implements NetBackend {
  readonly stack: Stack;
  /** The /net tree (served for every default attach name). */
  readonly tree: Node;
  /** What carries it, for the log (the command line names the link). */
  what = 'our stack';
  readonly ipifc: StackIpifc;
  private readonly ports: EtherPort[] = [];
  private readonly ethers: EtherDir[] = [];
  readonly tcp: TcpLayer;
  private readonly tcpDir: ProtoDir;
  private readonly udpDir: ProtoDir;
  private readonly icmpDir: ProtoDir;
  /** /net/ndb, /net/dns and cs's names. */
  readonly names: StackNames;
  /** DHCP clients on our interfaces (`--ip dhcp`, ipifc ctl `dhcp`). */
  readonly dhcp: DhcpService;
  /** Capture and event readers, bounded per stack across all its files. */
  private readonly readers = readerBudgets();

  constructor(private readonly opts: StackNetOptions) {
    this.stack = new Stack({ clock: opts.clock, rng: opts.rng, ...(opts.log ? { log: opts.log } : {}) });
    const ctx = { eve: opts.eve, ...(opts.userQuota !== undefined ? { userQuota: opts.userQuota } : {}) };
    // One ACK per batch of received frames (GRO-like); callers may turn it off.
    this.tcp = new TcpLayer(this.stack, { batchInput: true, ...opts.tcp });
    const tcp = new StackTcp(this.stack, this.tcp);
    this.tcpDir = new ProtoDir(tcp, 1, ctx);
    tcp.dir = this.tcpDir;
    tcp.readers = this.readers;
    const udp = new StackUdp(this.stack);
    this.udpDir = new ProtoDir(udp, 2, ctx);
    udp.dir = this.udpDir;
    udp.readers = this.readers;
    this.icmpDir = new ProtoDir(new StackIcmp(this.stack), 3, ctx);
    const sysname = opts.sysname ?? hostname();
    const dnsServers = (opts.dnsServers ?? []).map((a) => {
      const ip = parseIp(a);
      if (!ip || !isV4(ip)) throw new Error(`bad dns server ${a}`);
      return toV4(ip);
    });
    this.names = new StackNames({
      stack: this.stack, tcp: this.tcp, eve: opts.eve, sysname, dnsServers,
      ...(opts.ndbFiles ? { ndbFiles: opts.ndbFiles } : {}), ...(opts.log ? { log: opts.log } : {}),
    });
    this.dhcp = new DhcpService(this.stack, {
      hostname: sysname,
      ...(opts.log ? { log: opts.log } : {}),
      onLease: (ifc, lease) => {
        this.names.leaseChanged(ifc, lease);
        ifc.ev?.(this.stack.now(), { kind: 'dhcp', lease });
      },
    });
    this.ipifc = new StackIpifc(this.stack, (path) => (path.includes('!') ? this.remotePort(path) : this.port(path)), (ifc, args) => this.dhcpCtl(ifc, args));
    this.ipifc.readers = this.readers;
    const ipifcDir = new IpifcDir(this.ipifc, opts.eve);
    const arp = arpNode(new StackArp(this.stack), opts.eve);
    const iproute = iprouteNode(new StackRoutes(this.stack), opts.eve);
    const cs = new ConnectionServer({
      protocols: () => ['tcp', 'udp', 'icmp'],
      resolve: opts.resolve ?? ((h) => this.names.resolveHost(h)),
      haveFamily: (v4) => v4 && this.stack.interfaces().some((i) => i.addresses().length > 0),
      ndb: Ndb.builtin(),
    });
    const clock = opts.clockControl ? [clockNode(opts.clockControl, opts.eve)] : [];
    this.tree = netRoot(opts.eve, (user) => [
      this.tcpDir.node, this.udpDir.node, ipifcDir.node, this.icmpDir.node, arp, this.names.ndb.node, iproute,
      ...this.ethers.map((e) => e.node), cs.node(user), this.names.dns.node(user), ...clock,
    ]);
  }

  root(aname: string): Node | null {
    return DEFAULT_ANAMES.includes(aname) ? this.tree : null;
  }

  /** The ether port named by a path: /net/ether0, ether0. */
  port(path: string): EtherPort | null {
    const name = path.replace(/^.*\//, '');
    return this.ports.find((p) => p.name === name) ?? null;
  }

  /** `tcp!host!port!/ether0` (or `unix!/path!/ether0`): a lower server's ether directory. */
  private async remotePort(spec: string): Promise<EtherPort | null> {
    const i = spec.lastIndexOf('!');
    if (i < 0 || !spec.slice(i + 1).startsWith('/')) return null;
    return this.etherOver(spec.slice(0, i), spec.slice(i + 1));
  }

  /**
   * Use a lower server's ether directory as our next etherN (link
   * stacking): on a 9net card our stack has its own MAC on the card's wire,
   * on Plan 9's it uses the card's MAC (link/lower-ether.ts). The link dials
   * again when the lower server goes away.
   */
  async etherOver(addr: string, path = '/ether0'): Promise<EtherPort> {
    const link = await NinePEtherLink.open({
      dial: () => Client.dial(addr, { uname: this.opts.eve }),
      clock: this.opts.clock,
      path,
      rng: this.opts.rng,
      where: `${addr}${path}`,
      ...(this.opts.log ? { log: this.opts.log } : {}),
    });
    return this.addEther(link);
  }

  /** Add an ether device (etherN, N = next free) over a link; `opts` says whose netif it behaves as. */
  addEther(link: Link, opts?: EtherDirOptions): EtherPort {
    const port = new EtherPort(`ether${this.ports.length}`, link);
    this.ports.push(port);
    this.ethers.push(new EtherDir(port.name, this.ports.length - 1, port, this.opts.eve, this.opts.clock, { ...opts, captureReaders: this.readers.captures }));
    return port;
  }

  /**
   * What ip/ipconfig does for a static address: a new interface bound to
   * the port, the address added, and a default route through `gw`.
   */
  configure(port: EtherPort, addr: string, prefix: number, gw?: string): Ifc {
    const ip = parseIp(addr);
    if (!ip || !isV4(ip)) throw new Error(`bad address ${addr}`);
    const ifc = this.bindNew(port);
    ifc.addAddress(toV4(ip), prefix);
    let g = 0;
    if (gw) {
      const p = parseIp(gw);
      if (!p || !isV4(p)) throw new Error(`bad gateway ${gw}`);
      g = toV4(p);
      this.stack.routes.add({ target: 0, mask: 0, nexthop: g, tag: 'none' });
    }
    this.names.staticConfig(ifc, toV4(ip), toMask(prefix), g);
    return ifc;
  }

  /** `--ip dhcp`: a new interface bound to the port, configured by DHCP (in the background). */
  configureDhcp(port: EtherPort): Ifc {
    const ifc = this.bindNew(port);
    this.dhcp.start(ifc);
    return ifc;
  }

  /** A new interface bound to `port`, outliving its ctl (as after ipconfig exits). */
  private bindNew(port: EtherPort): Ifc {
    const n = this.ipifc.clone();
    const ifc = this.ipifc.bind(n, port);
    this.ipifc.release(n);
    return ifc;
  }

  /** ipifc ctl `dhcp` starts DHCP on the interface, `dhcp release` releases its lease and stops. */
  private dhcpCtl(ifc: Ifc, args: string[]): void {
    if (args.length === 0) stackCall(() => this.dhcp.start(ifc));
    else if (args.length === 1 && args[0] === 'release') this.dhcp.stop(ifc, true);
    else throw new NinepError('bad arg in system call');
  }

  async close(): Promise<void> {
    for (const e of this.ethers) e.close();
    this.dhcp.close();
    this.names.close();
    this.tcp.dispose();
    this.stack.close();
    for (const p of this.ports) await p.close();
  }
}
