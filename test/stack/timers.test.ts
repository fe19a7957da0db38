// The Stack's single timer: armed at the earliest deadline of ARP, reassembly,
// the loopback queue and registered TimerSources (TCP), never more than one.
import { describe, expect, it } from 'vitest';
import type { Clock, TimerHandle } from '../../src/lib/clock.js';
import { ManualClock } from '../../src/lib/clock.js';
import { SeededRng } from '../../src/lib/rng.js';
import type { TimerSource } from '../../src/stack/core.js';
import { Stack } from '../../src/stack/stack.js';
import { ETHERTYPE_IPV4 } from '../../src/stack/wire/ethernet.js';
import { ChannelLink, ethFrame, ip, ipPacket, MAC_PEER, MAC_US, pattern } from './helpers.js';

/** A ManualClock that counts live timers. */
class CountingClock implements Clock {
  live = 0;
  maxLive = 0;
  constructor(readonly inner: ManualClock) {}
  now(): number {
    return this.inner.now();
  }
  at(deadline: number, fn: () => void): TimerHandle {
    this.live++;
    this.maxLive = Math.max(this.maxLive, this.live);
    let done = false;
    const h = this.inner.at(deadline, () => {
      done = true;
      this.live--;
      fn();
    });
    return {
      cancel: () => {
        if (!done) {
          done = true;
          this.live--;
        }
        h.cancel();
      },
    };
  }
}

describe('the single timer', () => {
  it('keeps one timer at the earliest deadline and polls sources when due', () => {
    const mc = new ManualClock(0);
    const clock = new CountingClock(mc);
    const stack = new Stack({ clock, rng: new SeededRng(1) });
    const link = new ChannelLink(MAC_US);
    const ifc = stack.addInterface(link);
    ifc.addAddress(ip('10.0.0.1'), 24);
    const polls: number[] = [];
    let deadline: number | null = 5000;
    const src: TimerSource = {
      pollAt: () => deadline,
      poll: (now) => {
        polls.push(now);
        deadline = now < 20000 ? now + 5000 : null;
      },
    };
    stack.addTimerSource(src);
    expect(mc.nextDeadline()).toBe(5000);
    // ARP resolution (retry at 1000) and a fragment (timeout at 30000).
    stack.udp.open({ onDatagram: () => {} }).send(pattern(4), ip('10.0.0.9'), 7);
    link.inject(
      ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, ipPacket({ src: ip('10.0.0.2'), dst: ip('10.0.0.1'), protocol: 17, moreFrags: true }, pattern(16))),
    );
    expect(mc.nextDeadline()).toBe(1000);
    expect(clock.live).toBe(1);
    // An earlier deadline from TCP re-arms.
    deadline = 500;
    stack.schedule(500);
    expect(mc.nextDeadline()).toBe(500);
    mc.advance(499);
    expect(polls).toEqual([]);
    mc.advance(1);
    expect(polls).toEqual([500]);
    mc.advance(40000);
    expect(polls).toEqual([500, 5500, 10500, 15500, 20500]);
    expect(stack.reassemblyDatagrams).toBe(0);
    expect(stack.arp.size).toBe(0);
    expect(clock.maxLive).toBe(1);
    expect(clock.live).toBe(0);
    expect(stack.pollAt()).toBeNull();
    stack.close();
    stack.schedule(1);
    expect(clock.live).toBe(0);
  });
});
