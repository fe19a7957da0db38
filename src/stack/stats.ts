/**
 * Stack counters, named as Plan 9 names them (lib/mib.ts, from 9/ip/ip.c,
 * icmp.c, udp.c), plus drop counters keyed by `layer: reason` for
 * everything discarded.
 *
 * Every counter object is a plain record of numbers updated in place; the
 * /net layer formats them (netfs/status.ts).
 */
import { IP_STAT_NAMES } from '../lib/mib.js';
import type { IcmpStatName, IpStatName, UdpStatName } from '../lib/mib.js';
export type { IcmpStatName, IpStatName, UdpStatName };

export type IpStats = Record<IpStatName, number>;

export interface IcmpStats extends Record<IcmpStatName, number> {
  /** Messages received, by ICMP type (256 entries). */
  readonly inTypes: number[];
  /** Messages sent, by ICMP type (256 entries). */
  readonly outTypes: number[];
}

export type UdpStats = Record<UdpStatName, number>;

/** Plan 9's MAXTTL, the default TTL of everything we originate. */
export const DEFAULT_TTL = 255;

export function newIpStats(): IpStats {
  const s = {} as IpStats;
  for (const n of IP_STAT_NAMES) s[n] = 0;
  s.Forwarding = 2; // MIB: 1 forwarding, 2 not forwarding
  s.DefaultTTL = DEFAULT_TTL;
  return s;
}

export function newIcmpStats(): IcmpStats {
  return {
    InMsgs: 0,
    InErrors: 0,
    OutMsgs: 0,
    CsumErrs: 0,
    LenErrs: 0,
    HlenErrs: 0,
    inTypes: new Array<number>(256).fill(0),
    outTypes: new Array<number>(256).fill(0),
  };
}

export function newUdpStats(): UdpStats {
  return { InDatagrams: 0, NoPorts: 0, InErrors: 0, OutDatagrams: 0 };
}

/**
 * Drop counters: `layer: reason` → count, e.g. `ipv4: bad checksum`,
 * `ether: not for us`, `reasm: overlap`. Wire-level reasons are the
 * WireError reasons (result.ts); stack-level ones are documented where
 * they are counted. Bounded: the set of keys is fixed by the code.
 */
export class DropCounters {
  private readonly m = new Map<string, number>();

  /** Counts one drop. */
  count(layer: string, reason: string): void {
    const k = `${layer}: ${reason}`;
    this.m.set(k, (this.m.get(k) ?? 0) + 1);
  }

  /** Count for `layer: reason` (0 if never counted). */
  get(layer: string, reason: string): number {
    return this.m.get(`${layer}: ${reason}`) ?? 0;
  }

  /** Sum of all drops of a layer. */
  layerTotal(layer: string): number {
    let n = 0;
    const p = `${layer}: `;
    for (const [k, v] of this.m) if (k.startsWith(p)) n += v;
    return n;
  }

  /** Sum of every drop. */
  total(): number {
    let n = 0;
    for (const v of this.m.values()) n += v;
    return n;
  }

  /** A snapshot, sorted by key. */
  entries(): [string, number][] {
    return [...this.m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
}

/** All stack counters. */
export interface StackStats {
  readonly ip: IpStats;
  readonly icmp: IcmpStats;
  readonly udp: UdpStats;
  readonly drops: DropCounters;
}
