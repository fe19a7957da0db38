/**
 * TCP states with 9front's names (`tcpstates[]` in ip/tcp.c), printed as
 * the first word of /net/tcp/N/status (plan9-net.md §4.2), and the timer
 * union of a connection (style.md §4.5, smoltcp `enum Timer`).
 */
export type TcpState =
  | 'Closed'
  | 'Listen'
  | 'Syn_sent'
  | 'Syn_received'
  | 'Established'
  | 'Finwait1'
  | 'Finwait2'
  | 'Close_wait'
  | 'Closing'
  | 'Last_ack'
  | 'Time_wait';

/** Numeric order used by Plan 9 (0–10). */
export const TCP_STATES: readonly TcpState[] = Object.freeze([
  'Closed',
  'Listen',
  'Syn_sent',
  'Syn_received',
  'Established',
  'Finwait1',
  'Finwait2',
  'Close_wait',
  'Closing',
  'Last_ack',
  'Time_wait',
]);

/**
 * The connection's main timer; at most one runs at a time:
 *  - `idle`: nothing (or the keep-alive deadline `at`, when enabled);
 *  - `rtx`: retransmission (RFC 6298), SYN retransmission in Syn_sent;
 *  - `tlp`: tail loss probe (RFC 8985 §7), armed instead of `rtx` while
 *    data is outstanding outside recovery; `rtx` follows the probe;
 *  - `zwp`: zero-window probe (persist timer, RFC 9293 §3.8.6.1);
 *  - `timewait`: 2·MSL in Time_wait.
 * The delayed-ACK deadline is kept separately (it runs alongside).
 */
export type TcpTimer =
  | { kind: 'idle'; at: number | null }
  | { kind: 'rtx'; at: number }
  | { kind: 'tlp'; at: number }
  | { kind: 'zwp'; at: number }
  | { kind: 'timewait'; at: number };

/** Synchronized states (RFC 9293 §3.3.2): after the handshake. */
export function isSynchronized(s: TcpState): boolean {
  return s !== 'Closed' && s !== 'Listen' && s !== 'Syn_sent' && s !== 'Syn_received';
}
