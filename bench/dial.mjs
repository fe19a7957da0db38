// `9net dial` against `socat -` on the same loopback path, both directions,
// in one run (the host-socket backend; no privileges):
//   up:   head -c N /dev/zero | CLIENT   to a sink that counts until EOF
//   down: a source that sends N bytes  | CLIENT | a counter on a pipe
// CLIENT is `9net dial [-e] tcp!127.0.0.1!PORT` (-e up) or `socat -u`
// (`- TCP:127.0.0.1:PORT` up, the reverse down). The receiver times its
// first to its last byte; each figure is the best of ROUNDS, the two
// clients taking turns.
//   node bench/dial.mjs [MiB=1024] [rounds=3] [msize]     (npm run build first)
import { spawnSync } from 'node:child_process';
import { cli, ratio, start9net } from './lib.mjs';
import { bothWays, counterFile, quote } from './peer.mjs';

const MiB = 1024 * 1024;
const total = Number(process.argv[2] ?? 1024) * MiB;
const rounds = Number(process.argv[3] ?? 3);
const msize = process.argv[4];

for (const tool of ['socat', 'python3']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) {
    console.error(`dial: needs ${tool}`);
    process.exit(1);
  }
}

const counter = counterFile();
const server = await start9net();
process.on('exit', () => server.stop());
const peer = ['python3', counter];
// Up with -e: the end of input closes the conversation whether or not the server has hangupxmit.
const dial = (dir, port) => `node ${[cli, 'dial', ...(dir === 'up' ? ['-e'] : []), ...(msize ? ['-m', msize] : []), '-a', server.addr, `tcp!127.0.0.1!${port}`].map(quote).join(' ')}${dir === 'down' ? ' 2>/dev/null' : ''}`;
const socat = (dir, port) => (dir === 'up' ? `socat -u - TCP:127.0.0.1:${port}` : `socat -u TCP:127.0.0.1:${port} -`);

const best = { dial: { up: 0, down: 0 }, socat: { up: 0, down: 0 } };
for (let i = 0; i < rounds; i++) {
  for (const [name, client] of [['dial', dial], ['socat', socat]]) {
    const r = await bothWays(total, counter, peer, client);
    best[name].up = Math.max(best[name].up, r.up);
    best[name].down = Math.max(best[name].down, r.down);
  }
}
console.log(`dial: ${total / MiB} MiB each way, host sockets on loopback, best of ${rounds}, Gbit/s (receiver's first to last byte)${msize ? `, msize ${msize}` : ''}`);
for (const dir of ['up', 'down']) {
  console.log(`  ${`${dir}:`.padEnd(5)} 9net dial ${best.dial[dir].toFixed(2)}  socat - ${best.socat[dir].toFixed(2)}  ratio ${ratio(best.dial[dir], best.socat[dir])} (target >= 0.5, aim 0.8)`);
}
process.exit(0);
