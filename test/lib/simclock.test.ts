// SimClock: frozen time moves only by advance, firing timers each at its
// deadline; running, it follows its real clock (a ManualClock here) at the
// rate set, and stays monotonic across changes.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { MAX_ADVANCE_MS, SimClock } from '../../src/lib/simclock.js';

describe('SimClock', () => {
  it('frozen: advance fires due timers in deadline order, each at its own time', () => {
    const c = new SimClock(100, new ManualClock(5000));
    const seen: string[] = [];
    c.at(300, () => seen.push(`b@${c.now()}`));
    c.at(200, () => {
      seen.push(`a@${c.now()}`);
      c.at(250, () => seen.push(`a2@${c.now()}`)); // armed while firing, due in this advance
    });
    const t = c.at(260, () => seen.push('cancelled'));
    t.cancel();
    c.at(300, () => seen.push(`c@${c.now()}`)); // same deadline: insertion order
    expect(c.now()).toBe(100);
    c.advance(150);
    expect(seen).toEqual(['a@200', 'a2@250']);
    expect(c.now()).toBe(250);
    c.advance(50);
    expect(seen).toEqual(['a@200', 'a2@250', 'b@300', 'c@300']);
    expect(c.nextDeadline()).toBeNull();
    expect(c.rate).toBe(0);
  });

  it('running: follows the real clock at its rate, timers firing from the real clock', () => {
    const real = new ManualClock(1000);
    const c = new SimClock(0, real);
    const seen: number[] = [];
    c.at(500, () => seen.push(c.now()));
    c.setRate(2);
    real.advance(100);
    expect(c.now()).toBe(200);
    real.advance(150); // sim 500: due
    expect(seen).toEqual([500]);
    c.setRate(0.5);
    expect(c.now()).toBe(500);
    real.advance(100);
    expect(c.now()).toBe(550);
    c.freeze();
    real.advance(1000);
    expect(c.now()).toBe(550);
    // An advance while running jumps ahead, firing what falls due on the way at its time.
    c.setRate(1);
    c.at(700, () => seen.push(c.now()));
    c.advance(200);
    expect(seen).toEqual([500, 700]);
    expect(c.now()).toBe(750);
  });

  it('refuses what it cannot do', () => {
    const c = new SimClock(0, new ManualClock(0));
    expect(() => c.advance(-1)).toThrow(RangeError);
    expect(() => c.advance(MAX_ADVANCE_MS + 1)).toThrow(RangeError);
    expect(() => c.setRate(-1)).toThrow(RangeError);
    expect(() => c.setRate(1e9)).toThrow(RangeError);
    // Many cancelled timers leave nothing behind.
    for (let i = 0; i < 10_000; i++) c.at(i, () => {}).cancel();
    expect(c.nextDeadline()).toBeNull();
  });
});
