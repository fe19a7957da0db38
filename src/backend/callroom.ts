/**
 * Announcements whose incoming calls wait below us — in the host kernel's
 * accept queue, at a lower server's listen — until netfs has room to queue
 * one more (ProtoDir.callRoom: the backlog, and a free conversation).
 *
 * Room comes back when a `listen` takes a call (ProtoDir.onCallTaken),
 * when `backlog` is raised, and when any conversation of the protocol is
 * freed (a full table has a free slot again: netfs says so with
 * Proto.freed once it has freed it). The first two concern one
 * announcement; a freed conversation retries every waiting one. One entry
 * per announcement.
 */
import type { Conv } from '../netfs/conv.js';

export class CallRoom {
  private readonly waiting = new Map<Conv, () => void>();

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

  /** Conversations were freed (Proto.freed): every waiting announcement tries again. */
  freed(): void {
    for (const retry of [...this.waiting.values()]) retry();
  }

}
