// npm `install` hook: try to build the TAP addon, but never fail the install.
// The host-socket backend works without the addon, so on failure print ONE
// warning line and exit 0. `npm run build:native` is the strict build (CI).
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
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
const r = spawnSync(cmd, [...args, 'rebuild', '--directory', dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
if (r.error) warn(`cannot run node-gyp: ${r.error.message}`);
if (r.status !== 0) {
  const lines = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim());
  const first = lines.find((l) => /\berror\b/i.test(l) && !/^gyp ERR! (stack|System|command|cwd|node -v|node-gyp -v|not ok)/.test(l));
  warn((first ?? `node-gyp exited with ${r.status ?? r.signal}`).slice(0, 160));
}
