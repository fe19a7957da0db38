/**
 * /net/icmp over our stack (plan9-net.md §6): `connect A!P` (the port is
 * ignored; the local port is the ICMP identifier); a write is ≥ 28 bytes:
 * 20 bytes of room for the IPv4 header, then type, code, checksum, id, seq
 * and data (the stack fills in the id and the checksum); a read returns one
 * whole IPv4 packet (20-byte header + ICMP message). What Plan 9's ip/ping uses.
 */
import { NinepError } from '../../ninep/error.js';
import type { Signal } from '../../ninep/node.js';
import type { Conv, LocalSpec, Proto, RemoteSpec } from '../../netfs/conv.js';
import type { Ip } from '../../netfs/ipaddr.js';
import { Eunknownctl } from '../../netfs/protodir.js';
import type { IcmpEndpoint } from '../../stack/icmp.js';
import type { Stack } from '../../stack/stack.js';
import { fromV4, stackCall, toV4 } from './addr.js';
import { icmpStatsText, icmpStatus } from '../../netfs/status.js';

/** Bytes of ICMP packets queued per conversation. */
const RQ_LIMIT = 256 * 1024;
/** IPv4 header room at the start of every write. */
const IPHDR = 20;

export class StackIcmp implements Proto {
  readonly name = 'icmp';
  readonly dataMode = 'datagram' as const;
  readonly rqLimit = RQ_LIMIT;

  constructor(private readonly stack: Stack, readonly maxConvs = 128) {}

  isLocal(addr: Ip): boolean {
    return this.stack.isLocal(toV4(addr));
  }

  private open(c: Conv, raddr: number, laddr: number, port: number): IcmpEndpoint {
    const ep = stackCall(() => this.stack.icmp.open({
      localAddr: laddr,
      remoteAddr: raddr,
      port,
      onPacket: (pkt) => { c.rq.put(pkt); },
      onAdvice: (a) => { if (!c.ignoreadvice) c.rq.hangup(a.reason); },
    }));
    c.ptcl = ep;
    c.lport = ep.port;
    c.laddr = fromV4(laddr || (raddr ? this.stack.sourceFor(raddr) : 0));
    return ep;
  }

  connect(c: Conv, remote: RemoteSpec, local: LocalSpec | null, _signal: Signal): Promise<void> {
    this.open(c, toV4(remote.addr), local?.addr ? toV4(local.addr) : 0, local?.port ?? 0);
    return Promise.resolve();
  }

  announce(c: Conv, local: LocalSpec, _signal: Signal): Promise<void> {
    this.open(c, 0, local.addr ? toV4(local.addr) : 0, local.port);
    return Promise.resolve();
  }

  ctl(c: Conv, f: string[]): void {
    if (f[0] === 'hangup') {
      c.rq.hangup();
      return;
    }
    throw new NinepError(Eunknownctl);
  }

  write(c: Conv, data: Uint8Array): number {
    c.rq.checkWritable();
    const ep = c.ptcl as IcmpEndpoint | null;
    if (!ep) throw new NinepError('i/o on hungup channel');
    // Shorter than the IP header room plus an ICMP header: silently dropped.
    if (data.length < IPHDR + 8) return data.length;
    ep.ttl = c.ttl;
    ep.tos = c.tos;
    ep.send(data.subarray(IPHDR));
    return data.length;
  }

  close(c: Conv): void {
    (c.ptcl as IcmpEndpoint | null)?.close();
  }

  status(c: Conv): string {
    return icmpStatus(c.rq.length);
  }

  stats(): string {
    const s = this.stack.stats.icmp;
    return icmpStatsText((n) => s[n], s.inTypes, s.outTypes);
  }
}
