/**
 * Gate for tests that need privileges or host tools (TAP devices, network
 * namespaces, QEMU for the v9fs client). Without them such tests skip with a
 * one-line reason; with NET_TESTS=required (as in CI) they fail instead.
 *
 *   const gate = netGate({ root: true, tun: true, commands: ['ip'] });
 *   describe.skipIf(gate.skip)('kernel interop', () => { ... });
 *   // and, so CI fails when the gate is closed:
 *   gate.failIfRequired();
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'vitest';

export interface GateNeeds {
  root?: boolean;
  tun?: boolean;
  commands?: string[];
  files?: string[];
}

export interface Gate {
  /** Why the tests cannot run here, or null when they can. */
  reason: string | null;
  /** True when the tests should be skipped (closed gate, not required). */
  skip: boolean;
  /** Registers a failing test when the gate is closed and NET_TESTS=required. */
  failIfRequired(): void;
}

export const netTestsRequired = process.env.NET_TESTS === 'required';

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function netGate(needs: GateNeeds, title = 'privileged tests'): Gate {
  let reason: string | null = null;
  if (needs.root && process.getuid?.() !== 0) reason = 'needs root (CAP_NET_ADMIN)';
  else if (needs.tun && !existsSync('/dev/net/tun')) reason = 'no /dev/net/tun';
  else {
    for (const c of needs.commands ?? []) if (!hasCommand(c)) { reason = `command ${c} not found`; break; }
    for (const f of needs.files ?? []) if (!reason && !existsSync(f)) reason = `${f} not found`;
  }
  if (reason && !netTestsRequired) console.warn(`skipping ${title}: ${reason}`);
  return {
    reason,
    skip: reason !== null && !netTestsRequired,
    failIfRequired() {
      if (reason && netTestsRequired) {
        describe(title, () => {
          it('can run (NET_TESTS=required)', () => {
            throw new Error(`${title} cannot run: ${reason}`);
          });
        });
      }
    },
  };
}
