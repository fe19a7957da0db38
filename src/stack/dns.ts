/**
 * A stub DNS resolver over the stack's own UDP and TCP (RFC 1034 §5.3.1,
 * RFC 1035 §4.2, RFC 1123 §6.1.3): it asks recursive servers, follows
 * CNAME chains, caches answers by TTL and negative answers by the SOA
 * minimum (RFC 2308 §5), and repeats a query over TCP when the UDP answer
 * is truncated (RFC 7766 §5).
 *
 * Each attempt goes to the next server with a new random id from a new
 * random source port (the injected Rng; RFC 5452 §9.2), and an answer is
 * taken only from the server asked, from port 53, to that port, with that
 * id and the question we asked. Waits double per round over the server
 * list (FIRST_WAIT_MS, ROUNDS rounds). Identical questions in flight share
 * one query. Everything is bounded: servers used, queries in flight, cache
 * entries (least recently used go first), TTLs, CNAME chain length, TCP
 * answer size. All timing is the stack's clock, through its timer.
 *
 * lookup() never rejects: failures are answers with rcode SERVFAIL (no
 * server, no answer in time, only failures) — what ndb/dns reports as
 * `dns failure`.
 */
import type { Disposable } from '../link/link.js';
import type { TimerSource } from './core.js';
import type { Stack } from './stack.js';
import type { TcpConn } from './tcp/conn.js';
import type { TcpLayer } from './tcp/tcp.js';
import type { UdpEndpoint } from './udp.js';
import {
  DNS_CLASS_IN,
  DNS_PORT,
  DNS_QR,
  DNS_RCODE,
  DNS_TC,
  DNS_TYPE,
  dnsQuery,
  dnsRcode,
  emitDns,
  isDnsName,
  parseDns,
  sameName,
} from './wire/dns.js';
import type { DnsMessage, DnsRecord } from './wire/dns.js';
import { formatIpv4 } from './wire/ipv4.js';
import { WireError } from './wire/result.js';

/** Servers asked, at most (resolv.conf's MAXNS is 3). */
export const DNS_MAX_SERVERS = 4;
/** Rounds over the server list. */
export const DNS_ROUNDS = 3;
/** Wait for an answer in the first round; doubled each round. */
export const DNS_FIRST_WAIT_MS = 1000;
/** Whole TCP exchange, connect to answer. */
export const DNS_TCP_WAIT_MS = 5000;
/** Questions in flight at once; more fail at once with SERVFAIL. */
export const DNS_MAX_QUERIES = 256;
/** Cached answers (positive and negative). */
export const DNS_CACHE_SIZE = 1024;
/** Longest time an answer is cached, whatever its TTL (one day). */
export const DNS_MAX_TTL_S = 86_400;
/** Negative answers without an SOA are cached this long. */
export const DNS_NEG_TTL_S = 60;
/** CNAMEs followed, at most (ndb/dns stops at a depth of 12; 8 is plenty). */
export const DNS_MAX_CHAIN = 8;

/** An outcome: records of the type asked for (owner = the canonical name), or an rcode with none. */
export interface DnsAnswer {
  rcode: number;
  records: DnsRecord[];
}

export interface DnsResolverOptions {
  stack: Stack;
  /** For truncated answers; without it the truncated UDP answer is used. */
  tcp?: TcpLayer | null;
  /** The servers to ask, in order (read at each query). */
  servers: () => number[];
  /** Cache bound (default DNS_CACHE_SIZE). */
  cacheSize?: number;
  log?: (line: string) => void;
}

interface CacheEntry {
  answer: DnsAnswer;
  /** ms on the stack clock */
  expires: number;
  /** when cached, for TTL aging */
  at: number;
}

interface Attempt {
  ep: UdpEndpoint;
  id: number;
  server: number;
}

