/**
 * A raw 9P peer for server tests: sends exactly the messages (and bytes)
 * a test chooses, with its own tags, and collects the replies in order.
 */
import * as net from 'node:net';
import { decode, encode } from '../../src/ninep/codec.js';
import { FrameReader } from '../../src/ninep/framer.js';
import { MsgType, NOFID, NOTAG } from '../../src/ninep/types.js';
import type { Dialect, RMessage, TMessage } from '../../src/ninep/types.js';

export class Raw9p {
  readonly replies: RMessage[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  readonly closedP: Promise<void>;
  private readonly reader = new FrameReader(16 * 1024 * 1024);
  dialect: Dialect = '9P2000';

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (b: Buffer) => {
      this.reader.push(b, (f) => {
        const r = decode(f, this.dialect);
        if (!r.ok) throw new Error(`bad reply: ${r.error}`);
        this.replies.push(r.msg as RMessage);
        for (const w of this.waiters.splice(0)) w();
      });
    });
    this.closedP = new Promise((resolve) => sock.once('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
      resolve();
    }));
    sock.on('error', () => {});
  }

  static connect(port: number): Promise<Raw9p> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new Raw9p(s)));
      s.once('error', reject);
    });
  }

  send(m: TMessage): void {
    this.sock.write(encode(m, this.dialect));
  }

  sendBytes(b: Uint8Array): void {
    this.sock.write(b);
  }

  /** Wait for the reply with this tag (removing it from the list). */
  async reply(tag: number, timeoutMs = 3000): Promise<RMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.replies.findIndex((r) => r.tag === tag);
      if (i >= 0) return this.replies.splice(i, 1)[0]!;
      if (this.closed) throw new Error(`connection closed waiting for tag ${tag}`);
      if (Date.now() > deadline) throw new Error(`no reply for tag ${tag}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  /** Send and wait for the reply. */
  async rpc(m: TMessage): Promise<RMessage> {
    this.send(m);
    return this.reply(m.tag);
  }

  /** Tversion + Tattach(fid 0). */
  async start(opts: { msize?: number; version?: string; uname?: string; aname?: string } = {}): Promise<void> {
    const v = await this.rpc({ type: MsgType.Tversion, tag: NOTAG, msize: opts.msize ?? 8192, version: opts.version ?? '9P2000' });
    if (v.type !== MsgType.Rversion) throw new Error('no Rversion');
    this.dialect = v.version === '9P2000.u' ? '9P2000.u' : '9P2000';
    const a = await this.rpc({ type: MsgType.Tattach, tag: 1, fid: 0, afid: NOFID, uname: opts.uname ?? 'glenda', aname: opts.aname ?? '', ...(this.dialect === '9P2000.u' ? { nUname: 0xffffffff } : {}) });
    if (a.type !== MsgType.Rattach) throw new Error(`attach failed: ${JSON.stringify(a)}`);
  }

  close(): void {
    this.sock.destroy();
  }
}
