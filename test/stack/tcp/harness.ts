/**
 * Segment-level harness: our stack (10.0.0.1) with a TcpLayer on a
 * ChannelLink under a ManualClock; the test plays the peer (10.0.0.2),
 * injecting segments built with emitTcp and reading back what we sent.
 */
import { ETHERTYPE_IPV4, parseEthernet } from '../../../src/stack/wire/ethernet.js';
import { IP_PROTO_TCP, parseIpv4 } from '../../../src/stack/wire/ipv4.js';
import { WireError } from '../../../src/stack/wire/result.js';
import { emitTcp, NO_SACK, parseTcp, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, tcpBufferLen } from '../../../src/stack/wire/tcp.js';
import type { TcpRepr } from '../../../src/stack/wire/tcp.js';
import { TcpLayer } from '../../../src/stack/tcp/tcp.js';
import type { TcpHandler, TcpLayerOptions } from '../../../src/stack/tcp/types.js';
import { channelStack, ethFrame, ip, ipPacket, MAC_PEER, MAC_US } from '../helpers.js';

export const US = ip('10.0.0.1');
export const PEER = ip('10.0.0.2');
export const PEER_PORT = 40000;

export function seg(p: Partial<TcpRepr>): TcpRepr {
  return {
    srcPort: PEER_PORT,
    dstPort: 80,
    seq: 0,
    ack: 0,
    flags: 0,
    window: 65535,
    urgent: 0,
    mss: null,
    windowScale: null,
    sackPermitted: false,
    sackBlocks: NO_SACK,
    tsVal: null,
    tsEcr: null,
    payload: new Uint8Array(0),
    ...p,
  };
}

export function harness(opts: TcpLayerOptions = {}, link: { mtu?: number } = {}) {
  const { clock, stack, link: ch } = channelStack({ mtu: link.mtu });
  const tcp = new TcpLayer(stack, opts);
  const inject = (p: Partial<TcpRepr>): void => {
    const r = seg(p);
    const b = new Uint8Array(tcpBufferLen(r));
    emitTcp(r, b, 0, PEER, US);
    ch.inject(ethFrame(MAC_US, MAC_PEER, ETHERTYPE_IPV4, ipPacket({ src: PEER, dst: US, protocol: IP_PROTO_TCP }, b)));
  };
  /** Segments we sent since the last call (parsed, checksums verified). */
  const out = (): TcpRepr[] => {
    const res: TcpRepr[] = [];
    for (const f of ch.take()) {
      const e = parseEthernet(f);
      if (e instanceof WireError || e.ethertype !== ETHERTYPE_IPV4) continue;
      const i = parseIpv4(e.payload);
      if (i instanceof WireError || i.protocol !== IP_PROTO_TCP) continue;
      const t = parseTcp(i.payload, i.src, i.dst);
      if (t instanceof WireError) throw new Error(`we sent a bad segment: ${t.reason}`);
      res.push(t);
    }
    return res;
  };
  return { clock, stack, tcp, inject, out, link: ch };
}

/** Our port in active(), the peer's port, and the peer's ISS. */
export const LPORT = 5000;
export const RPORT = 80;
export const PISS = 1_000_000;

/** A handler that records what it is told. */
export interface Rec {
  h: TcpHandler;
  data: number[];
  events: string[];
}
export function rec(): Rec {
  const r: Rec = { h: {}, data: [], events: [] };
  r.h = {
    onOpen: () => r.events.push('open'),
    onData: (d) => {
      r.data.push(...d);
      r.events.push(`data ${d.length}`);
    },
    onEnd: () => r.events.push('end'),
    onReset: () => r.events.push('reset'),
    onWritable: () => r.events.push('writable'),
    onClosed: (why) => r.events.push(`closed ${why}`),
  };
  return r;
}

/** The flags of a segment as letters: S A F R P. */
export const flagsOf = (s: TcpRepr): string =>
  [
    [TCP_SYN, 'S'],
    [TCP_ACK, 'A'],
    [TCP_FIN, 'F'],
    [TCP_RST, 'R'],
    [TCP_PSH, 'P'],
  ]
    .filter(([b]) => s.flags & (b as number))
    .map(([, n]) => n)
    .join('');

/** Active open to PEER:80 from port 5000; the peer answers with the given SYN-ACK options. */
export function active(opts: TcpLayerOptions = {}, synack: Partial<TcpRepr> = {}, mtu?: number) {
  const h = harness(opts, { mtu });
  const r = rec();
  const conn = h.tcp.connect({ remoteAddr: PEER, localPort: LPORT, remotePort: RPORT, handler: r.h });
  const [syn] = h.out();
  const from = { srcPort: RPORT, dstPort: LPORT };
  const send = (p: Partial<TcpRepr>): void => h.inject({ ...from, ...p });
  h.clock.advance(10);
  send({ seq: PISS, ack: (syn!.seq + 1) >>> 0, flags: TCP_SYN | TCP_ACK, mss: 1460, ...synack });
  const iss = syn!.seq;
  return { ...h, r, conn, syn: syn!, iss, send };
}
