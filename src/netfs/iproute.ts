/**
 * /net/iproute (9/ip/iproute.c): read the routing table in 9front's 8-field
 * format `%-15I %-4M %-15I %-4s %4.4s %3s %-15I %-4M` (target, mask,
 * nexthop, flags, tag, interface, source, source mask); write `flush [tag]`,
 * `tag NAME` (default tag for adds through this open file), `add ...` and
 * `del`/`remove ...` in their short and long forms. Writing needs the host
 * owner.
 */
import { Eperm, NinepError } from '../ninep/error.js';
import type { Node } from '../ninep/node.js';
import { ctlText, tokenize } from './ctl.js';
import { IPnoaddr, formatIp, formatMask, isV4, parseIp, parseMask } from './ipaddr.js';
import type { Ip } from './ipaddr.js';
import { Q, ipQid } from './qid.js';
import { SynthFile, snapshotText, wantsWrite } from '../ninep/synth.js';

export interface RouteView {
  target: Ip;
  mask: Ip;
  nexthop: Ip;
  /** e.g. "4i", "4u", "4b", "4". */
  flags: string;
  tag: string;
  /** Interface number, or null ("-"). */
  ifc: number | null;
  source: Ip;
  smask: Ip;
}

export interface RouteSpec {
  target: Ip;
  mask: Ip;
  nexthop: Ip | null;
  flags: string | null;
  tag: string;
  /** Interface number, local address of an interface, or null. */
  ifc: string | null;
  source: Ip;
  smask: Ip;
}

export interface IprouteSource {
  list(): RouteView[];
  /** Throws NinepError('interface not found') and the like. */
  add(r: RouteSpec): void;
  remove(r: RouteSpec): void;
  flush(tag: string | null): void;
}

function pad(s: string, n: number): string {
  return s.padEnd(n);
}

export function routeText(routes: RouteView[]): string {
  return routes
    .map((r) =>
      `${pad(formatIp(r.target), 15)} ${pad(formatMask(r.mask), 4)} ${pad(formatIp(r.nexthop), 15)} ${pad(r.flags, 4)} ${r.tag.slice(0, 4).padStart(4)} ${(r.ifc === null ? '-' : String(r.ifc)).padStart(3)} ${pad(formatIp(r.source), 15)} ${pad(formatMask(r.smask), 4)}\n`)
    .join('');
}

const Ebadreq = 'bad process or channel control request';

function ip(s: string): Ip {
  const a = parseIp(s);
  if (!a) throw new NinepError('bad ip address syntax');
  return a;
}

function mask(s: string, forAddr: Ip): Ip {
  const m = parseMask(s, isV4(forAddr));
  if (!m) throw new NinepError('bad ip address syntax');
  return m;
}

/** Parse the fields after add/del: the seven forms of 9front's iproute. */
export function parseRoute(f: string[], tag: string, forDelete: boolean): RouteSpec {
  const zero = IPnoaddr;
  const r: RouteSpec = { target: zero, mask: zero, nexthop: null, flags: null, tag, ifc: null, source: zero, smask: zero };
  const n = f.length;
  if (n < (forDelete ? 2 : 3) || n > 8) throw new NinepError(Ebadreq);
  r.target = ip(f[0]!);
  r.mask = mask(f[1]!, r.target);
  if (n >= 3) r.nexthop = ip(f[2]!);
  switch (n) {
    case 2:
    case 3:
      break;
    case 4:
      r.ifc = f[3]!;
      break;
    case 5:
      r.source = ip(f[3]!);
      r.smask = mask(f[4]!, r.source);
      break;
    case 6:
      r.ifc = f[3]!;
      r.source = ip(f[4]!);
      r.smask = mask(f[5]!, r.source);
      break;
    case 7:
      if (!/^[46][ibumpyt]*$/.test(f[3]!)) throw new NinepError(Ebadreq);
      r.flags = f[3]!;
      r.ifc = f[4]!;
      r.source = ip(f[5]!);
      r.smask = mask(f[6]!, r.source);
      break;
    case 8:
      if (!/^[46][ibumpyt]*$/.test(f[3]!)) throw new NinepError(Ebadreq);
      r.flags = f[3]!;
      r.tag = f[4]!;
      r.ifc = f[5]!;
      r.source = ip(f[6]!);
      r.smask = mask(f[7]!, r.source);
      break;
  }
  if (r.ifc === '-') r.ifc = null;
  if (r.nexthop && isV4(r.target) !== isV4(r.nexthop)) throw new NinepError('bad ip address syntax');
  return r;
}

export function iprouteNode(src: IprouteSource, eve: string): Node {
  return new SynthFile(ipQid(Q.iproute), () => ({ name: 'iproute', uid: 'network', gid: eve, mode: 0o664 }), (req) => {
    if (wantsWrite(req.mode) && req.user !== eve) throw new NinepError(Eperm);
    const snap = snapshotText(() => routeText(src.list()));
    let tag = 'none';
    return {
      read: snap.read!,
      write: (_o, data) => {
        const f = tokenize(ctlText(data));
        if (f.length === 0) throw new NinepError('short control request');
        switch (f[0]) {
          case 'flush':
            src.flush(f[1] ?? null);
            break;
          case 'tag':
            if (f.length < 2) throw new NinepError('bad arg in system call');
            tag = f[1]!;
            break;
          case 'add':
            src.add(parseRoute(f.slice(1), tag, false));
            break;
          case 'del':
          case 'remove':
            src.remove(parseRoute(f.slice(1), tag, true));
            break;
          default:
            throw new NinepError(Ebadreq);
        }
        return data.length;
      },
    };
  });
}
