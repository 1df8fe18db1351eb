import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/lib/backoff.ts';

describe('backoffDelay', () => {
  it('doubles from the initial delay and stops at the cap', () => {
    const policy = { initialMs: 500, maxMs: 30_000 };
    expect([1, 2, 3, 7, 8].map((a) => backoffDelay(policy, a))).toEqual([500, 1000, 2000, 30_000, 30_000]);
  });

  it('spreads by the jitter fraction and never passes the cap', () => {
    const policy = { initialMs: 1000, maxMs: 1500, jitter: 0.2 };
    expect(backoffDelay(policy, 1, () => 0)).toBe(800);
    expect(backoffDelay(policy, 1, () => 1)).toBe(1200);
    expect(backoffDelay(policy, 2, () => 1)).toBe(1500);
  });

  it('takes another growth factor', () => {
    expect(backoffDelay({ initialMs: 100, maxMs: 10_000, factor: 3 }, 3)).toBe(900);
  });
});
