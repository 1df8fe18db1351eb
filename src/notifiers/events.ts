import type { Canary } from '../api/canary.ts';
import type { ReasonCode } from '../rollout/index.ts';
import type { Alerter, Dispatched } from './alerter.ts';
import { type Notification, severityOf } from './notification.ts';

type EventType = 'Normal' | 'Warning';

export interface AlertSinkOptions {
  alerter: Alerter;
  now: () => Date;
  /** Shown in notifications (--cluster-name). */
  clusterName?: string;
}

/**
 * Turns every event Petrel records on a Canary into a notification for its alerts (filtered by severity);
 * they are queued in the background, so recording never waits for them.
 */
export class AlertSink {
  constructor(private readonly opts: AlertSinkOptions) {}

  /**
   * Queues the alerts of an event; with a notice (a recorded transition), they carry its key, skip the
   * receivers that already have it, and report when each is done.
   */
  record(
    canary: Canary,
    type: EventType,
    reason: string,
    message: string,
    notice?: { key: string; time?: string; skip: ReadonlySet<string>; muteAlert?: boolean },
  ): Dispatched[] {
    // webhooks[].muteAlert: the event was recorded; no alert for it.
    if (notice?.muteAlert) return [];
    // An alert sent again after a restart reports when its transition happened.
    const recorded = notice?.time ? Date.parse(notice.time) : Number.NaN;
    const at = Number.isFinite(recorded) ? new Date(recorded) : this.opts.now();
    const n = notificationFor(canary, type, reason, message, at, this.opts.clusterName);
    if (!notice) return this.opts.alerter.dispatch(canary, n);
    return this.opts.alerter.dispatch(canary, { ...n, key: notice.key }, notice.skip);
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
