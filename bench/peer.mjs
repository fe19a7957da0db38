// The byte counter the dial benchmarks use, as a Python program (so that the
// peer is never the bottleneck nor shares the event loop of what is measured):
//   counter.py [--host H] sink PORT       accept one connection, count until EOF
//   counter.py [--host H] source PORT N   accept one connection, send N bytes, close
//   counter.py stdin                      count standard input until EOF
// H defaults to 127.0.0.1. Counting modes print {"bytes": B, "seconds": S}
// (first to last byte); listening modes print "ready" first.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './lib.mjs';

export const counterPy = `
import json, socket, sys, time
def count(read):
    buf = bytearray(1 << 20); got = 0; t0 = None
    while True:
        k = read(buf)
        if not k: break
        if t0 is None: t0 = time.monotonic()
        got += k
    print(json.dumps({"bytes": got, "seconds": (time.monotonic() - t0) if t0 else 0.0}), flush=True)
args = sys.argv[1:]
host = "127.0.0.1"
if args[0] == "--host":
    host, args = args[1], args[2:]
mode = args[0]
if mode == "stdin":
    count(sys.stdin.buffer.raw.readinto)
    sys.exit(0)
port = int(args[1])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port)); s.listen(1); print("ready", flush=True)
c, _ = s.accept()
if mode == "sink":
    count(c.recv_into)
else:
    left = int(args[2]); blk = bytes(1 << 20)
    while left > 0:
        n = min(left, len(blk)); c.sendall(blk[:n]); left -= n
    c.shutdown(socket.SHUT_WR)
    while c.recv(65536): pass
c.close()
`;

/** Start a counter (argv: the command and its arguments); `ready` once it listens, `done` with its JSON report. */
export function runPeer(argv) {
  const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  const ready = new Promise((res, rej) => {
    const check = () => (out.includes('ready') ? res() : null);
    p.stdout.on('data', check);
    p.once('close', (code) => rej(new Error(`${argv.join(' ')} exited ${code}`)));
  });
  const done = new Promise((res) => p.once('close', () => {
    const line = out.split('\n').find((l) => l.startsWith('{'));
    res(line ? JSON.parse(line) : { bytes: 0, seconds: 0 });
  }));
  ready.catch(() => {});
  return { ready, done, kill: () => p.kill('SIGKILL') };
}

export const gbit = (bytes, secs) => (bytes * 8) / secs / 1e9;

/** The counter written to a temporary file (removed at exit); returns its path. */
export function counterFile() {
  const path = join(tmpdir(), `9net-count-${process.pid}.py`);
  writeFileSync(path, counterPy);
  process.on('exit', () => spawnSync('rm', ['-f', path]));
  return path;
}

export const quote = (a) => `'${a.replace(/'/g, "'\\''")}'`;

/** Run a shell pipeline; resolves with its standard output. */
export function pipeline(cmd) {
  return new Promise((res, rej) => {
    const p = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.on('close', (code) => (code === 0 ? res(out) : rej(new Error(`${cmd}: exit ${code}`))));
  });
}

/**
 * One transfer of `total` bytes each way, in Gbit/s: up is `head -c | CLIENT`
 * into a counting sink, down a source sending to `CLIENT | counter stdin`.
 * `peerArgv` starts the counter where the peer lives; `client(dir, port)`
 * is the client's command line.
 */
export async function bothWays(total, counter, peerArgv, client) {
  const res = {};
  {
    const port = await freePort();
    const sink = runPeer([...peerArgv, 'sink', String(port)]);
    await sink.ready;
    await pipeline(`head -c ${total} /dev/zero | ${client('up', port)}`);
    const r = await sink.done;
    if (r.bytes !== total) throw new Error(`up: the sink got ${r.bytes} of ${total} bytes`);
    res.up = gbit(r.bytes, r.seconds);
  }
  {
    const port = await freePort();
    const source = runPeer([...peerArgv, 'source', String(port), String(total)]);
    await source.ready;
    const out = await pipeline(`${client('down', port)} < /dev/null | python3 ${quote(counter)} stdin`);
    await source.done;
    const r = JSON.parse(out.trim().split('\n').pop());
    if (r.bytes !== total) throw new Error(`down: got ${r.bytes} of ${total} bytes`);
    res.down = gbit(r.bytes, r.seconds);
  }
  return res;
}
