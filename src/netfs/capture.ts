/**
 * Live capture files: /net/etherN/pcap, /net/ipifc/N/pcap,
 * /net/tcp/N/pcap, /net/udp/N/pcap (ours; Plan 9 has none). Each open
 * starts a capture of that scope alone; reads return a pcapng stream
 * (capture/pcapng.ts: the header, then one block per packet, stamped by
 * the stack's clock) that `tshark -r -` and Wireshark read while traffic
 * flows. A filter (capture/filter.ts) written before reading keeps only
 * matching packets; what was queued before it is dropped. Each reader has
 * its own bounded queue (CAPTURE_MAX_BYTES, CAPTURE_MAX_RECORDS): a slow
 * reader loses packets, counted in the next block's drop count, and never
 * holds up the stack; a stack has at most MAX_CAPTURE_READERS at once (one
 * more open fails with `no free devices`). When the scope goes away (the conversation is
 * closed, the interface unbound) reads give what is queued, then EOF.
 */
import { parseFilter, packetFields } from '../capture/filter.js';
import type { PacketFilter } from '../capture/filter.js';
import { packetBlock, packetBlockLen, pcapngHeader } from '../capture/pcapng.js';
import type { Disposable } from '../link/link.js';
import type { PacketTap } from '../link/packethook.js';
import { NinepError } from '../ninep/error.js';
import type { OpenFile } from '../ninep/node.js';
import { Enoconv } from './errors.js';
import { LossyQueue } from './lossy.js';
import type { ReaderBudget } from './lossy.js';

/** Bytes queued per reader before packets are lost. */
export const CAPTURE_MAX_BYTES = 4 * 1024 * 1024;
/** Packets queued per reader before packets are lost. */
export const CAPTURE_MAX_RECORDS = 8192;

export interface CaptureSource {
  /** pcap link type of the packets (LINKTYPE_ETHERNET, LINKTYPE_RAW). */
  readonly linktype: number;
  /** The name in the stream's interface block: ether0, ipifc/1, tcp/3. */
  readonly name: string;
  /** The stack's clock (ms). */
  now(): number;
  /** Sees the scope's packets until disposed; `ended` when the scope goes away. */
  attach(tap: PacketTap, ended: () => void): Disposable;
  /** The stack's capture readers. */
  readonly readers: ReaderBudget;
}

/** Takes a reader's place for `open`, given back when its file is clunked (or the open fails). */
export function withReader(readers: ReaderBudget, open: () => OpenFile): OpenFile {
  if (!readers.take()) throw new NinepError(Enoconv);
  let f: OpenFile;
  try {
    f = open();
  } catch (e) {
    readers.give();
    if (e instanceof RangeError) throw new NinepError(Enoconv); // a scope's taps are bounded too
    throw e;
  }
  const clunk = f.clunk;
  return { ...f, clunk: () => { readers.give(); clunk?.(); } };
}

/** Ties `sub` to a scope: `ended` is told when the scope is over (`watchers` run), both undone by dispose. */
export function untilOver(watchers: Set<() => void>, ended: () => void, sub: Disposable): Disposable {
  watchers.add(ended);
  return {
    dispose: () => {
      watchers.delete(ended);
      sub.dispose();
    },
  };
}

/** The open file of one capture (opened for reading, or reading and writing a filter). */
export function captureFile(src: CaptureSource): OpenFile {
  return withReader(src.readers, () => openCapture(src));
}

function openCapture(src: CaptureSource): OpenFile {
  const q = new LossyQueue(CAPTURE_MAX_RECORDS, CAPTURE_MAX_BYTES);
  q.push(pcapngHeader(src.linktype, src.name));
  let filter: PacketFilter | null = null;
  let started = false;
  const tap: PacketTap = (pkt, dir) => {
    if (filter !== null && !filter(packetFields(pkt, src.linktype, dir))) return;
    if (!q.fits(packetBlockLen(pkt.length, q.pendingLost > 0))) {
      q.lose();
      return;
    }
    q.push(packetBlock(pkt, src.now() * 1000, dir, q.takeLost()));
  };
  const sub = src.attach(tap, () => q.hangup());
  return {
    read: (_offset, count, signal) => {
      started = true;
      return q.read(count, signal);
    },
    write: (_offset, data) => {
      const r = parseFilter(Buffer.from(data).toString('utf8').trim());
      if ('error' in r) throw new NinepError(r.error);
      filter = r.filter;
      // Packets already queued were not filtered: a filter starts the capture over.
      if (!started) {
        q.clear();
        q.takeLost();
        q.push(pcapngHeader(src.linktype, src.name));
      }
      return data.length;
    },
    clunk: () => sub.dispose(),
  };
}
