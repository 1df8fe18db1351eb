import type { Canary, CanaryStatus } from '../api/canary.ts';
import { parseDuration } from '../api/duration.ts';
import { hasWeightSteps, maxWeightOf } from './weights.ts';

const DEFAULT_INTERVAL_MS = 60_000;

/**
 * The time between two steps of the analysis (spec.analysis.interval, default 1m). The schema refuses
 * intervals under 1s, so no floor is applied here.
 */
export function intervalOf(canary: Canary): number {
  const interval = canary.spec.analysis?.interval;
  return interval ? parseDuration(interval) : DEFAULT_INTERVAL_MS;
}

/**
 * The first step of a weight schedule (weight 0 to the first weight, or to mirroring) is due at once and
 * runs no analysis: nothing has been sent to the canary yet.
 */
export function isOpeningStep(canary: Canary, status: CanaryStatus): boolean {
  return (
    hasWeightSteps(canary.spec.analysis ?? {}) &&
    (status.canaryWeight ?? 0) === 0 &&
    !isMirrorStep(canary, status)
  );
}

/**
 * spec.analysis.mirror with a weight schedule takes one step of mirroring before any traffic shifts
 * (Flagger's semantics): the opening step starts it at weight 0, and it lasts until the next step passes.
 * It has begun when a step was taken at weight 0 after the rollout (re)started: lastStepTime is then later
 * than lastTransitionTime. E.g. started 10:00:00, mirroring from 10:00:01, checks at 10:01:01 pass: 10%.
 */
export function isMirrorStep(canary: Canary, status: CanaryStatus): boolean {
  const analysis = canary.spec.analysis ?? {};
  if (analysis.mirror !== true || !hasWeightSteps(analysis) || (status.canaryWeight ?? 0) !== 0) return false;
  return timeOf(status.lastStepTime, 0) > timeOf(status.lastTransitionTime, 0);
}

/** Whether the rollout starts with a step of mirroring (mirror: true and a weight schedule). */
export function mirrorsBeforeShifting(canary: Canary): boolean {
  const analysis = canary.spec.analysis ?? {};
  return analysis.mirror === true && hasWeightSteps(analysis);
}

/**
 * Time left before the next step is due, measured from status.lastStepTime so a restart neither repeats
 * nor skips one. E.g. interval 1m, last step at 10:00:00, now 10:00:45: 15 000 ms; at 10:01:10: 0.
 */
export function stepRemainingMs(canary: Canary, status: CanaryStatus, nowMs: number): number {
  if (isOpeningStep(canary, status) || !status.lastStepTime) return 0;
  const since = nowMs - timeOf(status.lastStepTime, nowMs);
  return Math.max(0, intervalOf(canary) - since);
}

/** Whether the next step of the analysis (checks, gates, a weight change) is due now. */
export function stepDue(canary: Canary, status: CanaryStatus, nowMs: number): boolean {
  return stepRemainingMs(canary, status, nowMs) === 0;
}

/**
 * Whether the step now due is the last one before promotion: the top of a weight schedule, or the last of
 * `iterations` analyses (iterations 3, 2 done: the third is the last).
 */
export function isFinalStep(canary: Canary, status: CanaryStatus): boolean {
  const analysis = canary.spec.analysis ?? {};
  return hasWeightSteps(analysis)
    ? (status.canaryWeight ?? 0) >= maxWeightOf(analysis)
    : (status.iterations ?? 0) + 1 >= (analysis.iterations ?? 1);
}

/** Milliseconds of an RFC 3339 time; the fallback when it is missing or unreadable. */
export function timeOf(rfc3339: string | undefined, fallbackMs: number): number {
  if (!rfc3339) return fallbackMs;
  const ms = Date.parse(rfc3339);
  return Number.isFinite(ms) ? ms : fallbackMs;
}
