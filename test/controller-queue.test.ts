import { describe, expect, it } from 'vitest';
import { type ReconcileResult, TerminalError, WorkQueue } from '../src/controller/queue.ts';
import { FakeClock, settle } from './support/fake-clock.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('WorkQueue', () => {
  it('collapses a burst of adds for one key into one reconcile', async () => {
    const clock = new FakeClock(0);
    const runs: string[] = [];
    const gate = deferred();
    const q = new WorkQueue({
      clock,
      workers: 1,
      reconcile: async (k) => {
        runs.push(k);
        if (k === 'ns/busy') await gate.promise;
        return undefined;
      },
    });
    q.add('ns/busy');
    for (let i = 0; i < 50; i++) q.add('ns/a');
    q.add('ns/b');
    expect(q.length).toBe(2);
    gate.resolve();
    await settle();
    expect(runs).toEqual(['ns/busy', 'ns/a', 'ns/b']);
    await q.shutDown();
  });

  it('never runs one key on two workers at once, and reruns a key added while it ran', async () => {
    const clock = new FakeClock(0);
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const gate = deferred();
    const q = new WorkQueue({
      clock,
      workers: 4,
      reconcile: async () => {
        active++;
        runs++;
        maxActive = Math.max(maxActive, active);
        if (runs === 1) await gate.promise;
        active--;
        return undefined;
      },
    });
    q.add('ns/a');
    await settle();
    q.add('ns/a');
    q.add('ns/a');
    await settle();
    expect(runs).toBe(1);
    gate.resolve();
    await settle();
    expect(runs).toBe(2);
    expect(maxActive).toBe(1);
    await q.shutDown();
  });

  it('bounds concurrency to the number of workers', async () => {
    const clock = new FakeClock(0);
    let active = 0;
    let maxActive = 0;
    const gate = deferred();
    const q = new WorkQueue({
      clock,
      workers: 2,
      reconcile: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await gate.promise;
        active--;
        return undefined;
      },
    });
    for (let i = 0; i < 6; i++) q.add(`ns/k${i}`);
    await settle();
    expect(active).toBe(2);
    expect(q.length).toBe(4);
    gate.resolve();
    await settle();
    expect(maxActive).toBe(2);
    expect(q.length).toBe(0);
    await q.shutDown();
  });

  it('retries errors with per-key exponential backoff, and only that key', async () => {
    const clock = new FakeClock(0);
    const times: Record<string, number[]> = { 'ns/bad': [], 'ns/good': [] };
    const retries: number[] = [];
    const q = new WorkQueue({
      clock,
      backoffBaseMs: 100,
      backoffMaxMs: 1000,
      onError: (_k, _e, retryIn) => retries.push(retryIn ?? -1),
      reconcile: async (k) => {
        times[k]?.push(clock.now().getTime());
        if (k === 'ns/bad') throw new Error('boom');
        return undefined;
      },
    });
    q.add('ns/bad');
    q.add('ns/good');
    await settle();
    await clock.advanceSettled(5_000);
    expect(times['ns/good']).toEqual([0]);
    expect(retries.slice(0, 6)).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(times['ns/bad']?.slice(0, 5)).toEqual([0, 100, 300, 700, 1500]);
    expect(q.failuresOf('ns/bad')).toBeGreaterThan(4);
    expect(clock.pending().length).toBe(1);
    await q.shutDown();
    expect(clock.pending().length).toBe(0);
  });

  it('waits at least as long as a Retry-After hint on the error', async () => {
    const clock = new FakeClock(0);
    const times: number[] = [];
    const q = new WorkQueue({
      clock,
      backoffBaseMs: 100,
      reconcile: async () => {
        times.push(clock.now().getTime());
        if (times.length === 1) throw Object.assign(new Error('429'), { retryAfterMs: 3_000 });
        return undefined;
      },
    });
    q.add('ns/a');
    await settle();
    await clock.advanceSettled(10_000);
    expect(times).toEqual([0, 3_000]);
    await q.shutDown();
  });

  it('does not retry a terminal error until the key is added again', async () => {
    const clock = new FakeClock(0);
    let runs = 0;
    const q = new WorkQueue({
      clock,
      reconcile: async () => {
        runs++;
        throw new TerminalError('invalid spec');
      },
    });
    q.add('ns/a');
    await settle();
    await clock.advanceSettled(600_000);
    expect(runs).toBe(1);
    expect(q.scheduled).toBe(0);
    q.add('ns/a');
    await settle();
    expect(runs).toBe(2);
    await q.shutDown();
  });

  it('requeueAfter forgets failures and comes back once, with one timer per key', async () => {
    const clock = new FakeClock(0);
    const results: (ReconcileResult | Error)[] = [new Error('x'), new Error('y'), { requeueAfterMs: 10_000 }];
    const times: number[] = [];
    const q = new WorkQueue({
      clock,
      backoffBaseMs: 100,
      reconcile: async () => {
        times.push(clock.now().getTime());
        const next = results.shift() ?? {};
        if (next instanceof Error) throw next;
        return next;
      },
    });
    q.add('ns/a');
    await settle();
    await clock.advanceSettled(1_000);
    expect(times).toEqual([0, 100, 300]);
    expect(q.failuresOf('ns/a')).toBe(0);
    expect(q.scheduled).toBe(1);
    // Events in between run the key at once but never stack a second timer.
    q.add('ns/a');
    await settle();
    results.unshift({ requeueAfterMs: 10_000 });
    q.addAfter('ns/a', 50_000);
    expect(q.scheduled).toBe(1);
    await clock.advanceSettled(60_000);
    expect(times.length).toBeLessThanOrEqual(6);
    expect(clock.pending().length).toBeLessThanOrEqual(1);
    await q.shutDown();
  });

  it('addAfter keeps the earlier of two timers', async () => {
    const clock = new FakeClock(0);
    const times: number[] = [];
    const q = new WorkQueue({ clock, reconcile: async () => void times.push(clock.now().getTime()) });
    q.addAfter('ns/a', 5_000);
    q.addAfter('ns/a', 9_000);
    q.addAfter('ns/a', 2_000);
    expect(clock.pending().length).toBe(1);
    await clock.advanceSettled(20_000);
    expect(times).toEqual([2_000]);
    await q.shutDown();
  });

  it('shutDown waits for running reconciles and refuses new keys', async () => {
    const clock = new FakeClock(0);
    const gate = deferred();
    let finished = 0;
    let runs = 0;
    const q = new WorkQueue({
      clock,
      reconcile: async () => {
        runs++;
        await gate.promise;
        finished++;
        return { requeueAfterMs: 1_000 };
      },
    });
    q.add('ns/a');
    await settle();
    const done = q.shutDown();
    let resolved = false;
    void done.then(() => {
      resolved = true;
    });
    await settle();
    expect(resolved).toBe(false);
    gate.resolve();
    await done;
    expect(finished).toBe(1);
    q.add('ns/b');
    await clock.advanceSettled(5_000);
    expect(runs).toBe(1);
    expect(clock.pending().length).toBe(0);
  });

  it('drops the work of a key deleted while it was being reconciled: no requeue, no retry, no rerun', async () => {
    const clock = new FakeClock(0);
    const runs: string[] = [];
    const gate = deferred();
    let outcome: 'requeue' | 'error' = 'requeue';
    const q = new WorkQueue({
      clock,
      workers: 1,
      reconcile: async (k) => {
        runs.push(k);
        await gate.promise;
        if (outcome === 'error') throw new Error('write failed');
        return { requeueAfterMs: 1000 };
      },
    });
    q.add('ns/deleted');
    await settle();
    q.add('ns/deleted'); // an owned object's delete event, while it runs
    q.forget('ns/deleted'); // the Canary's delete event
    gate.resolve();
    await settle();
    expect(q.scheduled).toBe(0);
    expect(q.failuresOf('ns/deleted')).toBe(0);
    clock.advance(60_000);
    await settle();
    expect(runs).toEqual(['ns/deleted']);

    // Same for a run that fails; a Canary created again under the same name is reconciled as usual.
    outcome = 'error';
    q.add('ns/deleted');
    await settle();
    q.forget('ns/deleted');
    await settle();
    expect(q.scheduled).toBe(0);
    expect(q.failuresOf('ns/deleted')).toBe(0);
    q.add('ns/deleted');
    await settle();
    expect(runs).toEqual(['ns/deleted', 'ns/deleted', 'ns/deleted']);
    await q.shutDown();
  });
});
