import { type DispersionHistory, historyDispersion, type RequestCounts } from '../analysis/index.ts';
import type { MetricTemplate } from '../api/index.ts';
import type { LabelledSeries, MetricsProvider } from './provider.ts';
import { ISTIO_COUNT_QUERIES, workloadPattern } from './relative-queries.ts';
import { renderQuery, type TemplateModel } from './template.ts';

/** Analysis intervals of the primary's past read at a release's first step. */
export const HISTORY_INTERVALS = 10;

/**
 * The primary's error and request counts over the last HISTORY_INTERVALS analysis intervals, one point
 * per interval (a subquery of the interval's counts stepped by the interval), and what they say about
 * overdispersion. Undefined when the provider cannot read ranges or the history is too short; the
 * query's errors are thrown for the caller to report.
 */
export async function primaryHistory(
  provider: MetricsProvider,
  source: { kind: 'istio-rates' } | { kind: 'template'; template: MetricTemplate },
  model: TemplateModel,
  primary: string,
  intervalSeconds: number,
  signal?: AbortSignal,
): Promise<DispersionHistory | undefined> {
  const series = provider.runSeriesQuery?.bind(provider);
  if (!series) return undefined;
  const queries =
    source.kind === 'istio-rates'
      ? {
          errors: ISTIO_COUNT_QUERIES.errors,
          requests: ISTIO_COUNT_QUERIES.requests,
          workload: workloadPattern(primary),
        }
      : source.template.spec.totalQuery
        ? { errors: source.template.spec.query, requests: source.template.spec.totalQuery, workload: primary }
        : undefined;
  if (!queries) return undefined;
  const step = Math.max(1, Math.round(intervalSeconds));
  const ranged = (query: string) =>
    `(${renderQuery(query, { ...model, workload: queries.workload })})[${step * HISTORY_INTERVALS}s:${step}s]`;
  const [errors, requests] = await Promise.all([
    series(ranged(queries.errors), { signal }),
    series(ranged(queries.requests), { signal }),
  ]);
  return historyDispersion(pairByTime(onlySeries(errors), onlySeries(requests)));
}

/** Intervals with a finite request count, their errors 0 where the error query had no sample. */
export function pairByTime(
  errors: LabelledSeries | undefined,
  requests: LabelledSeries | undefined,
): RequestCounts[] {
  const errorsAt = new Map((errors?.points ?? []).map((p) => [p.time, p.value]));
  return (requests?.points ?? [])
    .filter((p) => Number.isFinite(p.value) && p.value > 0)
    .map((p) => {
      const e = errorsAt.get(p.time) ?? 0;
      return { requests: p.value, errors: Number.isFinite(e) ? Math.min(p.value, Math.max(0, e)) : 0 };
    });
}

/** The one series a query of one workload yields; with several, none is guessed at. */
function onlySeries(series: LabelledSeries[]): LabelledSeries | undefined {
  return series.length === 1 ? series[0] : undefined;
}
