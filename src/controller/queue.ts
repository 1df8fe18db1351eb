import { type Clock, systemClock } from '../lib/clock.ts';

/** How one reconcile ended when it did not throw. */
export interface ReconcileResult {
  /** Come back after this long (forgets past failures). Undefined: only a change wakes the key again. */
  requeueAfterMs?: number;
}

/** Thrown by a reconcile to say retrying cannot help: the key waits until its object changes. */
export class TerminalError extends Error {
  readonly code = 'TERMINAL';
  override readonly name = 'TerminalError';
}

export type Reconciler = (key: string) => Promise<ReconcileResult | undefined>;

export interface WorkQueueOptions {
  reconcile: Reconciler;
  /** Keys processed at the same time, at most (a key is never processed twice at once). */
  workers?: number;
  clock?: Clock;
  /** Per-key exponential backoff after errors: base * 2^(failures-1), capped. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Told about every failed reconcile, with the delay before the retry (undefined for terminal errors). */
  onError?: (key: string, error: unknown, retryInMs: number | undefined) => void;
}

interface Timer {
  handle: unknown;
  at: number;
}

/**
 * A keyed work queue with controller-runtime's contract: it holds only keys, so a burst of adds
 * collapses; a key is processed by one worker at a time; an error retries with per-key backoff, a
 * TerminalError is not retried, and requeueAfter forgets failures and comes back later. Each key has
 * at most one timer.
 */
export class WorkQueue {
  private readonly reconcile: Reconciler;
  private readonly workers: number;
  private readonly clock: Clock;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly onError: WorkQueueOptions['onError'];

  private readonly pending = new Set<string>();
  private readonly processing = new Set<string>();
  /** Keys added while they were being processed: queued again once that run ends. */
  private readonly dirty = new Set<string>();
  /** Keys forgotten (object deleted) while being processed: that run sets no timer and is not retried. */
  private readonly forgotten = new Set<string>();
  private readonly timers = new Map<string, Timer>();
  private readonly failures = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private shuttingDown = false;

  constructor(options: WorkQueueOptions) {
    this.reconcile = options.reconcile;
    this.workers = Math.max(1, options.workers ?? 2);
    this.clock = options.clock ?? systemClock;
    this.backoffBaseMs = options.backoffBaseMs ?? 500;
    this.backoffMaxMs = options.backoffMaxMs ?? 300_000;
    this.onError = options.onError;
  }

  /** Queues a key now. Adding a key that is already queued does nothing. */
  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    this.pending.add(key);
    this.pump();
  }

  /** Queues a key after a delay, keeping the earlier of this and any timer already set for it. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now().getTime() + delayMs;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    this.setTimer(key, delayMs, at);
  }

  /** Drops a key's timer and failure count (its object was deleted). */
  forget(key: string): void {
    if (this.processing.has(key)) this.forgotten.add(key);
    this.clearTimer(key);
    this.failures.delete(key);
    this.pending.delete(key);
    this.dirty.delete(key);
  }

  get length(): number {
    return this.pending.size;
  }

  /** Keys with a timer set, for tests and diagnostics. */
  get scheduled(): number {
    return this.timers.size;
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Stops taking keys, cancels timers and waits for the reconciles already running. */
  async shutDown(): Promise<void> {
    this.shuttingDown = true;
    for (const key of [...this.timers.keys()]) this.clearTimer(key);
    this.pending.clear();
    this.dirty.clear();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private pump(): void {
    while (!this.shuttingDown && this.processing.size < this.workers && this.pending.size > 0) {
      const key = this.pending.values().next().value as string;
      this.pending.delete(key);
      this.processing.add(key);
      const run = this.process(key);
      this.inFlight.add(run);
      void run.finally(() => {
        this.inFlight.delete(run);
        this.processing.delete(key);
        this.forgotten.delete(key);
        if (this.dirty.delete(key)) this.pending.add(key);
        this.pump();
      });
    }
  }

  private async process(key: string): Promise<void> {
    // The key runs now: a timer for it would only cause a redundant run.
    this.clearTimer(key);
    try {
      const result = await this.reconcile(key);
      this.failures.delete(key);
      if (this.forgotten.has(key)) return;
      const after = result?.requeueAfterMs;
      if (after !== undefined && !this.shuttingDown) {
        if (after <= 0) this.dirty.add(key);
        else this.setTimer(key, after, this.clock.now().getTime() + after);
      }
    } catch (error) {
      if (this.forgotten.has(key)) {
        this.failures.delete(key);
        return;
      }
      if (error instanceof TerminalError) {
        this.failures.delete(key);
        this.onError?.(key, error, undefined);
        return;
      }
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      const backoff = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** Math.min(failures - 1, 30));
      // A server that said when to come back (429 Retry-After) is not asked sooner.
      const hinted = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
      const delay =
        typeof hinted === 'number' && hinted > backoff ? Math.min(hinted, this.backoffMaxMs) : backoff;
      this.onError?.(key, error, delay);
      if (!this.shuttingDown) this.setTimer(key, delay, this.clock.now().getTime() + delay);
    }
  }

  private setTimer(key: string, delayMs: number, at: number): void {
    this.clearTimer(key);
    const handle = this.clock.setTimeout(() => {
      if (this.timers.get(key)?.handle !== handle) return;
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    this.timers.set(key, { handle, at });
  }

  private clearTimer(key: string): void {
    const timer = this.timers.get(key);
    if (!timer) return;
    this.clock.clearTimeout(timer.handle);
    this.timers.delete(key);
  }
}
