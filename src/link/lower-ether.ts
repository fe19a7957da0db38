/**
 * One attachment to an ether directory of another /net over 9P: the slots
 * we hold on that card, how frames are read from and written to them, and
 * which MAC we use there. NinePEtherLink makes a Link of it, and opens a
 * new attachment when the lower server comes back.
 *
 * How we hold the card depends on what it is (plan9-net.md §11):
 *
 *  - `bridge` (a 9net card): one slot with `connect -1` and `learn`. 9net's
 *    bridge slots keep the source MAC of what they write and receive the
 *    unicast frames for the MACs they wrote, without promiscuous mode, so
 *    our stack is a station of its own on the card's wire. Plan 9's netif
 *    (port/netif.c) does not know `learn`, and fails it with
 *    `bad process or channel control request`: that is how we tell the two.
 *  - `card` (Plan 9's devether, whose IP types are free): what a second IP
 *    stack does in ip/ethermedium.c: the card's MAC (read from `addr`; 4e's
 *    devether.c rewrites the source of every written frame to it, and
 *    unicast for another MAC reaches only promiscuous slots), and one slot
 *    per type: `connect 0x800` with `nonblocking`, `connect 0x806`. Our
 *    stack is IPv4 only, so unlike ethermedium we leave 0x86dd to others.
 *  - `shared` (a Plan 9 card whose IP types are held, by its own IP stack,
 *    e.g. the card that carries this very 9P connection): one `connect -1`
 *    slot (types <= 0 are never "in use", netif.c typeinuse) and the card's
 *    MAC; the card's own stack ignores our addresses, ours ignores its.
 *    Never promiscuous: every frame of our 9P connection would come back to
 *    us and be read through it again.
 *
 * Reads: each slot keeps between its low-water mark and READS frames asked
 * for; when replies bring it down to the mark, the rest is asked for at once
 * (one write on the 9P connection). On a card that carries that connection
 * each request's carrier frame is itself delivered to us and answers one
 * request; topping up in batches makes that one frame per batch instead of
 * an endless chain of one request per frame.
 */
import { setMaxListeners } from 'node:events';
import type { Client, File } from '../ninep/client.js';
import { NinepError } from '../ninep/error.js';
import { ORDWR } from '../ninep/types.js';
import { ETH_HEADER_LEN } from './link.js';

export type LowerMode = 'bridge' | 'card' | 'shared';

/** Frames asked for per slot: the most, and the level at which the rest is asked for. */
const READS = 16;
const READS_LOW = 8;
/** On a typed card the ARP slot needs fewer. */
const ARP_READS = 4;
const ARP_READS_LOW = 2;
/** Plan 9's smallest ether write. */
export const ETHER_MIN = 60;
const ETHERTYPE_ARP = 0x0806;
/** IEEE 802 local experimental type: the frame that teaches a 9net card our MAC. */
const ETHERTYPE_LOCAL = 0x88b5;

interface Slot {
  ctl: File;
  data: File;
  /** Frames asked for and not yet answered. */
  asked: number;
  max: number;
  low: number;
}

/** A card's `addr`: 12 hex digits (netif.c Naddrqid). */
function parseAddr(text: string): Uint8Array | null {
  const t = text.trim();
  if (!/^[0-9a-fA-F]{12}$/.test(t)) return null;
  return Uint8Array.from(Buffer.from(t, 'hex'));
}

async function closeAll(files: (File | null)[]): Promise<void> {
  for (const f of files) await f?.close().catch(() => {});
}

export class LowerEther {
  private closed = false;
  private onFrame: ((frame: Buffer) => void) | null = null;
  private onLost: ((why: string) => void) | null = null;
  private readonly abort = new AbortController();

  private constructor(
    readonly client: Client,
    readonly mode: LowerMode,
    /** The MAC we use on the card: ours (bridge) or the card's. */
    readonly mac: Uint8Array,
    private readonly slots: Slot[],
    /** The slot directories, e.g. ['/ether0/3']. */
    readonly dirs: string[],
    private readonly frameMax: number,
  ) {
    // Every outstanding read listens on the one abort signal.
    setMaxListeners(READS + ARP_READS + 1, this.abort.signal);
  }

