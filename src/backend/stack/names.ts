/**
 * Names on our stack, never through the host's resolver: /net/ndb (what
 * DHCP or a static --ip configured, in ipconfig's form), /net/dns (our DNS
 * resolver over our own UDP and TCP, asking the `--dns` servers and the
 * `dns=` servers of /net/ndb), and the host names cs translates.
 *
 * cs's order is ndb/cs's: `localhost`; entries with `sys=` or `dom=` equal
 * to the name in /net/ndb and in the fs/ndb files (ndb(6) hosts entries);
 * our own sys name (the stack's addresses); then DNS. A name without a dot
 * is tried under the search domains first (`dnsdomain=` values and our
 * `dom=`'s domain in /net/ndb, as ndb/dns's domain list), then alone.
 */
import { DnsFile } from '../../netfs/dns.js';
import type { DnsReply, DnsSource } from '../../netfs/dns.js';
import { isV4, parseIp, u32ToV4, v4ToU32 } from '../../netfs/ipaddr.js';
import type { Ip } from '../../netfs/ipaddr.js';
import { NdbFile, ipconfigEntry, putNdb } from '../../netfs/netndb.js';
import { Ndb, values } from '../../netfs/ndb.js';
import type { Entry } from '../../netfs/ndb.js';
import type { DhcpLease } from '../../stack/dhcp.js';
import { DnsResolver } from '../../stack/dns.js';
import type { Ifc } from '../../stack/ifc.js';
import type { Stack } from '../../stack/stack.js';
import type { TcpLayer } from '../../stack/tcp/tcp.js';
import { DNS_TYPE } from '../../stack/wire/dns.js';
import { maskFromV4 } from './addr.js';

export interface StackNamesOptions {
  stack: Stack;
  tcp: TcpLayer;
  eve: string;
  /** Our sys name. */
  sysname: string;
  /** Servers given on the command line (`--dns`), asked first. */
  dnsServers?: number[];
  /** ndb files with hosts entries (default: fs/ndb, as cs reads it). */
  ndbFiles?: string[];
  log?: (line: string) => void;
}

export class StackNames {
  readonly ndb: NdbFile;
  readonly resolver: DnsResolver;
  readonly dns: DnsFile;
  private readonly fileEntries: readonly Entry[];
  private readonly configured = new Map<Ifc, number>();

  constructor(private readonly opts: StackNamesOptions) {
    this.ndb = new NdbFile(opts.eve);
    this.resolver = new DnsResolver({
      stack: opts.stack,
      tcp: opts.tcp,
      servers: () => this.servers(),
      ...(opts.log ? { log: opts.log } : {}),
    });
    this.fileEntries = (opts.ndbFiles ? Ndb.load(opts.ndbFiles) : Ndb.builtin()).entries;
    this.dns = new DnsFile(this.source, opts.eve);
  }

  /** The DNS servers: `--dns` ones, then the `dns=` ones of /net/ndb. */
  servers(): number[] {
    const out = [...(this.opts.dnsServers ?? [])];
    for (const e of Ndb.parse(this.ndb.text()).entries) {
      for (const v of values(e, 'dns')) {
        const ip = parseIp(v);
        if (ip && isV4(ip)) {
          const n = v4ToU32(ip);
          if (!out.includes(n)) out.push(n);
        }
      }
    }
    return out;
  }

  /** What /net/dns asks. */
  readonly source: DnsSource = {
    query: (name, type, rooted) => this.query(name, type, rooted),
    refresh: () => this.resolver.flush(),
  };

  /** Host addresses for cs. */
  async resolveHost(host: string): Promise<Ip[]> {
    const h = host.replace(/\.$/, '').toLowerCase();
    if (h === 'localhost') return [parseIp('127.0.0.1')!];
    const found: Ip[] = [];
    for (const e of [...Ndb.parse(this.ndb.text()).entries, ...this.fileEntries]) {
      const names = [...values(e, 'sys'), ...values(e, 'dom')].map((n) => n.toLowerCase());
      if (!names.includes(h)) continue;
      for (const v of values(e, 'ip')) {
        const ip = parseIp(v);
        if (ip) found.push(ip);
      }
    }
    if (found.length > 0) return found;
    const sys = this.opts.sysname.toLowerCase();
    if (h === sys || h === sys.split('.')[0]) {
      const mine = this.opts.stack.interfaces().flatMap((i) => i.addresses().filter((a) => a.ip !== 0).map((a) => u32ToV4(a.ip)));
      if (mine.length > 0) return mine;
    }
    const a = await this.query(host.replace(/\.$/, ''), DNS_TYPE.A, host.endsWith('.'));
    const ips = a.records.flatMap((r) => (r.data.kind === 'a' ? [u32ToV4(r.data.address)] : []));
    if (ips.length === 0) throw new Error(`${host}: no address`);
    return ips;
  }

  /** A lease was applied to `ifc` (or taken away): /net/ndb as ipconfig's putndb leaves it. */
  leaseChanged(ifc: Ifc, lease: DhcpLease | null): void {
    if (lease === null) {
      const old = this.configured.get(ifc);
      this.configured.delete(ifc);
      if (old !== undefined) this.put(old, null);
      return;
    }
    const prev = this.configured.get(ifc);
    if (prev !== undefined && prev !== lease.address) this.put(prev, null);
    this.configured.set(ifc, lease.address);
    this.put(lease.address, ipconfigEntry({
      ip: u32ToV4(lease.address),
      mask: maskFromV4(lease.mask),
      gw: u32ToV4(lease.routers[0] ?? 0),
      sys: lease.hostname ?? this.opts.sysname,
      domain: lease.domain,
      dns: [...(this.opts.dnsServers ?? []), ...lease.dns.filter((d) => !(this.opts.dnsServers ?? []).includes(d))].map(u32ToV4),
    }));
  }

  /** A static address (what `--ip` does through ipconfig). */
  staticConfig(ifc: Ifc, ip: number, mask: number, gw: number): void {
    this.configured.set(ifc, ip);
    this.put(ip, ipconfigEntry({
      ip: u32ToV4(ip),
      mask: maskFromV4(mask),
      gw: u32ToV4(gw),
      sys: this.opts.sysname,
      dns: (this.opts.dnsServers ?? []).map(u32ToV4),
    }));
  }

  close(): void {
    this.resolver.close();
  }

  private put(ip: number, entry: Entry | null): void {
    const addr = `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
    const mine = (s: string): boolean => {
      const p = parseIp(s);
      return p !== null && isV4(p) && this.opts.stack.isLocal(v4ToU32(p));
    };
    this.ndb.set(putNdb(this.ndb.text(), addr, entry, mine));
  }

  /** Search domains: `dnsdomain=` values and the domain of our `dom=` in /net/ndb. */
  private domains(): string[] {
    const out: string[] = [];
    for (const e of Ndb.parse(this.ndb.text()).entries) {
      for (const d of values(e, 'dnsdomain')) if (!out.includes(d)) out.push(d);
      for (const d of values(e, 'dom')) {
        const dot = d.indexOf('.');
        if (dot > 0 && !out.includes(d.slice(dot + 1))) out.push(d.slice(dot + 1));
      }
    }
    return out;
  }

  private async query(name: string, type: number, rooted: boolean): Promise<DnsReply> {
    if (!rooted && !name.includes('.')) {
      for (const d of this.domains()) {
        const a = await this.resolver.lookup(`${name}.${d}`, type);
        if (a.records.length > 0) return a;
      }
    }
    return this.resolver.lookup(name, type);
  }
}
