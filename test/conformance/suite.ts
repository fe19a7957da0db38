/**
 * How a conformance file runs its cases on every backend, and the small
 * /net steps the cases share (announce, wait for a status, bounded waits).
 */
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { Client, File } from '../../src/ninep/client.js';
import { errorOf } from '../netfs/harness.js';
import { BACKENDS } from './backends.js';
import type { Backend, Fixture } from './backends.js';

export { EVE } from './backends.js';
export type { Fixture } from './backends.js';
export { clone, errorOf, readFull, readText, waitFor } from '../netfs/harness.js';

export const Ehungup = 'i/o on hungup channel';

/** A case's time limit: generous, since the machine is shared; a case waits for events, never for time. */
export const CASE_MS = 60_000;

/** How long a request that a correct backend answers at once may take before a case calls it blocked (a loaded machine is slow, not that slow). */
export const PROMPT_MS = 10_000;

/** The full TCP status line (9/ip/tcp.c tcpstate). */
export const TCP_STATUS = /^(Closed|Listen|Syn_sent|Syn_received|Established|Finwait1|Finwait2|Close_wait|Closing|Last_ack|Time_wait) qin \d+ qout \d+ rq \d+\.\d+ srtt \d+ mdev \d+ sst \d+ cwin \d+ swin \d+>>\d+ rwin \d+>>\d+ qscale \d+ timer\.start \d+ timer\.count \d+ rerecv \d+ katimer\.start \d+ katimer\.count \d+\n$/;

/**
 * Define `body`'s cases once per backend: `describe.each` over the four, one
 * fixture each, started before and closed (with its leak checks) after.
 */
export function onEveryBackend(title: string, body: (fx: () => Fixture, b: Backend) => void): void {
  describe.each(BACKENDS)('$name', (b) => {
    let fx: Fixture | null = null;
    beforeAll(async () => {
      fx = await b.start();
    }, 30_000);
    afterAll(async () => {
      await fx?.close();
    }, 60_000);
    describe(title, { timeout: CASE_MS }, () => body(() => fx!, b));
  });
}

/**
 * A request a case awaits later: marked handled now, so that a case failing
 * before it awaits the request does not leave an unhandled rejection too.
 */
export function later<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** `announce 0` on ctl; returns the port from `local` (which must read `::!P`). */
export async function announce0(c: Client, ctl: File, dir: string): Promise<number> {
  await ctl.write('announce 0');
  const local = (await c.readFile(`${dir}/local`)).toString();
  const m = /^::!(\d+)\n$/.exec(local);
  expect(m, `local of an announce 0: ${JSON.stringify(local)}`).not.toBeNull();
  return Number(m![1]);
}

/**
 * The EOF rule (port/qio.c): `zeros` more 0-byte reads (of the
 * three a hung-up queue gives), then reads fail with i/o on hungup channel.
 * Each read must answer at once.
 */
export async function expectEof(data: File, zeros = 3): Promise<void> {
  for (let i = 0; i < zeros; i++) expect((await prompt(`0-byte read ${i + 1} of ${zeros}`, (s) => data.read(100, s))).length).toBe(0);
  expect(await errorOf(prompt('the read after EOF', (s) => data.read(100, s)))).toBe(Ehungup);
}

/** The conversation number a listen (or clone) ctl fid stands for. */
export async function convOf(ctl: File): Promise<number> {
  return Number((await ctl.read(64, undefined, 0n)).toString());
}

/** Poll `cond` (a 9P look at the /net, say) until it holds; fail after `ms`. */
export async function until(what: string, cond: () => Promise<boolean>, ms = PROMPT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) expect.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Poll a text file through 9P until it matches. */
export async function untilText(c: Client, path: string, re: RegExp): Promise<string> {
  let t = '';
  await until(`${path} to match ${re}`, async () => re.test((t = (await c.readFile(path)).toString())));
  return t;
}

/**
 * Wait for a 9P request that must settle promptly (a correct backend
 * answers at once); after `ms` it is flushed through `flush` and the case
 * fails saying it blocked.
 */
export async function settles<T>(what: string, p: Promise<T>, flush: AbortController, ms = PROMPT_MS): Promise<T> {
  const t = setTimeout(() => flush.abort(), ms);
  try {
    const v = await p;
    if (flush.signal.aborted) expect.fail(`${what} blocked (flushed after ${ms} ms)`);
    return v;
  } catch (e) {
    if (flush.signal.aborted) expect.fail(`${what} blocked (flushed after ${ms} ms)`);
    throw e;
  } finally {
    clearTimeout(t);
  }
}

/** Run a 9P request that must finish promptly (see settles). */
export function prompt<T>(what: string, run: (signal: AbortSignal) => Promise<T>, ms = PROMPT_MS): Promise<T> {
  const ac = new AbortController();
  return settles(what, run(ac.signal), ac, ms);
}

/**
 * Resolve once `progress()` has not changed for `ms`: a writer waiting for
 * room. The wait only decides when a case moves on; what the case asserts
 * holds however long it took.
 */
export async function stalls(progress: () => number, ms = 1000): Promise<void> {
  let last = progress();
  let since = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    const now = progress();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= ms) return;
  }
}

/**
 * Keep writing `chunk` to `data` until a write fails: `done` resolves with
 * the error that ended it and the bytes written; `flush` ends a write that
 * never settles.
 */
export function writeUntilFailure(data: File, chunk: Uint8Array): {
  done: Promise<{ error: unknown; written: number }>;
  written(): number;
  flush: AbortController;
} {
  let written = 0;
  const flush = new AbortController();
  const done = (async () => {
    try {
      for (;;) written += await data.write(chunk, flush.signal);
    } catch (error) {
      return { error, written };
    }
  })();
  return { done, written: () => written, flush };
}
