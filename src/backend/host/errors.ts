/**
 * Host socket errors as Plan 9 strings (plan9-net.md §15.4). dial(2) looks
 * for "refused" to stop its /net.alt retry, so the texts matter.
 */
const map: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'net unreachable',
  EADDRINUSE: 'address in use',
  EADDRNOTAVAIL: 'not a local IP address',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ECONNRESET: 'i/o on hungup channel',
  EPIPE: 'i/o on hungup channel',
  EAFNOSUPPORT: 'bad ip address syntax',
  EINVAL: 'bad arg in system call',
};

export function plan9Error(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  return (code && map[code]) ?? (code ? code.toLowerCase() : 'i/o error');
}
