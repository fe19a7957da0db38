// LossyQueue: one reader's bounded queue that never holds up its producer.
import { describe, expect, it } from 'vitest';
import { Interrupted } from '../../src/ninep/error.js';
import { LossyQueue } from '../../src/netfs/lossy.js';

const sig = (): AbortSignal => new AbortController().signal;
const b = (s: string): Uint8Array => Buffer.from(s);
const t = (x: Uint8Array | Promise<Uint8Array>): string => (x instanceof Promise ? 'pending' : Buffer.from(x).toString());

describe('LossyQueue', () => {
  it('reads records as a stream, a short read leaving the rest', () => {
    const q = new LossyQueue(10, 100);
    q.offer(b('hello '));
    q.offer(b('world\n'));
    expect(t(q.read(3, sig()))).toBe('hel');
    expect(t(q.read(100, sig()))).toBe('lo world\n');
    expect(t(q.read(100, sig()))).toBe('pending');
  });

  it('loses what does not fit, by records and by bytes, and marks the loss where it was', () => {
    const q = new LossyQueue(2, 100, (n) => b(`lost ${n}\n`));
    q.offer(b('a\n'));
    q.offer(b('b\n'));
    q.offer(b('c\n'));
    q.offer(b('d\n'));
    expect(q.lost).toBe(2);
    expect(t(q.read(100, sig()))).toBe('a\nb\n');
    expect(t(q.read(100, sig()))).toBe('lost 2\n');
    q.offer(b('e\n'));
    expect(t(q.read(100, sig()))).toBe('e\n');
    const small = new LossyQueue(100, 5, (n) => b(`lost ${n}\n`));
    small.offer(b('1234'));
    small.offer(b('56'));
    expect(small.lost).toBe(1);
    expect(t(small.read(100, sig()))).toBe('1234');
    small.offer(b('78'));
    expect(t(small.read(100, sig()))).toBe('lost 1\n78');
  });

  it('hands a waiting reader the next record, is flushable, and ends in EOF after a hangup', async () => {
    const q = new LossyQueue(10, 100);
    const p = q.read(100, sig());
    q.offer(b('x'));
    expect(Buffer.from(await p).toString()).toBe('x');
    const ac = new AbortController();
    const w = q.read(100, ac.signal);
    ac.abort();
    await expect(w).rejects.toBeInstanceOf(Interrupted);
    q.offer(b('last'));
    q.hangup();
    q.offer(b('after'));
    expect(t(q.read(100, sig()))).toBe('last');
    expect(t(q.read(100, sig()))).toBe('');
    expect(q.lost).toBe(0);
  });
});
