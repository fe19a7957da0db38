/**
 * Stack counters, named as Plan 9 prints them (plan9-net.md §5.6, §6, §7.5),
 * plus drop counters keyed by `layer: reason` for everything discarded.
 *
 * Every counter object is a plain record of numbers updated in place; the
 * /net layer formats them. Name tables give the printing order.
 */

/** The 19 IP MIB counters of /net/ipifc/stats, in Plan 9's order. */
export const IP_STAT_NAMES = [
  'Forwarding',
  'DefaultTTL',
  'InReceives',
  'InHdrErrors',
  'InAddrErrors',
  'ForwDatagrams',
  'InUnknownProtos',
  'InDiscards',
  'InDelivers',
  'OutRequests',
  'OutDiscards',
  'OutNoRoutes',
  'ReasmTimeout',
  'ReasmReqds',
  'ReasmOKs',
  'ReasmFails',
  'FragOKs',
  'FragFails',
  'FragCreates',
] as const;
export type IpStatName = (typeof IP_STAT_NAMES)[number];
export type IpStats = Record<IpStatName, number>;

/** The six ICMP counters of /net/icmp/stats, in Plan 9's order. */
export const ICMP_STAT_NAMES = ['InMsgs', 'InErrors', 'OutMsgs', 'CsumErrs', 'LenErrs', 'HlenErrs'] as const;
export type IcmpStatName = (typeof ICMP_STAT_NAMES)[number];
export interface IcmpStats extends Record<IcmpStatName, number> {
  /** Messages received, by ICMP type (256 entries). */
  readonly inTypes: number[];
  /** Messages sent, by ICMP type (256 entries). */
  readonly outTypes: number[];
}

/**
 * Names of ICMP types 0–18 as Plan 9 prints them in /net/icmp/stats
 * (`<name>: <in> <out>`); an empty string means "print the number".
 * `AddrMaskReply  ` really has two trailing blanks (icmp.c, sic).
 */
export const ICMP_TYPE_NAMES: readonly string[] = Object.freeze([
  'EchoReply',
  '',
  '',
  'Unreachable',
  'SrcQuench',
  'Redirect',
  '',
  '',
  'EchoRequest',
  '',
  '',
  'TimeExceed',
  'InParmProblem',
  'Timestamp',
  'TimestampReply',
  'InfoRequest',
  'InfoReply',
  'AddrMaskRequest',
  'AddrMaskReply  ',
]);

/** The four UDP counters of /net/udp/stats, in Plan 9's order. */
export const UDP_STAT_NAMES = ['InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams'] as const;
export type UdpStatName = (typeof UDP_STAT_NAMES)[number];
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
