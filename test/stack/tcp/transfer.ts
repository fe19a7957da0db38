/** Bulk transfer helpers for TCP tests: a pump that writes as the send buffer allows, and a sink. */
import type { TcpConn } from '../../../src/stack/tcp/conn.js';
import type { TcpHandler } from '../../../src/stack/tcp/types.js';

export interface Sink {
  handler: TcpHandler;
  received(): number;
  ended(): boolean;
  closed(): string | null | undefined;
  bytes(): Uint8Array;
}

/** Collects up to `expect` bytes into one buffer. */
export function sink(expect: number): Sink {
  const buf = new Uint8Array(expect);
  let n = 0;
  let end = false;
  let closedReason: string | null | undefined;
  return {
    handler: {
      onData(d) {
        if (n + d.length > expect) throw new Error(`sink overflow: ${n + d.length} > ${expect}`);
        buf.set(d, n);
        n += d.length;
      },
      onEnd() {
        end = true;
      },
      onClosed(r) {
        closedReason = r;
      },
    },
    received: () => n,
    ended: () => end,
    closed: () => closedReason,
    bytes: () => buf.subarray(0, n),
  };
}

/** Writes `data` into `conn` as buffer space allows; closes when done if `closeAfter`. */
export function pump(conn: TcpConn, data: Uint8Array, now: () => number, closeAfter = true): { done(): boolean; kick(): void } {
  let off = 0;
  const kick = (): void => {
    while (off < data.length) {
      const n = conn.write(data.subarray(off, Math.min(data.length, off + 256 * 1024)), now());
      if (n === 0) return;
      off += n;
    }
    if (closeAfter && off === data.length) {
      off++;
      conn.close(now());
    }
  };
  return { done: () => off >= data.length, kick };
}
