import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { isKubeApiError } from '../kube/errors.ts';
import { type BackoffPolicy, backoffDelay } from '../lib/backoff.ts';
import { HookCallError } from '../outbound/errors.ts';

export interface NotificationJob {
  /** Names the destination for logs (AlertProvider namespace/name), never its URL. */
  label: string;
  /**
   * Jobs of one lane go out one at a time, in order; lanes never wait for each other, so one slow or dead
   * receiver delays only its own notifications. A job waiting to retry steps aside: the lane's next job goes
   * meanwhile, and the retry takes its turn again after the wait. Default: the label.
   */
  lane?: string;
  send(signal: AbortSignal): Promise<void>;
  /** Told once the notification is given up on (retries spent, not retryable, or dropped). */
  onUndelivered?(): void;
}

export interface NotificationQueueOptions {
  logger: Logger;
  /** Jobs allowed to wait, over all lanes; when full, the oldest waiting job is dropped (and counted). */
  capacity?: number;
  /** Attempts in flight at once, over all lanes; a job waiting between retries holds no slot. */
  concurrency?: number;
  retries?: number;
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

interface Waiting {
  job: NotificationJob;
  lane: string;
  resolve: (outcome: JobOutcome) => void;
  /** Attempts made so far. */
  attempts: number;
}

/** How a job ended. */
export type JobOutcome = 'sent' | 'failed' | 'dropped';

/**
 * Sends notifications in the background: `enqueue` returns at once, so a dead or slow chat endpoint
 * never delays a rollout. One lane per receiver: a receiver that is slow, or failing and retrying, never
 * holds up another's notifications. Bounded in memory, retried with backoff (posts and the reads that
 * resolve a receiver, such as its Secret), failures logged without the URL.
 */
export class NotificationQueue {
  /** Waiting jobs, oldest first, over all lanes (what capacity bounds and what is dropped first). */
  private readonly waiting = new Set<Waiting>();
  /** Lanes with a job running; each runs its jobs one after the other. */
  private readonly lanes = new Map<string, Promise<void>>();
  /** Jobs waiting out the delay before their next attempt (outside their lane, so it goes on). */
  private readonly retrying = new Set<Promise<void>>();
  private readonly slotWaiters: (() => void)[] = [];
  private readonly abort = new AbortController();
  private readonly capacity: number;
  private readonly concurrency: number;
  private readonly policy: BackoffPolicy;
  private inFlight = 0;
  private stopped = false;
  readonly stats = { sent: 0, failed: 0, dropped: 0 };

  constructor(private readonly opts: NotificationQueueOptions) {
    this.capacity = opts.capacity ?? 1000;
    // Every job waiting out a retry listens for stop(): as many as the queue holds, not a leak.
    setMaxListeners(this.capacity + 16, this.abort.signal);
    this.concurrency = opts.concurrency ?? 16;
    this.policy = { initialMs: opts.retryDelayMs ?? 1000, maxMs: opts.maxRetryDelayMs ?? 30_000 };
  }

  /** Queues a job; the promise resolves (never rejects) once it was sent, given up on or dropped. */
  enqueue(job: NotificationJob): Promise<JobOutcome> {
    if (this.stopped) return Promise.resolve('dropped');
    if (this.waiting.size >= this.capacity) this.dropOldest();
    const lane = job.lane ?? job.label;
    const outcome = new Promise<JobOutcome>((resolve) => {
      this.waiting.add({ job, lane, resolve, attempts: 0 });
    });
    if (!this.lanes.has(lane)) this.startLane(lane);
    return outcome;
  }

  get size(): number {
    return this.waiting.size + this.lanes.size + this.retrying.size;
  }

  /** Resolves once every queued notification was sent or gave up. */
  async drain(): Promise<void> {
    while (this.lanes.size > 0 || this.retrying.size > 0)
      await Promise.allSettled([...this.lanes.values(), ...this.retrying]);
  }

