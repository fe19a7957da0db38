/**
 * An ether device directory, /net/etherN, as Plan 9's netif serves it
 * (plan9-net.md §11): clone, addr, stats, ifstats, and up to 8 slots
 * N/{data,ctl,stats,type,ifstats}.
 *
 * A slot `connect T` receives frames of type T (a positive type may be held
 * by one slot only), -1 every frame, -2 the first 64 bytes of every frame.
 * Frames reach a slot when they are for us (our MAC, broadcast, multicast),
 * the slot asked for promiscuous mode, or (bridge mode) the destination MAC
 * was learnt behind that slot from the frames it wrote. A data read returns one frame
 * (a short read truncates it); a data write sends one frame of 60 to
 * mtu+14 bytes, with our source MAC unless the slot is in bridge mode.
 * Frames written to our own MAC are delivered locally and not sent;
 * broadcast and multicast frames are delivered locally and sent. `learn`
 * (9net's own message) is `bridge`, named for the learning that Plan 9's
 * netif does not do: a stack on a lower card writes it to tell a 9net card,
 * which accepts it, from Plan 9's, which fails it (link/lower-ether.ts).
 *
 * With `netif: 'plan9'` the directory behaves as Plan 9's (4e) devether.c
 * instead: every written frame gets the card's source MAC (`bridge` only
 * keeps a slot from hearing its own frames), nothing is learnt, `learn` is
 * unknown, and a written frame comes back to the slots when it is for the
 * card, broadcast, or the card is promiscuous. Tests use it as a Plan 9
 * card to stack on.
 *
 * The device is an EtherDevice: the link under a stack, whose own IPv4/ARP
 * types count as held (as when Plan 9's ipifc has bound the device).
 */
import { Eperm, NinepError } from '../ninep/error.js';
import { readSlice } from '../ninep/node.js';
import { BROADCAST_MAC, isGroupMac, macKey } from '../link/mac.js';
import type { Node, OpenFile, OpenRequest } from '../ninep/node.js';
import { qid, QTDIR, QTFILE } from '../ninep/types.js';
import type { Clock } from '../lib/clock.js';
import { ctlText, tokenize } from './ctl.js';
import { Queue } from './queue.js';
import type { EtherDevice } from '../link/etherport.js';
import { QSPACE_ETHER } from './qid.js';
import { SynthDir, SynthFile, readOnly, snapshotText, wantsWrite } from '../ninep/synth.js';
import { LINKTYPE_ETHERNET } from '../capture/pcapng.js';
import { captureFile, untilOver } from './capture.js';
import { MAX_CAPTURE_READERS, ReaderBudget } from './lossy.js';

/** Slots per device (netif Ntypes). */
export const MAX_SLOTS = 8;
/** Smallest and header size of a frame written to data. */
const ETHER_MIN = 60;
const ETHER_HDR = 14;
/** Bytes of frames queued per slot before further frames are dropped. */
const SLOT_QUEUE = 1024 * 1024;
/** MACs learnt behind bridge slots (netif bridge mode); the oldest goes first. */
const MAX_LEARNT = 256;

interface Slot {
  index: number;
  owner: string;
  perm: number;
  refs: number;
  type: number;
  prom: boolean;
  headersOnly: boolean;
  bridge: boolean;
  rq: Queue;
}

function readnum(n: number): Buffer {
  return Buffer.from(`${String(n).padStart(11)} `);
}

function hex(mac: Uint8Array): string {
  return Buffer.from(mac).toString('hex');
}

function isOurs(frame: Uint8Array, mac: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (frame[i] !== mac[i]) return false;
  return true;
}

export interface EtherDirOptions {
  /** Whose devether to behave as (default 9net's; see above). */
  netif?: '9net' | 'plan9';
  /** The stack's capture readers, shared with its other capture files (default: the device's own). */
  captureReaders?: ReaderBudget;
}

export class EtherDir {
  readonly node: SynthDir;
  private readonly plan9: boolean;
  private readonly slots: Slot[] = [];
  private promCount = 0;
  /** MAC (as a number) → the bridge slot that wrote frames from it. */
  private readonly learnt = new Map<number, Slot>();
  private tapHandle: { dispose(): void } | null = null;
  private readonly captureReaders: ReaderBudget;
  /** Told when the device goes away (its pcap readers get EOF). */
  private readonly enders = new Set<() => void>();

