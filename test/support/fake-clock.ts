import type { Clock } from '../../src/lib/clock.ts';

/**
 * A Clock whose time moves only when a test says so. Timers fire in order of their due time, from
 * `advance` or `runNext`; nothing fires on its own.
 */
export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = Date.parse('2026-01-01T00:00:00Z')) {
    this.t = start;
  }

  now(): Date {
    return new Date(this.t);
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Delays of the timers still pending, from now, soonest first. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.t).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing every timer due by then in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (let next = this.soonest(); next && next[1].at <= end; next = this.soonest()) this.fire(next);
    this.t = end;
  }

  /** Like `advance`, but lets the promise work each timer starts settle before the next one fires. */
  async advanceSettled(ms: number): Promise<void> {
    const end = this.t + ms;
    for (let next = this.soonest(); next && next[1].at <= end; next = this.soonest()) {
      this.fire(next);
      await settle();
    }
    this.t = end;
    await settle();
  }

  /** Jumps to the soonest pending timer and fires it; false when none is pending. */
  runNext(): boolean {
    const next = this.soonest();
    if (!next) return false;
    this.fire(next);
    return true;
  }

  private soonest(): [number, { at: number; fn: () => void }] | undefined {
    return [...this.timers.entries()].sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
  }

  private fire([id, timer]: [number, { at: number; fn: () => void }]): void {
    this.timers.delete(id);
    this.t = Math.max(this.t, timer.at);
    timer.fn();
  }
}

/** Lets queued promise callbacks and one turn of the event loop run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((resolve) => setImmediate(resolve));
}
