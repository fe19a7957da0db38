/**
 * /net/udp over our stack: the same semantics as the host backend
 * (plan9-net.md §5) — connected conversations, announced ones that hand
 * each new peer to `listen`, and `headers` mode with the 52-byte header,
 * whose local address here is the datagram's real destination.
 */
import { NinepError } from '../../ninep/error.js';
import type { Signal } from '../../ninep/node.js';
import type { Conv, LocalSpec, Proto, RemoteSpec } from '../../netfs/conv.js';
import type { Ip } from '../../netfs/ipaddr.js';
import type { ProtoDir } from '../../netfs/protodir.js';
import { Eunknownctl } from '../../netfs/protodir.js';
import type { Ifc } from '../../stack/ifc.js';
import type { Stack } from '../../stack/stack.js';
import type { UdpEndpoint } from '../../stack/udp.js';
import { fromV4, stackCall, toV4 } from './addr.js';
import { parseUdpHeader, withUdpHeader } from '../../netfs/udpheader.js';
import { UDP_STAT_NAMES, statsText, udpStatus } from '../../netfs/status.js';
import { LINKTYPE_RAW } from '../../capture/pcapng.js';
import type { CaptureSource } from '../../netfs/capture.js';
import { impairText, parseImpair } from '../../netfs/impair.js';
import { get16, get32 } from '../../stack/wire/bytes.js';
import { FlowWatch } from './observe.js';
import { conversationCapture } from './convobs.js';
import { readerBudgets } from '../../netfs/lossy.js';

/** Plan 9's UDP receive queue bound; excess datagrams are dropped. */
const RQ_LIMIT = 512 * 1024;
/** Peers remembered per announced conversation. */
const MAX_PEERS = 4096;

interface UdpConv {
  ep: UdpEndpoint | null;
  /** For an announced conversation: its per-peer conversations. */
  peers: Map<string, Conv> | null;
  /** For a per-peer conversation: the announcer whose endpoint it shares. */
  parent: Conv | null;
  key: string;
  /** Captures and impairment of the endpoint (on it once opened). */
  readonly watch: FlowWatch;
}

function ptcl(c: Conv): UdpConv {
  c.ptcl ??= { ep: null, peers: null, parent: null, key: '', watch: new FlowWatch() } satisfies UdpConv;
  return c.ptcl as UdpConv;
}

export class StackUdp implements Proto {
  readonly name = 'udp';
  readonly dataMode = 'datagram' as const;
  readonly rqLimit = RQ_LIMIT;
  dir!: ProtoDir;
  /** The stack's capture readers (StackNet shares one among its files). */
  readers = readerBudgets();

  constructor(private readonly stack: Stack, readonly maxConvs = 1024) {}

  isLocal(addr: Ip): boolean {
    return this.stack.isLocal(toV4(addr));
  }

  connect(c: Conv, remote: RemoteSpec, local: LocalSpec | null, _signal: Signal): Promise<void> {
    const p = ptcl(c);
    const raddr = toV4(remote.addr);
    if (remote.port === 0) throw new NinepError('bad arg in system call');
    p.ep = stackCall(() => this.stack.udp.open({
      localAddr: local?.addr ? toV4(local.addr) : 0,
      localPort: local?.port ?? 0,
      remoteAddr: raddr,
      remotePort: remote.port,
      // udp.c: in headers mode every read carries the header, connected or not.
      onDatagram: (src, sport, dst, dport, payload, ifc) => {
        c.rq.put(c.headers ? withUdpHeader(fromV4(src), fromV4(dst), fromV4(ifc.addressFor(src)), sport, dport, payload) : payload);
      },
      onAdvice: (a) => { if (!c.ignoreadvice) c.rq.hangup(a.reason); },
    }));
    this.setTtl(c, p.ep);
    this.observe(p, p.ep);
    c.laddr = fromV4(p.ep.localAddr || this.stack.sourceFor(raddr));
    c.lport = p.ep.localPort;
    return Promise.resolve();
  }

  announce(c: Conv, local: LocalSpec, _signal: Signal): Promise<void> {
    const p = ptcl(c);
    p.peers = new Map();
    p.ep = stackCall(() => this.stack.udp.open({
      localAddr: local.addr ? toV4(local.addr) : 0,
      localPort: local.port,
      onDatagram: (src, sport, dst, dport, payload, ifc) => this.incoming(c, src, sport, dst, dport, payload, ifc),
    }));
    this.observe(p, p.ep);
    c.lport = p.ep.localPort;
    return Promise.resolve();
  }