interface Pending {
  name: string;
  type: number;
  servers: number[];
  /** Attempts sent so far (index into rounds × servers). */
  sent: number;
  attempts: Attempt[];
  deadline: number;
  tcp: { conn: TcpConn; buf: Uint8Array; id: number; server: number } | null;
  waiters: ((a: DnsAnswer) => void)[];
  /** The last failing rcode seen (SERVFAIL when none answered). */
  lastRcode: number;
}

const SERVFAIL: DnsAnswer = Object.freeze({ rcode: DNS_RCODE.SERVFAIL, records: [] }) as DnsAnswer;

function key(name: string, type: number): string {
  return `${name.toLowerCase()}\u0000${type}`;
}

export class DnsResolver implements TimerSource {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly pending = new Map<string, Pending>();
  private readonly timer: Disposable;
  private readonly cacheSize: number;
  private closed = false;

  constructor(private readonly opts: DnsResolverOptions) {
    this.cacheSize = Math.max(1, opts.cacheSize ?? DNS_CACHE_SIZE);
    this.timer = opts.stack.addTimerSource(this);
  }

  /** Cached entries (for tests and bounds). */
  get cached(): number {
    return this.cache.size;
  }

  /** Questions in flight. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Records of `type` for `name` (no trailing dot needed), following
   * CNAMEs unless `type` is CNAME or ANY.
   */
  async lookup(name: string, type: number): Promise<DnsAnswer> {
    const n = name.endsWith('.') ? name.slice(0, -1) : name;
    if (!isDnsName(n) || n === '') return { rcode: DNS_RCODE.NXDOMAIN, records: [] };
    let owner = n;
    const chain: DnsRecord[] = [];
    for (let depth = 0; depth <= DNS_MAX_CHAIN; depth++) {
      const a = await this.ask(owner, type);
      if (a.records.length > 0 || type === DNS_TYPE.CNAME || type === DNS_TYPE.ANY) return a;
      if (a.rcode !== DNS_RCODE.NOERROR) return a;
      // No records of the type: is the name an alias we have not followed yet?
      const c = await this.ask(owner, DNS_TYPE.CNAME);
      const alias = c.records.find((r) => r.data.kind === 'name');
      if (!alias || alias.data.kind !== 'name' || chain.some((r) => sameName(r.name, alias.name))) return a;
      chain.push(alias);
      owner = alias.data.name;
    }
    return { rcode: DNS_RCODE.NOERROR, records: [] };
  }

  /** Forgets every cached answer (ndb/dns `refresh`). */
  flush(): void {
    this.cache.clear();
  }

  /** Stops the timer, fails everything in flight and forgets the cache. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.timer.dispose();
    for (const p of [...this.pending.values()]) this.finish(p, SERVFAIL, false);
    this.cache.clear();
  }

  pollAt(): number | null {
    let t: number | null = null;
    for (const p of this.pending.values()) if (t === null || p.deadline < t) t = p.deadline;
    return t;
  }

  poll(now: number): void {
    for (const p of [...this.pending.values()]) if (p.deadline <= now) this.timeout(p, now);
  }

  // ------------------------------------------------------------------

  /** One question, from the cache or the servers. */
  private ask(name: string, type: number): Promise<DnsAnswer> {
    const now = this.opts.stack.now();
    const k = key(name, type);
    const hit = this.cache.get(k);
    if (hit !== undefined) {
      this.cache.delete(k);
      if (hit.expires > now) {
        this.cache.set(k, hit); // most recently used
        const age = Math.floor((now - hit.at) / 1000);
        return Promise.resolve({ rcode: hit.answer.rcode, records: hit.answer.records.map((r) => ({ ...r, ttl: Math.max(0, r.ttl - age) })) });
      }
    }
    if (this.closed) return Promise.resolve(SERVFAIL);
    const same = this.pending.get(k);
    if (same) return new Promise((resolve) => same.waiters.push(resolve));
    const servers = this.opts.servers().filter((s) => s !== 0).slice(0, DNS_MAX_SERVERS);
    if (servers.length === 0 || this.pending.size >= DNS_MAX_QUERIES) return Promise.resolve(SERVFAIL);
    return new Promise((resolve) => {
      const p: Pending = { name, type, servers, sent: 0, attempts: [], deadline: now, tcp: null, waiters: [resolve], lastRcode: DNS_RCODE.SERVFAIL };
      this.pending.set(k, p);
      this.send(p, now);
    });
  }

