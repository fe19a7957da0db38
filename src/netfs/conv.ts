/**
 * Conversations and the protocol interface (9front ip.h's Conv and Proto).
 *
 * netfs owns everything generic about a conversation — ownership and
 * permissions, the devip state (Idle/Announcing/Announced/Connecting/
 * Connected), reference counts, addresses, the receive and error queues and
 * the queue of incoming calls — and a Proto (host sockets, our stack, a
 * lower /net) supplies the transport behind it.
 */
import type { MaybePromise, Signal } from '../ninep/node.js';
import type { CaptureSource } from './capture.js';
import type { EventSource } from './events.js';
import { IPnoaddr } from './ipaddr.js';
import type { Ip } from './ipaddr.js';
import { Queue } from './queue.js';

export type ConvState = 'Idle' | 'Announcing' | 'Announced' | 'Connecting' | 'Connected';

/** The remote side of a connect: `A!P[!r]`. */
export interface RemoteSpec {
  addr: Ip;
  port: number;
  /** `!r`: use a restricted local port (600–1023). */
  restricted: boolean;
}

/** A local side: `[A!]P` (announce, bind, 3rd field of connect). */
export interface LocalSpec {
  /** null: not given (announce uses ::, connect/bind the route-chosen source). */
  addr: Ip | null;
  /** 0: allocate one. */
  port: number;
  /** `*` as port: any port not otherwise announced (announce only, eve only). */
  anyPort: boolean;
}

export interface Proto {
  readonly name: string;
  /** Bound on conversations (devip: tcp 1024, udp 1024). */
  readonly maxConvs: number;
  /** How `data` reads behave. */
  readonly dataMode: 'stream' | 'datagram';
  /** Receive queue bound in bytes. */
  readonly rqLimit: number;
  /** Local ports below 1024 are a privilege of the host (its sockets, 9net running as root): eve's only. */
  readonly privilegedPorts?: boolean;

  /** Connect; resolve when established. The ctl write waits for it. */
  connect?(c: Conv, remote: RemoteSpec, local: LocalSpec | null, signal: Signal): Promise<void>;
  /** Announce; resolve when listening. */
  announce?(c: Conv, local: LocalSpec, signal: Signal): Promise<void>;
  /** Record a local address (APE bind); the default only stores it. */
  bind?(c: Conv, local: LocalSpec, signal: Signal): MaybePromise<void>;
  /**
   * Told of the generic verbs ttl, tos, ignoreadvice and backlog after they were
   * applied to the conversation (optional): a protocol carried by another
   * /net passes them on to it.
   */
  option?(c: Conv, fields: string[], signal: Signal): MaybePromise<void>;
  /** Protocol ctl verbs; unknown ones throw NinepError('unknown control request'). */
  ctl(c: Conv, fields: string[], signal: Signal): MaybePromise<void>;
  /** One write to `data`. */
  write(c: Conv, data: Uint8Array, signal: Signal): MaybePromise<number>;
  /** One write to `data` given in pieces (optional; else the pieces are joined). */
  writev?(c: Conv, parts: Uint8Array[], signal: Signal): MaybePromise<number>;
  /** The last reference went away: close the transport. */
  close(c: Conv): void;
  /** Conversations were freed (after close): calls a transport holds below us may find one now. */
  freed?(): void;
  /** The protocol still holds c (TCP Time_wait...): not recyclable yet. */
  inuse?(c: Conv): boolean;
  /** The status line. */
  status(c: Conv): string;
  /** The stats file; absent: "stats not implemented". */
  stats?(): string;
  /** Whether an address may be used as a local address. */
  isLocal(addr: Ip): boolean;
  /** The conversation's packets (N/pcap, ours); absent: no pcap file. */
  capture?(c: Conv): CaptureSource;
  /** The conversation's events (N/events, ours); absent: no events file. */
  events?(c: Conv): EventSource;
}

/** Unaccepted calls an announced conversation may queue by default (devip's Maxincall). */
export const DEFAULT_BACKLOG = 64;
/** The most a `backlog` ctl may ask for. */
export const MAX_BACKLOG = 1024;

export class Conv {
  owner = 'network';
  perm = 0o660;
  state: ConvState = 'Idle';
  /** Open ctl/data/err fids, clone and listen opens (devip inuse). */
  refs = 0;
  laddr: Ip = IPnoaddr;
  lport = 0;
  raddr: Ip = IPnoaddr;
  rport = 0;
  restricted = false;
  ttl = 255;
  tos = 0;
  ignoreadvice = false;
  /** UDP `headers` mode. */
  headers = false;
  /** Receive queue (`data` reads). */
  readonly rq: Queue;
  /** Error queue (`err` reads). */
  readonly eq: Queue;
  /** Bound on `incall` (`backlog` ctl). */
  backlog = DEFAULT_BACKLOG;
  /** Calls that completed and wait for a `listen` open. */
  incall: Conv[] = [];
  /** This conversation sits in its announcer's incall queue. */
  queued = false;
  /** Pending `listen` opens. */
  listeners: { resolve: (c: Conv) => void; reject: (e: Error) => void }[] = [];
  /** Transport state owned by the Proto. */
  ptcl: unknown = null;
  /** Told when this conversation ends for its observers (pcap and events readers get EOF). */
  readonly watchers = new Set<() => void>();

  constructor(readonly index: number, readonly proto: Proto) {
    this.rq = new Queue(proto.dataMode, proto.rqLimit);
    this.eq = new Queue('datagram', 64 * 1024);
  }

  /** The conversation is over for its observers: each is told once. */
  endWatchers(): void {
    const w = [...this.watchers];
    this.watchers.clear();
    for (const fn of w) fn();
  }

  /** Make an idle conversation fresh for a new owner. */
  reset(owner: string): void {
    this.endWatchers();
    this.owner = owner;
    this.perm = 0o660;
    this.state = 'Idle';
    this.laddr = IPnoaddr;
    this.lport = 0;
    this.raddr = IPnoaddr;
    this.rport = 0;
    this.restricted = false;
    this.ttl = 255;
    this.tos = 0;
    this.ignoreadvice = false;
    this.headers = false;
    this.backlog = DEFAULT_BACKLOG;
    this.incall = [];
    this.queued = false;
    this.listeners = [];
    this.ptcl = null;
    this.rq.reset();
    this.eq.reset();
  }
}
