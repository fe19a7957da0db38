/**
 * /net/udp on the host's datagram sockets (9/ip/udp.c).
 *
 * Connected: one socket per conversation, one datagram per read/write.
 * Announced without `headers`: every new (address, port) peer becomes a
 * conversation offered through `listen`, sharing the announcer's socket.
 * Announced with `headers`: the announcer itself reads every datagram with
 * the 52-byte header and writes replies carrying one.
 *
 * `headers` works on any conversation, as in udp.c: reads carry the header
 * and each write goes where its header says, from the conversation's port.
 * A connected host socket can only send to its peer, so the first write
 * elsewhere disconnects it; from then on we filter what arrives ourselves
 * (a connected conversation hears only its peer, as udp.c's hash lookup
 * does), and the host no longer reports ICMP errors for it. Linux gives an
 * automatically chosen port back when a socket is disconnected, so
 * `headers` on a connected conversation first binds a new socket to the
 * same address and port explicitly and connects it again.
 *
 * Socket errors are Plan 9's (netfs/errors.ts). Plan 9 sends to port 0;
 * the host cannot (EINVAL), so a connect or a headers-mode write to port 0
 * fails with `bad arg in system call`.
 *
 * The host API does not report a datagram's destination address, so the
 * header's local and interface fields carry the bound address, or for a
 * wildcard socket the loopback or first host address of the sender's family
 * (a documented approximation).
 */
import type { Signal } from '../../ninep/node.js';
import * as dgram from 'node:dgram';
import { Interrupted, NinepError } from '../../ninep/error.js';
import { Ebadarg, Ehungup, errnoToPlan9, toNetError } from '../../netfs/errors.js';
import type { Conv, LocalSpec, Proto, RemoteSpec } from '../../netfs/conv.js';
import { formatIp, fromNodeAddress, isV4, IPnoaddr, v4 } from '../../netfs/ipaddr.js';
import type { Ip } from '../../netfs/ipaddr.js';
import type { ProtoDir } from '../../netfs/protodir.js';
import { Eunknownctl } from '../../netfs/protodir.js';
import { parseUdpHeader, withUdpHeader } from '../../netfs/udpheader.js';
import type { HostInterfaces } from './interfaces.js';
import { UDP_STAT_NAMES, statsText, udpStatus } from '../../netfs/status.js';
import type { UdpStatName } from '../../netfs/status.js';

/** Plan 9's UDP receive queue bound; excess datagrams are dropped. */
const RQ_LIMIT = 512 * 1024;
/** Peers remembered per announced socket (a bound on the demux table). */
const MAX_PEERS = 4096;

interface Shared {
  sock: dgram.Socket;
  six: boolean;
  refs: number;
  /** "addr!port" the socket is connected to (a connected conversation until a headers write elsewhere). */
  connectedTo: string | null;
  /** Bound to a port we named (the host keeps it across a disconnect). */
  portNamed: boolean;
  /** Per-peer conversations of an announcement, by "addr!port". */
  peers: Map<string, Conv>;
}

interface UdpConv {
  shared: Shared | null;
  /** For a per-peer conversation: the announcer's socket, whose ref it holds. */
  peerKey: string | null;
}

function ptcl(c: Conv): UdpConv {
  if (!c.ptcl) c.ptcl = { shared: null, peerKey: null } satisfies UdpConv;
  return c.ptcl as UdpConv;
}

/** An address string for a socket of the given family. */
function sockAddr(ip: Ip, six: boolean): string {
  const t = formatIp(ip);
  return six && isV4(ip) ? `::ffff:${t}` : t;
}

export class HostUdp implements Proto {
  readonly name = 'udp';
  readonly dataMode = 'datagram' as const;
  readonly rqLimit = RQ_LIMIT;
  /** Run as root, the host's privileged ports are eve's only (netfs Proto). */
  readonly privilegedPorts = process.getuid?.() === 0;
  dir!: ProtoDir;
  private inDatagrams = 0;
  private inErrors = 0;
  private noPorts = 0;
  private outDatagrams = 0;
  liveSockets = 0;

  constructor(readonly maxConvs: number, private readonly ifcs: HostInterfaces) {}

  isLocal(addr: Ip): boolean {
    return this.ifcs.isLocal(addr);
  }

