/**
 * A conversation's capture and event sources for netfs (N/pcap, N/events):
 * readers attach through the conversation's FlowWatch or EventFan and are
 * told (`ended`) when the conversation is over.
 */
import type { PacketTap } from '../../link/packethook.js';
import type { CaptureSource } from '../../netfs/capture.js';
import type { Conv } from '../../netfs/conv.js';
import type { EventSource } from '../../netfs/events.js';
import type { ReaderBudgets } from '../../netfs/lossy.js';
import type { Stack } from '../../stack/stack.js';
import { untilOver } from '../../netfs/capture.js';
import type { EventFan, FlowWatch } from './observe.js';

export function conversationCapture(c: Conv, name: string, linktype: number, stack: Stack, watch: FlowWatch, readers: ReaderBudgets, only?: (pkt: Uint8Array, dir: 'in' | 'out') => boolean): CaptureSource {
  return {
    readers: readers.captures,
    linktype,
    name,
    now: () => stack.now(),
    attach: (tap: PacketTap, ended) => untilOver(c.watchers, ended, watch.addTap(only ? (p, d) => { if (only(p, d)) tap(p, d); } : tap)),
  };
}

export function conversationEvents<E>(c: Conv, fan: EventFan<E>, readers: ReaderBudgets): EventSource {
  return { readers: readers.events, attach: (sink, ended) => untilOver(c.watchers, ended, fan.attach(sink)) };
}
