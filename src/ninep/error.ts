/**
 * Errors that reach a 9P client as Rerror.
 *
 * The string is what Plan 9 clients see (Plan 9 and devip strings are used
 * verbatim: port/error.h, 9/ip/devip.c). Linux v9fs maps only its own table of strings
 * to errno in plain 9P2000; in 9P2000.u we also send the errno, so a Linux
 * program sees ECONNREFUSED for "connection refused" (error(5); Linux net/9p/error.c).
 */

/** An error whose message is sent to the client verbatim. */
export class NinepError extends Error {
  constructor(readonly ename: string) {
    super(ename);
    this.name = 'NinepError';
  }
}

/** Thrown by handlers whose request was flushed; never reaches the client. */
export class Interrupted extends NinepError {
  constructor() {
    super('interrupted');
  }
}

// Strings the server engine itself sends. Chosen from Linux's table where
// Plan 9 has no fixed text, so Linux maps them to a sensible errno.
export const Enotfound = 'file does not exist';
export const Eperm = 'permission denied';
export const Ebadfid = 'fid unknown or out of range';
export const Efidinuse = 'fid already in use';
export const Eopen = 'fid already open';
export const Enotopen = 'file not open';
export const Enotdir = 'not a directory';
export const Eisdir = 'Is a directory';
export const Ebadoffset = 'bad offset in directory read';
export const Eio = 'i/o error';
export const Eshort = 'read or write too short';
export const Etoomanyfids = 'Too many open files';
export const Eunknownmsg = 'unknown message';
export const Ebadname = 'illegal name';

// Linux asm-generic errno values.
const errnos: Record<string, number> = {
  'file does not exist': 2,
  'No such file or directory': 2,
  'permission denied': 13,
  'Operation not permitted': 1,
  'wstat prohibited': 1,
  'fid unknown or out of range': 9,
  'fid already in use': 9,
  'fid already open': 9,
  'file not open': 9,
  'not a directory': 20,
  'Is a directory': 21,
  'bad offset in directory read': 29,
  'i/o error': 5,
  'illegal mode': 22,
  'illegal name': 22,
  'read or write too short': 22,
  'Too many open files': 24,
  'unknown message': 71,
  'duplicate tag': 71,
  'interrupted': 4,
  // devip (port/error.h, 9/ip/devip.c)
  'connection refused': 111,
  'connection timed out': 110,
  'connection in use': 106,
  'address in use': 98,
  'not a local IP address': 99,
  'no ports available': 98,
  'i/o on hungup channel': 32,
  'no free devices': 23,
  'host unreachable': 113,
  'net unreachable': 101,
  'no route': 113,
  'port unreachable': 111,
  'protocol unreachable': 93,
  'not announced': 22,
  'listen hungup': 103,
  'unknown control request': 22,
  'short control request': 22,
  'bad args to connect': 22,
  'bad args to announce': 22,
  'bad args to bind': 22,
  'malformed address': 22,
  'bad ip address syntax': 22,
  'bad numeric port': 22,
  'stats not implemented': 95,
  'connect not supported': 95,
  'announce not supported': 95,
  'read or write too large': 90,
  'read or write too small': 22,
  'device or object already in use': 16,
  'bad arg in system call': 22,
  "can't translate service": 22,
  "can't translate address": 6,
  // ndb/cs (cs.c sendmsg puts `cs: ` before its text)
  "cs: can't translate service": 22,
  "cs: can't translate address": 6,
  'cs: bad query': 22,
  'cs: no match': 6,
  'cs: request too long': 36,
  'cs: query already in progress': 16,
};

/** The Linux errno for an error string (for 9P2000.u Rerror); EIO when unknown. */
export function errnoOf(ename: string): number {
  return errnos[ename] ?? 5;
}

/** The text to send for any thrown value; non-NinepErrors are not leaked. */
export function enameOf(e: unknown): string {
  return e instanceof NinepError ? e.ename : Eio;
}
