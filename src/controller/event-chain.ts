import type { Logger } from 'pino';
import type { Canary } from '../api/canary.ts';
import type { EventSeverity } from '../rollout/index.ts';
import type { EventOptions, EventSink } from './executor.ts';

/** Told about an event once it is recorded (event webhooks, alerts); queues its work and returns at once. */
export interface EventFollower {
  record(canary: Canary, type: EventSeverity, reason: string, message: string, options?: EventOptions): void;
}

export interface EventChainOptions {
  logger: Logger;
  now: () => Date;
  /** The same reason and message on the same canary and revision is passed on once per window (default 10 minutes). */
  repeatWindowMs?: number;
}

const MAX_REMEMBERED = 4096;

/**
 * Records every event (as a Kubernetes Event), then passes it on to the followers in order. A follower that
 * throws is logged and skipped; the others still hear of the event.
 */
export class EventChain implements EventSink {
  private readonly sent = new Map<string, number>();

  constructor(
    private readonly recorder: EventSink,
    private readonly followers: readonly EventFollower[],
    private readonly opts: EventChainOptions,
  ) {}

  async record(
    canary: Canary,
    type: EventSeverity,
    reason: string,
    message: string,
    options?: EventOptions,
  ): Promise<unknown> {
    const result = await this.recorder.record(canary, type, reason, message);
    const key = `${canary.metadata.namespace ?? ''}/${canary.metadata.name}`;
    const revision = canary.status?.lastAppliedSpec ?? '';
    if (this.isRepeat([key, revision, type, reason, message].join('\u0000'))) return result;
    for (const follower of this.followers) {
      try {
        follower.record(canary, type, reason, message, options);
      } catch (err) {
        this.opts.logger.warn(
          { err: (err as Error).message, reason },
          'could not queue notifications for an event',
        );
      }
    }
    return result;
  }

  /** A retried failure (a missing target every backoff step) is told once per window, not every time. */
  private isRepeat(id: string): boolean {
    const now = this.opts.now().getTime();
    const last = this.sent.get(id);
    if (last !== undefined && now - last < (this.opts.repeatWindowMs ?? 600_000)) return true;
    this.sent.delete(id);
    this.sent.set(id, now);
    if (this.sent.size > MAX_REMEMBERED) this.sent.delete(this.sent.keys().next().value as string);
    return false;
  }
}
