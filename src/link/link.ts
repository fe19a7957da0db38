/**
 * The link layer contract: a Link moves whole Ethernet frames (no preamble,
 * no FCS) between us and one segment. It is push-based in both directions:
 * send() hands a frame to the link, attach() registers the one receiver
 * and, optionally, who is told when a batch of received frames is over.
 * Implementations: TapLink (kernel TAP device), pair/hub ports (in memory),
 * FaultLink (decorator).
 */

/** Bytes of an Ethernet II header: destination MAC, source MAC, EtherType. */
export const ETH_HEADER_LEN = 14;
/** Bytes of a MAC address. */
export const MAC_LEN = 6;
/** Default IP MTU of an Ethernet link. */
export const DEFAULT_MTU = 1500;

/**
 * Per-link counters, kept by every Link (later /net/ether0/stats).
 * "in" is towards us (frames the link delivers to the receiver), "out" is
 * frames we send. Bytes count whole frames including the Ethernet header.
 */
export interface LinkStats {
  /** Frames delivered to the receiver. */
  rxFrames: number;
  rxBytes: number;
  /** Frames that arrived but were not delivered: no receiver, closed link, full queue. */
  rxDropped: number;
  /** Frames that arrived malformed (too short or too long, truncated). */
  rxErrors: number;
  /** Frames handed on by send()/sendBatch(). */
  txFrames: number;
  txBytes: number;
  /** Frames not sent for lack of room or a closed/down link. */
  txDropped: number;
  /** Frames refused as malformed (shorter than the header, longer than mtu + header). */
  txErrors: number;
}

export function newLinkStats(): LinkStats {
  return { rxFrames: 0, rxBytes: 0, rxDropped: 0, rxErrors: 0, txFrames: 0, txBytes: 0, txDropped: 0, txErrors: 0 };
}

/**
 * Receives one frame. The frame may be a view into a buffer the link reuses:
 * it is valid only during the call, and it must not be modified. Copy
 * (frame.slice()) whatever is kept after returning. Exceptions thrown by the
 * receiver propagate out of the link's delivery (they are not swallowed).
 */
export type FrameHandler = (frame: Uint8Array) => void;

/**
 * Told that a batch of received frames is over: the frames one wakeup of
 * the device brought, one drain of an in-memory wire. Links that deliver
 * one frame at a time call it after each. A receiver may leave work for
 * it (TCP sends one ACK per batch, as GRO gives the kernel).
 */
export type BatchEndHandler = () => void;

export interface Disposable {
  dispose(): void;
}

export interface Link {
  /**
   * IP MTU: the largest payload after the Ethernet header. It does NOT
   * include the ETH_HEADER_LEN (14) header bytes, so the largest frame
   * send() accepts is mtu + ETH_HEADER_LEN bytes (e.g. 1500 + 14).
   */
  readonly mtu: number;
  /** Our 6-byte MAC on this link (the source address we put in frames). */
  readonly mac: Uint8Array;
  /** Live counters; read-only to users, updated by the link. */
  readonly stats: Readonly<LinkStats>;
  /**
   * Send one whole Ethernet frame (no FCS). Ownership passes to the link:
   * the caller must not modify the frame afterwards. Never throws for
   * network conditions: drops and malformed frames are only counted
   * (txDropped / txErrors).
   */
  send(frame: Uint8Array): void;
  /** Send several frames in order; same contract as send() for each. */
  sendBatch(frames: readonly Uint8Array[]): void;
  /**
   * Register the receiver (one at a time: attaching a second throws).
   * Frames arriving with no receiver are dropped and counted (rxDropped).
   * `endBatch`, when given, is called after every batch of frames handed
   * to `rx` (after each frame, for a link that delivers them one by one),
   * so nothing the receiver left for the end of a batch waits longer.
   */
  attach(rx: FrameHandler, endBatch?: BatchEndHandler): Disposable;
  /**
   * Stop delivery and release resources. Idempotent; after close, send()
   * counts drops and nothing is delivered.
   */
  close(): Promise<void>;
}

/** Frame length check shared by links: header present, payload within mtu. */
export function frameLengthOk(len: number, mtu: number): boolean {
  return len >= ETH_HEADER_LEN && len <= mtu + ETH_HEADER_LEN;
}