  constructor(
    readonly name: string,
    private readonly devIndex: number,
    private readonly dev: EtherDevice,
    private readonly eve: string,
    private readonly clock: Clock,
    opts: EtherDirOptions = {},
  ) {
    this.plan9 = opts.netif === 'plan9';
    this.captureReaders = opts.captureReaders ?? new ReaderBudget(MAX_CAPTURE_READERS);
    this.node = new SynthDir(
      this.qid(0, 0, true),
      () => ({ name, uid: eve, mode: 0o555 }),
      () => [this.clone(), this.addr(), this.statsFile('stats', 7, -1), this.statsFile('ifstats', 9, -1), ...this.pcapFile(), ...this.slots.map((s) => this.slotDir(s))],
      (n) => {
        if (n === 'clone') return this.clone();
        if (n === 'pcap') return this.pcapFile()[0] ?? null;
        if (n === 'addr') return this.addr();
        if (n === 'stats') return this.statsFile('stats', 7, -1);
        if (n === 'ifstats') return this.statsFile('ifstats', 9, -1);
        if (!/^[0-7]$/.test(n)) return null;
        const s = this.slots[Number(n)];
        return s ? this.slotDir(s) : null;
      },
    );
    this.tapHandle = dev.tap((frame, dir) => this.demux(frame, dir));
  }

  /** Stop delivering frames to slots. */
  close(): void {
    this.tapHandle?.dispose();
    this.tapHandle = null;
    for (const s of this.slots) s.rq.hangup();
    for (const fn of [...this.enders]) fn();
    this.enders.clear();
  }

  private qid(slot: number, type: number, dir = false): ReturnType<typeof qid> {
    return qid(dir ? QTDIR : QTFILE, QSPACE_ETHER | (BigInt(this.devIndex) << 16n) | (BigInt(slot) << 5n) | BigInt(type));
  }

  // ---- frame delivery ----

  private demux(frame: Uint8Array, dir: 'in' | 'out'): void {
    if (frame.length < ETHER_HDR) return;
    const group = isGroupMac(frame);
    const ours = isOurs(frame, this.dev.mac);
    // Outgoing frames reach slots only when looped back: group frames, promiscuous
    // slots, or a bridge slot the destination was learnt behind.
    if (dir === 'out' && !group && !ours && this.promCount === 0 && (this.learnt.size === 0 || !this.learnt.has(macKey(frame, 0)))) return;
    this.deliver(frame, group || ours, null);
  }

  private deliver(frame: Uint8Array, forUs: boolean, from: Slot | null): void {
    const type = (frame[12]! << 8) | frame[13]!;
    // A unicast frame for a MAC learnt behind a bridge slot is that slot's.
    const behind = forUs ? undefined : this.learnt.get(macKey(frame, 0));
    for (const s of this.slots) {
      if (s.refs === 0 || s.type === 0) continue;
      if (s.type > 0 && s.type !== type) continue;
      if (!forUs && !s.prom && s !== behind) continue;
      // A bridge slot stands for other stations: frames for the card's own
      // MAC are not its business (group frames and learnt MACs are). Plan 9's
      // (4e devether.c etheriq) skips bridge slots only for frames written
      // here that are not from the card, and every frame written here is.
      if (!this.plan9) {
        if (s.bridge && !s.prom && forUs && !isGroupMac(frame) && from === null) continue;
        if (from && s === from && s.bridge) continue;
      }
      let copy: Uint8Array;
      if (s.type === -2) copy = Uint8Array.prototype.slice.call(frame, 0, 64);
      else if (s.headersOnly) {
        const rec = new Uint8Array(64);
        rec.set(frame.subarray(0, Math.min(58, frame.length)));
        rec[58] = (frame.length >> 8) & 0xff;
        rec[59] = frame.length & 0xff;
        const ms = Math.floor(this.clock.now()) >>> 0;
        rec[60] = ms >>> 24; rec[61] = (ms >>> 16) & 0xff; rec[62] = (ms >>> 8) & 0xff; rec[63] = ms & 0xff;
        copy = rec;
      } else copy = Uint8Array.prototype.slice.call(frame);
      s.rq.put(copy);
    }
  }