  private incoming(c: Conv, src: number, sport: number, dst: number, dport: number, payload: Uint8Array, ifc: Ifc): void {
    if (c.headers) {
      c.rq.put(withUdpHeader(fromV4(src), fromV4(dst), fromV4(ifc.addressFor(src)), sport, dport, payload));
      return;
    }
    const p = ptcl(c);
    const key = `${src}!${sport}`;
    const known = p.peers!.get(key);
    if (known) {
      known.rq.put(payload);
      return;
    }
    if (p.peers!.size >= MAX_PEERS) return;
    const call = this.dir.newCall(c, (nc) => {
      const np = ptcl(nc);
      np.parent = c;
      np.key = key;
      p.peers!.set(key, nc);
      nc.laddr = fromV4(this.stack.isLocal(dst) ? dst : ifc.addressFor(src));
      nc.lport = dport;
      nc.raddr = fromV4(src);
      nc.rport = sport;
    });
    call?.rq.put(payload);
  }

  private observe(p: UdpConv, ep: UdpEndpoint): void {
    const udp = this.stack.udp;
    p.watch.bind({ hook: () => udp.endpointHook(ep), dropIdle: () => udp.dropIdleHook(ep) });
  }

  private setTtl(c: Conv, ep: UdpEndpoint): void {
    ep.ttl = c.ttl;
    ep.tos = c.tos;
  }

  ctl(c: Conv, f: string[]): void {
    switch (f[0]) {
      case 'headers': c.headers = true; return;
      case 'hangup': c.rq.hangup(); return;
      case 'impair': {
        const p = ptcl(c);
        // A call's datagrams are its announcer's port's: impair the announcement.
        if (p.parent) throw new NinepError('impair: a call shares its announcer\'s port: impair the announced conversation');
        const req = parseImpair(f.slice(1));
        if (typeof req === 'string') throw new NinepError(req);
        p.watch.impair(req, this.stack.rng);
        return;
      }
      default: throw new NinepError(Eunknownctl);
    }
  }

  write(c: Conv, data: Uint8Array): number {
    c.rq.checkWritable();
    const p = ptcl(c);
    if (p.parent) {
      const ep = ptcl(p.parent).ep;
      if (!ep) throw new NinepError('i/o on hungup channel');
      ep.send(data, toV4(c.raddr), c.rport, toV4(c.laddr));
      return data.length;
    }
    const ep = p.ep;
    if (!ep) throw new NinepError('i/o on hungup channel');
    this.setTtl(c, ep);
    if (c.headers) {
      const h = parseUdpHeader(data);
      if (!h) return data.length;
      let src = 0;
      try { src = toV4(h.laddr); } catch { src = 0; }
      ep.send(h.payload, toV4(h.raddr), h.rport, src);
      return data.length;
    }
    // An announcer without headers sends nowhere (Plan 9).
    if (p.peers) return data.length;
    ep.send(data);
    return data.length;
  }

  close(c: Conv): void {
    const p = c.ptcl as UdpConv | null;
    if (!p) return;
    if (p.parent) ptcl(p.parent).peers?.delete(p.key);
    p.ep?.close();
    p.ep = null;
  }

  status(c: Conv): string {
    const p = c.ptcl as UdpConv | null;
    return udpStatus(c.refs > 0, c.rq.length) + (p ? impairText(p.watch.impairments()) : '');
  }

  /** A call's capture is its announcer's, of the datagrams to and from its peer. */
  capture(c: Conv): CaptureSource {
    const p = ptcl(c);
    const name = `udp/${c.index}`;
    if (!p.parent) return conversationCapture(c, name, LINKTYPE_RAW, this.stack, p.watch, this.readers);
    const peer = toV4(c.raddr);
    const port = c.rport;
    const ofPeer = (pkt: Uint8Array, dir: 'in' | 'out'): boolean => {
      const hl = (pkt[0]! & 0x0f) * 4;
      return dir === 'in' ? get32(pkt, 12) === peer && get16(pkt, hl) === port : get32(pkt, 16) === peer && get16(pkt, hl + 2) === port;
    };
    return conversationCapture(c, name, LINKTYPE_RAW, this.stack, ptcl(p.parent).watch, this.readers, ofPeer);
  }

  stats(): string {
    const u = this.stack.stats.udp;
    return statsText(UDP_STAT_NAMES, (n) => u[n]);
  }
}

