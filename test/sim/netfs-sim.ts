/**
 * Our stack's whole /net in one process under a ManualClock: StackNets
 * (and plain routing Stacks) on in-memory hubs, and a small file client
 * that walks, opens, reads and writes the served tree directly (no 9P
 * connection), while drive() runs simulated time until the call settles.
 */
import { ManualClock } from '../../src/lib/clock.js';
import { SimClock } from '../../src/lib/simclock.js';
import { SeededRng } from '../../src/lib/rng.js';
import { Hub } from '../../src/link/hub.js';
import { StackNet } from '../../src/backend/stack/backend.js';
import { NinepError } from '../../src/ninep/error.js';
import type { MaybePromise, Node, OpenFile } from '../../src/ninep/node.js';
import { ORDWR } from '../../src/ninep/types.js';
import { Stack } from '../../src/stack/stack.js';
import type { TcpLayerOptions } from '../../src/stack/tcp/types.js';
import { ip } from '../stack/helpers.js';

export const EVE = 'eve';

/** A simulated clock the drivers below step: ManualClock, or SimClock (/net/clock's). */
export interface SteppedClock {
  now(): number;
  nextDeadline(): number | null;
  runUntil(deadline: number): void;
}

/**
 * Settles `p` (a file call in progress), running the clock's timers in
 * order while it waits: frames on the hubs, TCP's timers. Fails when
 * nothing is left to run or `limitMs` of simulated time passed.
 */
export async function drive<T>(clock: SteppedClock, p: MaybePromise<T>, limitMs = 120_000): Promise<T> {
  type Outcome = { ok: true; v: T } | { ok: false; e: unknown };
  const box: { out: Outcome | null } = { out: null };
  Promise.resolve(p).then(
    (v) => { box.out = { ok: true, v }; },
    (e: unknown) => { box.out = { ok: false, e }; },
  );
  const end = clock.now() + limitMs;
  // Turns without a timer to run: other calls being driven at the same time may still be on their way.
  let idle = 0;
  for (;;) {
    await new Promise<void>((r) => setImmediate(r));
    const s = box.out;
    if (s !== null) {
      if (s.ok) return s.v;
      throw s.e;
    }
    const d = clock.nextDeadline();
    if (d === null && ++idle < 100) continue;
    if (d === null || d > end) throw new Error(`still waiting after ${clock.now() - (end - limitMs)} ms of simulated time`);
    idle = 0;
    clock.runUntil(d);
  }
}

/** Runs simulated time for `ms`, letting promise chains run between timers. */
export async function runFor(clock: SteppedClock, ms: number): Promise<void> {
  const end = clock.now() + ms;
  for (;;) {
    await new Promise<void>((r) => setImmediate(r));
    const d = clock.nextDeadline();
    if (d === null || d > end) break;
    clock.runUntil(d);
  }
  clock.runUntil(end);
  await new Promise<void>((r) => setImmediate(r));
}

/** The Plan 9 error text of a failed call (a non-9P error is a bug: it would be logged as internal). */
export async function errorOf(clock: SteppedClock, p: MaybePromise<unknown>, limitMs?: number): Promise<string> {
  try {
    await drive(clock, p, limitMs);
  } catch (e) {
    if (e instanceof NinepError) return e.ename;
    return `not a 9P error: ${String(e)}`;
  }
  return 'no error';
}

/** A call's outcome as a promise, whether it answered at once, later, or threw. */
function settled<T>(call: () => MaybePromise<T>): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (e) {
    return Promise.reject(e);
  }
}

/** An open file of the tree; each call may be flushed with flush(). */
export class SimFile {
  private readonly ac = new AbortController();
  constructor(private readonly f: OpenFile) {}
  read(count = 8192): Promise<Uint8Array> {
    return settled(() => this.f.read!(0n, count, this.ac.signal));
  }
  write(data: string | Uint8Array): Promise<number> {
    return settled(() => this.f.write!(0n, typeof data === 'string' ? Buffer.from(data) : data, this.ac.signal));
  }
  /** What a read returns at once, or null when it would wait (that read is flushed). */
  tryRead(count = 1 << 20): Uint8Array | null {
    const ac = new AbortController();
    const r = this.f.read!(0n, count, ac.signal);
    if (!(r instanceof Promise)) return r;
    r.catch(() => {});
    ac.abort();
    return null;
  }
  /** Tflush of every call in progress on this file. */
  flush(): void {
    this.ac.abort();
  }
  close(): void {
    this.f.clunk?.();
  }
}

