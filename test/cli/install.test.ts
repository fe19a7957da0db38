/**
 * Installing 9net as a user would: `npm pack`, the tarball installed
 * globally into a temporary prefix (its dependencies come from the npm
 * registry or npm's cache), and `9net --version` and `9net serve` run
 * from there, with the native addons the tarball carries; and a global
 * install of the checkout itself (npm links it).
 *
 * The tarball is packed with --ignore-scripts: `npm test` has just built
 * dist/, and rebuilding it here would change files other test files are
 * running.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, spawnTracked, stderrLine } from './harness.js';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const work = mkdtempSync(join(tmpdir(), '9net-install-'));
const npmQuiet = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

afterAll(async () => {
  await cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** `9net serve` from an installed bin: resolves with the line it serves on. */
async function serveFrom(bin: string): Promise<string> {
  const p = spawnTracked(bin, ['serve', '-l', 'tcp!127.0.0.1!0']);
  const m = await stderrLine(p, /9net: serving \/net \(host sockets\) on tcp!127\.0\.0\.1!\d+\n/);
  p.kill('SIGTERM');
  return m[0];
}

describe('install', { timeout: 600_000 }, () => {
  it('from npm pack\'s tarball into a prefix: 9net --version, 9net serve, and the addons load', async () => {
    const { stdout } = await exec('npm', ['pack', '--ignore-scripts', '--pack-destination', work, '--silent'], { cwd: ROOT });
    const tarball = join(work, stdout.trim().split('\n').pop()!);
    expect(existsSync(tarball)).toBe(true);
    const prefix = join(work, 'prefix');
    await exec('npm', ['install', '-g', '--prefix', prefix, tarball, ...npmQuiet], { cwd: work });
    const bin = join(prefix, 'bin', '9net');
    const v = await exec(bin, ['--version']);
    expect(v.stdout).toBe(`${version}\n`);
    expect(await serveFrom(bin)).toMatch(/serving/);
    // npm 11 does not run a global package's install script unless allowed: the addons are the tarball's.
    const release = join(prefix, 'lib', 'node_modules', '9net', 'native', 'build', 'Release');
    for (const addon of ['tap.node', 'pcap.node', 'peercred.node']) {
      const path = join(release, addon);
      expect(existsSync(path), addon).toBe(true);
      await exec(process.execPath, ['-e', `require(${JSON.stringify(path)})`]);
    }
  });

  it('the checkout itself, npm install -g .: npm links it and 9net runs', async () => {
    const prefix = join(work, 'linked');
    await exec('npm', ['install', '-g', '--prefix', prefix, '--ignore-scripts', ROOT, ...npmQuiet], { cwd: work });
    const bin = join(prefix, 'bin', '9net');
    expect((await exec(bin, ['--version'])).stdout).toBe(`${version}\n`);
    expect(await serveFrom(bin)).toMatch(/serving/);
  });
});
