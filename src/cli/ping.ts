/**
 * `9net ping`: Plan 9's ip/ping (sys/src/cmd/ip/ping.c) through a served
 * /net/icmp, IPv4 only (our stack has no icmpv6).
 *
 * It dials icmp!DEST!1 and writes MSGLEN-byte messages (default 64): 20
 * bytes of IPv4 header room, zero but for our source address (the first
 * non-loopback address in ipifc), then an echo request (type 8, code 0, the
 * sequence number from a random start; identifier and checksum are the
 * stack's to fill), then bytes i & 0xff at each offset i. A read returns
 * the whole IPv4 packet of a reply. Output and exit status as ping.c:
 *
 *   sending 32 64 byte messages 1000 ms apart to icmp!10.0.0.1!1
 *   0: rtt 152 µs, avg rtt 152 µs, ttl = 255
 *   lost 3
 *   1 out of 32 messages lost                 (exit status 1)
 *
 * A read waits at most (messages outstanding × interval + -w) ms; then
 * every message still unanswered is lost.
 */
import type { Command } from 'commander';
import { randomInt } from 'node:crypto';
import type { File } from '../ninep/client.js';
import { Interrupted } from '../ninep/error.js';
import { clientOptions, connect, exit, intArg, message } from './common.js';
import type { ClientFlags } from './common.js';
import { dial } from './netcall.js';
import { readIpifc } from './readipifc.js';

interface PingFlags extends ClientFlags {
  addresses?: boolean;
  f?: boolean;
  i?: number;
  l?: boolean;
  n?: number;
  q?: boolean;
  r?: boolean;
  s?: number;
  w?: number;
}

const IPV4HDR_LEN = 20;
const ICMP_HDRSIZE = 8;
const EchoRequest = 8;
const EchoReply = 0;
const MAXMSG = 32;
const SLEEPMS = 1000;
const MINUTE = 60_000_000_000n;
/** Largest reply read (ping.c's buffer). */
const READ_MAX = 64 * 1024 + 512;

interface Req {
  seq: number;
  /** When sent, in ns. */
  time: bigint;
  rtt: bigint;
  ttl: number;
  replied: boolean;
}

/** ping.c's netmkaddr(dest, "icmp", "1"). */
export function pingAddr(dest: string): string {
  const bangs = dest.split('!').length - 1;
  if (bangs === 0) return `icmp!${dest}!1`;
  if (bangs === 1) return `${dest}!1`;
  return dest;
}

const v4Bytes = (s: string): number[] | null => {
  const p = s.split('.').map(Number);
  return p.length === 4 && p.every((x) => Number.isInteger(x) && x >= 0 && x <= 255) ? p : null;
};
const v4Text = (b: Buffer, o: number): string => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;

class Ping {
  private readonly reqs: Req[] = [];
  private lostmsgs = 0;
  private rcvdmsgs = 0;
  private sum = 0n;
  private readonly firstseq = randomInt(0x10000);
  /** The sender has sent all it will. */
  private sent = false;
  private readonly out: (s: string) => void = (s) => { process.stdout.write(s); };

  constructor(private readonly o: PingFlags, private readonly msglen: number, private readonly interval: number, private readonly nmsg: number) {}

  /** ping.c sender. */
  async send(data: File, me: number[]): Promise<void> {
    const buf = Buffer.alloc(this.msglen);
    for (let i = IPV4HDR_LEN + ICMP_HDRSIZE; i < this.msglen; i++) buf[i] = i & 0xff;
    buf[IPV4HDR_LEN] = EchoRequest;
    buf[IPV4HDR_LEN + 1] = 0;
    buf.set(me, 12);
    let seq = this.firstseq;
    for (let i = 0; i < this.nmsg; i++) {
      if (i !== 0) {
        const extra = this.o.r && this.interval > 0 ? randomInt(this.interval) : 0;
        await new Promise((r) => setTimeout(r, this.interval + extra));
      }
      buf.writeUInt16BE(seq, IPV4HDR_LEN + 6);
      this.reqs.push({ seq, time: process.hrtime.bigint(), rtt: 0n, ttl: 0, replied: false });
      try {
        await data.write(buf);
      } catch (e) {
        console.error(`ping: write failed: ${message(e)}`);
        break;
      }
      seq = (seq + 1) & 0xffff;
    }
    this.sent = true;
  }

  /** ping.c rcvr; resolves with the number of messages lost. */
  async receive(data: File): Promise<number> {
    const waittime = this.o.w ?? 5000;
    while (this.lostmsgs + this.rcvdmsgs < this.nmsg) {
      const ms = (this.nmsg - this.lostmsgs - this.rcvdmsgs) * this.interval + waittime;
      let b: Buffer;
      try {
        b = await data.read(READ_MAX, AbortSignal.timeout(ms));
      } catch (e) {
        if (!(e instanceof Interrupted)) throw e;
        b = Buffer.alloc(0);
      }
      const now = process.hrtime.bigint();
      if (b.length === 0) {
        this.clean(0, now + MINUTE, null);
        // ping.c would wait on for messages a failed sender never sent.
        if (this.sent && this.reqs.length === 0) break;
        continue;
      }
      if (b.length < this.msglen) {
        this.out(`bad len ${b.length}/${this.msglen}\n`);
        continue;
      }
      let munged = 0;
      for (let i = IPV4HDR_LEN + ICMP_HDRSIZE; i < this.msglen; i++) if (b[i] !== (i & 0xff)) munged++;
      if (munged) this.out('corrupted reply\n');
      const type = b[IPV4HDR_LEN]!;
      const code = b[IPV4HDR_LEN + 1]!;
      const x = b.readUInt16BE(IPV4HDR_LEN + 6);
      if (type !== EchoReply || code !== 0) {
        this.out(`bad type/code/sequence ${type}/${code}/${x} (want ${EchoReply}/0/${x})\n`);
        continue;
      }
      this.clean(x, now, b);
    }
    for (const r of this.reqs) if (!r.replied) this.lostmsgs++;
    if (!this.o.q && this.lostmsgs) this.out(`${this.lostmsgs} out of ${this.lostmsgs + this.rcvdmsgs} messages lost\n`);
    return this.lostmsgs;
  }

