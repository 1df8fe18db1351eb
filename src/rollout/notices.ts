import type { Canary, CanaryNotice, CanaryStatus } from '../api/canary.ts';
import {
  MAX_NOTICE_KEY_LENGTH,
  MAX_NOTICE_MESSAGE_LENGTH,
  MAX_NOTICE_RECEIVERS,
  MAX_NOTICES,
} from '../api/constants.ts';
import type { Decision } from './types.ts';

// A decision's events are the one effect a later tick cannot re-derive from the phase and weight: they are
// recorded in status.notices with the decision (intent first), and sent from there until delivered.

/** How far the delivery of one notice got in this process (the controller tracks it in memory). */
export interface NoticeProgress {
  /** Receivers that have it, or gave up on it for good. */
  sent: readonly string[];
  /** Every receiver is done with it. */
  settled: boolean;
}

const MAX_IDENTITY_LENGTH = 120;

/**
 * The key of the `index`-th event of a decision taken at `now`: canary, revision, reason and time, so it is
 * unique per transition and the same however often the notice is sent.
 * E.g. uid 7f3c…, revision 5d8f9c, Failed at 10:00:00Z: `7f3c…/5d8f9c/Failed/2026-01-01T10:00:00.000Z`.
 */
export function noticeKey(canary: Canary, revision: string, reason: string, now: Date, index = 0): string {
  const identity = (
    canary.metadata.uid ?? `${canary.metadata.namespace ?? ''}.${canary.metadata.name}`
  ).slice(0, MAX_IDENTITY_LENGTH);
  const key = `${identity}/${revision || '-'}/${reason}/${now.toISOString()}${index > 0 ? `#${index}` : ''}`;
  return key.slice(0, MAX_NOTICE_KEY_LENGTH);
}

/**
 * The decision with its `event` actions moved into `status.notices` as undelivered notices. What is left in
 * `actions` (routes, scaling, the copy to the primary, clearing a manual action) follows from the recorded
 * phase and weight: a tick after a crash derives it again from the status. Pure; the same inputs give the
 * same keys.
 */
export function withNotices(canary: Canary, decision: Decision, now: Date): Decision {
  const events = decision.actions.filter((a) => a.type === 'event');
  if (events.length === 0) return decision;
  const status = decision.status;
  const revision = status.lastAppliedSpec ?? '';
  const from = canary.status?.phase;
  const moved = from !== undefined && from !== status.phase;
  const added: CanaryNotice[] = events.map((e, i) => ({
    key: noticeKey(canary, revision, e.reason, now, i),
    type: e.severity,
    reason: e.reason,
    message: bounded(e.message),
    time: now.toISOString(),
    ...(status.phase ? { phase: status.phase } : {}),
    ...(moved ? { from } : {}),
    weight: status.canaryWeight ?? 0,
    ...(e.muteAlert ? { muteAlert: true } : {}),
  }));
  return {
    ...decision,
    status: { ...status, notices: keepBounded([...(status.notices ?? []), ...added]) },
    actions: decision.actions.filter((a) => a.type !== 'event'),
  };
}

/** A notice of a decision that ended a rollout (moved the canary into Succeeded or Failed). */
export function endsRollout(notice: CanaryNotice): boolean {
  return notice.from !== undefined && (notice.phase === 'Succeeded' || notice.phase === 'Failed');
}

/** The notices a status still owes, oldest first. */
export function pendingNotices(status: CanaryStatus | undefined): CanaryNotice[] {
  return (status?.notices ?? []).filter((n) => !n.delivered);
}

/**
 * The status with the delivery progress of its pending notices written in (receivers that have them, and
 * `delivered` once all are done). The same object when nothing changed, so no write is made.
 */
export function withDeliveries(
  status: CanaryStatus,
  progressOf: (key: string) => NoticeProgress | undefined,
): CanaryStatus {
  const notices = status.notices;
  if (!notices) return status;
  let changed = false;
  const next = notices.map((notice) => {
    if (notice.delivered) return notice;
    const progress = progressOf(notice.key);
    if (!progress) return notice;
    const sent = [...new Set([...(notice.sent ?? []), ...progress.sent])].slice(0, MAX_NOTICE_RECEIVERS);
    const updated: CanaryNotice = { ...notice, ...(sent.length > 0 ? { sent } : {}) };
    if (progress.settled) updated.delivered = true;
    if (sent.length === (notice.sent?.length ?? 0) && !progress.settled) return notice;
    changed = true;
    return updated;
  });
  return changed ? { ...status, notices: keepBounded(next) } : status;
}

/**
 * At most MAX_NOTICES: every undelivered notice (the oldest dropped only when more than MAX_NOTICES are
 * owed), then the most recent delivered ones, in their order.
 */
function keepBounded(notices: CanaryNotice[]): CanaryNotice[] {
  if (notices.length <= MAX_NOTICES) return notices;
  const owed = notices.filter((n) => !n.delivered).slice(-MAX_NOTICES);
  const room = MAX_NOTICES - owed.length;
  const delivered = room > 0 ? notices.filter((n) => n.delivered).slice(-room) : [];
  const keep = new Set([...owed, ...delivered]);
  return notices.filter((n) => keep.has(n));
}

function bounded(message: string): string {
  return message.length > MAX_NOTICE_MESSAGE_LENGTH
    ? `${message.slice(0, MAX_NOTICE_MESSAGE_LENGTH - 3)}...`
    : message;
}
