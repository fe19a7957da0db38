/**
 * The connection server, /net/cs (9front ndb/cs, plan9-net.md §12).
 *
 * Per open fid: write one query `net!host!service[!extra]`, then each read
 * returns one answer `/net/<proto>/clone <addr>!<port>` without a newline,
 * and 0 bytes when there are no more. A failed translation fails the write.
 * Host names go to an injected resolver (the host's for the host backend);
 * service names come from fs/ndb/common.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NinepError } from '../ninep/error.js';
import type { MaybePromise, Node, OpenFile, Signal } from '../ninep/node.js';
import { ctlText } from './ctl.js';
import { formatIp, isUnspecified, isV4, parseIp } from './ipaddr.js';
import type { Ip } from './ipaddr.js';
import { QSPACE_CS } from './qid.js';
import { SynthFile } from '../ninep/synth.js';
import { qid, QTFILE } from '../ninep/types.js';

/** Networks translated as IP (cs's table); `net` means the default ones. */
const IP_NETS = new Set(['tcp', 'udp', 'il', 'icmp', 'icmpv6', 'rudp', 'ssh']);
/** Longest query accepted. */
const MAX_QUERY = 1024;

export interface CsOptions {
  /** Protocol directories present under /net (their clone files exist). */
  protocols(): string[];
  /** Addresses of a host name (not a literal). */
  resolve(host: string): Promise<Ip[]>;
  /** Whether any interface has an address of this family (9front drops the others). */
  haveFamily(v4: boolean): boolean;
  services: ServiceTable;
  /** Where answers say the clone files are (default /net). */
  mountpoint?: string;
  /** Answers for a query, in place of our own translation (e.g. a lower server's cs). */
  lookup?(query: string, signal: Signal): MaybePromise<string[]>;
}

/** `tcp=NAME port=N` tuples. */
export class ServiceTable {
  private readonly byNet = new Map<string, Map<string, number>>();

  static load(path: string): ServiceTable {
    const t = new ServiceTable();
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return t;
    }
    for (const line of text.split('\n')) {
      if (/^\s*#/.test(line)) continue;
      const attrs = new Map<string, string>();
      for (const m of line.matchAll(/(\w[\w-]*)=(\S+)/g)) attrs.set(m[1]!, m[2]!);
      const port = Number(attrs.get('port'));
      if (!Number.isInteger(port)) continue;
      for (const [k, v] of attrs) if (k !== 'port') t.add(k, v, port);
    }
    return t;
  }

  /** The table shipped in fs/ndb/common. */
  static builtin(): ServiceTable {
    return ServiceTable.load(fileURLToPath(new URL('../../fs/ndb/common', import.meta.url)));
  }

  add(net: string, name: string, port: number): void {
    let m = this.byNet.get(net);
    if (!m) this.byNet.set(net, (m = new Map()));
    m.set(name, port);
  }

  lookup(net: string, name: string): number | null {
    return this.byNet.get(net)?.get(name) ?? this.byNet.get('tcp')?.get(name) ?? null;
  }
}

export class ConnectionServer {
  constructor(private readonly opts: CsOptions) {}

  /** The file as `user` sees it: cs shows it owned by the attaching user. */
  node(user = 'network'): Node {
    return new SynthFile(
      qid(QTFILE, QSPACE_CS | 1n),
      () => ({ name: 'cs', uid: user, mode: 0o666 }),
      () => this.open(),
    );
  }

  private open(): OpenFile {
    let answers: string[] = [];
    let next = 0;
    let busy = false;
    return {
      write: (_off, data, signal) => {
        if (busy) throw new NinepError('query already in progress');
        if (data.length > MAX_QUERY) throw new NinepError('request too long');
        // Start with a clean slate (cs.c cleanmf): a failed query leaves no answers.
        answers = [];
        next = 0;
        busy = true;
        let r: MaybePromise<string[]>;
        try {
          const query = ctlText(data);
          r = this.opts.lookup ? this.opts.lookup(query, signal) : this.translate(query);
        } catch (e) {
          busy = false;
          throw e;
        }
        const done = (a: string[]): number => {
          busy = false;
          answers = a;
          next = 0;
          return data.length;
        };
        return r instanceof Promise
          ? r.then(done, (e: unknown) => { busy = false; throw e; })
          : done(r);
      },
      read: (_off, count) => {
        if (next >= answers.length) return new Uint8Array(0);
        return Buffer.from(answers[next++]!).subarray(0, count);
      },
    };
  }

  /** Translate one query into answer lines. */
  translate(query: string): MaybePromise<string[]> {
    const f = query.split('!');
    if (f.length === 1) f.unshift('net');
    let [net, host, service, ...extra] = f as [string, string, string | undefined, ...string[]];
    const mnt = this.opts.mountpoint ?? '/net';
    const present = this.opts.protocols();
    const suffix = extra.length ? `!${extra.join('!')}` : '';
    if (net !== 'net' && !IP_NETS.has(net)) {
      // Not an IP network: passed through untranslated.
      return [`${mnt}/${net}/clone ${host}${service !== undefined ? `!${service}` : ''}${suffix}`];
    }
    const nets = net === 'net' ? ['tcp'].filter((n) => present.includes(n)) : [net];
    if (nets.length === 0 || !present.includes(nets[0]!)) throw new NinepError("can't translate address");
    if (service === undefined || service === '') throw new NinepError("can't translate service");
    const port = this.port(nets[0]!, service);
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    if (host === '*' || host === '::') return nets.map((n) => `${mnt}/${n}/clone ${port}${suffix}`);
    if (host.startsWith('$')) throw new NinepError("can't translate address");
    const line = (n: string, ip: Ip): string => `${mnt}/${n}/clone ${formatIp(ip)}!${port}${suffix}`;
    const literal = parseIp(host);
    if (literal) return nets.map((n) => line(n, literal));
    return this.opts.resolve(host).then(
      (ips) => {
        const usable = ips.filter((ip) => !isUnspecified(ip) && this.opts.haveFamily(isV4(ip)));
        if (usable.length === 0) throw new NinepError("can't translate address");
        return nets.flatMap((n) => usable.map((ip) => line(n, ip)));
      },
      (e: unknown) => {
        if (e instanceof NinepError) throw e;
        throw new NinepError("can't translate address");
      },
    );
  }

  private port(net: string, service: string): string {
    if (service === '*' || /^\d+$/.test(service)) return service;
    const p = this.opts.services.lookup(net, service);
    if (p === null) throw new NinepError("can't translate service");
    return String(p);
  }
}
