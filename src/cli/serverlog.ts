/**
 * What `9net serve` says about its clients: each attach and detach with
 * the user and the client's address (the connection label), and with
 * --trace the text of ctl-sized writes next to the server's own trace of
 * every message (which shows a write's data only as its length).
 */
import type { Readable, Writable } from 'node:stream';
import { FrameReader } from '../ninep/framer.js';
import type { Connection } from '../ninep/connection.js';
import type { Peer } from '../ninep/peer.js';
import { Server } from '../ninep/server.js';
import type { ServerOptions } from '../ninep/server.js';
import { MsgType } from '../ninep/types.js';

/** Writes up to this size that are text are shown as text (the ctl bound of netfs). */
const TEXT_MAX = 4096;
/** Largest frame the tap reassembles (above the server's msize bound). */
const FRAME_MAX = 2 * 1024 * 1024 + 4096;
/** size[4] type[1] tag[2] fid[4] offset[8] count[4] */
const TWRITE_HEADER = 23;

/** Whether bytes are printable text: a ctl message, not data. */
function isText(b: Buffer): boolean {
  for (const c of b) if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f) return false;
  return b.length > 0;
}

/** The Twrite a frame holds, as a trace line, if its data is text. */
function textWrite(frame: Buffer): string | null {
  if (frame.length < TWRITE_HEADER || frame[4] !== MsgType.Twrite) return null;
  const count = frame.readUInt32LE(19);
  if (count > TEXT_MAX || TWRITE_HEADER + count !== frame.length) return null;
  const data = frame.subarray(TWRITE_HEADER);
  if (!isText(data)) return null;
  return `Twrite tag=${frame.readUInt16LE(5)} fid=${frame.readUInt32LE(7)} text ${JSON.stringify(data.toString('utf8'))}`;
}

export class LoggingServer extends Server {
  /** The label of each connection's peer, to name the client at attach. */
  private readonly labels = new WeakMap<Peer, string>();
  /** Users attached on each connection. */
  private readonly users = new WeakMap<Peer, Set<string>>();
  /** The attach being admitted (admit and root run in one turn of Tattach). */
  private attaching: { peer: Peer; uname: string } | null = null;
  private readonly say: (line: string) => void;
  private readonly traceText: boolean;

  constructor(opts: ServerOptions) {
    super(opts);
    this.say = opts.log ?? ((l) => console.error(l));
    this.traceText = opts.trace ?? false;
  }

  override serve(input: Readable, output: Writable = input as unknown as Writable, label?: string, peer: Peer = { kind: 'stdio', uid: null }): Connection {
    const c = super.serve(input, output, label, peer);
    this.labels.set(peer, c.label);
    if (this.traceText) this.tapWrites(input, c.label);
    c.onClose(() => {
      const who = this.users.get(peer);
      if (who && who.size > 0) this.say(`${c.label}: detach ${[...who].join(' ')}`);
    });
    return c;
  }

  override admit(peer: Peer, uname: string, aname: string): string | null {
    const refused = super.admit(peer, uname, aname);
    this.attaching = refused === null ? { peer, uname } : null;
    return refused;
  }

  override root(aname: string, uname: string): ReturnType<Server['root']> {
    const a = this.attaching;
    this.attaching = null;
    const node = super.root(aname, uname);
    if (node && a && a.uname === uname) {
      const who = this.users.get(a.peer) ?? new Set<string>();
      who.add(uname);
      this.users.set(a.peer, who);
      this.say(`${this.labels.get(a.peer) ?? 'client'}: attach as ${uname}${aname ? ` (aname ${aname})` : ''}`);
    }
    return node;
  }

  /** With --trace: the text of each ctl-sized write, as the client sent it. */
  private tapWrites(input: Readable, label: string): void {
    const frames = new FrameReader(FRAME_MAX);
    const onData = (chunk: Buffer): void => {
      // Large writes (delivered scattered) are data, not ctl: skipped uncopied.
      const err = frames.push(chunk, (f) => {
        const line = textWrite(f);
        if (line) this.say(`${label} <- ${line}`);
      }, () => {});
      if (err) input.off('data', onData);
    };
    input.on('data', onData);
  }
}
