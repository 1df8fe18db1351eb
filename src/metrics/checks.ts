import { roundTo } from '../analysis/index.ts';
import type {
  AnalysisStatus,
  Canary,
  CanaryMetric,
  CheckEvidence,
  MetricAnalysisState,
  MetricTemplate,
  MetricTemplateProvider,
} from '../api/index.ts';
import type { CheckObservation } from '../rollout/index.ts';
import { afterStep, analysisOfRelease, metricState } from './analysis-state.ts';
import { BUILTIN_UNITS, builtinQuery, isBuiltinMetric } from './builtin.ts';
import { holdOrFail, isNoData, isUnreachable } from './holds.ts';
import type { MetricsProvider } from './provider.ts';
import { runRelativeCheck } from './relative.ts';
import { renderQuery } from './template.ts';

/** One metric check's outcome: the rollout core's `CheckObservation`, which `decide` reads as is. */
export type CheckResult = CheckObservation;

/** The checks of one step, with the relative checks' state and evidence for Canary.status.analysis. */
export type CheckResults = CheckResult[] & { analysis?: AnalysisStatus };

interface MetricOutcome {
  check: CheckResult;
  state?: MetricAnalysisState;
  evidence?: CheckEvidence;
}

export interface TemplateRef {
  name: string;
  namespace: string;
}

export interface RunChecksInput {
  canary: Canary;
  /** Looks up a MetricTemplate (namespace already defaulted to the canary's). */
  templates: (ref: TemplateRef) => MetricTemplate | undefined;
  /**
   * The provider for a template's `spec.provider` in the template's namespace (where its secretRef is
   * read); `undefined` asks for the default (builtins).
   */
  providerFor: (spec: MetricTemplateProvider | undefined, namespace?: string) => MetricsProvider;
  /** When the checks run. Queries evaluate at the Prometheus server's current time. */
  now: Date;
  signal?: AbortSignal;
  /** Queries in flight at once. Default 4. */
  concurrency?: number;
}

export class TemplateNotFoundError extends Error {
  override readonly name = 'TemplateNotFoundError';
  readonly code = 'TEMPLATE_NOT_FOUND';
}

/**
 * Evaluates every metric of `spec.analysis.metrics`: against its thresholdRange, or (with `compare`)
 * against the primary with the sequential test of src/analysis. Never throws for a metric: a failure
 * to evaluate becomes a failed check carrying the error's code and message, a hold (unreachable
 * backend, onNoData: hold) or a pass (onNoData: pass). Results keep the order of the spec; their
 * `analysis` is the release's state after this step.
 */
export async function runChecks(input: RunChecksInput): Promise<CheckResults> {
  const metrics = input.canary.spec.analysis.metrics;
  const status = input.canary.status;
  const analysis = analysisOfRelease(status?.analysis, status?.lastAppliedSpec);
  const limit = Math.max(1, input.concurrency ?? 4);
  const outcomes: MetricOutcome[] = new Array(metrics.length);
  let next = 0;
  const worker = async () => {
    while (next < metrics.length) {
      const index = next++;
      const metric = metrics[index]!;
      outcomes[index] = withDryRun(
        metric,
        await runMetric(input, metric, metricState(analysis, metric.name)),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, metrics.length) }, worker));
  const results: CheckResults = outcomes.map((o) => o.check);
  if (metrics.length === 0) return results;
  // Not enumerable: the results still compare and print as the plain list of checks.
  Object.defineProperty(results, 'analysis', {
    value: afterStep(
      analysis,
      outcomes.flatMap((o) => (o.state ? [o.state] : [])),
      outcomes.flatMap((o) => (o.evidence ? [o.evidence] : [])),
      status?.canaryWeight ?? 0,
      input.now,
    ),
    enumerable: false,
  });
  return results;
}

