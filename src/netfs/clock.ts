/**
 * /net/clock (ours; Plan 9 has none), served when the stack runs in
 * simulated time (`--clock manual`): a read gives the stack's time in
 * seconds and how it runs, `frozen`, `real` or `rate R` (one line,
 * `7.000000 frozen`); the host owner writes
 *
 *     freeze          stop time
 *     advance D       move it on by D (`250ms`, `3s`; at most a day), firing
 *                     every timer due on the way, each at its own time
 *     rate R          run at R times real time (0.000001 to 1000)
 *     real            run at real time's pace (rate 1)
 *
 * so a script single-steps RTOs, Time_wait and keepalives.
 */
import { Eperm, NinepError } from '../ninep/error.js';
import type { Node } from '../ninep/node.js';
import { SynthFile, snapshotText, wantsWrite } from '../ninep/synth.js';
import { qid, QTFILE } from '../ninep/types.js';
import { ctlText, tokenize } from './ctl.js';
import { Ebadarg, Eunknownctl } from './errors.js';
import { formatSeconds } from './events.js';
import { parseDuration } from './impair.js';
import { QSPACE_CLOCK } from './qid.js';

/** What /net/clock steers (lib/simclock.ts SimClock). */
export interface ClockControl {
  now(): number;
  /** 0 when frozen. */
  readonly rate: number;
  freeze(): void;
  setRate(rate: number): void;
  /** Throws RangeError beyond its bound. */
  advance(ms: number): void;
}

function modeText(rate: number): string {
  return rate === 0 ? 'frozen' : rate === 1 ? 'real' : `rate ${rate}`;
}

function control(c: ClockControl, f: string[]): void {
  const arg = (): number => {
    if (f.length !== 2) throw new NinepError(Ebadarg);
    return f[0] === 'advance' ? parseDuration(f[1]!) ?? NaN : /^\d+(\.\d+)?(e-?\d+)?$/.test(f[1]!) ? Number(f[1]) : NaN;
  };
  try {
    switch (f[0]) {
      case 'freeze':
        c.freeze();
        return;
      case 'real':
        c.setRate(1);
        return;
      case 'rate':
        c.setRate(arg());
        return;
      case 'advance':
        c.advance(arg());
        return;
      default:
        throw new NinepError(Eunknownctl);
    }
  } catch (e) {
    if (e instanceof RangeError) throw new NinepError(Ebadarg);
    throw e;
  }
}

/** The /net/clock file over `c`; writes are the host owner's. */
export function clockNode(c: ClockControl, eve: string): Node {
  return new SynthFile(qid(QTFILE, QSPACE_CLOCK), () => ({ name: 'clock', uid: eve, gid: eve, mode: 0o644 }), (req) => {
    if (wantsWrite(req.mode) && req.user !== eve) throw new NinepError(Eperm);
    const text = snapshotText(() => `${formatSeconds(c.now())} ${modeText(c.rate)}\n`);
    return {
      read: text.read!,
      write: (_o, data) => {
        control(c, tokenize(ctlText(data)));
        return data.length;
      },
    };
  });
}
