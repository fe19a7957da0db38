/**
 * Who is at the other end of a 9P connection, as far as the kernel can
 * tell: the uid of the process behind a Unix-domain socket (SO_PEERCRED,
 * through our small addon native/peercred.cc), and the uid that owns the
 * client socket of a loopback TCP connection (the kernel lists it in
 * /proc/net/tcp and /proc/net/tcp6, proc(5)). A connection from another
 * machine has no uid we can know.
 */
import { readFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as net from 'node:net';
import { fileURLToPath } from 'node:url';

export type PeerKind = 'unix' | 'loopback' | 'remote' | 'stdio';

export interface Peer {
  kind: PeerKind;
  /** The peer's uid, or null when the kernel does not tell (remote, stdio, or no addon). */
  uid: number | null;
}

const PEERCRED_PATH = fileURLToPath(new URL('../../native/build/Release/peercred.node', import.meta.url));

interface PeerCredAddon {
  peercred(fd: number): { pid: number; uid: number; gid: number };
}

let addon: PeerCredAddon | null | undefined;

/** The addon, or null when it was not built (then Unix peers are unknown). */
export function peerCredAddon(): PeerCredAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.platform === 'linux' && existsSync(PEERCRED_PATH)) {
    try {
      addon = createRequire(import.meta.url)(PEERCRED_PATH) as PeerCredAddon;
    } catch {
      addon = null;
    }
  }
  return addon;
}

/** The uid of a Unix-domain socket's peer, or null. */
function unixPeerUid(sock: net.Socket): number | null {
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  const a = peerCredAddon();
  if (!a || typeof fd !== 'number' || fd < 0) return null;
  try {
    return a.peercred(fd).uid;
  } catch {
    return null;
  }
}

/** A v4 or v6 text address as /proc/net/tcp{,6} spells it (32-bit words in host order, little-endian here). */
function procAddr(ip: string, port: number): { v4: string | null; v6: string } {
  const hex4 = (b: number[]): string => b.map((x) => x.toString(16).padStart(2, '0')).join('').toUpperCase();
  const portHex = port.toString(16).padStart(4, '0').toUpperCase();
  let v4: number[] | null = null;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const dotted = mapped ? mapped[1]! : /^\d+\.\d+\.\d+\.\d+$/.test(ip) ? ip : null;
  if (dotted) v4 = dotted.split('.').map(Number);
  // The 16 bytes of the v6 (or v4-mapped) address.
  const bytes = new Array<number>(16).fill(0);
  if (v4) {
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    for (let i = 0; i < 4; i++) bytes[12 + i] = v4[i]!;
  } else {
    const [head, tail = ''] = ip.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const words = [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t].map((w) => Number.parseInt(w || '0', 16));
    for (let i = 0; i < 8; i++) {
      bytes[2 * i] = (words[i]! >> 8) & 0xff;
      bytes[2 * i + 1] = words[i]! & 0xff;
    }
  }
  let v6 = '';
  for (let w = 0; w < 4; w++) v6 += hex4(bytes.slice(4 * w, 4 * w + 4).reverse());
  return { v4: v4 ? `${hex4([...v4].reverse())}:${portHex}` : null, v6: `${v6}:${portHex}` };
}

/**
 * The uid owning the client end of a loopback TCP connection whose client
 * address is (ip, port) and server address (lip, lport); null if not found.
 */
export function loopbackPeerUid(ip: string, port: number, lip: string, lport: number): number | null {
  const client = procAddr(ip, port);
  const server = procAddr(lip, lport);
  const tables: [string, string | null, string | null][] = [
    ['/proc/net/tcp', client.v4, server.v4],
    ['/proc/net/tcp6', client.v6, server.v6],
  ];
  for (const [file, local, remote] of tables) {
    if (local === null || remote === null) continue;
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid ...
      if (f.length > 7 && f[1] === local && f[2] === remote) return Number(f[7]);
    }
  }
  return null;
}

function isLoopback(ip: string): boolean {
  return ip === '::1' || /^(::ffff:)?127\./i.test(ip);
}

/** Who is behind an accepted socket. */
export function peerOf(sock: net.Socket, transport: 'tcp' | 'unix'): Peer {
  if (transport === 'unix') return { kind: 'unix', uid: unixPeerUid(sock) };
  const ip = sock.remoteAddress ?? '';
  if (!isLoopback(ip)) return { kind: 'remote', uid: null };
  return { kind: 'loopback', uid: loopbackPeerUid(ip, sock.remotePort ?? 0, sock.localAddress ?? '', sock.localPort ?? 0) };
}
