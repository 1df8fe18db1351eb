import type { Canary, CanaryMetric, MetricTemplate, MetricTemplateProvider } from '../api/index.ts';
import type { CheckObservation } from '../rollout/index.ts';
import { BUILTIN_UNITS, builtinQuery, isBuiltinMetric } from './builtin.ts';
import type { MetricsProvider } from './provider.ts';
import { renderQuery } from './template.ts';

/** One metric check's outcome: the rollout core's `CheckObservation`, which `decide` reads as is. */
export type CheckResult = CheckObservation;

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
 * Evaluates every metric of `spec.analysis.metrics` against its thresholdRange. Never throws
 * for a metric: a failure to evaluate becomes a failed check carrying the error's code and
 * message. Results keep the order of the spec.
 */
export async function runChecks(input: RunChecksInput): Promise<CheckResult[]> {
  const metrics = input.canary.spec.analysis.metrics;
  const limit = Math.max(1, input.concurrency ?? 4);
  const results: CheckResult[] = new Array(metrics.length);
  let next = 0;
  const worker = async () => {
    while (next < metrics.length) {
      const index = next++;
      results[index] = await runCheck(input, metrics[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, metrics.length) }, worker));
  return results;
}

async function runCheck(input: RunChecksInput, metric: CanaryMetric): Promise<CheckResult> {
  const bounds = { min: metric.thresholdRange?.min, max: metric.thresholdRange?.max };
  let value: number;
  try {
    const { query, provider } = resolve(input, metric);
    value = await provider.runQuery(query, { signal: input.signal });
  } catch (err) {
    if (input.signal?.aborted) throw err;
    return {
      metric: metric.name,
      ...definedBounds(bounds),
      passed: false,
      reason: `${metric.name}: ${(err as Error).message}`,
      code: errorCode(err),
    };
  }
  return { metric: metric.name, value, ...definedBounds(bounds), ...verdict(metric.name, value, bounds) };
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
