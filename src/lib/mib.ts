/**
 * The counter names of Plan 9's protocol MIBs, in Plan 9's order: what our
 * stack counts (stack/) and what /net's stats files print (netfs/status.ts),
 * named once for both. From 9/ip/tcp.c (tcpstats), udp.c, icmp.c and ip.c.
 */

/** tcp.c's 28 counters of /net/tcp/stats, in its order. */
export const TCP_STAT_NAMES = [
  'MaxConn', 'MaxSegment', 'ActiveOpens', 'PassiveOpens', 'EstabResets', 'CurrEstab', 'InSegs', 'OutSegs',
  'RetransSegs', 'RetransSegsSent', 'RetransTimeouts', 'InErrs', 'OutRsts', 'CsumErrs', 'HlenErrs', 'LenErrs',
  'OutOfOrder', 'Resequenced', 'ReseqBytelim', 'ReseqPktlim', 'Delayack', 'Wopenack', 'Recovery', 'RecoveryDone',
  'RecoveryRTO', 'RecoveryNoSeq', 'RecoveryCwind', 'RecoveryPA',
] as const;
export type TcpStatName = (typeof TCP_STAT_NAMES)[number];

/** udp.c's four counters of /net/udp/stats. */
export const UDP_STAT_NAMES = ['InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams'] as const;
export type UdpStatName = (typeof UDP_STAT_NAMES)[number];

/** The 19 IP MIB counters of /net/ipifc/stats, in Plan 9's order. */
export const IP_STAT_NAMES = [
  'Forwarding', 'DefaultTTL', 'InReceives', 'InHdrErrors', 'InAddrErrors', 'ForwDatagrams', 'InUnknownProtos',
  'InDiscards', 'InDelivers', 'OutRequests', 'OutDiscards', 'OutNoRoutes', 'ReasmTimeout', 'ReasmReqds', 'ReasmOKs',
  'ReasmFails', 'FragOKs', 'FragFails', 'FragCreates',
] as const;
export type IpStatName = (typeof IP_STAT_NAMES)[number];

/** icmp.c's six counters of /net/icmp/stats, before the per-type lines. */
export const ICMP_STAT_NAMES = ['InMsgs', 'InErrors', 'OutMsgs', 'CsumErrs', 'LenErrs', 'HlenErrs'] as const;
export type IcmpStatName = (typeof ICMP_STAT_NAMES)[number];

/**
 * icmp.c's names of ICMP types 0–18 in /net/icmp/stats (`name: in out`);
 * '' prints the number. `AddrMaskReply  ` really has two trailing blanks.
 */
export const ICMP_TYPE_NAMES: readonly string[] = Object.freeze([
  'EchoReply', '', '', 'Unreachable', 'SrcQuench', 'Redirect', '', '', 'EchoRequest', '', '', 'TimeExceed',
  'InParmProblem', 'Timestamp', 'TimestampReply', 'InfoRequest', 'InfoReply', 'AddrMaskRequest', 'AddrMaskReply  ',
]);