  /** Stops taking jobs, cancels the ones in flight and waits for them. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const entry of this.waiting) entry.resolve('dropped');
    this.waiting.clear();
    this.abort.abort(new Error('notification queue stopped'));
    for (const wake of this.slotWaiters.splice(0)) wake();
    await this.drain();
  }

  private dropOldest(): void {
    const oldest = this.waiting.values().next().value;
    if (!oldest) return;
    this.waiting.delete(oldest);
    this.stats.dropped++;
    oldest.resolve('dropped');
    this.opts.logger.warn(
      { provider: oldest.job.label },
      'notification queue full: oldest notification dropped',
    );
  }

  private startLane(lane: string): void {
    const run = (async () => {
      for (let entry = this.next(lane); entry; entry = this.next(lane)) await this.attempt(entry);
    })().finally(() => this.lanes.delete(lane));
    this.lanes.set(lane, run);
  }

  /** Puts a job that waited out its retry delay back at the end of its lane. */
  private requeue(entry: Waiting): void {
    if (this.stopped) {
      entry.resolve('dropped');
      return;
    }
    this.waiting.add(entry);
    if (!this.lanes.has(entry.lane)) this.startLane(entry.lane);
  }

  /** Takes the oldest waiting job of a lane. */
  private next(lane: string): Waiting | undefined {
    if (this.stopped) return undefined;
    for (const entry of this.waiting) {
      if (entry.lane !== lane) continue;
      this.waiting.delete(entry);
      return entry;
    }
    return undefined;
  }

  /** One attempt of a job: it ends sent or given up on, or waits for its next attempt out of the lane. */
  private async attempt(entry: Waiting): Promise<void> {
    const { job } = entry;
    const sleep = this.opts.sleep ?? ((ms: number) => abortableSleep(ms, this.abort.signal));
    const retries = this.opts.retries ?? 3;
    entry.attempts++;
    try {
      await this.withSlot(() => job.send(this.abort.signal));
      this.stats.sent++;
      this.opts.logger.debug({ provider: job.label, attempts: entry.attempts }, 'notification sent');
      entry.resolve('sent');
    } catch (err) {
      // Cut short by stop(): not given up on, just not sent by this process.
      if (this.stopped) return entry.resolve('dropped');
      if (!isRetryable(err) || entry.attempts > retries) {
        this.stats.failed++;
        job.onUndelivered?.();
        const code = (err as { code?: unknown } | undefined)?.code;
        this.opts.logger.warn(
          {
            provider: job.label,
            attempts: entry.attempts,
            code,
            error: err instanceof Error ? err.message : String(err),
          },
          'notification not delivered',
        );
        return entry.resolve('failed');
      }
      // Waiting for the retry holds neither a slot nor the lane: the receiver's next notification goes on.
      const waited: Promise<void> = sleep(retryDelay(this.policy, entry.attempts, err))
        .catch(() => {})
        .then(() => {
          this.retrying.delete(waited);
          this.requeue(entry);
        });
      this.retrying.add(waited);
    }
  }

  private async withSlot<T>(fn: () => Promise<T>): Promise<T> {
    while (this.inFlight >= this.concurrency && !this.stopped) {
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
    this.inFlight++;
    try {
      return await fn();
    } finally {
      this.inFlight--;
      this.slotWaiters.shift()?.();
    }
  }
}

/**
 * Worth another attempt: a post that timed out, failed on the network or got a 429 or 5xx, and a read of
 * the Kubernetes API (the provider's Secret) that failed the same way.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof HookCallError) return err.retryable;
  return isKubeApiError(err) && err.isTransient && err.code !== 'CONFLICT';
}

/** Backoff before retry number `attempt`; a server that said when to come back (Retry-After) is not asked sooner. */
function retryDelay(policy: BackoffPolicy, attempt: number, err: unknown): number {
  const delay = backoffDelay(policy, attempt);
  const hinted = isKubeApiError(err) ? err.retryAfterMs : undefined;
  return hinted !== undefined && hinted > delay ? Math.min(hinted, policy.maxMs) : delay;
}

/** Ends early when the queue stops, so stopping never waits out a backoff. */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
