// The addon loader and the checks that need no privileges: lazy loading, the
// "not built" message, name and option validation before any device access.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadTapAddon, tapAddonUnavailable } from '../../src/link/native.js';
import { TapLink } from '../../src/link/tap.js';
import { netTestsRequired } from '../helpers/net-gate.js';

const missing = tapAddonUnavailable();
if (missing && !netTestsRequired) console.warn(`skipping TAP addon tests: ${missing}`);

describe('native addon loader', () => {
  afterEach(() => {
    vi.doUnmock('node:fs');
    vi.resetModules();
  });

  it('does not load anything at import and says how to build when the addon is missing', async () => {
    vi.resetModules();
    vi.doMock('node:fs', async (orig) => ({ ...(await orig<typeof import('node:fs')>()), existsSync: () => false }));
    const tap = await import('../../src/link/tap.js'); // must not throw
    expect(() => tap.TapLink.open({ name: 'tap0' })).toThrow(/^native addon not built: run npm run build:native$/);
    const native = await import('../../src/link/native.js');
    expect(native.tapAddonUnavailable()).toBe('native addon not built: run npm run build:native');
    try {
      native.loadTapAddon();
    } catch (e) {
      expect((e as { code?: string }).code).toBe('ERR_9NET_NATIVE');
    }
  });
});

describe.skipIf(missing !== null && !netTestsRequired)('native addon (no privileges needed)', () => {
  it('rejects bad interface names before touching any device', () => {
    for (const name of ['', 'a b', 'x'.repeat(16), 'a/b', 'a:b', '..']) {
      expect(() => TapLink.open({ name })).toThrow(/^EINVAL: invalid interface name ".*" \(1-15 ASCII characters/);
    }
    try {
      TapLink.open({ name: 'bad name' });
    } catch (e) {
      expect((e as { code?: string }).code).toBe('EINVAL');
    }
  });

  it('validates options', () => {
    const { Tap } = loadTapAddon();
    expect(() => new Tap({ name: 'x', batch: 0 })).toThrow(RangeError);
    expect(() => new Tap({ name: 'x', batch: 1025 })).toThrow(RangeError);
    expect(() => new Tap({ name: 'x', frameMax: 10 })).toThrow(RangeError);
    expect(() => new Tap({ name: 'x', batch: 1024, frameMax: 65000 })).toThrow(/exceed/);
    expect(() => new Tap({ name: 'x', vnetHdrSize: 11 as 10 })).toThrow(RangeError);
    expect(() => new Tap({ name: 'x', offload: 1 })).toThrow(/needs vnetHdrSize/);
    expect(() => new Tap({ name: 'x', mode: 'bogus' as 'auto' })).toThrow(TypeError);
    expect(() => new Tap({ name: 42 as unknown as string })).toThrow(TypeError);
    expect(() => TapLink.open({ name: 'x', mtu: 10 })).toThrow(RangeError);
    expect(() => TapLink.open({ name: 'x', mac: new Uint8Array([1, 0, 0, 0, 0, 0]) })).toThrow(/group address/);
  });

  it('reports interface info for loopback and null for a missing device', () => {
    const { interfaceInfo } = loadTapAddon();
    expect(interfaceInfo('lo')).toMatchObject({ mtu: expect.any(Number) as number, index: expect.any(Number) as number });
    expect(interfaceInfo('9n-no-such')).toBeNull();
  });
});
