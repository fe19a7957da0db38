/** Our TCP's counters: tcp.c's 28 (lib/mib.ts), as a record updated in place. */
export { TCP_STAT_NAMES } from '../../lib/mib.js';
import { TCP_STAT_NAMES } from '../../lib/mib.js';
import type { TcpStatName } from '../../lib/mib.js';
export type { TcpStatName };
export type TcpStats = Record<TcpStatName, number>;

export function newTcpStats(): TcpStats {
  const s = {} as TcpStats;
  for (const n of TCP_STAT_NAMES) s[n] = 0;
  return s;
}