  /** ping.c clean: take a reply for `seq`; what is over a minute old is lost. */
  private clean(seq: number, now: bigint, pkt: Buffer | null): void {
    const ttl = pkt ? pkt[8]! : 0;
    for (let i = 0; i < this.reqs.length;) {
      const r = this.reqs[i]!;
      if (pkt && r.seq === seq) {
        r.rtt = now - r.time;
        r.ttl = ttl;
        this.reply(r, pkt);
      }
      if (now - r.time > MINUTE) {
        this.reqs.splice(i, 1);
        r.rtt = now - r.time;
        if (pkt) r.ttl = ttl;
        if (!r.replied) this.lost(r, pkt);
      } else i++;
    }
  }

  /** %ud of r->seq - firstseq: the int difference, printed unsigned. */
  private num(seq: number): number {
    return (seq - this.firstseq) >>> 0;
  }

  private reply(r: Req, pkt: Buffer): void {
    r.rtt /= 1000n;
    this.sum += r.rtt;
    if (!r.replied) this.rcvdmsgs++;
    if (!this.o.q && !this.o.l) {
      const avg = this.sum / BigInt(this.rcvdmsgs);
      const addrs = this.o.addresses ? `${v4Text(pkt, 12)} -> ${v4Text(pkt, 16)} ` : '';
      this.out(`${this.num(r.seq)}: ${addrs}rtt ${r.rtt} µs, avg rtt ${avg} µs, ttl = ${r.ttl}\n`);
    }
    r.replied = true;
  }

  private lost(r: Req, pkt: Buffer | null): void {
    if (!this.o.q) {
      if (this.o.addresses && pkt) this.out(`lost ${this.num(r.seq)}: ${v4Text(pkt, 12)} -> ${v4Text(pkt, 16)}\n`);
      else this.out(`lost ${this.num(r.seq)}\n`);
    }
    this.lostmsgs++;
  }
}

export function addPing(program: Command): void {
  const cmd = program
    .command('ping')
    .description('Plan 9\'s ip/ping through /net/icmp (our stack; the host-socket backend has no icmp)')
    .argument('<dest>', 'a host, or icmp!host');
  clientOptions(cmd)
    .option('--addresses', 'print the addresses of each reply (ping.c -a; -a is the 9P server here)')
    .option('-f', 'flood: send without pause')
    .option('-i <ms>', `milliseconds between messages (default ${SLEEPMS})`, intArg(0, 3_600_000))
    .option('-l', 'print only lost messages')
    .option('-n <count>', `messages to send (default ${MAXMSG})`, intArg(0, 1_000_000))
    .option('-q', 'quiet: print only the summary')
    .option('-r', 'randomise the interval')
    .option('-s <bytes>', 'message size, IP header included (64 to 65535)', intArg(0, 65535))
    .option('-w <ms>', 'milliseconds to wait for the last reply (default 5000)', intArg(0, 3_600_000))
    .action(async (dest: string, o: PingFlags) => {
      try {
        let msglen = o.s ?? 0;
        if (msglen < IPV4HDR_LEN + ICMP_HDRSIZE) msglen = IPV4HDR_LEN + ICMP_HDRSIZE;
        if (msglen < 64) msglen = 64;
        if (msglen >= 64 * 1024) msglen = 64 * 1024 - 1;
        let interval = o.i ?? 0;
        if (interval <= 0 && !o.f) interval = SLEEPMS;
        const nmsg = o.n ?? MAXMSG;
        const c = await connect(o);
        if (!(await c.stat('/icmp').then(() => true, () => false))) {
          return exit(1, 'ping: this /net has no icmp: the host-socket backend has none (serve our own stack: 9net serve --tap, --pcap, --ether-over or --topology)');
        }
        const ds = pingAddr(dest);
        const call = await dial(c, ds);
        const ifcs = await readIpifc(c, '/net').catch(() => []);
        const mine = ifcs.flatMap((i) => i.lifcs).map((a) => v4Bytes(a.ip)).find((b) => b !== null && b[0] !== 127 && b.some((x) => x !== 0));
        if (o.addresses) process.stdout.write(`\t${mine ? mine.join('.') : '0.0.0.0'} -> ${dest}\n`);
        if (!o.q) process.stdout.write(`sending ${nmsg} ${msglen} byte messages ${interval} ms apart to ${ds}\n`);
        const p = new Ping(o, msglen, interval, nmsg);
        const [, lost] = await Promise.all([p.send(call.data, mine ?? [0, 0, 0, 0]), p.receive(call.data)]);
        exit(lost ? 1 : 0);
      } catch (e) {
        exit(1, `ping: ${message(e)}`);
      }
    });
}
