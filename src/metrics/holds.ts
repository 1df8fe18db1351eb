import {
  ANALYSIS_DEFAULTS,
  type CanaryMetric,
  type MetricAnalysisState,
  parseDuration,
} from '../api/index.ts';
import type { CheckObservation } from '../rollout/index.ts';
import { failureCode, type MetricsError, MetricsProviderError } from './provider.ts';

/** Codes of a backend that could not be asked (as opposed to one that answered "nothing"). */
const UNREACHABLE_CODES = new Set(['UNREACHABLE', 'QUERY_TIMEOUT']);

/** The backend could not be reached or did not answer in time, or answered 5xx: not the canary's fault. */
export function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return false;
  if (err instanceof MetricsProviderError) {
    const reason = failureCode(err as MetricsError);
    return UNREACHABLE_CODES.has(reason) || (reason === 'HTTP_STATUS' && (err.status ?? 0) >= 500);
  }
  return UNREACHABLE_CODES.has(code);
}

export function isNoData(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === 'NO_VALUES' || code === 'NAN';
}

/**
 * Holds the weight for a check that has nothing to say (no data with onNoData: hold, an unreachable
 * backend), counting from the first such step; once `maxHold` has passed it becomes a failed check.
 */
export function holdOrFail(
  metric: CanaryMetric,
  state: MetricAnalysisState,
  now: Date,
  why: string,
  alert: boolean,
  code: string,
): { check: CheckObservation; state: MetricAnalysisState } {
  const since = state.holdingSince ?? now.toISOString();
  const maxHold = metric.maxHold ?? ANALYSIS_DEFAULTS.maxHold;
  const heldMs = now.getTime() - Date.parse(since);
  const next = { ...state, holdingSince: since };
  if (heldMs >= parseDuration(maxHold)) {
    return {
      check: {
        metric: metric.name,
        passed: false,
        verdict: 'fail',
        code,
        reason: `${metric.name}: ${why}; held since ${since}, longer than maxHold ${maxHold}: counted as a failed check`,
      },
      state: next,
    };
  }
  return {
    check: {
      metric: metric.name,
      passed: false,
      verdict: 'hold',
      code,
      ...(alert ? { alert: true } : {}),
      reason: `${metric.name}: ${why}; holding (up to maxHold ${maxHold}, since ${since})`,
    },
    state: next,
  };
}
