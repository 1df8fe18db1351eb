import {
  type Batch,
  compareQuantiles,
  compareRates,
  type DispersionHistory,
  type HistogramCounts,
  type Judgement,
  type RequestCounts,
  type Tolerance,
} from '../analysis/index.ts';
import {
  ANALYSIS_DEFAULTS,
  type CanaryMetric,
  type CheckEvidence,
  type CompareSpec,
  type MetricAnalysisState,
  type MetricTemplate,
  parseDuration,
  parseTolerance,
} from '../api/index.ts';
import type { CheckObservation } from '../rollout/index.ts';
import { withBatch } from './analysis-state.ts';
import { primaryHistory } from './history-queries.ts';
import type { MetricsProvider } from './provider.ts';
import {
  istioLatencyHistograms,
  istioRequestCounts,
  templateRequestCounts,
  type WorkloadPair,
} from './relative-queries.ts';
import type { TemplateModel } from './template.ts';

export interface RelativeCheckInput {
  metric: CanaryMetric & { compare: CompareSpec };
  /** 'request-success-rate' and 'request-duration' (Istio builtins) or a template of counts. */
  source:
    | { kind: 'istio-rates' }
    | { kind: 'istio-latency' }
    | { kind: 'template'; template: MetricTemplate };
  provider: MetricsProvider;
  model: Omit<TemplateModel, 'interval'>;
  state: MetricAnalysisState;
  now: Date;
  signal?: AbortSignal;
}

export interface RelativeCheckOutput {
  check: CheckObservation;
  state: MetricAnalysisState;
  evidence?: CheckEvidence;
}

/**
 * One step of a relative check: the counts of both workloads since the last step (the first interval:
 * the metric's interval) are added to the release's batches, and the sequential test judges them all.
 * Query errors are thrown for the caller's no-data and unreachable policies.
 */
export async function runRelativeCheck(input: RelativeCheckInput): Promise<RelativeCheckOutput> {
  const { metric, state, now } = input;
  const windowMs = state.end
    ? Math.max(1000, now.getTime() - Date.parse(state.end))
    : parseDuration(metric.interval);
  const model: TemplateModel = { ...input.model, interval: `${Math.round(windowMs / 1000)}s` };
  const names = { canary: model.target, primary: `${model.target}-primary` };
  const tolerance = toleranceOf(metric.compare.tolerance);
  const options = { alpha: metric.compare.alpha, tolerance };

  let judgement: Judgement;
  let next: MetricAnalysisState;
  if (input.source.kind === 'istio-latency') {
    const pair = await istioLatencyHistograms(input.provider, model, names, input.signal);
    const sameBounds = state.bounds && sameNumbers(state.bounds, finiteBounds(pair.canary.bounds));
    const previous = sameBounds ? (state.batches ?? []) : [];
    const batches = withBatch(previous, [...pair.canary.counts, ...pair.primary.counts]);
    next = { ...state, end: now.toISOString(), bounds: finiteBounds(pair.canary.bounds), batches };
    judgement = compareQuantiles(
      batches.map((b) => histogramBatch(b, pair.canary.bounds)),
      {
        ...options,
        quantile: metric.compare.quantile ?? ANALYSIS_DEFAULTS.quantile,
      },
    );
  } else {
    const pair: WorkloadPair<RequestCounts> =
      input.source.kind === 'template'
        ? await templateRequestCounts(input.provider, input.source.template, model, names, input.signal)
        : await istioRequestCounts(input.provider, model, names, input.signal);
    const batches = withBatch(state.batches, [
      pair.canary.errors,
      pair.canary.requests,
      pair.primary.errors,
      pair.primary.requests,
    ]);
    const history =
      state.history ??
      (await readHistory(input.provider, input.source, model, names.primary, metric.interval, input.signal));
    next = { ...state, end: now.toISOString(), batches, history };
    judgement = compareRates(batches.map(rateBatch), {
      ...options,
      ...(history.intervals > 0 ? { history } : {}),
    });
  }
  delete next.holdingSince;
  return verdictOf(metric, judgement, next);
}

/**
 * The primary's overdispersion before the release, read once at the release's first step and kept in the
 * status. A history that cannot be read (too short, a query the backend refuses, a blip) counts as none:
 * the test then assumes the default, more cautious, design effect; it never blocks the check.
 */
async function readHistory(
  provider: MetricsProvider,
  source: RelativeCheckInput['source'],
  model: TemplateModel,
  primary: string,
  interval: string,
  signal?: AbortSignal,
): Promise<DispersionHistory> {
  if (source.kind === 'istio-latency') return NO_HISTORY;
  try {
    // Counts per whole metric interval, whatever window this step covers.
    const history = await primaryHistory(
      provider,
      source,
      { ...model, interval },
      primary,
      parseDuration(interval) / 1000,
      signal,
    );
    return history ?? NO_HISTORY;
  } catch (err) {
    if (signal?.aborted) throw err;
    return NO_HISTORY;
  }
}

