import type { CanaryStatus } from '../api/canary.ts';
import type { CheckObservation } from './types.ts';

type Condition = NonNullable<CanaryStatus['conditions']>[number];
type HistoryEntry = NonNullable<CanaryStatus['history']>[number];

export const HISTORY_LIMIT = 20;

/**
 * Sets a condition, keeping lastTransitionTime when its status did not change and returning the same
 * array when nothing changed at all (so an unchanged status needs no write).
 */
export function withCondition(
  conditions: Condition[] | undefined,
  type: string,
  status: Condition['status'],
  reason: string,
  message: string,
  now: Date,
): Condition[] {
  const list = conditions ?? [];
  const at = now.toISOString();
  const current = list.find((c) => c.type === type);
  if (current && current.status === status && current.reason === reason && current.message === message) {
    return list;
  }
  const next: Condition = {
    type,
    status,
    reason,
    message,
    lastUpdateTime: at,
    lastTransitionTime: current && current.status === status ? current.lastTransitionTime : at,
  };
  return current ? list.map((c) => (c === current ? next : c)) : [...list, next];
}

/** Appends one entry per check and keeps only the most recent HISTORY_LIMIT. */
export function withHistory(
  history: HistoryEntry[] | undefined,
  checks: CheckObservation[],
  weight: number,
  now: Date,
): HistoryEntry[] {
  const time = now.toISOString();
  const added: HistoryEntry[] = checks.map((c) => ({
    time,
    weight,
    metric: c.metric,
    ...(c.value === undefined || !Number.isFinite(c.value) ? {} : { value: c.value }),
    verdict: c.verdict === 'inconclusive' || c.verdict === 'hold' ? c.verdict : c.passed ? 'pass' : 'fail',
    reason: c.reason,
  }));
  return [...(history ?? []), ...added].slice(-HISTORY_LIMIT);
}