  private write(s: Slot, data: Uint8Array): number {
    if (data.length < ETHER_MIN) throw new NinepError('read or write too small');
    if (data.length > this.dev.mtu + ETHER_HDR) throw new NinepError('read or write too large');
    const frame = Uint8Array.prototype.slice.call(data);
    if (!s.bridge || this.plan9) frame.set(this.dev.mac, 6);
    else this.learn(macKey(frame, 6), s);
    const ours = isOurs(frame, this.dev.mac);
    const group = isGroupMac(frame);
    if (this.plan9) {
      // 4e devether.c etheroq: loop back what is for the card, broadcast, or any frame while promiscuous.
      const bcast = isOurs(frame, BROADCAST_MAC);
      if (ours || bcast || this.promCount > 0) this.deliver(frame, ours || bcast, s);
      if (ours || group) this.dev.deliverLocal(frame);
    } else if (ours || group) {
      this.deliver(frame, true, s);
      this.dev.deliverLocal(frame);
    }
    if (!ours) this.dev.transmit(frame);
    return data.length;
  }

  // ---- slots ----

  private allocSlot(user: string): Slot {
    let s = this.slots.find((x) => x.refs === 0);
    if (!s) {
      if (this.slots.length >= MAX_SLOTS) throw new NinepError('no free devices');
      s = { index: this.slots.length, owner: '', perm: 0o660, refs: 0, type: 0, prom: false, headersOnly: false, bridge: false, rq: new Queue('datagram', SLOT_QUEUE) };
      this.slots.push(s);
    }
    this.resetSlot(s);
    s.owner = user;
    return s;
  }

  /** Bridge mode: remember that `mac` lives behind slot `s` (bounded, oldest out). */
  private learn(mac: number, s: Slot): void {
    if (this.learnt.get(mac) === s) return;
    this.learnt.delete(mac);
    if (this.learnt.size >= MAX_LEARNT) this.learnt.delete(this.learnt.keys().next().value!);
    this.learnt.set(mac, s);
  }

  private resetSlot(s: Slot): void {
    for (const [mac, slot] of this.learnt) if (slot === s) this.learnt.delete(mac);
    if (s.prom) this.promCount--;
    s.owner = '';
    s.perm = 0o660;
    s.type = 0;
    s.prom = false;
    s.headersOnly = false;
    s.bridge = false;
    s.rq.reset();
  }

  private decref(s: Slot): void {
    if (s.refs > 0 && --s.refs === 0) {
      s.rq.hangup();
      this.resetSlot(s);
    }
  }

  /** netif's open check: owner bits for the owner, group bits for eve, other bits for the rest. */
  private checkOpen(s: Slot, req: OpenRequest): void {
    if (s.refs === 0 || s.owner === '') {
      s.owner = req.user;
      s.perm = 0o660;
      return;
    }
    const need = wantsWrite(req.mode) ? ((req.mode & 3) === 2 ? 6 : 2) : 4;
    const bits = req.user === s.owner ? (s.perm >> 6) & 7 : req.user === this.eve ? (s.perm >> 3) & 7 : s.perm & 7;
    if ((bits & need) !== need) throw new NinepError(Eperm);
  }

  private ctl(s: Slot, text: string): void {
    const f = tokenize(text.slice(0, 63));
    switch (f[0]) {
      case 'connect': {
        const t = f.length > 1 ? parseType(f[1]!) : NaN;
        if (!Number.isFinite(t)) throw new NinepError('bad arg in system call');
        if (t > 0 && (this.dev.heldTypes().includes(t) || this.slots.some((o) => o !== s && o.refs > 0 && o.type === t))) {
          throw new NinepError('device or object already in use');
        }
        s.type = t;
        return;
      }
      case 'promiscuous':
        if (!s.prom) { s.prom = true; this.promCount++; }
        return;
      case 'headersonly': s.headersOnly = true; return;
      case 'bridge': s.bridge = true; return;
      case 'learn':
        if (this.plan9) throw new NinepError('bad process or channel control request');
        s.bridge = true;
        return;
      case 'nonblocking':
      case 'addmulti':
      case 'delmulti':
      case 'remmulti':
        return;
      default:
        throw new NinepError('bad process or channel control request');
    }
  }

  private ctlFile(s: Slot): OpenFile {
    return {
      node: this.slotFile(s, 'ctl', 6),
      read: (off, count) => readSlice(readnum(s.index), off, count),
      write: (_o, data) => {
        this.ctl(s, ctlText(data));
        return data.length;
      },
      clunk: () => this.decref(s),
    };
  }

  // ---- nodes ----

