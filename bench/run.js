// Runs every benchmark in turn; each prints its figures and ratios to a
// baseline measured in the same run. Privileged ones skip with a reason.
//   npm run bench            (builds first)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const benches = [
  { file: 'ninep-rtt.mjs', args: ['3'] },
  { file: 'tcp-bulk.mjs', args: ['1024'] },
  { file: 'dial.mjs', args: ['1024', '3'] },
  { file: 'tap-drain.js', args: [], root: true },
  { file: 'tcp-peers.mjs', args: ['256'], root: true },
  { file: 'dial-stack.mjs', args: ['256'], root: true },
  { file: 'tcp-conns.mjs', args: ['10000'] },
  { file: 'stacking.mjs', args: ['128'], root: true },
  { file: 'fuzz.mjs', args: ['1000000'] },
  { file: 'partial-frames.mjs', args: ['1000'] },
];

let failed = 0;
for (const b of benches) {
  const path = join(here, b.file);
  if (!existsSync(path)) continue;
  if (b.root && process.getuid?.() !== 0) {
    console.log(`${b.file}: skipped (needs root for TAP devices and namespaces)`);
    continue;
  }
  console.log(`== ${b.file}`);
  const r = spawnSync(process.execPath, ['--expose-gc', path, ...b.args], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
