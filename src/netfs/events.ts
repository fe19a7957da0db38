/**
 * Event streams: /net/tcp/N/events (the connection's state machine) and
 * /net/ipifc/N/events (ARP, addresses, DHCP), ours; Plan 9 has none. One
 * text line per event, `SECONDS EVENT FIELDS...`, the time the stack's
 * clock in seconds with microseconds, readable with cat:
 *
 *     0.000000 state Closed Syn_sent connect
 *     1.000000 rto syn backoff 1 next 2000
 *     1.480213 recovery enter una 5790 recover 20270 cwnd 7240 ssthresh 7240
 *     lost 12
 *
 * Each open reads from then on, through its own bounded queue
 * (EVENTS_MAX_LINES, EVENTS_MAX_BYTES): a reader that falls behind loses
 * lines and finds `lost N` (no time) where they were; a stack has at most
 * MAX_EVENT_READERS at once. When the scope goes
 * away (the conversation is closed, the interface unbound) reads give what
 * is queued, then EOF.
 */
import type { Disposable } from '../link/link.js';
import type { OpenFile } from '../ninep/node.js';
import type { IfcEvent } from '../stack/ifcevents.js';
import type { TcpEvent } from '../stack/tcp/events.js';
import { withReader } from './capture.js';
import { LossyQueue } from './lossy.js';
import type { ReaderBudget } from './lossy.js';

/** Lines queued per reader before lines are lost. */
export const EVENTS_MAX_LINES = 4096;
/** Bytes queued per reader before lines are lost. */
export const EVENTS_MAX_BYTES = 256 * 1024;

export interface EventSource {
  /** Sees the scope's event lines (`now` on the stack's clock, ms) until disposed; `ended` when the scope goes away. */
  attach(sink: (now: number, text: string) => void, ended: () => void): Disposable;
  /** The stack's event readers. */
  readonly readers: ReaderBudget;
}

/** The stack's time as events and /net/clock print it: seconds, six decimals. */
export function formatSeconds(ms: number): string {
  const us = Math.max(0, Math.round(ms * 1000));
  return `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;
}

/** The open file of one event stream. */
export function eventsFile(src: EventSource): OpenFile {
  return withReader(src.readers, () => {
    const q = new LossyQueue(EVENTS_MAX_LINES, EVENTS_MAX_BYTES, (n) => Buffer.from(`lost ${n}\n`));
    const sub = src.attach((now, text) => q.offer(Buffer.from(`${formatSeconds(now)} ${text}\n`)), () => q.hangup());
    return {
      read: (_offset, count, signal) => q.read(count, signal),
      clunk: () => sub.dispose(),
    };
  });
}

function v4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function macText(m: number): string {
  return m.toString(16).padStart(12, '0');
}

/** A window, cwnd or ssthresh: "inf" for the initial ssthresh. */
function size(n: number): string {
  return n >= 0x7fffffff ? 'inf' : String(n);
}

/** The text of a TCP event (stack/tcp/events.ts). */
export function tcpEventText(e: TcpEvent): string {
  switch (e.kind) {
    case 'state': return `state ${e.from} ${e.to} ${e.why.replace(/\s+/g, '-')}`;
    case 'rto': return e.syn ? `rto syn backoff ${e.backoff} next ${e.rto}` : `rto backoff ${e.backoff} next ${e.rto} una ${e.una}`;
    case 'recovery-enter': return `recovery enter una ${e.una} recover ${e.recover} cwnd ${e.cwnd} ssthresh ${size(e.ssthresh)}`;
    case 'recovery-leave': return `recovery leave ${e.why} una ${e.una}`;
    case 'lost': return `rack lost seq ${e.seq} end ${e.end}`;
    case 'tlp': return `tlp una ${e.una} nxt ${e.nxt}`;
    case 'cwnd': return `cwnd ${e.cwnd} ssthresh ${size(e.ssthresh)}`;
    case 'zwp': return `zwp seq ${e.seq} backoff ${e.backoff}`;
    case 'window': return `window ${e.from} ${e.to}`;
    case 'sack': {
      let s = 'sack';
      for (let i = 0; i + 1 < e.blocks.length; i += 2) s += ` ${e.blocks[i]}-${e.blocks[i + 1]}`;
      return s;
    }
    case 'keepalive': return `keepalive probe ${e.probe}`;
  }
}

/** The text of an interface event (stack/ifcevents.ts). */
export function ifcEventText(e: IfcEvent): string {
  switch (e.kind) {
    case 'add':
    case 'remove':
      return `${e.kind} ${v4(e.ip)} ${v4(e.mask)}`;
    case 'arp':
      return e.what === 'failed' ? `arp failed ${v4(e.ip)}` : `arp ${e.what} ${v4(e.ip)} ${macText(e.mac)}`;
    case 'dhcp': {
      const l = e.lease;
      if (l === null) return 'dhcp lost';
      return `dhcp bound ${v4(l.address)} ${v4(l.mask)} server ${v4(l.server)} seconds ${l.seconds}`;
    }
  }
}