  private clone(): Node {
    return new SynthFile(this.qid(0, 1), () => ({ name: 'clone', uid: this.eve, mode: 0o666 }), (req) => {
      const s = this.allocSlot(req.user);
      s.refs++;
      return this.ctlFile(s);
    });
  }

  private addr(): Node {
    return new SynthFile(this.qid(0, 2), () => ({ name: 'addr', uid: this.eve, mode: 0o444 }), (req) => {
      if (wantsWrite(req.mode)) throw new NinepError('bad arg in system call');
      return snapshotText(() => hex(this.dev.mac));
    });
  }

  /**
   * /net/etherN/pcap (ours; netfs/capture.ts): every frame from the wire
   * and put on it, the host owner's. Absent when the device cannot be tapped.
   */
  private pcapFile(): Node[] {
    const dev = this.dev;
    if (!dev.capture) return [];
    return [new SynthFile(this.qid(0, 10), () => ({ name: 'pcap', uid: this.eve, mode: 0o600 }), (req) => {
      if (req.user !== this.eve) throw new NinepError(Eperm);
      return captureFile({
        readers: this.captureReaders,
        linktype: LINKTYPE_ETHERNET,
        name: this.name,
        now: () => this.clock.now(),
        attach: (tap, ended) => untilOver(this.enders, ended, dev.capture!(tap)),
      });
    })];
  }

  private statsText(): string {
    const st = this.dev.stats;
    return `in: ${st.rxFrames}\nlink: 1\nout: ${st.txFrames}\ncrc errs: 0\noverflows: 0\nsoft overflows: ${st.rxDropped}\nframing errs: ${st.rxErrors}\nbuffer errs: 0\noutput errs: ${st.txErrors}\nprom: ${this.promCount}\nmbps: 1000\naddr: ${hex(this.dev.mac)}\n`;
  }

  private statsFile(name: string, type: number, slot: number): Node {
    return new SynthFile(this.qid(slot < 0 ? 0 : slot, type), () => ({ name, uid: this.eve, mode: 0o444 }), (req) => {
      if (wantsWrite(req.mode)) throw new NinepError('bad arg in system call');
      return snapshotText(() => (name === 'stats' ? this.statsText() : ''));
    });
  }

  private slotFile(s: Slot, name: string, type: number): Node {
    const owned = name === 'data' || name === 'ctl';
    return new SynthFile(
      this.qid(s.index, type),
      () => (owned && s.owner ? { name, uid: s.owner, mode: s.perm, length: name === 'data' ? BigInt(s.rq.length) : 0n } : { name, uid: this.eve, mode: owned ? 0o666 : 0o444 }),
      (req) => {
        switch (name) {
          case 'ctl':
            this.checkOpen(s, req);
            s.refs++;
            return this.ctlFile(s);
          case 'data':
            this.checkOpen(s, req);
            s.refs++;
            return {
              read: (_o, count, signal) => s.rq.read(count, signal),
              write: (_o, data) => this.write(s, data),
              clunk: () => this.decref(s),
            };
          case 'type':
            readOnly(req.mode);
            return { read: (off, count) => readSlice(readnum(s.type >>> 0), off, count) };
          default:
            if (wantsWrite(req.mode)) throw new NinepError('bad arg in system call');
            return snapshotText(() => (name === 'stats' ? this.statsText() : ''));
        }
      },
    );
  }

  private slotDir(s: Slot): Node {
    const kids = (): Node[] => [this.slotFile(s, 'data', 5), this.slotFile(s, 'ctl', 6), this.slotFile(s, 'stats', 7), this.slotFile(s, 'type', 8), this.slotFile(s, 'ifstats', 9)];
    return new SynthDir(this.qid(s.index, 4, true), () => ({ name: String(s.index), uid: this.eve, mode: 0o555 }), kids);
  }
}

/** A packet type with base detection: 2048, 0x800, 0800 (octal), -1. */
export function parseType(s: string): number {
  if (/^-?0x[0-9a-f]+$/i.test(s)) return s.startsWith('-') ? -parseInt(s.slice(3), 16) : parseInt(s.slice(2), 16);
  if (/^-?0[0-7]+$/.test(s)) return s.startsWith('-') ? -parseInt(s.slice(2), 8) : parseInt(s.slice(1), 8);
  if (/^-?\d+$/.test(s)) return Number(s);
  return NaN;
}
