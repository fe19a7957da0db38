/**
 * /net/arp (9/ip/arp.c): read the cache in 9front's format, one line
 * per entry `%-6.6s %-4.4s %-40.40I %-16.16s %I` (medium, state, address,
 * MAC, interface address); write `add [medium] IP MAC [ifcIP]`, `del IP`,
 * `flush`, `garp IP`. Opening for write needs the host owner.
 */
import { Eperm, NinepError } from '../ninep/error.js';
import type { MaybePromise, Node } from '../ninep/node.js';
import { ctlText, tokenize } from './ctl.js';
import { formatIp, parseIp } from './ipaddr.js';
import type { Ip } from './ipaddr.js';
import { Q, ipQid } from './qid.js';
import { SynthFile, snapshotText, wantsWrite } from '../ninep/synth.js';

export interface ArpEntryView {
  state: 'OK' | 'WAIT';
  ip: Ip;
  /** null while unresolved. */
  mac: Uint8Array | null;
  /** The local address of the interface the entry belongs to. */
  ifcAddr: Ip;
}

export interface ArpSource {
  list(): ArpEntryView[];
  /** Add or replace; ifcAddr chooses the interface (else by routing). Throws NinepError. */
  add(ip: Ip, mac: Uint8Array, ifcAddr: Ip | null): MaybePromise<void>;
  del(ip: Ip): void;
  flush(): void;
  garp(ip: Ip): void;
}

function cut(s: string, n: number): string {
  return s.length > n ? s.slice(0, n) : s.padEnd(n);
}

export function arpText(entries: ArpEntryView[]): string {
  return entries
    .map((e) => `${cut('ether', 6)} ${cut(e.state, 4)} ${cut(formatIp(e.ip), 40)} ${cut(e.mac ? Buffer.from(e.mac).toString('hex') : '', 16)} ${formatIp(e.ifcAddr)}\n`)
    .join('');
}

/** A MAC in ctl syntax: pairs of hex digits, an optional ':' after each. */
export function parseMacText(s: string): Uint8Array | null {
  const clean = s.replace(/:/g, '');
  if (!/^[0-9a-fA-F]{12}$/.test(clean)) return null;
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

function ip(s: string): Ip {
  const a = parseIp(s);
  if (!a) throw new NinepError('bad ip address syntax');
  return a;
}

export function arpNode(src: ArpSource, eve: string): Node {
  return new SynthFile(ipQid(Q.arp), () => ({ name: 'arp', uid: 'network', gid: eve, mode: 0o664 }), (req) => {
    if (wantsWrite(req.mode) && req.user !== eve) throw new NinepError(Eperm);
    const snap = snapshotText(() => arpText(src.list()));
    return {
      read: snap.read!,
      write: (_o, data) => {
        const f = tokenize(ctlText(data));
        switch (f[0]) {
          case 'add': {
            // add IP MAC | add medium IP MAC | add medium IP MAC ifcIP
            let rest = f.slice(1);
            if (rest.length === 3 || rest.length === 4) {
              if (rest[0] !== 'ether') throw new NinepError('bad arp');
              rest = rest.slice(1);
            } else if (rest.length !== 2) throw new NinepError('bad arp');
            const addr = ip(rest[0]!);
            const mac = parseMacText(rest[1]!);
            if (!mac) throw new NinepError('bad arp');
            const r = src.add(addr, mac, rest[2] ? ip(rest[2]) : null);
            return r instanceof Promise ? r.then(() => data.length) : data.length;
          }
          case 'del':
            if (f.length !== 2) throw new NinepError('bad arg in system call');
            src.del(ip(f[1]!));
            return data.length;
          case 'flush':
            src.flush();
            return data.length;
          case 'garp':
            if (f.length !== 2) throw new NinepError('bad arg in system call');
            src.garp(ip(f[1]!));
            return data.length;
          default:
            throw new NinepError('bad arp');
        }
      },
    };
  });
}
