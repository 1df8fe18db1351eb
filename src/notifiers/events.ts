import type { Logger } from 'pino';
import type { Canary } from '../api/canary.ts';
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
}

/**
 * Every event Petrel records on a Canary also goes to the canary's `event` webhooks and, filtered by
 * severity, to its alerts. Both are queued in the background; recording never waits for them.
 */
export class NotifyingEventSink implements CanaryEventSink {
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

  private fanOut(canary: Canary, type: EventType, reason: string, message: string): void {
    const key = `${canary.metadata.namespace ?? ''}/${canary.metadata.name}`;
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

const CHECK_REASONS: ReadonlySet<string> = new Set(['CheckFailed', 'Failed']);

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
