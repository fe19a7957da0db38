/**
 * `9net listen1` and its commands' lifetimes: no process is left behind
 * when listen1 is terminated or loses its 9P server, and a `9net dial`
 * command whose call goes away ends quietly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIN, cleanup, connectTo, exited, finished, freePort, localServer, processGone, start, startServer, stderrLine, waitFor } from './harness.js';

let A = '';

beforeAll(async () => {
  A = (await startServer()).addr;
});

afterAll(cleanup);

/** A command that prints its pid and a background child's, then waits for both. */
const TWO_PROCESSES = ['sh', '-c', 'sleep 1000 & echo "$$ $!"; wait'];

/** Call a listen1 running TWO_PROCESSES; resolves with the two pids it printed. */
async function callAndGetPids(port: number): Promise<number[]> {
  const s = connectTo(port);
  const m = await waitFor(s, /^(\d+) (\d+)\n/);
  const pids = [Number(m[1]), Number(m[2])];
  for (const pid of pids) expect(processGone(pid)).toBe(false);
  return pids;
}

describe('9net listen1', { timeout: 60_000 }, () => {
  it('terminated, it ends its commands and their children before it exits', async () => {
    const port = await freePort();
    const l = start(['listen1', '-v', '-a', A, `tcp!127.0.0.1!${port}`, ...TWO_PROCESSES]);
    const res = finished(l);
    await stderrLine(l, /announced/);
    const pids = await callAndGetPids(port);
    l.kill('SIGTERM');
    const r = await res;
    expect(r.code).toBe(128 + 15);
    for (const pid of pids) expect(processGone(pid), `pid ${pid}`).toBe(true);
  });

  it('when its 9P connection is lost it says so, exits non-zero and leaves no process behind', async () => {
    const doomed = await startServer();
    const port = await freePort();
    const l = start(['listen1', '-v', '-a', doomed.addr, `tcp!127.0.0.1!${port}`, ...TWO_PROCESSES]);
    const res = finished(l);
    await stderrLine(l, /announced/);
    const pids = await callAndGetPids(port);
    doomed.proc.kill('SIGKILL');
    const r = await res;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`9net listen1: lost the 9P connection to ${doomed.addr}: (connection closed|connection reset by peer)\n`));
    for (const pid of pids) expect(processGone(pid), `pid ${pid}`).toBe(true);
  });

  it('a 9net dial command whose call is closed by the caller exits quietly with status 0', async () => {
    // What the dial command relays: output without end.
    const source = await localServer((s) => {
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const more = (): void => { while (s.write(chunk)); };
      s.on('drain', more);
      more();
    });
    const port = await freePort();
    const l = start(['listen1', '-v', '-a', A, `tcp!127.0.0.1!${port}`, process.execPath, MAIN, 'dial', '-a', A, `tcp!127.0.0.1!${source}`]);
    const log: string[] = [];
    l.stderr.on('data', (b: Buffer) => log.push(b.toString()));
    await stderrLine(l, /announced/);
    const caller = connectTo(port);
    await waitFor(caller, /a{1000}/);
    caller.destroy();
    await stderrLine(l, /: \S+ exited (\S+)\n/).then((m) => expect(m[1]).toBe('0'));
    const text = log.join('');
    expect(text).not.toMatch(/EPIPE|Error|at .*\.js:\d+/);
    l.kill('SIGTERM');
    await exited(l);
  });
});