/** Opens files of one served /net as `user`. */
export class SimClient {
  constructor(private readonly root: Node, private readonly clock: SteppedClock, readonly user = EVE) {}

  async open(path: string, mode = ORDWR): Promise<SimFile> {
    let n: Node | null = this.root;
    for (const name of path.split('/').filter((x) => x !== '')) {
      n = await n!.walk!(name, this.user);
      if (n === null) throw new Error(`${path}: not found`);
    }
    const f = await drive(this.clock, n!.open!({ mode, user: this.user, signal: new AbortController().signal }));
    return new SimFile(f);
  }

  /** The whole text of a file. */
  async text(path: string): Promise<string> {
    const f = await this.open(path, 0);
    const b = await drive(this.clock, f.read(65536));
    f.close();
    return Buffer.from(b).toString();
  }

  /** A new conversation: its ctl and number. */
  async clone(proto = 'tcp'): Promise<{ ctl: SimFile; n: string; dir: string }> {
    const ctl = await this.open(`/${proto}/clone`);
    const n = Buffer.from(await drive(this.clock, ctl.read(32))).toString().trim();
    return { ctl, n, dir: `/${proto}/${n}` };
  }
}

export interface SimNet {
  clock: SteppedClock;
  nets: StackNet[];
  clients: SimClient[];
  close(): Promise<void>;
}

/**
 * `n` StackNets on one hub at 10.0.0.(i+1)/24, neighbours known. With
 * `manual` the clock is a frozen SimClock each stack serves as /net/clock.
 */
export function lan(n: number, opts: { seed?: number; tcp?: TcpLayerOptions; manual?: boolean } = {}): SimNet {
  const seed = opts.seed ?? 1;
  const sim = opts.manual ? new SimClock(0) : null;
  const clock = sim ?? new ManualClock(0);
  const hub = new Hub({ clock, limit: 8192 });
  const nets: StackNet[] = [];
  const macs: number[] = [];
  for (let i = 0; i < n; i++) {
    const net = new StackNet({ eve: EVE, clock, rng: new SeededRng(seed * 10 + i), ...(opts.tcp ? { tcp: opts.tcp } : {}), ...(sim ? { clockControl: sim } : {}) });
    const port = net.addEther(hub.port());
    net.configure(port, `10.0.0.${i + 1}`, 24);
    nets.push(net);
    macs.push(Buffer.from(port.mac).readUIntBE(0, 6));
  }
  for (const net of nets) for (let i = 0; i < n; i++) net.stack.arp.add(ip(`10.0.0.${i + 1}`), macs[i]!);
  clock.runUntil(clock.now());
  return {
    clock,
    nets,
    clients: nets.map((x) => new SimClient(x.tree, clock)),
    close: async () => { for (const x of nets) await x.close(); },
  };
}

/**
 * A client StackNet (10.1.0.2/24) and a server StackNet (10.2.0.2/24) on
 * two hubs joined by a forwarding Stack (10.1.0.1, 10.2.0.1): one hop
 * between them, as a traceroute needs.
 */
export function routed(seed = 1): SimNet & { router: Stack } {
  const clock = new ManualClock(0);
  const lan1 = new Hub({ clock });
  const lan2 = new Hub({ clock });
  const router = new Stack({ clock, rng: new SeededRng(seed * 10 + 9), forwarding: true });
  router.addInterface(lan1.port(), 'ether0').addAddress(ip('10.1.0.1'), 24);
  router.addInterface(lan2.port(), 'ether1').addAddress(ip('10.2.0.1'), 24);
  const a = new StackNet({ eve: EVE, clock, rng: new SeededRng(seed * 10) });
  a.configure(a.addEther(lan1.port()), '10.1.0.2', 24, '10.1.0.1');
  const b = new StackNet({ eve: EVE, clock, rng: new SeededRng(seed * 10 + 1) });
  b.configure(b.addEther(lan2.port()), '10.2.0.2', 24, '10.2.0.1');
  clock.advance(0);
  const nets = [a, b];
  return {
    clock,
    nets,
    router,
    clients: nets.map((x) => new SimClient(x.tree, clock)),
    close: async () => {
      for (const x of nets) await x.close();
      router.close();
    },
  };
}
