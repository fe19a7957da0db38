// npm `install` hook: try to build the native addons, but never fail the
// install. The host-socket backend works without them, so on failure print
// ONE warning line and exit 0. If the full build fails, retry without the
// libpcap addon (-Dwith_pcap=0): a host without libpcap-dev then only loses
// the pcap link. `npm run build:native` is the strict build (CI): there,
// every target, pcap included, must build.
//
// A packed tarball carries the addons built where it was packed
// (native/build/Release/*.node, N-API: any Node >= 20 on that platform).
// npm 11 runs a global package's install script only when allowed
// (--allow-scripts), so those are what `npm install -g 9net-*.tgz` uses;
// when the script does run, addons that load and are newer than their
// sources are kept, anything else is rebuilt.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const warn = (why) => {
  console.warn(`9net: warning: native TAP addon not built (${why}); TAP links unavailable, host sockets still work; see: npm run build:native`);
  process.exit(0);
};

if (process.platform !== 'linux') warn(`TAP devices need Linux, this is ${process.platform}`);

// npm sets npm_config_node_gyp to its bundled node-gyp in lifecycle scripts.
const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp ? [process.execPath, [gyp]] : ['node-gyp', []];
const dir = dirname(fileURLToPath(import.meta.url));

/** Runs node-gyp rebuild; null on success, else a one-line reason. */
function build(extra) {
  const r = spawnSync(cmd, [...args, 'rebuild', '--directory', dir, ...extra], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) return `cannot run node-gyp: ${r.error.message}`;
  if (r.status === 0) return null;
  const lines = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim());
  const first = lines.find((l) => /\berror\b/i.test(l) && !/^gyp ERR! (stack|System|command|cwd|node -v|node-gyp -v|not ok)/.test(l));
  return (first ?? `node-gyp exited with ${r.status ?? r.signal}`).slice(0, 160);
}

/** The addons the build makes; all present, loading, and newer than every source: nothing to do. */
function prebuiltUsable() {
  const release = join(dir, 'build', 'Release');
  const addons = ['tap.node', 'peercred.node', 'pcap.node'].map((f) => join(release, f));
  if (!addons.every((f) => existsSync(f))) return false;
  const sources = readdirSync(dir).filter((f) => /\.(cc|h|gyp)$/.test(f)).map((f) => statSync(join(dir, f)).mtimeMs);
  const oldest = Math.min(...addons.map((f) => statSync(f).mtimeMs));
  if (sources.some((t) => t > oldest)) return false;
  const require = createRequire(import.meta.url);
  try {
    for (const f of addons) require(f);
    return true;
  } catch {
    return false;
  }
}

if (prebuiltUsable()) process.exit(0);

const full = build([]);
if (full === null) process.exit(0);
if (full.startsWith('cannot run node-gyp')) warn(full);
const tapOnly = build(['--', '-Dwith_pcap=0']);
if (tapOnly !== null) warn(tapOnly);
console.warn(`9net: warning: libpcap addon not built (${full}); pcap links unavailable, TAP links and host sockets still work; install libpcap-dev, then npm run build:native`);
