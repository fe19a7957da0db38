/**
 * User-visible stack failures. A StackError carries a Plan 9 error string
 * (plan9-net.md §14) as its message, e.g. `address in use`, `no ports
 * available`, `not a local IP address`, so the /net layer can hand it to
 * clients verbatim as the Rerror text.
 *
 * Only calls made by users of the stack (ctl-style operations) throw
 * StackErrors. Nothing driven by received bytes ever throws: malformed input
 * is dropped and counted (see stats.ts).
 */
export class StackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StackError';
  }

  /** The Plan 9 text, under the name the /net layer's error boundary looks for (netfs/errors.ts). */
  get ename(): string {
    return this.message;
  }
}

/** Plan 9 error strings used by the stack (port/error.h and ip/*.c). */
export const Ebadarg = 'bad arg in system call';
export const Einuse = 'address in use';
export const Enoports = 'no ports available';
export const Enotlocal = 'not a local IP address';
export const Enoifc = 'no interface';
export const Eunreach = 'destination unreachable';
export const Enotbound = 'interface not bound';
export const Enotonifc = 'address not on this interface';
export const Ebadip = 'bad ip address syntax';
