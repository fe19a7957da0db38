/**
 * Ephemeral port allocation shared by UDP and ICMP conversations (and
 * later TCP): random in 32768–65535 like Plan 9's `unusedlport` (devip.c;
 * gotcha G19), drawn from the injected Rng.
 */
import type { Rng } from '../lib/rng.js';
import { rngRange } from '../lib/rng.js';
import { Einuse, Enoports, StackError } from './error.js';

export const EPHEMERAL_LO = 32768;
export const EPHEMERAL_HI = 65535;
/** Random probes before falling back to a linear scan. */
const PROBES = 64;

/**
 * An unused port in [EPHEMERAL_LO, EPHEMERAL_HI] according to `inUse`, or
 * -1 if every one is taken.
 */
export function allocEphemeral(rng: Rng, inUse: (port: number) => boolean): number {
  for (let i = 0; i < PROBES; i++) {
    const p = rngRange(rng, EPHEMERAL_LO, EPHEMERAL_HI);
    if (!inUse(p)) return p;
  }
  const span = EPHEMERAL_HI - EPHEMERAL_LO + 1;
  const start = rngRange(rng, 0, span - 1);
  for (let i = 0; i < span; i++) {
    const p = EPHEMERAL_LO + ((start + i) % span);
    if (!inUse(p)) return p;
  }
  return -1;
}

/** Plan 9's restricted ports (devip.c setlport with `!r`): 600–1023, the first free one. */
export const RESTRICTED_LO = 600;
export const RESTRICTED_HI = 1023;

/** The first unused restricted port according to `inUse`, or -1. */
export function allocRestricted(inUse: (port: number) => boolean): number {
  for (let p = RESTRICTED_LO; p <= RESTRICTED_HI; p++) if (!inUse(p)) return p;
  return -1;
}

/**
 * The port a conversation asked for (0 or absent: an ephemeral one), as
 * ICMP and ICMPv6 conversations take theirs.
 * @throws StackError `no ports available`, `bad numeric port`, `address in use`
 */
export function claimPort(rng: Rng, want: number, inUse: (port: number) => boolean): number {
  if (want === 0) {
    const p = allocEphemeral(rng, inUse);
    if (p < 0) throw new StackError(Enoports);
    return p;
  }
  if (!Number.isInteger(want) || want < 1 || want > 0xffff) throw new StackError('bad numeric port');
  if (inUse(want)) throw new StackError(Einuse);
  return want;
}
