/**
 * /net/ipifc (9/ip/ipifc.c): clone, stats, and N/{ctl,local,remote,status}
 * per interface, with 9front's status and local formats.
 *
 * The interfaces come from an IpifcSource: the host's (read-only) or a
 * stack's (configurable through ctl).
 */
import { Eperm, NinepError } from '../ninep/error.js';
import { readSlice } from '../ninep/node.js';
import type { MaybePromise, Node, OpenFile } from '../ninep/node.js';
import { ctlText, tokenize } from './ctl.js';
import { formatIp, formatMask } from './ipaddr.js';
import type { Ip } from './ipaddr.js';
import { QSPACE_IPIFC } from './qid.js';
import { SynthDir, SynthFile, readOnly, snapshotText, textFile } from '../ninep/synth.js';
import { qid, QTDIR, QTFILE } from '../ninep/types.js';
import type { ImpairmentState } from '../link/packethook.js';
import { captureFile } from './capture.js';
import type { CaptureSource } from './capture.js';
import { eventsFile } from './events.js';
import type { EventSource } from './events.js';
import { impairText } from './impair.js';

export interface IfcAddrView {
  ip: Ip;
  mask: Ip;
  /** remote (point-to-point) or network address. */
  net: Ip;
}

export interface IfcView {
  index: number;
  /** Device name shown in status ("" when unbound). */
  device: string;
  /** Largest frame including the 14-byte Ethernet header (9front maxtu). */
  maxtu: number;
  addrs: IfcAddrView[];
  pktin: number;
  pktout: number;
  errin: number;
  errout: number;
  /** Its impairment (ctl `impair`), shown after the addresses. */
  impair?: readonly ImpairmentState[];
}

export interface IpifcSource {
  list(): IfcView[];
  /** The stack-wide IP counters (/net/ipifc/stats), 19 `Name: n` lines. */
  stats(): string;
  /** Allocate a new interface (clone); absent: interfaces cannot be created. */
  clone?(user: string): number;
  /** A ctl message to interface `index`; absent: read-only. */
  ctl?(index: number, fields: string[], user: string): MaybePromise<void>;
  /** The clone/ctl fid of interface `index` was closed. */
  release?(index: number): void;
  /** The interface's frames (N/pcap, ours; the host owner's); absent: no pcap file. */
  capture?(index: number): CaptureSource;
  /** The interface's events (N/events, ours); absent: no events file. */
  events?(index: number): EventSource;
}

function padRight(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** 9front's ipifc status text. */
export function ifcStatus(v: IfcView): string {
  const impaired = v.impair ? impairText(v.impair) : '';
  let s = `device ${v.device} maxtu ${v.maxtu} sendra 0 recvra 0 mflag 0 oflag 0 maxraint 600000 minraint 200000 linkmtu 0 reachtime 0 rxmitra 0 ttl 255 routerlt 1800 pktin ${v.pktin} pktout ${v.pktout} errin ${v.errin} errout ${v.errout} speed 0 delay 40\n`;
  if (v.addrs.length === 0) return `${s}\n${impaired}`;
  for (const a of v.addrs) {
    s += `\t${padRight(formatIp(a.ip), 40)} ${padRight(formatMask(a.mask), 10)} ${padRight(formatIp(a.net), 40)} ${padRight('4294967295', 12)} ${padRight('4294967295', 12)}\n`;
  }
  return s + impaired;
}

/** 9front's ipifc local text: each address and the self addresses linked to it. */
export function ifcLocal(v: IfcView): string {
  return v.addrs.map((a) => `${padRight(formatIp(a.ip), 40)} -> ${padRight(formatIp(a.ip), 40)}\n`).join('');
}

export class IpifcDir {
  readonly node: SynthDir;

  constructor(private readonly src: IpifcSource, private readonly eve: string) {
    this.node = new SynthDir(
      qid(QTDIR, QSPACE_IPIFC),
      () => ({ name: 'ipifc', uid: 'network', gid: eve, mode: 0o555 }),
      () => [...src.list().map((v) => this.ifcDir(v.index)), this.cloneNode(), this.statsNode()],
      (name) => {
        if (name === 'clone') return this.cloneNode();
        if (name === 'stats') return this.statsNode();
        if (!/^(0|[1-9]\d*)$/.test(name)) return null;
        const i = Number(name);
        return src.list().some((v) => v.index === i) ? this.ifcDir(i) : null;
      },
    );
  }

  private view(i: number): IfcView | undefined {
    return this.src.list().find((v) => v.index === i);
  }

  private cloneNode(): Node {
    return new SynthFile(qid(QTFILE, QSPACE_IPIFC | 1n), () => ({ name: 'clone', uid: 'network', gid: this.eve, mode: 0o666 }), (req) => {
      if (!this.src.clone) throw new NinepError(Eperm);
      return this.ctlFile(this.src.clone(req.user), req.user);
    });
  }

  private statsNode(): Node {
    return textFile(qid(QTFILE, QSPACE_IPIFC | 2n), () => ({ name: 'stats', uid: 'network', gid: this.eve, mode: 0o444 }), () => this.src.stats());
  }

  private ctlFile(i: number, user: string): OpenFile {
    const src = this.src;
    return {
      node: this.file(i, 'ctl', 1),
      read: (offset, count) => readSlice(Buffer.from(String(i)), offset, count),
      write: (_o, data) => {
        if (!src.ctl) throw new NinepError(Eperm);
        const r = src.ctl(i, tokenize(ctlText(data)), user);
        return r instanceof Promise ? r.then(() => data.length) : data.length;
      },
      clunk: () => src.release?.(i),
    };
  }

  private file(i: number, name: string, type: number): Node {
    const q = qid(QTFILE, QSPACE_IPIFC | (BigInt(i + 1) << 8n) | BigInt(type));
    const info = (): { name: string; uid: string; gid: string; mode: number } => ({ name, uid: 'network', gid: this.eve, mode: name === 'ctl' ? 0o664 : 0o444 });
    if (name === 'ctl') return new SynthFile(q, info, (req) => this.ctlFile(i, req.user));
    if (name === 'pcap') {
      return new SynthFile(q, () => ({ ...info(), uid: this.eve, mode: 0o600 }), (req) => {
        if (req.user !== this.eve) throw new NinepError(Eperm);
        return captureFile(this.src.capture!(i));
      });
    }
    if (name === 'events') {
      return new SynthFile(q, info, (req) => {
        readOnly(req.mode);
        return eventsFile(this.src.events!(i));
      });
    }
    return new SynthFile(q, info, (req) => {
      readOnly(req.mode);
      return snapshotText(() => {
        const v = this.view(i);
        if (!v) return '';
        if (name === 'status') return ifcStatus(v);
        if (name === 'local') return ifcLocal(v);
        return '::!0\n';
      });
    });
  }

  private ifcDir(i: number): Node {
    const kids = (): Node[] => [
      this.file(i, 'ctl', 1), this.file(i, 'local', 2), this.file(i, 'remote', 3), this.file(i, 'status', 4),
      ...(this.src.capture ? [this.file(i, 'pcap', 5)] : []),
      ...(this.src.events ? [this.file(i, 'events', 6)] : []),
    ];
    return new SynthDir(
      qid(QTDIR, QSPACE_IPIFC | (BigInt(i + 1) << 8n)),
      () => ({ name: String(i), uid: 'network', gid: this.eve, mode: 0o555 }),
      kids,
    );
  }
}