  /** The next UDP attempt, or failure when every round is spent. */
  private send(p: Pending, now: number): void {
    const total = DNS_ROUNDS * p.servers.length;
    while (p.sent < total) {
      const round = Math.floor(p.sent / p.servers.length);
      const server = p.servers[p.sent % p.servers.length]!;
      p.sent++;
      const id = this.opts.stack.rng.u32() & 0xffff;
      let ep: UdpEndpoint;
      try {
        ep = this.opts.stack.udp.open({
          remoteAddr: server,
          remotePort: DNS_PORT,
          onDatagram: (src, sport, _dst, _dport, payload) => this.udpAnswer(p, id, server, src, sport, payload),
        });
      } catch (e) {
        this.log(`cannot open a udp port: ${(e as Error).message}`);
        continue;
      }
      p.attempts.push({ ep, id, server });
      const r = ep.send(emitDns(dnsQuery(id, p.name, p.type)));
      if (r !== 'sent' && r !== 'pending') continue;
      p.deadline = now + DNS_FIRST_WAIT_MS * 2 ** round;
      this.opts.stack.schedule(p.deadline);
      return;
    }
    this.finish(p, p.lastRcode === DNS_RCODE.NOERROR ? SERVFAIL : { rcode: p.lastRcode, records: [] }, false);
  }

  private timeout(p: Pending, now: number): void {
    if (p.tcp !== null) {
      p.tcp.conn.abort(now);
      p.tcp = null;
    }
    this.send(p, now);
  }

  private udpAnswer(p: Pending, id: number, server: number, src: number, sport: number, payload: Uint8Array): void {
    if (src !== server || sport !== DNS_PORT || this.pending.get(key(p.name, p.type)) !== p) return;
    const m = parseDns(payload);
    if (m instanceof WireError) {
      this.opts.stack.drop('dns', m.reason);
      return;
    }
    if (!this.answers(m, id, p)) return;
    const now = this.opts.stack.now();
    if ((m.flags & DNS_TC) !== 0 && this.opts.tcp && p.tcp === null) {
      this.overTcp(p, server, now);
      return;
    }
    this.reply(p, m, now);
  }

  /** Whether `m` answers our question with id `id`. */
  private answers(m: DnsMessage, id: number, p: Pending): boolean {
    if (m.id !== id || (m.flags & DNS_QR) === 0 || m.questions.length !== 1) return false;
    const q = m.questions[0]!;
    return q.type === p.type && q.class === DNS_CLASS_IN && sameName(q.name, p.name);
  }

  /** A usable answer from a server (or a failure rcode: try the next one). */
  private reply(p: Pending, m: DnsMessage, now: number): void {
    const rcode = dnsRcode(m.flags);
    if (rcode !== DNS_RCODE.NOERROR && rcode !== DNS_RCODE.NXDOMAIN) {
      p.lastRcode = rcode;
      if (p.tcp !== null) {
        p.tcp.conn.abort(now);
        p.tcp = null;
      }
      this.send(p, now);
      return;
    }
    const records = rcode === DNS_RCODE.NXDOMAIN ? [] : this.select(m, p.name, p.type);
    this.finish(p, { rcode, records }, true, m);
  }

  /** The records of `type` at the end of `name`'s CNAME chain in the answer section. */
  private select(m: DnsMessage, name: string, type: number): DnsRecord[] {
    const ans = m.answers.filter((r) => r.class === DNS_CLASS_IN);
    if (type === DNS_TYPE.ANY) return ans.filter((r) => r.type !== DNS_TYPE.OPT);
    let owner = name;
    if (type !== DNS_TYPE.CNAME) {
      for (let i = 0; i < DNS_MAX_CHAIN; i++) {
        const c = ans.find((r) => r.type === DNS_TYPE.CNAME && sameName(r.name, owner));
        if (!c || c.data.kind !== 'name') break;
        owner = c.data.name;
      }
    }
    return ans.filter((r) => r.type === type && sameName(r.name, owner));
  }