  private open(six: boolean, local: LocalSpec | null, signal: Signal): Promise<Shared> {
    return new Promise((resolve, reject) => {
      const sock = dgram.createSocket({ type: six ? 'udp6' : 'udp4', ipv6Only: false });
      this.liveSockets++;
      sock.once('close', () => this.liveSockets--);
      const onAbort = (): void => {
        sock.close();
        reject(new Interrupted());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      sock.once('error', (e) => {
        signal.removeEventListener('abort', onAbort);
        try { sock.close(); } catch { /* already closed */ }
        reject(toNetError(e));
      });
      const addr = local?.addr ? sockAddr(local.addr, six) : six ? '::' : '0.0.0.0';
      sock.bind({ port: local?.port ?? 0, address: addr, exclusive: true }, () => {
        signal.removeEventListener('abort', onAbort);
        sock.removeAllListeners('error');
        resolve({ sock, six, refs: 1, connectedTo: null, portNamed: (local?.port ?? 0) > 0, peers: new Map() });
      });
    });
  }

  async connect(c: Conv, remote: RemoteSpec, local: LocalSpec | null, signal: Signal): Promise<void> {
    // Plan 9 accepts port 0; the host cannot send there (EINVAL).
    if (remote.port === 0) throw new NinepError(Ebadarg);
    const six = !isV4(remote.addr);
    const p = ptcl(c);
    const sh = await this.open(six, local, signal);
    p.shared = sh;
    await this.connectSock(c, sh);
    const a = sh.sock.address();
    c.laddr = fromNodeAddress(a.address) ?? IPnoaddr;
    c.lport = a.port;
    if (c.headers) await this.namePort(c, p, signal);
  }

  /** Connect sh to c's remote and deliver what the peer sends; on failure sh is released. */
  private async connectSock(c: Conv, sh: Shared): Promise<void> {
    const p = ptcl(c);
    await new Promise<void>((resolve, reject) => {
      sh.sock.once('error', (e) => reject(toNetError(e)));
      sh.sock.connect(c.rport, sockAddr(c.raddr, sh.six), () => {
        sh.sock.removeAllListeners('error');
        resolve();
      });
    }).catch((e: unknown) => {
      this.release(sh);
      if (p.shared === sh) p.shared = null;
      throw e;
    });
    const peer = `${formatIp(c.raddr)}!${c.rport}`;
    sh.connectedTo = peer;
    sh.sock.on('message', (msg, rinfo) => {
      const from = fromNodeAddress(rinfo.address);
      // Disconnected by a headers write elsewhere: the peer only, as before.
      if (!from || (sh.connectedTo === null && `${formatIp(from)}!${rinfo.port}` !== peer)) {
        this.noPorts++;
        return;
      }
      this.inDatagrams++;
      this.deliver(c, from, rinfo.port, msg);
    });
    // ICMP errors arrive as socket errors on a connected socket: Plan 9
    // hangs the conversation up with the ICMP reason (advice) unless told not to.
    sh.sock.on('error', (e: NodeJS.ErrnoException) => {
      this.inErrors++;
      if (c.ignoreadvice) return;
      c.rq.hangup(e.code === 'ECONNREFUSED' ? 'port unreachable' : errnoToPlan9(e) ?? Ehungup);
    });
  }

  /**
   * A connected conversation going into headers mode: its socket again,
   * bound to the same address and port by name, so that a later write
   * elsewhere can disconnect it and keep the port. Datagrams that arrive
   * while it is being swapped are lost, as UDP may lose them.
   */
  private async namePort(c: Conv, p: UdpConv, signal: Signal): Promise<void> {
    const old = p.shared;
    if (!old || old.connectedTo === null || old.portNamed || p.peerKey !== null) return;
    p.shared = null;
    this.release(old);
    try {
      const sh = await this.open(old.six, { addr: c.laddr, port: c.lport, anyPort: false }, signal);
      if (c.ptcl !== p) {
        this.release(sh);
        throw new NinepError(Ehungup);
      }
      p.shared = sh;
      await this.connectSock(c, sh);
    } catch (e) {
      if (c.ptcl === p) c.rq.hangup();
      throw e;
    }
  }

  /** A datagram for conversation c, with the 52-byte header in headers mode (udp.c udpiput). */
  private deliver(c: Conv, from: Ip, rport: number, msg: Buffer): void {
    if (!c.headers) {
      c.rq.put(msg);
      return;
    }
    const local = this.localFor(c, from);
    c.rq.put(withUdpHeader(from, local, local, rport, c.lport, msg));
  }

  async announce(c: Conv, local: LocalSpec, signal: Signal): Promise<void> {
    const six = !local.addr || !isV4(local.addr);
    const sh = await this.open(six, local, signal);
    const p = ptcl(c);
    p.shared = sh;
    c.lport = sh.sock.address().port;
    sh.sock.on('error', () => { this.inErrors++; });
    sh.sock.on('message', (msg, rinfo) => this.incoming(c, sh, msg, rinfo));
  }

  /** The local address to report for a datagram from `from` on socket `sh`. */
  private localFor(c: Conv, from: Ip): Ip {
    const bound = fromNodeAddress(ptcl(c).shared?.sock.address().address ?? '');
    if (bound && !isWildcard(bound)) return bound;
    if (isV4(from)) {
      if (from[12] === 127) return v4(127, 0, 0, 1);
      return this.ifcs.list().flatMap((i) => i.addrs).find((a) => isV4(a.ip) && a.ip[12] !== 127)?.ip ?? IPnoaddr;
    }
    return this.ifcs.list().flatMap((i) => i.addrs).find((a) => !isV4(a.ip))?.ip ?? IPnoaddr;
  }

  private incoming(c: Conv, sh: Shared, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.inDatagrams++;
    const from = fromNodeAddress(rinfo.address);
    if (!from) { this.inErrors++; return; }
    // Once c is closed (and perhaps recycled) it no longer announces on sh;
    // only the per-peer conversations still open on sh get datagrams.
    const announcer = (c.ptcl as UdpConv | null)?.shared === sh;
    if (announcer && c.headers) {
      this.deliver(c, from, rinfo.port, msg);
      return;
    }
    const key = `${formatIp(from)}!${rinfo.port}`;
    const known = sh.peers.get(key);
    if (known) {
      this.deliver(known, from, rinfo.port, msg);
      return;
    }
    if (!announcer) { this.noPorts++; return; }
    if (sh.peers.size >= MAX_PEERS) { this.inErrors++; return; }
    const call = this.dir.newCall(c, (nc) => {
      const np = ptcl(nc);
      np.shared = sh;
      np.peerKey = key;
      sh.refs++;
      sh.peers.set(key, nc);
      nc.laddr = this.localFor(c, from);
      nc.lport = c.lport;
      nc.raddr = from;
      nc.rport = rinfo.port;
    });
    if (call) call.rq.put(msg);
    else this.inErrors++;
  }

  ctl(c: Conv, f: string[], signal: Signal): void | Promise<void> {
    switch (f[0]) {
      case 'headers':
        c.headers = true;
        return this.namePort(c, ptcl(c), signal);
      case 'hangup':
        c.rq.hangup();
        return;
      default:
        throw new NinepError(Eunknownctl);
    }
  }

  write(c: Conv, data: Uint8Array): number | Promise<number> {
    const p = ptcl(c);
    const sh = p.shared;
    c.rq.checkWritable();
    if (!sh) throw new NinepError(Ehungup);
    if (c.headers) {
      // A write shorter than the header vanishes.
      const h = parseUdpHeader(data);
      if (!h) return data.length;
      if (h.rport === 0) throw new NinepError(Ebadarg);
      if (sh.connectedTo !== null) {
        if (`${formatIp(h.raddr)}!${h.rport}` === sh.connectedTo) return this.send(sh, h.payload, undefined, undefined, data.length);
        // Elsewhere: a connected host socket cannot send there. Its port
        // was named at `headers` (namePort), so the host keeps it.
        sh.sock.disconnect();
        sh.connectedTo = null;
      }
      return this.send(sh, h.payload, h.rport, sockAddr(h.raddr, sh.six), data.length);
    }
    if (p.peerKey !== null) return this.send(sh, data, c.rport, sockAddr(c.raddr, sh.six), data.length);
    // An announcer without headers has no destination: Plan 9 routes the
    // datagram nowhere and the write succeeds.
    if (c.rport === 0) return data.length;
    return this.send(sh, data, undefined, undefined, data.length);
  }

  /** One datagram; to the connected peer when port is undefined. Host errors become Plan 9's. */
  private send(sh: Shared, payload: Uint8Array, port: number | undefined, addr: string | undefined, n: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const cb = (e: Error | null): void => {
        if (e) {
          reject(toNetError(e));
          return;
        }
        this.outDatagrams++;
        resolve(n);
      };
      try {
        if (port === undefined) sh.sock.send(payload, cb);
        else sh.sock.send(payload, port, addr, cb);
      } catch (e) {
        reject(toNetError(e));
      }
    });
  }

  private release(sh: Shared): void {
    if (--sh.refs > 0) return;
    try { sh.sock.close(); } catch { /* already closed */ }
  }

  close(c: Conv): void {
    const p = c.ptcl as UdpConv | null;
    if (!p?.shared) return;
    if (p.peerKey !== null) p.shared.peers.delete(p.peerKey);
    this.release(p.shared);
    p.shared = null;
  }

  status(c: Conv): string {
    return udpStatus(c.refs > 0, c.rq.length);
  }

  stats(): string {
    const udp: Record<UdpStatName, number> = { InDatagrams: this.inDatagrams, NoPorts: this.noPorts, InErrors: this.inErrors, OutDatagrams: this.outDatagrams };
    return statsText(UDP_STAT_NAMES, (n) => udp[n]);
  }
}

function isWildcard(ip: Ip): boolean {
  for (let i = 0; i < 16; i++) {
    if (i === 10 || i === 11) continue;
    if (ip[i] !== 0) return false;
  }
  return true;
}
