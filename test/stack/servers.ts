/**
 * Small DHCP and DNS servers on one of our stacks, for the client tests:
 * they speak through the wire codecs (both directions of which the tests
 * exercise this way) and record what they were asked.
 */
import type { Stack } from '../../src/stack/stack.js';
import type { TcpLayer } from '../../src/stack/tcp/tcp.js';
import type { UdpEndpoint } from '../../src/stack/udp.js';
import {
  BOOTREPLY,
  DHCP_CLIENT_PORT,
  DHCP_MSG,
  DHCP_SERVER_PORT,
  emitDhcp,
  noOptions,
  parseDhcp,
} from '../../src/stack/wire/dhcp.js';
import type { DhcpOptions, DhcpRepr } from '../../src/stack/wire/dhcp.js';
import {
  DNS_AA,
  DNS_CLASS_IN,
  DNS_QR,
  DNS_RA,
  DNS_RCODE,
  DNS_TC,
  DNS_TYPE,
  DNS_UDP_MAX,
  emitDns,
  parseDns,
} from '../../src/stack/wire/dns.js';
import type { DnsMessage, DnsRecord } from '../../src/stack/wire/dns.js';
import { IPV4_BROADCAST } from '../../src/stack/wire/ipv4.js';
import { WireError } from '../../src/stack/wire/result.js';

export interface DhcpSeen {
  type: number | undefined;
  msg: DhcpRepr;
  src: number;
  dst: number;
}

/** Hands out `pool` addresses in order; declined ones are skipped from then on. */
export class TestDhcpServer {
  readonly seen: DhcpSeen[] = [];
  /** Answer nothing (a server that went away). */
  silent = false;
  /** NAK renewals. */
  nakRenewals = false;
  private readonly declined = new Set<number>();
  private readonly ep: UdpEndpoint;

  constructor(
    private readonly stack: Stack,
    readonly serverId: number,
    private readonly pool: number[],
    readonly options: Partial<DhcpOptions>,
  ) {
    this.ep = stack.udp.open({ localPort: DHCP_SERVER_PORT, onDatagram: (src, _sp, dst, _dp, payload) => this.input(src, dst, payload) });
  }

  count(type: number): number {
    return this.seen.filter((s) => s.type === type).length;
  }

  close(): void {
    this.ep.close();
  }

  private offer(): number {
    return this.pool.find((a) => !this.declined.has(a)) ?? 0;
  }

  private input(src: number, dst: number, payload: Uint8Array): void {
    const m = parseDhcp(payload);
    if (m instanceof WireError) throw new Error(`test server got a bad message: ${m.reason}`);
    const type = m.options.messageType;
    this.seen.push({ type, msg: m, src, dst });
    if (this.silent) return;
    if (type === DHCP_MSG.DISCOVER) this.reply(m, DHCP_MSG.OFFER, this.offer(), IPV4_BROADCAST);
    else if (type === DHCP_MSG.DECLINE && m.options.requestedIp !== undefined) this.declined.add(m.options.requestedIp);
    else if (type === DHCP_MSG.REQUEST) {
      if (m.ciaddr !== 0) {
        // RENEWING (unicast) or REBINDING (broadcast): answer the client where it is.
        this.reply(m, this.nakRenewals ? DHCP_MSG.NAK : DHCP_MSG.ACK, this.nakRenewals ? 0 : m.ciaddr, m.ciaddr);
      } else if (m.options.serverId === this.serverId) {
        this.reply(m, DHCP_MSG.ACK, m.options.requestedIp ?? 0, IPV4_BROADCAST);
      }
    }
  }

  private reply(req: DhcpRepr, type: number, yiaddr: number, to: number): void {
    const options: DhcpOptions = type === DHCP_MSG.NAK
      ? { ...noOptions(), messageType: type, serverId: this.serverId, message: 'no' }
      : { ...noOptions(), ...this.options, messageType: type, serverId: this.serverId };
    const r: DhcpRepr = { ...req, op: BOOTREPLY, yiaddr, siaddr: this.serverId, ciaddr: req.ciaddr, options };
    this.ep.send(emitDhcp(r), to, DHCP_CLIENT_PORT);
  }
}

