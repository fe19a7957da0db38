/**
 * The error strings of /net, exactly as Plan 9 spells them (port/error.h,
 * 9/ip/devip.c, 9/ip/tcp.c, 9/ip/udp.c; port/error.h, 9/ip/devip.c), and the one
 * boundary where what a backend threw becomes the client's error.
 *
 * A Proto (netfs/conv.ts) fails by throwing a NinepError with one of these
 * strings, or any error that carries its Plan 9 string as `ename` (the
 * stack's StackError does), or a Node.js system error (host sockets),
 * which is translated here. Anything else is a bug in the backend: it is
 * passed on unchanged, so the server logs it as an internal error and the
 * tests, which fail on such logs, find it.
 */
import { NinepError } from '../ninep/error.js';
import type { MaybePromise } from '../ninep/node.js';

export const Ehungup = 'i/o on hungup channel';
export const Einuse = 'connection in use';
export const Eaddrinuse = 'address in use';
export const Enotannounced = 'not announced';
export const Elistenhungup = 'listen hungup';
export const Eunknownctl = 'unknown control request';
export const Eshortctl = 'short control request';
export const Erefused = 'connection refused';
export const Etimedout = 'connection timed out';
export const Ehostunreach = 'host unreachable';
export const Enetunreach = 'net unreachable';
export const Enotlocal = 'not a local IP address';
export const Ebadip = 'bad ip address syntax';
export const Ebadport = 'bad numeric port';
export const Ebadarg = 'bad arg in system call';
export const Enoconv = 'no free devices';
export const Enoports = 'no ports available';
export const Eperm = 'permission denied';
export const Etoobig = 'read or write too large';
export const Enomem = 'kernel allocate failed';
/** tcp.c's text, misspelt as Plan 9 spells it. */
export const Enotestab = 'connection must be in Establised state';

/** Node.js system error codes (host sockets) as Plan 9's strings; dial(2) looks for "refused". */
const errnoText: Record<string, string> = {
  ECONNREFUSED: Erefused,
  ETIMEDOUT: Etimedout,
  EHOSTUNREACH: Ehostunreach,
  EHOSTDOWN: Ehostunreach,
  ENETUNREACH: Enetunreach,
  ENONET: Enetunreach,
  EADDRINUSE: Eaddrinuse,
  EADDRNOTAVAIL: Enotlocal,
  EACCES: Eperm,
  EPERM: Eperm,
  ECONNRESET: Ehungup,
  EPIPE: Ehungup,
  ECONNABORTED: Ehungup,
  EAFNOSUPPORT: Ebadip,
  EINVAL: Ebadarg,
  EMSGSIZE: Etoobig,
  ENOBUFS: Enomem,
  ENOMEM: Enomem,
  ERR_SOCKET_BAD_PORT: Ebadport,
  ERR_SOCKET_DGRAM_NOT_RUNNING: Ehungup,
  ERR_SOCKET_DGRAM_IS_CONNECTED: Ebadarg,
  ERR_SOCKET_DGRAM_NOT_CONNECTED: Ebadarg,
  ERR_INVALID_ARG_VALUE: Ebadarg,
  ERR_SOCKET_CLOSED: Ehungup,
  ERR_STREAM_DESTROYED: Ehungup,
  ERR_STREAM_WRITE_AFTER_END: Ehungup,
};

/** The Plan 9 text of a Node.js system error, or null when its code is not one we know. */
export function errnoToPlan9(e: unknown): string | null {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? errnoText[code] ?? null : null;
}

/** What a backend threw, as the error the client gets (see the module comment). */
export function toNetError(e: unknown): unknown {
  if (e instanceof NinepError) return e;
  if (e instanceof Error) {
    const ename = (e as { ename?: unknown }).ename;
    if (typeof ename === 'string') return new NinepError(ename);
    const text = errnoToPlan9(e);
    if (text !== null) return new NinepError(text);
  }
  return e;
}

/** Run a Proto call through the boundary, synchronous or not. */
export function guarded<T>(fn: () => MaybePromise<T>): MaybePromise<T> {
  let r: MaybePromise<T>;
  try {
    r = fn();
  } catch (e) {
    throw toNetError(e);
  }
  return r instanceof Promise ? r.catch((e: unknown) => { throw toNetError(e); }) : r;
}