  /**
   * Holds the ether directory `path` of `client`'s tree, as a 9net card
   * (with `ours` as our MAC) if it is one, else as Plan 9's. Throws the
   * lower server's error when it cannot.
   */
  static async open(client: Client, path: string, ours: Uint8Array, mtu: number): Promise<LowerEther> {
    const card = parseAddr((await client.readFile(`${path}/addr`)).toString());
    if (!card) throw new NinepError(`${path}/addr: not a MAC address`);
    const frameMax = mtu + ETH_HEADER_LEN;
    const bridge = await LowerEther.slot(client, path, ['connect -1', 'learn'], READS, READS_LOW);
    if (bridge.slot) {
      const l = new LowerEther(client, 'bridge', ours, [bridge.slot], [bridge.dir], frameMax);
      l.teach(card);
      return l;
    }
    // Not a 9net card: hold its IP types as ethermedium does, or share it.
    const ip = await LowerEther.slot(client, path, ['connect 0x800', 'nonblocking'], READS, READS_LOW);
    if (ip.slot) {
      const arp = await LowerEther.slot(client, path, ['connect 0x806'], ARP_READS, ARP_READS_LOW);
      if (arp.slot) return new LowerEther(client, 'card', card, [ip.slot, arp.slot], [ip.dir, arp.dir], frameMax);
      await closeAll([ip.slot.data, ip.slot.ctl]);
    }
    const all = await LowerEther.slot(client, path, ['connect -1'], READS, READS_LOW);
    if (!all.slot) throw all.error;
    return new LowerEther(client, 'shared', card, [all.slot], [all.dir], frameMax);
  }

  /**
   * A new slot with `msgs` written to its ctl. When the lower card refuses
   * a message the slot is closed and its error returned; other failures throw.
   */
  private static async slot(client: Client, path: string, msgs: string[], max: number, low: number): Promise<{ slot: Slot; dir: string; error?: undefined } | { slot: null; dir?: undefined; error: NinepError }> {
    const ctl = await client.open(`${path}/clone`, ORDWR);
    try {
      const n = (await ctl.read(64, undefined, 0n)).toString().trim();
      for (const m of msgs) {
        try {
          await ctl.write(m);
        } catch (e) {
          if (!(e instanceof NinepError)) throw e;
          await ctl.close().catch(() => {});
          return { slot: null, error: e };
        }
      }
      const data = await client.open(`${path}/${n}/data`, ORDWR);
      return { slot: { ctl, data, asked: 0, max, low }, dir: `${path}/${n}` };
    } catch (e) {
      await ctl.close().catch(() => {});
      throw e;
    }
  }

  /**
   * A frame to the card itself from our MAC: a 9net card learns where our
   * MAC lives from it (before our stack sends anything, e.g. after a
   * re-attach), and keeps it off the wire.
   */
  private teach(card: Uint8Array): void {
    const f = new Uint8Array(ETHER_MIN);
    f.set(card, 0);
    f.set(this.mac, 6);
    f[12] = ETHERTYPE_LOCAL >> 8;
    f[13] = ETHERTYPE_LOCAL & 0xff;
    this.write(f).catch(() => {});
  }

  /** Start reading: frames go to onFrame, and onLost is told once when the attachment dies. */
  start(onFrame: (frame: Buffer) => void, onLost: (why: string) => void): void {
    this.onFrame = onFrame;
    this.onLost = onLost;
    this.client.onClose((why) => this.lose(why));
    for (const s of this.slots) this.topUp(s);
  }

  private topUp(s: Slot): void {
    if (this.closed || s.asked > s.low) return;
    // All asked for in one tick: the client sends them in one write.
    while (s.asked < s.max) {
      s.asked++;
      s.data.read(this.frameMax, this.abort.signal).then(
        (f) => {
          s.asked--;
          if (this.closed) return;
          this.onFrame?.(f);
          this.topUp(s);
        },
        (e: unknown) => {
          s.asked--;
          this.lose(e instanceof Error ? e.message : String(e));
        },
      );
    }
  }

  /** Write one frame (already padded) to the slot for its type. */
  write(frame: Uint8Array): Promise<number> {
    const s = this.slots.length > 1 && ((frame[12]! << 8) | frame[13]!) === ETHERTYPE_ARP ? this.slots[1]! : this.slots[0]!;
    return s.data.write(frame);
  }

  private lose(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.client.close();
    this.onLost?.(why);
  }

  /** Release the slots and the connection. Idempotent. */
  async close(): Promise<void> {
    const was = this.closed;
    this.closed = true;
    if (!this.abort.signal.aborted) this.abort.abort();
    if (!was) await closeAll(this.slots.flatMap((s) => [s.data, s.ctl]));
    this.client.close();
  }
}
