// Half close (Plan 9 `hangupxmit`, 9legacy tcp.c tcpxmitclose), segment
// by segment under a ManualClock: FIN after the queued data, Finwait1 →
// Finwait2, the peer's data still delivered, its FIN the reader's EOF,
// writes refused; from Close_wait it is Last_ack.
import { describe, expect, it } from 'vitest';
import { TCP_ACK, TCP_FIN, TCP_PSH } from '../../../src/stack/wire/tcp.js';
import { active, flagsOf, PISS } from './harness.js';

describe('tcp: closeSend (hangupxmit)', () => {
  it('sends FIN after the queued data and goes on receiving until the peer\'s FIN', () => {
    const t = active({ timeWaitMs: 2000 });
    t.out();
    t.conn.write(new Uint8Array([1, 2, 3]), t.clock.now());
    t.conn.closeSend(t.clock.now());
    expect(t.conn.state).toBe('Finwait1');
    const segs = t.out();
    // The data, and the FIN right after it (one segment or two).
    const fin = segs[segs.length - 1]!;
    expect(fin.flags & TCP_FIN).toBeTruthy();
    expect(segs.reduce((n, s) => n + s.payload.length, 0)).toBe(3);
    expect((fin.seq + fin.payload.length) >>> 0).toBe((t.iss + 4) >>> 0);
    expect(() => t.conn.write(new Uint8Array([4]), t.clock.now())).toThrow('i/o on hungup channel');
    expect(t.conn.sendClosed).toBe(true);
    // The peer acknowledges data and FIN: Finwait2, and it keeps sending.
    t.send({ seq: PISS + 1, ack: (t.iss + 5) >>> 0, flags: TCP_ACK });
    expect(t.conn.state).toBe('Finwait2');
    t.send({ seq: PISS + 1, ack: (t.iss + 5) >>> 0, flags: TCP_ACK | TCP_PSH, payload: new Uint8Array([7, 8]) });
    // Finwait2 is not timed out while the user holds the connection.
    t.clock.advance(10 * 60_000);
    expect(t.conn.state).toBe('Finwait2');
    t.send({ seq: PISS + 3, ack: (t.iss + 5) >>> 0, flags: TCP_ACK | TCP_PSH, payload: new Uint8Array([9]) });
    expect(t.r.data).toEqual([7, 8, 9]);
    t.send({ seq: PISS + 4, ack: (t.iss + 5) >>> 0, flags: TCP_ACK | TCP_FIN });
    expect(t.conn.state).toBe('Time_wait');
    expect(t.r.events).toEqual(['open', 'data 2', 'data 1', 'end', 'closed null']);
    expect(t.out().map((s) => [flagsOf(s), s.ack]).pop()).toEqual(['A', PISS + 5]);
    t.clock.advance(2000);
    expect(t.conn.state).toBe('Closed');
  });

  it('is EOF for the reader when the peer\'s FIN crosses ours (Closing)', () => {
    const t = active();
    t.out();
    t.conn.closeSend(t.clock.now());
    const [fin] = t.out();
    expect(flagsOf(fin!)).toBe('AF');
    t.send({ seq: PISS + 1, ack: t.iss + 1, flags: TCP_ACK | TCP_FIN });
    expect(t.conn.state).toBe('Closing');
    expect(t.r.events).toEqual(['open', 'end']);
  });

  it('from Close_wait goes to Last_ack, then Closed with an orderly end', () => {
    const t = active();
    t.out();
    t.send({ seq: PISS + 1, ack: t.iss + 1, flags: TCP_ACK | TCP_FIN });
    expect(t.conn.state).toBe('Close_wait');
    t.conn.closeSend(t.clock.now());
    expect(t.conn.state).toBe('Last_ack');
    const fin = t.out().pop()!;
    expect(flagsOf(fin)).toBe('AF');
    t.send({ seq: PISS + 2, ack: fin.seq + 1, flags: TCP_ACK });
    expect(t.conn.state).toBe('Closed');
    expect(t.r.events).toEqual(['open', 'end', 'closed null']);
  });

  it('a close after it bounds Finwait2 again', () => {
    const t = active({ timeWaitMs: 1000 });
    t.out();
    t.conn.closeSend(t.clock.now());
    const [fin] = t.out();
    t.send({ seq: PISS + 1, ack: fin!.seq + 1, flags: TCP_ACK });
    expect(t.conn.state).toBe('Finwait2');
    t.conn.close(t.clock.now());
    t.clock.advance(60_000);
    expect(t.conn.state).toBe('Closed');
  });
});
