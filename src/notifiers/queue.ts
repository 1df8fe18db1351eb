import type { Logger } from 'pino';
import { RetriesExhaustedError, withRetries } from '../outbound/retry.ts';

export interface NotificationJob {
  /** Names the destination for logs (AlertProvider namespace/name), never its URL. */
  label: string;
  send(signal: AbortSignal): Promise<void>;
  /** Told once the notification is given up on (retries spent or not retryable). */
  onUndelivered?(): void;
}

export interface NotificationQueueOptions {
  logger: Logger;
  /** Jobs allowed to wait; when full, the oldest waiting job is dropped (and counted). */
  capacity?: number;
  concurrency?: number;
  retries?: number;
  retryDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Sends notifications in the background: `enqueue` returns at once, so a dead or slow chat endpoint
 * never delays a rollout. Bounded in memory, retried with backoff, failures logged without the URL.
 */
export class NotificationQueue {
  private readonly pending: NotificationJob[] = [];
  private readonly active = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly capacity: number;
  private readonly concurrency: number;
  private stopped = false;
  readonly stats = { sent: 0, failed: 0, dropped: 0 };

  constructor(private readonly opts: NotificationQueueOptions) {
    this.capacity = opts.capacity ?? 1000;
    this.concurrency = opts.concurrency ?? 4;
  }

  enqueue(job: NotificationJob): void {
    if (this.stopped) return;
    if (this.pending.length >= this.capacity) {
      const dropped = this.pending.shift();
      this.stats.dropped++;
      this.opts.logger.warn(
        { provider: dropped?.label },
        'notification queue full: oldest notification dropped',
      );
    }
    this.pending.push(job);
    this.pump();
  }

  get size(): number {
    return this.pending.length + this.active.size;
  }

  /** Resolves once every queued notification was sent or gave up. */
  async drain(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active]);
  }

  /** Stops taking jobs, cancels the ones in flight and waits for them. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.pending.length = 0;
    this.abort.abort(new Error('notification queue stopped'));
    await this.drain();
  }

  private pump(): void {
    while (this.active.size < this.concurrency && this.pending.length > 0) {
      const job = this.pending.shift()!;
      const run: Promise<void> = this.send(job).finally(() => {
        this.active.delete(run);
        this.pump();
      });
      this.active.add(run);
    }
  }

  private async send(job: NotificationJob): Promise<void> {
    try {
      const { attempts } = await withRetries(() => job.send(this.abort.signal), {
        retries: this.opts.retries ?? 3,
        initialDelayMs: this.opts.retryDelayMs ?? 1000,
        maxDelayMs: 30_000,
        sleep: this.opts.sleep,
      });
      this.stats.sent++;
      this.opts.logger.debug({ provider: job.label, attempts }, 'notification sent');
    } catch (err) {
      this.stats.failed++;
      job.onUndelivered?.();
      const attempts = err instanceof RetriesExhaustedError ? err.attempts : 1;
      const last = err instanceof RetriesExhaustedError ? err.last : err;
      const code = (last as { code?: unknown } | undefined)?.code;
      this.opts.logger.warn(
        { provider: job.label, attempts, code, error: last instanceof Error ? last.message : String(last) },
        'notification not delivered',
      );
    }
  }
}
