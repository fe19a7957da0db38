/**
 * The TCP ctl arguments every transport parses alike, as Plan 9's tcp.c
 * (tcpctl, tcpporthogdefensectl, tcpstartka) parses them.
 */
import { NinepError } from '../ninep/error.js';

/** tcp.c's keepalive period when none is given, and the least it takes. */
export const KEEPALIVE_DEFAULT_MS = 120_000;
export const KEEPALIVE_MIN_MS = 50;

/** The period of `keepalive [ms]`. */
export function keepaliveMs(f: string[]): number {
  if (f.length < 2) return KEEPALIVE_DEFAULT_MS;
  return Math.max(KEEPALIVE_MIN_MS, Number.parseInt(f[1]!, 10) || KEEPALIVE_DEFAULT_MS);
}

/**
 * Verbs that change nothing in 9net but are checked as tcp.c checks them:
 * `checksum N` (Plan 9 can turn checksums off; ours always run) and
 * `tcpporthogdefense on|off`. True when `f` is one of them.
 */
export function tcpNoopVerb(f: string[]): boolean {
  switch (f[0]) {
    case 'checksum':
      return true;
    case 'tcpporthogdefense':
      if (f[1] !== 'on' && f[1] !== 'off') throw new NinepError('unknown value for tcpporthogdefense');
      return true;
    default:
      return false;
  }
}
