import type { Clock } from '../../../src/lib/clock.ts';

/** Time as the sandbox sees it (the product's Clock): injected so tests run delays quickly and deterministically. */
export type { Clock };

/** Unlike the controller's, its timers keep the process alive: a sandbox serving nothing else still runs them. */
export const systemClock: Clock = {
  now: () => new Date(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Wraps a clock and remembers every pending timer, so the server can clear all of them on stop()
 * and the process can exit.
 */
export class TimerSet {
  private readonly pending = new Set<unknown>();
  private stopped = false;

  constructor(private readonly clock: Clock) {}

  now(): Date {
    return this.clock.now();
  }

  after(ms: number, fn: () => void): unknown {
    if (this.stopped) return undefined;
    const handle: unknown = this.clock.setTimeout(() => {
      this.pending.delete(handle);
      fn();
    }, ms);
    this.pending.add(handle);
    return handle;
  }

  cancel(handle: unknown): void {
    if (handle === undefined || !this.pending.has(handle)) return;
    this.pending.delete(handle);
    this.clock.clearTimeout(handle);
  }

  clearAll(): void {
    this.stopped = true;
    for (const handle of this.pending) this.clock.clearTimeout(handle);
    this.pending.clear();
  }

  get size(): number {
    return this.pending.size;
  }
}