export interface DnsSeen {
  name: string;
  type: number;
  id: number;
  sport: number;
  over: 'udp' | 'tcp';
}

/** Answers from a table of records; names in `truncate` get TC over UDP and the whole answer over TCP. */
export class TestDnsServer {
  readonly seen: DnsSeen[] = [];
  readonly records: DnsRecord[] = [];
  readonly nx = new Set<string>();
  readonly truncate = new Set<string>();
  readonly servfail = new Set<string>();
  /** SOA minimum sent with negative answers. */
  negTtl = 30;
  silent = false;
  /** Send an answer with a wrong id before each real one. */
  spoofFirst = false;
  private readonly ep: UdpEndpoint;

  constructor(stack: Stack, tcp: TcpLayer | null) {
    this.ep = stack.udp.open({ localPort: 53, onDatagram: (src, sport, _d, _dp, payload) => this.udp(src, sport, payload) });
    tcp?.listen({
      localPort: 53,
      onAccept: (conn) => {
        let buf = new Uint8Array(0);
        return {
          onData: (d) => {
            const b = new Uint8Array(buf.length + d.length);
            b.set(buf);
            b.set(d, buf.length);
            buf = b;
            if (buf.length < 2 || buf.length < 2 + ((buf[0]! << 8) | buf[1]!)) return;
            const q = parseDns(buf.subarray(2));
            if (q instanceof WireError) return;
            const a = this.answer(q, 'tcp', 0);
            if (a === null) return;
            const out = new Uint8Array(2 + a.length);
            out[0] = a.length >>> 8;
            out[1] = a.length & 0xff;
            out.set(a, 2);
            conn.write(out, stack.now());
            conn.close(stack.now());
          },
        };
      },
    });
  }

  add(name: string, type: number, data: DnsRecord['data'], ttl = 60): void {
    this.records.push({ name, type, class: DNS_CLASS_IN, ttl, data });
  }

  private udp(src: number, sport: number, payload: Uint8Array): void {
    const q = parseDns(payload);
    if (q instanceof WireError) return;
    const a = this.answer(q, 'udp', sport);
    if (a === null) return;
    if (this.spoofFirst) {
      const fake = a.slice();
      fake[0]! ^= 0x5a;
      this.ep.send(fake, src, sport);
    }
    this.ep.send(a, src, sport);
  }

  private answer(q: DnsMessage, over: 'udp' | 'tcp', sport: number): Uint8Array | null {
    const udp = over === 'udp';
    const question = q.questions[0]!;
    this.seen.push({ name: question.name, type: question.type, id: q.id, sport, over });
    if (this.silent) return null;
    const name = question.name.toLowerCase();
    const m: DnsMessage = { id: q.id, flags: DNS_QR | DNS_AA | DNS_RA | (q.flags & 0x0100), questions: q.questions, answers: [], authority: [], additional: [] };
    if (this.servfail.has(name)) m.flags |= DNS_RCODE.SERVFAIL;
    else if (this.nx.has(name)) m.flags |= DNS_RCODE.NXDOMAIN;
    else {
      // The CNAME chain, then the records of the type (as a recursive server answers).
      let owner = name;
      for (let i = 0; i < 8 && question.type !== DNS_TYPE.CNAME; i++) {
        const c = this.records.find((r) => r.name === owner && r.type === DNS_TYPE.CNAME);
        if (!c || c.data.kind !== 'name') break;
        m.answers.push(c);
        owner = c.data.name;
      }
      m.answers.push(...this.records.filter((r) => r.name === owner && (r.type === question.type || question.type === DNS_TYPE.ANY)));
    }
    if (m.answers.length === 0) {
      m.authority.push({ name: 'example', type: DNS_TYPE.SOA, class: DNS_CLASS_IN, ttl: 3600, data: { kind: 'soa', mname: 'ns.example', rname: 'root.example', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: this.negTtl } });
    }
    if (udp && this.truncate.has(name)) {
      m.answers = [];
      m.flags |= DNS_TC;
    }
    return emitDns(m, udp ? { maxLength: DNS_UDP_MAX } : {});
  }
}