  private finish(p: Pending, a: DnsAnswer, cache: boolean, m?: DnsMessage): void {
    const k = key(p.name, p.type);
    if (this.pending.get(k) !== p) return;
    this.pending.delete(k);
    for (const at of p.attempts) at.ep.close();
    p.attempts = [];
    if (p.tcp !== null) {
      p.tcp.conn.close(this.opts.stack.now());
      p.tcp = null;
    }
    if (cache && !this.closed) this.remember(k, a, m);
    for (const w of p.waiters) w(a);
  }

  private remember(k: string, a: DnsAnswer, m?: DnsMessage): void {
    let ttl: number;
    if (a.records.length > 0) ttl = Math.min(...a.records.map((r) => r.ttl));
    else {
      // RFC 2308 §5: the SOA's minimum, bounded by the SOA record's own TTL.
      const soa = m?.authority.find((r) => r.data.kind === 'soa');
      ttl = soa && soa.data.kind === 'soa' ? Math.min(soa.ttl, soa.data.minimum) : DNS_NEG_TTL_S;
    }
    ttl = Math.min(ttl, DNS_MAX_TTL_S);
    if (ttl <= 0) return;
    const now = this.opts.stack.now();
    this.cache.delete(k);
    this.cache.set(k, { answer: a, expires: now + ttl * 1000, at: now });
    while (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
  }

  /** RFC 7766: the same question over TCP, two-byte length first. */
  private overTcp(p: Pending, server: number, now: number): void {
    const tcp = this.opts.tcp!;
    const id = this.opts.stack.rng.u32() & 0xffff;
    const q = emitDns(dnsQuery(id, p.name, p.type));
    const framed = new Uint8Array(2 + q.length);
    framed[0] = q.length >>> 8;
    framed[1] = q.length & 0xff;
    framed.set(q, 2);
    let conn: TcpConn;
    try {
      conn = tcp.connect({
        remoteAddr: server,
        remotePort: DNS_PORT,
        handler: {
          onData: (d) => this.tcpData(p, d),
          onEnd: () => this.tcpFailed(p),
          onClosed: () => this.tcpFailed(p),
        },
      });
    } catch (e) {
      this.log(`tcp to ${formatIpv4(server)}: ${(e as Error).message}`);
      this.send(p, now);
      return;
    }
    p.tcp = { conn, buf: new Uint8Array(0), id, server };
    conn.write(framed, now);
    p.deadline = now + DNS_TCP_WAIT_MS;
    this.opts.stack.schedule(p.deadline);
  }

  private tcpData(p: Pending, d: Uint8Array): void {
    const t = p.tcp;
    if (t === null) return;
    // At most one length prefix and one message (≤ 65535 bytes) are kept.
    const take = Math.min(d.length, 2 + 0xffff - t.buf.length);
    const b = new Uint8Array(t.buf.length + take);
    b.set(t.buf);
    b.set(d.subarray(0, take), t.buf.length);
    t.buf = b;
    if (b.length < 2) return;
    const len = (b[0]! << 8) | b[1]!;
    if (b.length < 2 + len) return;
    const now = this.opts.stack.now();
    const m = parseDns(b.subarray(2, 2 + len));
    if (m instanceof WireError || !this.answers(m, t.id, p)) {
      if (m instanceof WireError) this.opts.stack.drop('dns', m.reason);
      t.conn.abort(now);
      p.tcp = null;
      this.send(p, now);
      return;
    }
    this.reply(p, m, now);
  }

  private tcpFailed(p: Pending): void {
    if (p.tcp === null || this.pending.get(key(p.name, p.type)) !== p) return;
    p.tcp = null;
    this.send(p, this.opts.stack.now());
  }

  private log(line: string): void {
    this.opts.log?.(`dns: ${line}`);
  }
}
