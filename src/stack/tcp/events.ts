/**
 * What a connection tells its /net/tcp/N/events readers, from its state
 * machine: state changes with their reason, retransmission timeouts (SYN
 * retransmissions included), recovery entered (the fast retransmit) and
 * left, retransmissions RACK finds lost (RFC 8985 §6.2), tail loss
 * probes, cwnd/ssthresh changes, zero-window probes, changes of the
 * peer's window, SACK blocks received and keep-alive probes. An event is
 * built only while a sink is attached (`c.ev?.(now, {...})` evaluates
 * nothing when `ev` is null); netfs writes the text (netfs/events.ts).
 */
import type { TcpState } from './state.js';

export type TcpEvent =
  | { kind: 'state'; from: TcpState; to: TcpState; why: string }
  /** The retransmission timer fired: `backoff` after backing off, the next `rto`, in Syn_sent a SYN again. */
  | { kind: 'rto'; backoff: number; rto: number; una: number; syn: boolean }
  /** Fast retransmit (RFC 5681 §3.2, RFC 6675 §5): recovery starts at `una`, lasting until `recover`. */
  | { kind: 'recovery-enter'; una: number; recover: number; cwnd: number; ssthresh: number }
  /** Recovery over: a full ACK, or an RTO took it over. */
  | { kind: 'recovery-leave'; why: 'ack' | 'rto'; una: number }
  /** A retransmission of this recovery found lost (RACK by sequence). */
  | { kind: 'lost'; seq: number; end: number }
  | { kind: 'tlp'; una: number; nxt: number }
  | { kind: 'cwnd'; cwnd: number; ssthresh: number }
  | { kind: 'zwp'; seq: number; backoff: number }
  /** The peer's window (bytes, scaled) changed. */
  | { kind: 'window'; from: number; to: number }
  /** SACK blocks of one segment, flat [left, right, ...]. */
  | { kind: 'sack'; blocks: readonly number[] }
  | { kind: 'keepalive'; probe: number };

export type TcpEventSink = (now: number, e: TcpEvent) => void;