const NO_HISTORY: DispersionHistory = { intervals: 0, overdispersion: 0 };

/** Whether the release has seen any request of both workloads yet. */
export function hasData(judgement: Judgement): boolean {
  return judgement.samples.canary > 0 && judgement.samples.primary > 0;
}

function verdictOf(
  metric: CanaryMetric & { compare: CompareSpec },
  judgement: Judgement,
  state: MetricAnalysisState,
): RelativeCheckOutput {
  const unit = metric.name === 'request-duration' ? 'ms' : '%';
  const evidence: CheckEvidence = {
    metric: metric.name,
    verdict: judgement.verdict,
    ...finite('canary', judgement.canary),
    ...finite('primary', judgement.primary),
    ...finite('difference', judgement.difference),
    ...(judgement.interval.every(Number.isFinite) ? { interval: [...judgement.interval] } : {}),
    canarySamples: Math.round(judgement.samples.canary),
    primarySamples: Math.round(judgement.samples.primary),
    score: judgement.score,
  };
  const base = {
    metric: metric.name,
    ...(Number.isFinite(judgement.canary) ? { value: judgement.canary } : {}),
    evidence,
  };
  const say = (text: string) => `${metric.name} (vs primary, ${unit}): ${text}`;
  if (!hasData(judgement)) {
    // The caller applies onNoData; nothing counted yet.
    return {
      check: {
        ...base,
        passed: false,
        verdict: 'inconclusive',
        code: 'NO_VALUES',
        reason: say(judgement.reason),
      },
      state,
      evidence,
    };
  }
  switch (judgement.verdict) {
    case 'fail':
      return {
        check: { ...base, passed: false, verdict: 'fail', conclusive: true, reason: say(judgement.reason) },
        state: { ...state, inconclusive: 0 },
        evidence,
      };
    case 'pass':
      return {
        check: { ...base, passed: true, verdict: 'pass', reason: say(judgement.reason) },
        state: { ...state, inconclusive: 0 },
        evidence,
      };
    case 'inconclusive': {
      const held = (state.inconclusive ?? 0) + 1;
      const limit = metric.compare.maxInconclusive;
      if (held <= limit) {
        return {
          check: {
            ...base,
            passed: false,
            verdict: 'inconclusive',
            reason: say(`${judgement.reason} (inconclusive ${held}/${limit})`),
          },
          state: { ...state, inconclusive: held },
          evidence,
        };
      }
      const advance = metric.compare.onInconclusive === 'advance';
      return {
        check: {
          ...base,
          passed: advance,
          verdict: advance ? 'pass' : 'fail',
          reason: say(
            `${judgement.reason}; inconclusive for ${limit} steps: ${advance ? 'advancing' : 'counted as a failed check'} (onInconclusive: ${metric.compare.onInconclusive})`,
          ),
        },
        state: { ...state, inconclusive: 0 },
        evidence,
      };
    }
  }
}

/** "+0.5pp" → 0.005 absolute; "20%" → ratio 0.2; "+50ms" → 50 absolute. */
export function toleranceOf(text: string): Tolerance {
  const parsed = parseTolerance(text);
  if (!parsed) return { absolute: 0, ratio: 0 };
  switch (parsed.unit) {
    case 'pp':
      return { absolute: parsed.value / 100, ratio: 0 };
    case '%':
      return { absolute: 0, ratio: parsed.value / 100 };
    case 'ms':
      return { absolute: parsed.value, ratio: 0 };
  }
}

function rateBatch(b: number[]): Batch<RequestCounts> {
  return {
    canary: { errors: b[0] ?? 0, requests: b[1] ?? 0 },
    primary: { errors: b[2] ?? 0, requests: b[3] ?? 0 },
  };
}

function histogramBatch(b: number[], bounds: number[]): Batch<HistogramCounts> {
  const n = bounds.length;
  return {
    canary: { bounds, counts: b.slice(0, n) },
    primary: { bounds, counts: b.slice(n, 2 * n) },
  };
}

/** Status holds JSON: the +Inf bound is implied. */
function finiteBounds(bounds: number[]): number[] {
  return bounds.filter(Number.isFinite);
}

function sameNumbers(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function finite<K extends string>(key: K, value: number): Partial<Record<K, number>> {
  return Number.isFinite(value) ? ({ [key]: value } as Record<K, number>) : {};
}
