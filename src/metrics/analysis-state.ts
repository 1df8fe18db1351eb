import {
  type AnalysisStatus,
  type CheckEvidence,
  MAX_ANALYSIS_BATCHES,
  MAX_ANALYSIS_STEPS,
  type MetricAnalysisState,
} from '../api/index.ts';

/**
 * The relative checks' state of the current release: the one in the status when it belongs to
 * `revision`, otherwise a fresh one (a new release never inherits the previous one's counts).
 */
export function analysisOfRelease(
  status: AnalysisStatus | undefined,
  revision: string | undefined,
): AnalysisStatus {
  if (status && status.revision === revision) return status;
  return revision === undefined ? {} : { revision };
}

export function metricState(analysis: AnalysisStatus, metric: string): MetricAnalysisState {
  return analysis.metrics?.find((m) => m.metric === metric) ?? { metric };
}

/** Appends one interval's counts; beyond MAX_ANALYSIS_BATCHES the two oldest are added together. */
export function withBatch(batches: readonly number[][] | undefined, batch: number[]): number[][] {
  // increase() extrapolates to fractions of a request: two decimals are plenty, and keep the status readable.
  const all = [...(batches ?? []), batch.map((n) => Math.round(n * 100) / 100)];
  while (all.length > MAX_ANALYSIS_BATCHES) {
    const [first, second, ...rest] = all;
    all.splice(
      0,
      all.length,
      first!.map((v, i) => v + (second![i] ?? 0)),
      ...rest,
    );
  }
  return all;
}

/** The analysis after one step: every metric's new state, and the step's evidence (the last few steps kept). */
export function afterStep(
  analysis: AnalysisStatus,
  states: MetricAnalysisState[],
  evidence: CheckEvidence[],
  weight: number,
  now: Date,
): AnalysisStatus {
  const scores = evidence.filter((e) => e.score !== undefined && !e.dryRun).map((e) => e.score!);
  const step = {
    time: now.toISOString(),
    weight,
    ...(scores.length > 0 ? { score: Math.round(scores.reduce((a, b) => a + b, 0) / scores.length) } : {}),
    checks: evidence,
  };
  return {
    ...analysis,
    metrics: states,
    steps: [...(analysis.steps ?? []), step].slice(-MAX_ANALYSIS_STEPS),
  };
}
