// The fuzzers at scale: the stateful 9P fuzzer (test/ninep/fuzz.test.ts)
// with FUZZ_MESSAGES messages (default 1 000 000) and the frame fuzzers of
// the stack, each in its own vitest run. Prints their summary lines: counts,
// crashes (must be 0), peak RSS, and the worst latency a concurrent good
// client saw. Exits non-zero when a fuzzer failed.
//   node bench/fuzz.mjs [MESSAGES]
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const n = process.argv[2] ?? '1000000';
const runs = [
  { name: '9P stateful', file: 'test/ninep/fuzz.test.ts', env: { FUZZ_MESSAGES: n } },
  { name: 'stack frames', file: 'test/stack/fuzz.test.ts', env: { FUZZ_FRAMES: n } },
];
let failed = 0;
for (const r of runs) {
  const t0 = Date.now();
  const p = spawnSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', r.file], {
    cwd: root, encoding: 'utf8', env: { ...process.env, ...r.env }, maxBuffer: 64 << 20,
  });
  const out = `${p.stdout}\n${p.stderr}`;
  const summary = out.split('\n').filter((l) => /^(fuzz9p|fuzzstack):/.test(l.replace(/\x1b\[[0-9;]*m/g, '')));
  const ok = p.status === 0;
  if (!ok) failed++;
  console.log(`${r.name} (${r.file}, ${n}): ${ok ? 'passed' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  for (const l of summary) console.log(`  ${l.replace(/\x1b\[[0-9;]*m/g, '')}`);
  if (!ok) console.log(out.split('\n').filter((l) => /FAIL|Error|expected/.test(l)).slice(0, 20).join('\n'));
}
process.exit(failed ? 1 : 0);
