/**
 * The text of the `status` and `stats` files, once for every transport:
 * 9front's formats (9/ip/tcp.c tcpstate and tcpstats, udp.c udpstate and
 * udpstats, icmp.c icmpstats, ip.c's IP MIB in ipifc stats). A transport
 * supplies the numbers; what it does not know is 0.
 */

export { ICMP_STAT_NAMES, ICMP_TYPE_NAMES, IP_STAT_NAMES, TCP_STAT_NAMES, UDP_STAT_NAMES } from '../lib/mib.js';
export type { IcmpStatName, IpStatName, TcpStatName, UdpStatName } from '../lib/mib.js';
import { ICMP_STAT_NAMES, ICMP_TYPE_NAMES } from '../lib/mib.js';
import type { IcmpStatName } from '../lib/mib.js';

/** `Name: value` lines in the order of `names`; a missing value is 0. */
export function statsText<N extends string>(names: readonly N[], value: (name: N) => number | undefined): string {
  let out = '';
  for (const n of names) out += `${n}: ${value(n) ?? 0}\n`;
  return out;
}

/** /net/icmp/stats: the six counters, then `type: in out` for types 0–18. */
export function icmpStatsText(value: (name: IcmpStatName) => number, inTypes: readonly number[], outTypes: readonly number[]): string {
  let out = statsText(ICMP_STAT_NAMES, value);
  for (let t = 0; t < ICMP_TYPE_NAMES.length; t++) out += `${ICMP_TYPE_NAMES[t] || String(t)}: ${inTypes[t] ?? 0} ${outTypes[t] ?? 0}\n`;
  return out;
}

/** What tcp.c's status line shows of a connection beyond its state and queues (0 where unknown). */
export interface TcpStatusInfo {
  qout: number;
  rqSegs: number;
  rqBytes: number;
  srtt: number;
  mdev: number;
  sst: number;
  cwin: number;
  swin: number;
  sscale: number;
  rwin: number;
  rscale: number;
  qscale: number;
  timerStart: number;
  timerCount: number;
  rerecv: number;
  katimerStart: number;
  katimerCount: number;
}

/** A TCP conversation's status line (tcp.c tcpstate); `state` is one of tcp.c's tcpstates names. */
export function tcpStatus(state: string, qin: number, i: Partial<TcpStatusInfo> = {}): string {
  const n = (k: keyof TcpStatusInfo): number => i[k] ?? 0;
  return `${state} qin ${qin} qout ${n('qout')} rq ${n('rqSegs')}.${n('rqBytes')} srtt ${n('srtt')} mdev ${n('mdev')} sst ${n('sst')} cwin ${n('cwin')} swin ${n('swin')}>>${n('sscale')} rwin ${n('rwin')}>>${n('rscale')} qscale ${n('qscale')} timer.start ${n('timerStart')} timer.count ${n('timerCount')} rerecv ${n('rerecv')} katimer.start ${n('katimerStart')} katimer.count ${n('katimerCount')}\n`;
}

/** A UDP conversation's status line (udp.c udpstate): Open while in use, else Closed. */
export function udpStatus(open: boolean, qin: number): string {
  return `${open ? 'Open' : 'Closed'} qin ${qin} qout 0\n`;
}

/** An ICMP conversation's status line (icmp.c icmpstate). */
export function icmpStatus(qin: number): string {
  return `Datagram qin ${qin} qout 0\n`;
}
