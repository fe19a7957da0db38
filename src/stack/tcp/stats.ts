/**
 * The 28 counters of 9front's /net/tcp/stats, in its order (plan9-net.md §4.5).
 */
export const TCP_STAT_NAMES = [
  'MaxConn',
  'MaxSegment',
  'ActiveOpens',
  'PassiveOpens',
  'EstabResets',
  'CurrEstab',
  'InSegs',
  'OutSegs',
  'RetransSegs',
  'RetransSegsSent',
  'RetransTimeouts',
  'InErrs',
  'OutRsts',
  'CsumErrs',
  'HlenErrs',
  'LenErrs',
  'OutOfOrder',
  'Resequenced',
  'ReseqBytelim',
  'ReseqPktlim',
  'Delayack',
  'Wopenack',
  'Recovery',
  'RecoveryDone',
  'RecoveryRTO',
  'RecoveryNoSeq',
  'RecoveryCwind',
  'RecoveryPA',
] as const;
export type TcpStatName = (typeof TCP_STAT_NAMES)[number];
export type TcpStats = Record<TcpStatName, number>;

export function newTcpStats(): TcpStats {
  const s = {} as TcpStats;
  for (const n of TCP_STAT_NAMES) s[n] = 0;
  return s;
}
