/**
 * Announcements whose incoming calls wait below us — in the host kernel's
 * accept queue, at a lower server's listen — until netfs has room to queue
 * one more (ProtoDir.callRoom: the backlog, and a free conversation).
 *
 * Room comes back when a `listen` takes a call (ProtoDir.onCallTaken),
 * when `backlog` is raised, and when any conversation of the protocol is
 * closed (a full table has a free slot again). The first two concern one
 * announcement and retry it at once; a close is told to Proto.close before
 * netfs frees the conversation, so every waiting announcement retries
 * after the current event (setImmediate). One entry per announcement.
 */
import type { Conv } from '../netfs/conv.js';

export class CallRoom {
  private readonly waiting = new Map<Conv, () => void>();
  private retryAll: ReturnType<typeof setImmediate> | null = null;

  /** `parent` has calls waiting below us; `retry` offers them again. */
  wait(parent: Conv, retry: () => void): void {
    this.waiting.set(parent, retry);
  }

  /** `parent` has no calls waiting any more (or is gone). */
  done(parent: Conv): void {
    this.waiting.delete(parent);
  }

  /** Room for `parent` may have come back (a listen took a call, backlog raised). */
  wake(parent: Conv): void {
    this.waiting.get(parent)?.();
  }

  /** A conversation is being closed: retry every waiting announcement once it is free. */
  closing(): void {
    if (this.waiting.size === 0 || this.retryAll !== null) return;
    this.retryAll = setImmediate(() => {
      this.retryAll = null;
      for (const retry of [...this.waiting.values()]) retry();
    });
  }
}
