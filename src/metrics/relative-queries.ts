import type { HistogramCounts, RequestCounts } from '../analysis/index.ts';
import type { MetricTemplate } from '../api/index.ts';
import type { MetricsProvider } from './provider.ts';
import { renderQuery, type TemplateModel } from './template.ts';

/** Canary and primary counts of one interval. */
export interface WorkloadPair<T> {
  canary: T;
  primary: T;
}

export class RelativeQueryError extends Error {
  override readonly name = 'RelativeQueryError';
  readonly code = 'RELATIVE_QUERY';
}

const selector = (extra = '') => `reporter="destination",
      destination_workload_namespace="{{ namespace }}",
      destination_workload=~"{{ workload }}"${extra}`;

/** Istio's request counters split by workload, over the interval since the last check. */
export const ISTIO_COUNT_QUERIES = {
  errors: `sum by (destination_workload) (
  increase(istio_requests_total{
      ${selector(',\n      response_code=~"5.*"')}
  }[{{ interval }}])
)`,
  requests: `sum by (destination_workload) (
  increase(istio_requests_total{
      ${selector()}
  }[{{ interval }}])
)`,
  buckets: `sum by (destination_workload, le) (
  increase(istio_request_duration_milliseconds_bucket{
      ${selector()}
  }[{{ interval }}])
)`,
};

/** Both workloads' names as one regex alternative, dots escaped: `podinfo|podinfo-primary`. */
export function workloadsPattern(target: string): string {
  return `${workloadPattern(target)}|${workloadPattern(`${target}-primary`)}`;
}

/** One workload's name as a regex matching only itself, dots escaped inside a PromQL string. */
export function workloadPattern(name: string): string {
  return name.replace(/[.]/g, '\\\\.');
}

interface Names {
  canary: string;
  primary: string;
}

/** Error and request counts of both workloads from Istio's metrics (one query each, split by workload). */
export async function istioRequestCounts(
  provider: MetricsProvider,
  model: TemplateModel,
  names: Names,
  signal?: AbortSignal,
): Promise<WorkloadPair<RequestCounts>> {
  const vector = requireVector(provider);
  const render = (template: string) =>
    renderQuery(template, { ...model, workload: workloadsPattern(model.target) });
  const [errors, requests] = await Promise.all([
    vector(render(ISTIO_COUNT_QUERIES.errors), { signal }),
    vector(render(ISTIO_COUNT_QUERIES.requests), { signal }),
  ]);
  const of = (rows: typeof errors, workload: string) =>
    finiteOrZero(rows.find((r) => r.labels.destination_workload === workload)?.value);
  const counts = (workload: string): RequestCounts => {
    const total = Math.max(0, of(requests, workload));
    return { requests: total, errors: Math.min(total, Math.max(0, of(errors, workload))) };
  };
  return { canary: counts(names.canary), primary: counts(names.primary) };
}

/** Latency histograms of both workloads from Istio's duration buckets (one query, split by workload and le). */
export async function istioLatencyHistograms(
  provider: MetricsProvider,
  model: TemplateModel,
  names: Names,
  signal?: AbortSignal,
): Promise<WorkloadPair<HistogramCounts>> {
  const vector = requireVector(provider);
  const rows = await vector(
    renderQuery(ISTIO_COUNT_QUERIES.buckets, { ...model, workload: workloadsPattern(model.target) }),
    { signal },
  );
  const boundsOf = (workload: string) =>
    new Set(
      rows
        .filter((r) => r.labels.destination_workload === workload)
        .map((r) => parseLe(r.labels.le))
        .filter((b) => !Number.isNaN(b)),
    );
  const canaryBounds = boundsOf(names.canary);
  const primaryBounds = boundsOf(names.primary);
  // A release may change the sidecar's buckets (sidecar.istio.io/statsHistogramBuckets): compare the
  // two workloads on the bounds both report, never a bound one of them does not have.
  const shared =
    canaryBounds.size === 0
      ? primaryBounds
      : primaryBounds.size === 0
        ? canaryBounds
        : new Set([...canaryBounds].filter((b) => primaryBounds.has(b)));
  const bounds = [...shared].sort((a, b) => a - b);
  if (bounds.length === 0 || bounds[bounds.length - 1] !== Number.POSITIVE_INFINITY) {
    bounds.push(Number.POSITIVE_INFINITY);
  }
  const histogram = (workload: string): HistogramCounts => {
    const byBound = new Map<number, number>();
    for (const r of rows) {
      if (r.labels.destination_workload === workload) byBound.set(parseLe(r.labels.le), r.value);
    }
    const counts = bounds.map((bound) => Math.max(0, finiteOrZero(byBound.get(bound))));
    // increase() extrapolates each bucket on its own: keep the counts cumulative.
    for (let i = 1; i < counts.length; i++) counts[i] = Math.max(counts[i]!, counts[i - 1]!);
    return { bounds, counts };
  };
  return { canary: histogram(names.canary), primary: histogram(names.primary) };
}

/**
 * Error and request counts of both workloads from a MetricTemplate: `query` counts the bad requests and
 * `totalQuery` all of them, each rendered once per workload through {{ workload }}.
 */
export async function templateRequestCounts(
  provider: MetricsProvider,
  template: MetricTemplate,
  model: TemplateModel,
  names: Names,
  signal?: AbortSignal,
): Promise<WorkloadPair<RequestCounts>> {
  const totalQuery = template.spec.totalQuery;
  if (!totalQuery) {
    throw new RelativeQueryError(
      `MetricTemplate ${template.metadata.name} has no totalQuery, so it cannot be compared across workloads: add spec.totalQuery`,
    );
  }
  const run = async (query: string, workload: string) => {
    try {
      return finiteOrZero(await provider.runQuery(renderQuery(query, { ...model, workload }), { signal }));
    } catch (err) {
      // No series: no requests of that kind reached the workload in the interval.
      if ((err as { code?: string }).code === 'NO_VALUES' || (err as { code?: string }).code === 'NAN')
        return 0;
      throw err;
    }
  };
  const counts = async (workload: string): Promise<RequestCounts> => {
    const [errors, requests] = await Promise.all([
      run(template.spec.query, workload),
      run(totalQuery, workload),
    ]);
    const total = Math.max(0, requests);
    return { requests: total, errors: Math.min(total, Math.max(0, errors)) };
  };
  const [canary, primary] = await Promise.all([counts(names.canary), counts(names.primary)]);
  return { canary, primary };
}

function requireVector(provider: MetricsProvider) {
  const vector = provider.runVectorQuery?.bind(provider);
  if (!vector) throw new RelativeQueryError('this metrics provider cannot split results by workload');
  return vector;
}

function parseLe(le: string | undefined): number {
  if (le === undefined) return Number.NaN;
  return le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
}

function finiteOrZero(value: number | undefined): number {
  return value !== undefined && Number.isFinite(value) ? value : 0;
}
