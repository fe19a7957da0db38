/**
 * Writers waiting for room: a `data` write that finds the transport's send
 * buffer full waits, as a Plan 9 qwrite on a full queue does, until the
 * transport says there is room, the conversation fails, or the request is
 * flushed. One per conversation; it holds at most one entry per 9P request
 * in flight on the conversation (the server bounds those).
 */
import { Interrupted, NinepError } from '../ninep/error.js';
import type { MaybePromise, Signal } from '../ninep/node.js';
import { Ehungup } from './errors.js';

interface Waiter {
  resolve(): void;
  reject(e: Error): void;
}

export class WriteRoom {
  private waiters = new Set<Waiter>();
  private failure: string | null = null;

  /** Waiting writers. */
  get size(): number {
    return this.waiters.size;
  }

  /** Resolves at the next wake(); rejects with the failure or Interrupted. */
  wait(signal: Signal): Promise<void> {
    if (this.failure !== null) return Promise.reject(new NinepError(this.failure));
    if (signal.aborted) return Promise.reject(new Interrupted());
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters.delete(w);
        reject(new Interrupted());
      };
      const w: Waiter = {
        resolve: () => { signal.removeEventListener('abort', onAbort); resolve(); },
        reject: (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(w);
    });
  }

  /** There is room: every waiter tries again. */
  wake(): void {
    if (this.waiters.size === 0) return;
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w.resolve();
  }

  /** The conversation can send no more: waiters and later writes fail with `reason`. */
  fail(reason: string = Ehungup): void {
    this.failure ??= reason;
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w.reject(new NinepError(this.failure));
  }

  /** Usable again (conversation recycled). */
  reset(): void {
    this.fail();
    this.failure = null;
  }

  /**
   * Write all of `total` bytes with `attempt(done)`, which sends what fits
   * from offset `done` and returns how many bytes it took; wait for room
   * between attempts. The count is returned when everything is taken. A
   * failure after part of the data was taken returns the part (the write
   * was short, as a Plan 9 write cut by a hangup); a failure before fails
   * the write; a flush ends it with what was taken.
   */
  writeAll(total: number, signal: Signal, attempt: (done: number) => number): MaybePromise<number> {
    if (this.failure !== null) throw new NinepError(this.failure);
    let done = attempt(0);
    if (done >= total) return total;
    const loop = async (): Promise<number> => {
      for (;;) {
        try {
          await this.wait(signal);
        } catch (e) {
          if (done > 0) return done;
          throw e;
        }
        done += attempt(done);
        if (done >= total) return total;
      }
    };
    return loop();
  }
}
