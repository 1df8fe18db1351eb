import type { Logger } from 'pino';
import type { Canary } from '../api/canary.ts';
import type { EventSeverity } from '../rollout/index.ts';
import type { EventSink, NoticeDelivery } from './executor.ts';

/**
 * One receiver an event was passed on to; `done` resolves once it got it or was given up on ('sent',
 * 'failed'), or was not tried to the end ('dropped': a full queue, a stop).
 */
export interface FollowerCall {
  receiver: string;
  done: Promise<'sent' | 'failed' | 'dropped'>;
}

/** Told about an event once it is recorded (event webhooks, alerts); queues its work and returns at once. */
export interface EventFollower {
  record(
    canary: Canary,
    type: EventSeverity,
    reason: string,
    message: string,
    notice?: { key: string; time?: string; skip: ReadonlySet<string>; muteAlert?: boolean },
  ): readonly FollowerCall[] | undefined;
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
 * throws is logged and skipped; the others still hear of the event. An event with a notice (a transition
 * recorded in status.notices) is passed on once per key instead of once per window, and the notice is told
 * as each receiver finishes and when all have.
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
    notice?: NoticeDelivery,
  ): Promise<unknown> {
    const result = await this.recorder.record(canary, type, reason, message, notice);
    if (!notice) {
      const key = `${canary.metadata.namespace ?? ''}/${canary.metadata.name}`;
      const revision = canary.status?.lastAppliedSpec ?? '';
      if (this.isRepeat([key, revision, type, reason, message].join('\u0000'))) return result;
    }
    const calls: FollowerCall[] = [];
    for (const follower of this.followers) {
      try {
        calls.push(...(follower.record(canary, type, reason, message, notice) ?? []));
      } catch (err) {
        this.opts.logger.warn(
          { err: (err as Error).message, reason },
          'could not queue notifications for an event',
        );
      }
    }
    if (notice) followDelivery(notice, calls);
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

/** Tells the notice about each receiver as it finishes, then that all have (or that some were not reached). */
function followDelivery(notice: NoticeDelivery, calls: readonly FollowerCall[]): void {
  const each = calls.map(async (call) => {
    const outcome = await call.done.catch(() => 'dropped' as const);
    if (outcome !== 'dropped') notice.sent(call.receiver);
    return outcome;
  });
  void Promise.all(each).then((outcomes) => {
    if (outcomes.includes('dropped')) notice.released();
    else notice.settled(calls.length > 0);
  });
}

/** Records a Kubernetes event; a failure is logged, never thrown (an event is never worth a failed reconcile). */
export async function recordEventQuietly(
  sink: EventSink,
  canary: Canary,
  type: 'Normal' | 'Warning',
  reason: string,
  message: string,
  log: Logger,
): Promise<void> {
  try {
    await sink.record(canary, type, reason, message);
  } catch (err) {
    log.warn({ err, reason }, 'could not record a Kubernetes event');
  }
}
