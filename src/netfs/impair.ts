/**
 * The `impair` ctl verb (ours; Plan 9 has none), on /net/ipifc/N/ctl for
 * an interface and on a TCP or UDP conversation's ctl for that flow only:
 *
 *     impair [in|out] [loss P%] [dup P%] [corrupt P%] [reorder P%]
 *            [delay D] [jitter J] [rate R] [seed N]
 *     impair [in|out] off
 *
 * Without `in` or `out` both directions get the settings. Percentages are
 * of packets (`1%`, `0.1`); D and J are durations (`40ms`, `1.5s`,
 * `500us`, a bare number is ms), the delay uniform in [D-J, D+J] (J at
 * most D); R is `10mbit` (bit, kbit, mbit, gbit per second; kbps, mbps,
 * gbps in bytes per second, as tc). `seed` makes a run repeat exactly;
 * without it one is drawn and shown. The settings and what they did show
 * in `status` as `impair` lines (impairText).
 */
import { checkImpairSpec, NO_IMPAIRMENT } from '../link/impair.js';
import type { ImpairSpec } from '../link/impair.js';
import type { ImpairmentState, PacketDir } from '../link/packethook.js';

export interface ImpairRequest {
  dirs: PacketDir[];
  /** null: `off`. */
  spec: ImpairSpec | null;
  /** null: draw one. */
  seed: number | null;
}

const DUR_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };
const RATE_UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9, bps: 8, kbps: 8e3, mbps: 8e6, gbps: 8e9 };

function percent(s: string): number | null {
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(s);
  return m ? Number(m[1]) / 100 : null;
}

/** A duration in ms (`40ms`, `1.5s`, `500us`, `2m`, bare ms), or null. */
export function parseDuration(s: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s|m)?$/.exec(s);
  return m ? Number(m[1]) * DUR_UNITS[m[2] ?? 'ms']! : null;
}

function parseRate(s: string): number | null {
  const m = /^(\d+(?:\.\d+)?)([a-z]+)?$/i.exec(s);
  if (!m) return null;
  const unit = RATE_UNITS[(m[2] ?? 'bit').toLowerCase()];
  return unit === undefined ? null : Number(m[1]) * unit;
}

/** The fields after `impair`; a text saying what is wrong instead of throwing. */
export function parseImpair(f: string[]): ImpairRequest | string {
  let i = 0;
  let dirs: PacketDir[] = ['in', 'out'];
  if (f[i] === 'in' || f[i] === 'out') dirs = [f[i++] as PacketDir];
  if (f[i] === 'off') {
    if (i + 1 !== f.length) return 'impair: nothing may follow off';
    return { dirs, spec: null, seed: null };
  }
  if (i >= f.length) return 'impair: what impairment? (loss, dup, corrupt, reorder, delay, jitter, rate, seed, off)';
  const spec: ImpairSpec = { ...NO_IMPAIRMENT };
  let delay = 0;
  let jitter = 0;
  let seed: number | null = null;
  for (; i < f.length; i += 2) {
    const key = f[i]!;
    const val = f[i + 1];
    if (val === undefined) return `impair: ${key} needs a value`;
    let p: number | null;
    switch (key) {
      case 'loss':
      case 'dup':
      case 'duplicate':
      case 'corrupt':
      case 'reorder':
        p = percent(val);
        if (p === null || p > 1) return `impair: bad ${key} ${val} (want 0-100%)`;
        spec[key === 'dup' || key === 'duplicate' ? 'duplicate' : key === 'loss' ? 'loss' : key] = p;
        break;
      case 'delay':
      case 'jitter':
        p = parseDuration(val);
        if (p === null) return `impair: bad ${key} ${val} (want e.g. 40ms)`;
        if (key === 'delay') delay = p;
        else jitter = p;
        break;
      case 'rate':
        p = parseRate(val);
        if (p === null) return `impair: bad rate ${val} (want e.g. 10mbit)`;
        spec.rate = p;
        break;
      case 'seed':
        if (!/^\d{1,10}$/.test(val) || Number(val) > 0xffffffff) return `impair: bad seed ${val}`;
        seed = Number(val);
        break;
      default:
        return `impair: unknown setting ${key}`;
    }
  }
  if (jitter > delay) return 'impair: jitter must not exceed delay';
  spec.delayMin = delay - jitter;
  spec.delayMax = delay + jitter;
  const bad = checkImpairSpec(spec, true);
  if (bad !== null) return `impair: ${bad}`;
  return { dirs, spec, seed };
}

function pct(p: number): string {
  return `${Number((p * 100).toPrecision(6))}%`;
}

function ms(x: number): string {
  return `${Number(x.toPrecision(6))}ms`;
}

function rateText(r: number): string {
  for (const [u, n] of [['gbit', 1e9], ['mbit', 1e6], ['kbit', 1e3]] as const) if (r >= n && r % n === 0) return `${r / n}${u}`;
  return `${Number(r.toPrecision(6))}bit`;
}

/** `impair DIR settings seed N` and what it did, one line per impaired direction. */
export function impairText(states: readonly ImpairmentState[]): string {
  let out = '';
  for (const st of states) {
    const s = st.spec;
    let line = `impair ${st.dir}`;
    if (s.loss > 0) line += ` loss ${pct(s.loss)}`;
    if (s.duplicate > 0) line += ` dup ${pct(s.duplicate)}`;
    if (s.corrupt > 0) line += ` corrupt ${pct(s.corrupt)}`;
    if (s.reorder > 0) line += ` reorder ${pct(s.reorder)}`;
    if (s.delayMax > 0) line += ` delay ${ms((s.delayMin + s.delayMax) / 2)} jitter ${ms((s.delayMax - s.delayMin) / 2)}`;
    if (s.rate > 0) line += ` rate ${rateText(s.rate)}`;
    const c = st.counters;
    line += ` seed ${st.seed} dropped ${c.dropped} duplicated ${c.duplicated} corrupted ${c.corrupted} reordered ${c.reordered} delayed ${c.delayed} overflow ${c.overflow}\n`;
    out += line;
  }
  return out;
}
