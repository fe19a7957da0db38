// A listener whose queue of calls is full (admit() false, netfs's
// callRoom): an arriving SYN gets no answer at all (no SYN-ACK, no RST)
// and is counted; the client's retransmission is answered once there is
// room. A handshake that completes while the queue is full keeps its
// half-open entry (its ACK is dropped, as Linux does), is answered again
// by SYN-ACK retransmissions, at once when room returns, and is accepted
// on the client's next ACK. Nothing is refused or reset for want of room.
import { describe, expect, it } from 'vitest';
import type { TcpConn } from '../../../src/stack/tcp/conn.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../../../src/stack/wire/tcp.js';
import type { TcpRepr } from '../../../src/stack/wire/tcp.js';
import { flagsOf, harness, PISS } from './harness.js';

function full() {
  const h = harness();
  let room = false;
  const accepted: TcpConn[] = [];
  const data: number[] = [];
  const l = h.tcp.listen({
    localPort: 80,
    admit: () => room,
    onAccept: (c) => (accepted.push(c), { onData: (d) => data.push(...d) }),
  });
  return { ...h, l, accepted, data, setRoom: (v: boolean) => (room = v) };
}

/** A handshake that completes after the queue filled: returns our SYN-ACK. */
function held(t: ReturnType<typeof full>): TcpRepr {
  t.setRoom(true);
  t.inject({ seq: PISS, flags: TCP_SYN, mss: 1460 });
  const [sa] = t.out();
  t.setRoom(false);
  t.inject({ seq: PISS + 1, ack: sa!.seq + 1, flags: TCP_ACK });
  return sa!;
}

describe('tcp: a listener without room for calls', () => {
  it('drops a SYN silently and answers the client\'s retransmission once there is room', () => {
    const t = full();
    t.inject({ seq: PISS, flags: TCP_SYN, mss: 1460 });
    expect(t.out()).toEqual([]); // neither SYN-ACK nor RST
    expect(t.tcp.limboCount).toBe(0);
    expect(t.tcp.listenOverflows).toBe(1);
    expect(t.tcp.stats.OutRsts).toBe(0);
    t.clock.advance(1000);
    t.setRoom(true);
    t.inject({ seq: PISS, flags: TCP_SYN, mss: 1460 }); // the client's retransmission
    const [sa] = t.out();
    expect(flagsOf(sa!)).toBe('SA');
    t.inject({ seq: PISS + 1, ack: sa!.seq + 1, flags: TCP_ACK });
    expect(t.accepted.map((c) => c.state)).toEqual(['Established']);
  });

  it('keeps a handshake that completes while the queue is full, and accepts it when room returns', () => {
    const t = full();
    // The client's ACK, then its first data: both dropped, the entry stays.
    const sa = held(t);
    t.inject({ seq: PISS + 1, ack: sa.seq + 1, flags: TCP_ACK | TCP_PSH, payload: new Uint8Array([1, 2]) });
    expect(t.out()).toEqual([]);
    expect(t.tcp.limboCount).toBe(1);
    expect(t.accepted).toHaveLength(0);
    expect(t.tcp.listenOverflows).toBe(2);
    // The SYN-ACK retransmission timer goes on (the client ACKs it again).
    t.clock.advance(1000);
    expect(t.out().map(flagsOf)).toEqual(['SA']);
    // Room returns: the SYN-ACK goes at once, not at the next retransmission.
    t.clock.advance(100);
    t.setRoom(true);
    t.l.roomReturned(t.clock.now());
    expect(t.out().map(flagsOf)).toEqual(['SA']);
    t.l.roomReturned(t.clock.now()); // nothing else is held
    expect(t.out()).toEqual([]);
    t.inject({ seq: PISS + 1, ack: sa.seq + 1, flags: TCP_ACK | TCP_PSH, payload: new Uint8Array([1, 2]) });
    expect(t.accepted.map((c) => c.state)).toEqual(['Established']);
    expect(t.data).toEqual([1, 2]);
    expect(t.tcp.stats.OutRsts).toBe(0);
  });

  it('forgets a held handshake after its SYN-ACK retransmissions, without a RST', () => {
    const t = full();
    held(t);
    t.clock.advance(64_000);
    expect(t.tcp.limboCount).toBe(0);
    expect(t.out().every((s) => flagsOf(s) === 'SA')).toBe(true);
    expect(t.tcp.stats.OutRsts).toBe(0);
  });
});
