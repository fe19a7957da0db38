/**
 * Transport stacking: /net/tcp, /net/udp and /net/cs (and /net/dns,
 * /net/ndb, passed through as files: files.ts) carried by the /net of
 * another 9P server (9net, or a Plan 9 machine's exported /net) — the
 * host-socket backend with a lower /net in place of host sockets.
 *
 * Every upper conversation maps to one lower conversation; semantics,
 * errors and blocking pass through, while this server keeps its own
 * conversation table, per-user ownership and permissions, status and
 * stats, and logs (through `log`) lower connection events and each
 * connect, announce and incoming call with the upper user.
 *
 * All lower conversations are opened as one lower user (`uname`, default
 * eve), spread over ≤ 16 lower connections (lower.ts). A lower server that
 * goes away hangs up the conversations it carried (proto.ts); the next
 * connect, announce or cs query dials it again, so a restarted lower server
 * is used again without restarting this one.
 */
import type { Node } from '../../ninep/node.js';
import { singleRoot } from '../backend.js';
import type { NetBackend } from '../backend.js';
import { netRoot } from '../../netfs/net.js';
import { ProtoDir } from '../../netfs/protodir.js';
import { OverCs } from './cs.js';
import { OverFile } from './files.js';
import { Q, QSPACE_DNS, ipQid } from '../../netfs/qid.js';
import { qid, QTFILE } from '../../ninep/types.js';
import { LowerPool } from './lower.js';
import { OverProto } from './proto.js';

export interface OverNetOptions {
  /** The host owner of this server (passes conversation permission checks). */
  eve: string;
  /** The lower server: `tcp!host!port` or `unix!/path`. */
  lower: string;
  /** The user we attach as at the lower server (default: eve). */
  uname?: string;
  /** The attach name at the lower server (default ''). */
  aname?: string;
  /** Where the lower /net is in the lower server's tree (default '': its root, as 9net and `exportfs -r /net` serve it). */
  path?: string;
  /** msize asked of the lower server (default 512 KiB + 24). */
  msize?: number;
  /** Conversation table sizes (devip: 1024 each). */
  maxTcp?: number;
  maxUdp?: number;
  /** Conversations per user and protocol (netfs NetContext.userQuota). */
  userQuota?: number;
  /** Load units per lower connection (default 256: one per long-lived lower request); for tests. */
  connLoad?: number;
  log?: (line: string) => void;
}

export interface OverNet extends NetBackend {
  /** The /net tree (served for every default attach name). */
  tree: Node;
  tcp: OverProto;
  udp: OverProto;
  tcpDir: ProtoDir;
  udpDir: ProtoDir;
  cs: OverCs;
  /** Live lower connections. */
  readonly lowerConnections: number;
}

/**
 * Serve tcp, udp and cs over the lower server at `opts.lower`. Dials it
 * once before returning, so that a wrong address fails here (with an Error
 * saying why) rather than at the first connect.
 */
export async function overNet(opts: OverNetOptions): Promise<OverNet> {
  const prefix = (opts.path ?? '').replace(/\/+$/, '');
  if (prefix !== '' && !prefix.startsWith('/')) throw new Error(`lower path ${opts.path}: must start with /`);
  const log = opts.log ?? (() => {});
  const pool = new LowerPool({
    addr: opts.lower,
    uname: opts.uname ?? opts.eve,
    ...(opts.aname !== undefined ? { aname: opts.aname } : {}),
    ...(opts.msize !== undefined ? { msize: opts.msize } : {}),
    ...(opts.connLoad !== undefined ? { connLoad: opts.connLoad } : {}),
    log,
  });
  try {
    await pool.connect();
  } catch {
    pool.close();
    throw new Error(`cannot reach the lower server ${opts.lower}`);
  }
  const ctx = { eve: opts.eve, ...(opts.userQuota !== undefined ? { userQuota: opts.userQuota } : {}) };
  const tcp = new OverProto('tcp', opts.maxTcp ?? 1024, pool, prefix, log);
  const udp = new OverProto('udp', opts.maxUdp ?? 1024, pool, prefix, log);
  const tcpDir = new ProtoDir(tcp, 1, ctx);
  const udpDir = new ProtoDir(udp, 2, ctx);
  tcp.dir = tcpDir;
  udp.dir = udpDir;
  tcpDir.onCallTaken = (parent) => tcp.callTaken(parent);
  udpDir.onCallTaken = (parent) => udp.callTaken(parent);
  const cs = new OverCs({ pool, prefix, protocols: () => ['tcp', 'udp'] });
  const passed = { pool, prefix, eve: opts.eve };
  const ndb = new OverFile({ ...passed, name: 'ndb', qid: ipQid(Q.ndb), writeNeedsEve: true, ownedByUser: false });
  const dns = new OverFile({ ...passed, name: 'dns', qid: qid(QTFILE, QSPACE_DNS | 1n), writeNeedsEve: false, ownedByUser: true });
  const root = netRoot(opts.eve, (user) => [tcpDir.node, udpDir.node, ndb.node(user), cs.node(user), dns.node(user)]);
  return {
    tree: root,
    root: singleRoot(root),
    what: `the /net of ${opts.lower}`,
    tcp,
    udp,
    tcpDir,
    udpDir,
    cs,
    get lowerConnections(): number {
      return pool.size;
    },
    /** Close the lower connections; the conversations they carried hang up. */
    close(): Promise<void> {
      pool.close();
      return Promise.resolve();
    },
  };
}
