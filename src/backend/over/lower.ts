/**
 * The connections to the lower 9P server whose /net carries ours.
 *
 * Every conversation keeps requests outstanding on the lower server for as
 * long as it lives (one Tread on its data file, and for an announcement one
 * open of `listen`). A 9net server stops reading a connection that has
 * 1024 requests in flight, so a single connection carrying a thousand idle
 * conversations would stall everything else on it. The pool therefore
 * spreads conversations over several connections, charging each one
 * `load` units (one per long-lived request) and opening another connection
 * when every open one has CONN_LOAD units in use (at most MAX_CONNS).
 *
 * A connection that dies is dropped from the pool and everyone charged on
 * it is told (Member.lowerDied); the next operation that needs a
 * connection dials again, so a restarted lower server is picked up on the
 * next connect, announce or cs query. A dial that fails, or does not finish
 * negotiating within DIAL_TIMEOUT_MS, fails that operation with
 * `i/o on hungup channel`.
 */
import { Client } from '../../ninep/client.js';
import { NinepError } from '../../ninep/error.js';
import { abortable } from '../../ninep/node.js';
import type { Signal } from '../../ninep/node.js';
import { dial, parseAddress } from '../../ninep/transport.js';
import { IOHDRSZ } from '../../ninep/types.js';
import { Ehungup } from '../../netfs/queue.js';

/** Long-lived lower requests charged to one connection (a 9net server pauses at 1024 in flight). */
export const CONN_LOAD = 256;
/** Lower connections open at once. */
export const MAX_CONNS = 16;
/** Longest wait for a lower connection to be dialed and negotiated. */
export const DIAL_TIMEOUT_MS = 20_000;
/** Default msize asked of the lower server: big reads for bulk TCP, whole 64 KiB datagrams. */
export const DEFAULT_MSIZE = 512 * 1024 + IOHDRSZ;

/** Something holding fids or requests on a lower connection. */
export interface Member {
  lowerDied(reason: string): void;
}

export class Lower {
  /** Long-lived requests charged here. */
  load = 0;
  /** Why the connection died, or null while it lives. */
  dead: string | null = null;
  readonly members = new Set<Member>();

  constructor(readonly client: Client, readonly id: number) {}
}

export interface LowerPoolOptions {
  /** `tcp!host!port` or `unix!/path`. */
  addr: string;
  uname: string;
  aname?: string;
  msize?: number;
  /** Load units per connection (default CONN_LOAD; smaller values are for tests). */
  connLoad?: number;
  log?: (line: string) => void;
}

export class LowerPool {
  private readonly conns: Lower[] = [];
  private dialing: Promise<Lower> | null = null;
  private closed = false;
  private seq = 0;

  private readonly connLoad: number;

  constructor(private readonly opts: LowerPoolOptions) {
    this.connLoad = Math.max(1, Math.min(CONN_LOAD, opts.connLoad ?? CONN_LOAD));
  }

  /** Live lower connections. */
  get size(): number {
    return this.conns.length;
  }

  private log(line: string): void {
    this.opts.log?.(`over ${this.opts.addr}: ${line}`);
  }

  /**
   * A live connection with room for `need` more load units, `prefer` if it
   * has room; dials a new one when none has. Fails with
   * `i/o on hungup channel` when the lower server cannot be reached.
   */
  async pick(want: number, signal?: Signal, prefer?: Lower | null): Promise<Lower> {
    const need = Math.min(want, this.connLoad);
    // Each round either returns, fails, or waits for a dial; connections
    // that die at once could make it go round forever, hence the bound.
    for (let round = 0; round <= MAX_CONNS + 1; round++) {
      if (prefer && prefer.dead === null && prefer.load + need <= this.connLoad) return prefer;
      const l = this.conns.find((x) => x.load + need <= this.connLoad);
      if (l) return l;
      if (this.closed) throw new NinepError(Ehungup);
      if (this.conns.length >= MAX_CONNS && this.dialing === null) throw new NinepError('no free devices');
      await abortable(this.dial(), signal);
    }
    throw new NinepError(Ehungup);
  }

