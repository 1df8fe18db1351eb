import type { CanaryStatus } from '../../src/api/canary.ts';
import type { DemoEvent } from './events.ts';

type HistoryEntry = NonNullable<CanaryStatus['history']>[number];

export interface Threshold {
  min?: number;
  max?: number;
}

interface MetricSpecLike {
  name?: unknown;
  thresholdRange?: { min?: unknown; max?: unknown };
}

/** The thresholdRange of each metric in a Canary spec (as stored: unvalidated). */
export function thresholdsOf(spec: { analysis?: { metrics?: unknown } } | undefined) {
  const metrics = Array.isArray(spec?.analysis?.metrics) ? (spec.analysis.metrics as MetricSpecLike[]) : [];
  return (metric: string): Threshold | undefined => {
    const range = metrics.find((m) => m?.name === metric)?.thresholdRange;
    if (!range) return undefined;
    return {
      ...(typeof range.min === 'number' ? { min: range.min } : {}),
      ...(typeof range.max === 'number' ? { max: range.max } : {}),
    };
  };
}

/** The fields of a core/v1 Event the demo shows. */
export interface KubeEventLike {
  metadata?: { name?: string; namespace?: string };
  involvedObject?: { kind?: string; name?: string };
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
}

const TERMINAL_PHASES = new Set(['Succeeded', 'Failed']);

export function isTerminalPhase(phase: string | undefined): boolean {
  return phase !== undefined && TERMINAL_PHASES.has(phase);
}

function historyKey(entry: HistoryEntry): string {
  return `${entry.time}|${entry.metric}|${entry.weight}`;
}

/**
 * Turns successive Canary statuses into demo events: a phase change, a weight change, and one
 * `check` per history entry not seen before. Holds only what it has already reported; no I/O.
 */
export class CanaryProgress {
  private phase: string | undefined;
  private weight: number | undefined;
  private readonly seenChecks = new Set<string>();

  /** `thresholds` gives a metric's thresholdRange from the Canary spec, shown beside each check. */
  observe(
    status: CanaryStatus | undefined,
    release: string,
    thresholds: (metric: string) => Threshold | undefined = () => undefined,
  ): DemoEvent[] {
    if (!status) return [];
    const events: DemoEvent[] = [];
    for (const entry of status.history ?? []) {
      const key = historyKey(entry);
      if (this.seenChecks.has(key)) continue;
      this.seenChecks.add(key);
      events.push({
        type: 'check',
        release,
        metric: entry.metric,
        ...(entry.value !== undefined ? { value: entry.value } : {}),
        ...thresholds(entry.metric),
        passed: entry.verdict === 'pass',
        weight: entry.weight,
        reason: entry.reason,
      });
    }
    const weight = status.canaryWeight ?? 0;
    if (status.phase !== undefined && status.phase !== this.phase) {
      this.phase = status.phase;
      this.weight = weight;
      events.push({
        type: 'phase',
        release,
        phase: status.phase,
        weight,
        failedChecks: status.failedChecks ?? 0,
      });
    } else if (weight !== this.weight) {
      this.weight = weight;
      events.push({ type: 'weight', release, weight });
    }
    return events;
  }
}

/**
 * Turns Events about Canaries into demo events: a new Event, or a repeat of one (its count went
 * up). Remembers the count it last saw per Event name.
 */
export class CanaryEvents {
  private readonly counts = new Map<string, number>();

  observe(event: KubeEventLike, release: string): DemoEvent | undefined {
    if (event.involvedObject?.kind !== 'Canary') return undefined;
    const name = `${event.metadata?.namespace ?? ''}/${event.metadata?.name ?? ''}`;
    const count = event.count ?? 1;
    const previous = this.counts.get(name);
    if (previous !== undefined && count <= previous) return undefined;
    this.counts.set(name, count);
    return {
      type: 'event',
      release,
      severity: event.type ?? 'Normal',
      reason: event.reason ?? '',
      message: event.message ?? '',
    };
  }
}

/** The failed checks a release ran into, from the Canary's history since the release started. */
export function failedChecksSince(
  status: CanaryStatus | undefined,
  sinceMs: number,
): { metric: string; value?: number; reason: string }[] {
  return (status?.history ?? [])
    .filter((h) => h.verdict === 'fail' && Date.parse(h.time) >= sinceMs)
    .map((h) => ({
      metric: h.metric,
      ...(h.value !== undefined ? { value: h.value } : {}),
      reason: h.reason,
    }));
}

/** The Promoted condition's message: why the release ended as it did. */
export function outcomeReason(status: CanaryStatus | undefined): string {
  const promoted = status?.conditions?.find((c) => c.type === 'Promoted');
  return promoted?.message ?? promoted?.reason ?? '';
}