/** A dry-run check is evaluated and recorded as it is, and marked so the rollout never acts on it. */
function withDryRun(metric: CanaryMetric, outcome: MetricOutcome): MetricOutcome {
  if (!metric.dryRun) return outcome;
  return {
    ...outcome,
    check: { ...outcome.check, dryRun: true, reason: `[dry run] ${outcome.check.reason}` },
    ...(outcome.evidence ? { evidence: { ...outcome.evidence, dryRun: true } } : {}),
  };
}

async function runMetric(
  input: RunChecksInput,
  metric: CanaryMetric,
  state: MetricAnalysisState,
): Promise<MetricOutcome> {
  try {
    const outcome = metric.compare
      ? await runRelative(input, { ...metric, compare: metric.compare }, state)
      : { ...(await runCheck(input, metric)), state: clearedHold(state) };
    if (outcome.check.code === 'NO_VALUES' && outcome.check.verdict === 'inconclusive') {
      return noData(
        metric,
        outcome.state ?? state,
        input.now,
        outcome.check.reason,
        outcome.evidence,
        'NO_VALUES',
        true,
      );
    }
    return outcome;
  } catch (err) {
    if (input.signal?.aborted) throw err;
    const why = (err as Error).message;
    const code = errorCode(err);
    if (isUnreachable(err))
      return holdOrFail(metric, state, input.now, `metrics backend unreachable: ${why}`, true, code);
    if (isNoData(err)) return noData(metric, state, input.now, why, undefined, code);
    return { check: failedCheck(metric, why, code), state };
  }
}

/** What a query that returned nothing means, as the metric's onNoData says (default: a failed check). */
function noData(
  metric: CanaryMetric,
  state: MetricAnalysisState,
  now: Date,
  message: string,
  evidence: CheckEvidence | undefined,
  code = 'NO_VALUES',
  named = false,
): MetricOutcome {
  const policy = metric.onNoData ?? 'fail';
  const reason = named ? message : `${metric.name}: ${message}`;
  const withEvidence = evidence ? { evidence } : {};
  switch (policy) {
    case 'pass':
      return {
        check: {
          metric: metric.name,
          passed: true,
          verdict: 'pass',
          code,
          reason: `${reason} (onNoData: pass)`,
        },
        state: clearedHold(state),
        ...withEvidence,
      };
    case 'hold':
      return {
        ...holdOrFail(metric, state, now, `${reason} (onNoData: hold)`, false, code),
        ...withEvidence,
      };
    case 'fail':
      return {
        check: { ...failedCheck(metric, message, code), verdict: 'fail', reason },
        state: clearedHold(state),
        ...withEvidence,
      };
  }
}

function clearedHold(state: MetricAnalysisState): MetricAnalysisState {
  if (state.holdingSince === undefined) return state;
  const { holdingSince: _, ...rest } = state;
  return rest;
}

function failedCheck(metric: CanaryMetric, message: string, code: string): CheckResult {
  const bounds = { min: metric.thresholdRange?.min, max: metric.thresholdRange?.max };
  return {
    metric: metric.name,
    ...definedBounds(bounds),
    passed: false,
    reason: `${metric.name}: ${message}`,
    code,
  };
}

async function runRelative(
  input: RunChecksInput,
  metric: CanaryMetric & { compare: NonNullable<CanaryMetric['compare']> },
  state: MetricAnalysisState,
): Promise<MetricOutcome> {
  const { canary } = input;
  const namespace = canary.metadata.namespace ?? 'default';
  const model = {
    name: canary.metadata.name,
    namespace,
    target: canary.spec.targetRef.name,
    variables: metric.templateVariables ?? {},
  };
  if (!metric.templateRef) {
    return runRelativeCheck({
      metric,
      source: metric.name === 'request-duration' ? { kind: 'istio-latency' } : { kind: 'istio-rates' },
      provider: input.providerFor(undefined),
      model,
      state: clearedHold(state),
      now: input.now,
      ...(input.signal ? { signal: input.signal } : {}),
    });
  }
  const ref = { name: metric.templateRef.name, namespace: metric.templateRef.namespace ?? namespace };
  const template = input.templates(ref);
  if (!template) throw new TemplateNotFoundError(`MetricTemplate ${ref.namespace}/${ref.name} not found`);
  return runRelativeCheck({
    metric,
    source: { kind: 'template', template },
    provider: input.providerFor(template.spec.provider, ref.namespace),
    model,
    state: clearedHold(state),
    now: input.now,
    ...(input.signal ? { signal: input.signal } : {}),
  });
}