  /** Any live connection (for short requests), dialing one if there is none. */
  async any(signal?: Signal): Promise<Lower> {
    for (let round = 0; round <= MAX_CONNS + 1; round++) {
      const l = this.conns[0];
      if (l) return l;
      if (this.closed) throw new NinepError(Ehungup);
      await abortable(this.dial(), signal);
    }
    throw new NinepError(Ehungup);
  }

  /** Dial one connection now (the first one, so that a bad address shows at start). */
  async connect(): Promise<Lower> {
    return this.dial();
  }

  /** Close every connection; later operations fail with `i/o on hungup channel`. */
  close(): void {
    this.closed = true;
    for (const l of [...this.conns]) l.client.close();
  }

  private dial(): Promise<Lower> {
    if (this.dialing) return this.dialing;
    const p = this.dialOnce();
    this.dialing = p;
    const clear = (): void => {
      if (this.dialing === p) this.dialing = null;
    };
    p.then(clear, clear);
    return p;
  }

  private async dialOnce(): Promise<Lower> {
    let client: Client;
    try {
      client = await dialClient(this.opts);
    } catch (e) {
      this.log(`cannot reach the lower server: ${(e as Error).message}`);
      throw new NinepError(Ehungup);
    }
    if (this.closed) {
      client.close();
      throw new NinepError(Ehungup);
    }
    const l = new Lower(client, ++this.seq);
    this.conns.push(l);
    this.log(`connection ${l.id} up (msize ${client.msize})`);
    client.onClose((reason) => this.died(l, reason));
    return l;
  }

  private died(l: Lower, reason: string): void {
    if (l.dead !== null) return;
    l.dead = reason;
    const i = this.conns.indexOf(l);
    if (i >= 0) this.conns.splice(i, 1);
    if (!this.closed) this.log(`connection ${l.id} lost: ${reason}`);
    const members = [...l.members];
    l.members.clear();
    for (const m of members) {
      try {
        m.lowerDied(reason);
      } catch (e) {
        this.log(`cleanup after connection ${l.id}: ${(e as Error).message}`);
      }
    }
  }
}

/** Dial and negotiate within DIAL_TIMEOUT_MS; on timeout the socket is destroyed. */
function dialClient(opts: LowerPoolOptions): Promise<Client> {
  const a = parseAddress(opts.addr);
  if (a.kind === 'stdio') return Promise.reject(new Error('cannot use stdin/stdout as the lower server'));
  return new Promise<Client>((resolve, reject) => {
    let sock: Awaited<ReturnType<typeof dial>> | null = null;
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      sock?.destroy();
      reject(new Error('timed out'));
    }, DIAL_TIMEOUT_MS);
    timer.unref?.();
    dial(a).then(
      (s) => {
        if (done) {
          s.destroy();
          return;
        }
        sock = s;
        return Client.over(s, s, { uname: opts.uname, aname: opts.aname ?? '', msize: opts.msize ?? DEFAULT_MSIZE }).then((c) => {
          if (done) {
            c.close();
            return;
          }
          done = true;
          clearTimeout(timer);
          resolve(c);
        });
      },
    ).catch((e: unknown) => {
      sock?.destroy();
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(e instanceof Error ? e : new Error(String(e)));
    });
  });
}

export { abortable } from '../../ninep/node.js';

/**
 * Run a lower 9P call with an AbortSignal that fires when the upper
 * request's Signal does (the client then sends Tflush to the lower server).
 */
export async function linked<T>(signal: Signal | undefined, fn: (s: AbortSignal | undefined) => Promise<T>): Promise<T> {
  if (!signal) return fn(undefined);
  const ac = new AbortController();
  if (signal.aborted) ac.abort();
  const onAbort = (): void => ac.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await fn(ac.signal);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** Errors from the lower side as Plan 9 errors: NinepErrors keep their text, anything else is an i/o error. */
export function asNinep(e: unknown): NinepError {
  if (e instanceof NinepError) return e;
  return new NinepError('i/o error');
}
