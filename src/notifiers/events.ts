import type { Logger } from 'pino';
import type { Canary } from '../api/canary.ts';
import type { ReasonCode } from '../rollout/index.ts';
import { validWebhooks } from '../webhooks/gates.ts';
import { webhookPayload } from '../webhooks/payload.ts';
import type { WebhookRunner } from '../webhooks/runner.ts';
import type { Alerter } from './alerter.ts';
import { type Notification, severityOf } from './notification.ts';

type EventType = 'Normal' | 'Warning';

/** The controller's event sink (structurally the executor's EventSink). */
export interface CanaryEventSink {
  record(canary: Canary, type: EventType, reason: string, message: string): Promise<unknown>;
}

export interface NotifyingEventSinkOptions {
  alerter?: Alerter;
  webhooks?: WebhookRunner;
  logger: Logger;
  now: () => Date;
  clusterName?: string;
  /** The same reason and message on the same canary and revision is sent once per window (default 10 minutes). */
  repeatWindowMs?: number;
}

const MAX_REMEMBERED = 4096;

/**
 * Every event Petrel records on a Canary also goes to the canary's `event` webhooks and, filtered by
 * severity, to its alerts. Both are queued in the background; recording never waits for them.
 */
export class NotifyingEventSink implements CanaryEventSink {
  private readonly sent = new Map<string, number>();

  constructor(
    private readonly inner: CanaryEventSink,
    private readonly opts: NotifyingEventSinkOptions,
  ) {}

  async record(canary: Canary, type: EventType, reason: string, message: string): Promise<unknown> {
    const result = await this.inner.record(canary, type, reason, message);
    try {
      this.fanOut(canary, type, reason, message);
    } catch (err) {
      this.opts.logger.warn(
        { err: (err as Error).message, reason },
        'could not queue notifications for an event',
      );
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

  private fanOut(canary: Canary, type: EventType, reason: string, message: string): void {
    const key = `${canary.metadata.namespace ?? ''}/${canary.metadata.name}`;
    const revision = canary.status?.lastAppliedSpec ?? '';
    if (this.isRepeat([key, revision, type, reason, message].join('\u0000'))) return;
    const notification = notificationFor(
      canary,
      type,
      reason,
      message,
      this.opts.now(),
      this.opts.clusterName,
    );
    this.opts.alerter?.notify(canary, notification);
    const webhooks = this.opts.webhooks;
    if (!webhooks) return;
    for (const hook of validWebhooks(canary.spec)) {
      if (hook.type !== 'event') continue;
      webhooks.fire(
        key,
        hook,
        webhookPayload(canary, hook, { eventType: type, eventReason: reason, eventMessage: message }),
      );
    }
  }
}

const CHECK_REASONS: ReadonlySet<string> = new Set<ReasonCode>(['CheckFailed', 'Failed']);

export function notificationFor(
  canary: Pick<Canary, 'metadata' | 'status'>,
  type: EventType,
  reason: string,
  message: string,
  now: Date,
  cluster?: string,
): Notification {
  const status = canary.status ?? {};
  const n: Notification = {
    canary: canary.metadata.name,
    namespace: canary.metadata.namespace ?? '',
    phase: status.phase ?? 'Initializing',
    weight: status.canaryWeight ?? 0,
    severity: severityOf(type, reason),
    reason,
    message,
    time: now.toISOString(),
    ...(cluster ? { cluster } : {}),
  };
  if (CHECK_REASONS.has(reason)) {
    const failed = [...(status.history ?? [])].reverse().find((h) => h.verdict === 'fail');
    if (failed) {
      n.failingCheck = {
        metric: failed.metric,
        reason: failed.reason,
        ...(failed.value !== undefined ? { value: failed.value } : {}),
      };
    }
  }
  return n;
}
