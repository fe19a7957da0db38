/**
 * Bounds one user cannot push onto others: a per-user quota of
 * conversations, and ctl messages refused by size before any parsing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_CTL } from '../../src/netfs/ctl.js';
import { ORDWR } from '../../src/ninep/types.js';
import { EVE, clone, errorOf, startNet } from './harness.js';
import type { NetFixture } from './harness.js';

let fx: NetFixture | null = null;
afterEach(async () => {
  await fx?.close();
  fx = null;
});

describe('per-user quota', () => {
  it('a user who holds their quota gets "no free devices"; another user and eve still get conversations', async () => {
    fx = await startNet({ maxTcp: 12, userQuota: 8 });
    const alice = await fx.client('alice');
    const held = [];
    for (let i = 0; i < 8; i++) held.push(await clone(alice));
    expect(await errorOf(alice.open('/tcp/clone', ORDWR))).toBe('no free devices');
    const bob = await fx.client('bob');
    const b = await clone(bob);
    expect(b.n).toBe(8);
    const eve = await fx.client(EVE);
    await clone(eve);
    // Released conversations count no more.
    await held[0]!.ctl.close();
    const again = await clone(alice);
    expect(again.n).toBe(0);
  });

  it('is the default: three quarters of the table', async () => {
    fx = await startNet({ maxTcp: 8 });
    const alice = await fx.client('alice');
    for (let i = 0; i < 6; i++) await clone(alice);
    expect(await errorOf(alice.open('/tcp/clone', ORDWR))).toBe('no free devices');
    await clone(await fx.client('bob'));
  });
});

describe('ctl message size', () => {
  it('a ctl write over MAX_CTL bytes fails at once with Plan 9\'s text; one at the bound is parsed', async () => {
    fx = await startNet();
    const c = await fx.client('alice');
    const { ctl } = await clone(c);
    expect(await errorOf(ctl.write(`ttl 5${' '.repeat(MAX_CTL)}`))).toBe('read or write too large');
    expect(await errorOf(ctl.write(Buffer.alloc(1024 * 1024, 0x61)))).toBe('read or write too large');
    expect(await errorOf(ctl.write(`ttl 5${' '.repeat(MAX_CTL - 5)}`))).toBe('no error');
  });
});
