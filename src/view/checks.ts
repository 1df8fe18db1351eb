import type { Canary, CanaryHistoryEntry } from '../api/canary.ts';
import type { CheckView } from './model.ts';

/** `>= 99`, `<= 500`, `99..100`; `none` when the metric has no thresholdRange (recorded only). */
export function thresholdText(range: { min?: number; max?: number } | undefined): string {
  const { min, max } = range ?? {};
  if (min !== undefined && max !== undefined) return `${min}..${max}`;
  if (min !== undefined) return `>= ${min}`;
  if (max !== undefined) return `<= ${max}`;
  return 'none';
}

/** What a check is judged against: its thresholdRange, or the primary within a tolerance. */
function criterionText(metric: {
  thresholdRange?: { min?: number; max?: number } | undefined;
  compare?: { tolerance: string } | undefined;
}): string {
  return metric.compare ? `vs primary ${metric.compare.tolerance}` : thresholdText(metric.thresholdRange);
}

/**
 * The checks of the last analysis: the history entries written at the latest time, one per metric. The
 * history holds one entry per metric per step, so those entries are the evidence of the last decision.
 */
export function lastAnalysis(history: readonly CanaryHistoryEntry[] | undefined): CanaryHistoryEntry[] {
  const entries = history ?? [];
  const latest = entries.at(-1)?.time;
  if (latest === undefined) return [];
  return entries.filter((e) => e.time === latest);
}

/**
 * Every metric of spec.analysis with its latest value against its threshold, failed first, then in the
 * order of the spec. A metric with no entry yet is `pending`; entries for metrics no longer in the spec
 * are shown after the others.
 * Example: min 99, last entry 95 fail -> `{ metric, threshold: '>= 99', value: 95, verdict: 'fail' }`.
 */
export function checkViews(canary: Canary, sinceTime?: string): CheckView[] {
  const metrics = canary.spec.analysis?.metrics ?? [];
  const history = (canary.status?.history ?? []).filter((e) => !sinceTime || e.time >= sinceTime);
  const latest = new Map<string, CanaryHistoryEntry>();
  for (const entry of history) latest.set(entry.metric, entry);
  const views: CheckView[] = metrics.map((metric) => {
    const entry = latest.get(metric.name);
    latest.delete(metric.name);
    return viewOf(metric.name, criterionText(metric), entry);
  });
  for (const [metric, entry] of latest) views.push(viewOf(metric, 'unknown', entry));
  return failedFirst(views);
}

/** The checks of one analysis (history entries), failed first, with their thresholds from the spec. */
export function analysisViews(canary: Canary, entries: readonly CanaryHistoryEntry[]): CheckView[] {
  const metrics = new Map((canary.spec.analysis?.metrics ?? []).map((m) => [m.name, m]));
  return failedFirst(
    entries.map((e) => {
      const metric = metrics.get(e.metric);
      return viewOf(e.metric, metric ? criterionText(metric) : 'unknown', e);
    }),
  );
}

function viewOf(metric: string, threshold: string, entry: CanaryHistoryEntry | undefined): CheckView {
  if (!entry) return { metric, threshold, verdict: 'pending' };
  return {
    metric,
    threshold,
    ...(entry.value === undefined ? {} : { value: entry.value }),
    verdict: entry.verdict,
    reason: entry.reason,
    time: entry.time,
    weight: entry.weight,
  };
}

const ORDER = { fail: 0, hold: 1, inconclusive: 2, pass: 3, pending: 4 } as const;

function failedFirst(views: CheckView[]): CheckView[] {
  return views
    .map((view, index) => ({ view, index }))
    .sort((a, b) => ORDER[a.view.verdict] - ORDER[b.view.verdict] || a.index - b.index)
    .map(({ view }) => view);
}