async function runCheck(input: RunChecksInput, metric: CanaryMetric): Promise<MetricOutcome> {
  const bounds = { min: metric.thresholdRange?.min, max: metric.thresholdRange?.max };
  // Errors go to runMetric's policies (no data, unreachable); a template error is a failed check there.
  const { query, provider } = resolve(input, metric);
  const value = await provider.runQuery(query, { signal: input.signal });
  const check: CheckResult = {
    metric: metric.name,
    // Judged on the exact value, recorded rounded for people (no 90.8999999999999 in the status).
    value: roundTo(value, 3),
    ...definedBounds(bounds),
    ...verdict(metric.name, value, bounds),
  };
  return {
    check,
    evidence: {
      metric: metric.name,
      verdict: check.passed ? 'pass' : 'fail',
      canary: Math.round(value * 100) / 100,
    },
  };
}

function resolve(input: RunChecksInput, metric: CanaryMetric): { query: string; provider: MetricsProvider } {
  const { canary } = input;
  const namespace = canary.metadata.namespace ?? 'default';
  const model = {
    name: canary.metadata.name,
    namespace,
    target: canary.spec.targetRef.name,
    service: canary.spec.service.name ?? canary.spec.targetRef.name,
    interval: metric.interval,
    variables: metric.templateVariables ?? {},
  };
  if (!metric.templateRef && isBuiltinMetric(metric.name)) {
    return {
      query: renderQuery(builtinQuery(canary.spec.provider, metric.name), model),
      provider: input.providerFor(undefined),
    };
  }
  if (!metric.templateRef) {
    throw new TemplateNotFoundError(
      `"${metric.name}" is not a builtin check and has no templateRef: point it at a MetricTemplate`,
    );
  }
  const ref = { name: metric.templateRef.name, namespace: metric.templateRef.namespace ?? namespace };
  const template = input.templates(ref);
  if (!template) {
    throw new TemplateNotFoundError(`MetricTemplate ${ref.namespace}/${ref.name} not found`);
  }
  return {
    query: renderQuery(template.spec.query, model),
    provider: input.providerFor(template.spec.provider, ref.namespace),
  };
}

function verdict(
  name: string,
  value: number,
  { min, max }: { min?: number; max?: number },
): { passed: boolean; reason: string } {
  const unit = isBuiltinMetric(name) ? BUILTIN_UNITS[name] : '';
  const show = (n: number) => `${formatNumber(n)}${unit}`;
  const subject = `${name} ${show(value)}`;
  if (min !== undefined && value < min) return { passed: false, reason: `${subject} < min ${show(min)}` };
  if (max !== undefined && value > max) return { passed: false, reason: `${subject} > max ${show(max)}` };
  if (min !== undefined && max !== undefined) {
    return { passed: true, reason: `${subject} within ${show(min)}..${show(max)}` };
  }
  if (min !== undefined) return { passed: true, reason: `${subject} >= min ${show(min)}` };
  if (max !== undefined) return { passed: true, reason: `${subject} <= max ${show(max)}` };
  return { passed: true, reason: `${subject} (no thresholdRange: recorded only)` };
}

/** At most two decimals, no trailing zeros: 94.87, 99, 612.5. */
export function formatNumber(n: number): string {
  return String(Math.round(n * 100) / 100);
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'CHECK_ERROR';
}

function definedBounds(bounds: { min?: number; max?: number }): { min?: number; max?: number } {
  return {
    ...(bounds.min !== undefined ? { min: bounds.min } : {}),
    ...(bounds.max !== undefined ? { max: bounds.max } : {}),
  };
}
