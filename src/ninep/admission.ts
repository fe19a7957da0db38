/**
 * Which user names a connection may attach as. 9P's Tattach carries any
 * name the client likes; without authentication the only trustworthy
 * identity is what the kernel tells about the peer (peer.ts). The rules:
 *
 * - uid 0 and the uid running the server may attach as anyone (they could
 *   become anyone, or restart the server, anyway);
 * - any other uid may attach as its own login name (from the password
 *   file), as its number (9P2000.u attaches carry it), and as the names a
 *   users map grants it (`--users FILE`); never as the host owner;
 * - stdin/stdout (`-`) is whoever started us: anything goes;
 * - a peer whose uid cannot be known (another machine, or a Unix socket
 *   without our addon) may attach only when remote users are allowed
 *   (`--allow-remote`), and then as anyone: that is the threat the README
 *   describes.
 */
import { readFileSync } from 'node:fs';
import type { Peer } from './peer.js';

/** Plan 9's answer to a name one may not use. */
export const Eattach = 'permission denied';
/** The most of the password file we read. */
const MAX_PASSWD = 4 * 1024 * 1024;

export interface AdmissionOptions {
  /** The uid running the server. */
  ownerUid: number;
  /** The host owner's name (passes every /net permission check). */
  eve: string;
  /** More names per uid, e.g. from --users. */
  grants?: ReadonlyMap<number, readonly string[]>;
  /** Accept peers whose uid is unknown (remote machines), as any user. */
  allowRemote?: boolean;
  /** uid → login name (default: the password file). */
  loginName?: (uid: number) => string | null;
}

/** The password file's (name, uid) pairs, bounded. */
function passwd(file: string): { name: string; uid: number }[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').slice(0, MAX_PASSWD);
  } catch {
    return [];
  }
  const out: { name: string; uid: number }[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && f[0] && /^\d+$/.test(f[2]!)) out.push({ name: f[0], uid: Number(f[2]) });
  }
  return out;
}

/** The login name of a uid from /etc/passwd, or null. */
export function passwdName(uid: number, file = '/etc/passwd'): string | null {
  return passwd(file).find((e) => e.uid === uid)?.name ?? null;
}

/** The uid of a login name from /etc/passwd, or null. */
export function passwdUid(name: string, file = '/etc/passwd'): number | null {
  return passwd(file).find((e) => e.name === name)?.uid ?? null;
}

/**
 * A users map: one line per uid or login name, then the names it may
 * attach as, e.g. `1000 alice glenda` or `bob bob-test`; `#` comments.
 * Returns the grants, or an error naming the bad line.
 */
export function parseUsersMap(text: string, uidOf: (name: string) => number | null): Map<number, string[]> | string {
  const out = new Map<number, string[]>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const f = lines[i]!.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
    if (f.length === 0) continue;
    if (f.length < 2) return `line ${i + 1}: want "UID-or-USER NAME..."`;
    const uid = /^\d+$/.test(f[0]!) ? Number(f[0]) : uidOf(f[0]!);
    if (uid === null) return `line ${i + 1}: no such user ${f[0]}`;
    out.set(uid, [...(out.get(uid) ?? []), ...f.slice(1)]);
  }
  return out;
}


export class Admission {
  private readonly names = new Map<number, string | null>();

  constructor(private readonly opts: AdmissionOptions) {}

  private login(uid: number): string | null {
    if (!this.names.has(uid)) this.names.set(uid, (this.opts.loginName ?? passwdName)(uid));
    return this.names.get(uid)!;
  }

  /** null: `peer` may attach as `uname`; else the error text. */
  admit(peer: Peer, uname: string): string | null {
    if (peer.kind === 'stdio') return null;
    if (peer.uid === null) return this.opts.allowRemote ? null : Eattach;
    if (peer.uid === 0 || peer.uid === this.opts.ownerUid) return null;
    if (uname === this.opts.eve) return Eattach;
    if (uname === String(peer.uid) || uname === this.login(peer.uid)) return null;
    return this.opts.grants?.get(peer.uid)?.includes(uname) ? null : Eattach;
  }
}
