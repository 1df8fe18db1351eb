import type { KubeObject } from '../kube/types.ts';
import { ACTION_ANNOTATION, ACTION_BY_ANNOTATION, GATE_TYPES } from '../rollout/index.ts';

/**
 * What the page shows of one Canary: plain JSON, sent once in the snapshot and again on every change.
 * The browser code imports these types only (see client/), so server and page agree on the shape.
 */
export interface CanaryView {
  /** `namespace/name`. */
  key: string;
  namespace: string;
  name: string;
  phase: string;
  weight: number;
  maxWeight?: number;
  failedChecks: number;
  threshold?: number;
  /** The Paused condition is True. */
  paused: boolean;
  /** An action annotation the controller has not carried out yet, e.g. `pause by alice`. */
  pendingAction?: string;
  createdAt?: string;
  lastTransitionTime?: string;
  target: string;
  revision?: string;
  timeline: WeightPoint[];
  checks: CheckSeries[];
  gates: GateView[];
  conditions: ConditionView[];
  events: EventView[];
}

/** The canary weight from a given moment (ms since the epoch) until the next point. */
export interface WeightPoint {
  time: number;
  weight: number;
}

export interface CheckPoint {
  time: number;
  weight: number;
  value?: number;
  /** The primary's value, when the check compares canary with primary and the status carries it. */
  primary?: number;
  /** pass or fail; a relative check may also be inconclusive or hold. */
  verdict: string;
  reason: string;
}

export interface CheckSeries {
  metric: string;
  min?: number;
  max?: number;
  /** The check judges the canary against the primary: how much worse it may be, e.g. `+0.5pp`. */
  tolerance?: string;
  points: CheckPoint[];
}

export interface GateView {
  name: string;
  type: string;
  url?: string;
}

export interface ConditionView {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  since?: string;
}

export interface EventView {
  time: string;
  type: string;
  reason: string;
  message: string;
  count: number;
}

/** A Canary as the informer hands it over: not validated, so every field is read defensively. */
export interface CanaryObject extends KubeObject {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function list(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.map(record) : [];
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function canaryKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

type MetricPoint = CheckPoint & { metric: string };

/** The check history the status keeps (bounded by the controller), oldest first. */
function historyPoints(status: Record<string, unknown>): MetricPoint[] {
  return list(status.history).flatMap((entry) => {
    const time = Date.parse(text(entry.time) ?? '');
    const metric = text(entry.metric);
    if (!Number.isFinite(time) || !metric) return [];
    const value = num(entry.value);
    const primary = num(entry.primaryValue) ?? num(entry.primary);
    return [
      {
        metric,
        time,
        weight: num(entry.weight) ?? 0,
        ...optional('value', value),
        ...optional('primary', primary),
        verdict: text(entry.verdict) ?? 'pass',
        reason: text(entry.reason) ?? '',
      },
    ];
  });
}

/** The evidence of the relative checks (`status.analysis.steps`): canary and primary values per step. */
function evidencePoints(status: Record<string, unknown>): MetricPoint[] {
  return list(record(status.analysis).steps).flatMap((step) => {
    const time = Date.parse(text(step.time) ?? '');
    if (!Number.isFinite(time)) return [];
    return list(step.checks).flatMap((check): MetricPoint[] => {
      const metric = text(check.metric);
      if (!metric) return [];
      const difference = num(check.difference);
      return [
        {
          metric,
          time,
          weight: num(step.weight) ?? 0,
          ...optional('value', num(check.canary)),
          ...optional('primary', num(check.primary)),
          verdict: text(check.verdict) ?? 'pass',
          reason: difference === undefined ? '' : `difference ${difference}`,
        },
      ];
    });
  });
}

/**
 * Every check the status reports, oldest first: the history, with the canary's and the primary's values
 * from the relative checks' evidence where both describe the same check (same metric and time).
 */
export function checkPoints(status: Record<string, unknown> | undefined): MetricPoint[] {
  const byKey = new Map<string, MetricPoint>();
  const key = (p: MetricPoint) => `${p.time}\u0000${p.metric}`;
  for (const point of historyPoints(status ?? {})) byKey.set(key(point), point);
  for (const point of evidencePoints(status ?? {})) {
    const known = byKey.get(key(point));
    byKey.set(key(point), known ? { ...known, ...point, reason: known.reason || point.reason } : point);
  }
  return [...byKey.values()].sort((a, b) => a.time - b.time);
}

/** Thresholds of each metric of the spec, by name. */
function thresholds(
  spec: Record<string, unknown> | undefined,
): Map<string, { min?: number; max?: number; tolerance?: string }> {
  const out = new Map<string, { min?: number; max?: number; tolerance?: string }>();
  for (const metric of list(record(spec?.analysis).metrics)) {
    const name = text(metric.name);
    if (!name) continue;
    const range = record(metric.thresholdRange);
    out.set(name, {
      ...optional('min', num(range.min)),
      ...optional('max', num(range.max)),
      ...optional('tolerance', text(record(metric.compare).tolerance)),
    });
  }
  return out;
}

export interface ReleaseRecord {
  timeline: WeightPoint[];
  checks: Map<string, CheckPoint[]>;
}

/** Builds the page's view of a Canary from the object, what was recorded of its release, and its events. */
export function canaryView(canary: CanaryObject, release: ReleaseRecord, events: EventView[]): CanaryView {
  const namespace = canary.metadata?.namespace ?? '';
  const name = canary.metadata?.name ?? '';
  const spec = canary.spec;
  const status = record(canary.status);
  const analysis = record(spec?.analysis);
  const conditions = list(status.conditions).map(
    (c): ConditionView => ({
      type: text(c.type) ?? '',
      status: text(c.status) ?? 'Unknown',
      ...optional('reason', text(c.reason)),
      ...optional('message', text(c.message)),
      ...optional('since', text(c.lastTransitionTime)),
    }),
  );
  const annotations = canary.metadata?.annotations ?? {};
  const pending = text(annotations[ACTION_ANNOTATION]);
  const by = text(annotations[ACTION_BY_ANNOTATION]);
  const limits = thresholds(spec);
  const metrics = new Set([...limits.keys(), ...release.checks.keys()]);
  const checks = [...metrics].map(
    (metric): CheckSeries => ({ metric, ...limits.get(metric), points: release.checks.get(metric) ?? [] }),
  );
  const gates = list(analysis.webhooks)
    .filter((hook) => (GATE_TYPES as readonly unknown[]).includes(hook.type))
    .map(
      (hook): GateView => ({
        name: text(hook.name) ?? '',
        type: String(hook.type),
        ...optional('url', text(hook.url)),
      }),
    );
  const targetRef = record(spec?.targetRef);
  return {
    key: canaryKey(namespace, name),
    namespace,
    name,
    phase: text(status.phase) ?? 'Unknown',
    weight: num(status.canaryWeight) ?? 0,
    ...optional('maxWeight', num(analysis.maxWeight)),
    failedChecks: num(status.failedChecks) ?? 0,
    ...optional('threshold', num(analysis.threshold)),
    paused: conditions.some((c) => c.type === 'Paused' && c.status === 'True'),
    ...optional('pendingAction', pending ? `${pending}${by ? ` by ${by}` : ''}` : undefined),
    ...optional('createdAt', text(canary.metadata?.creationTimestamp)),
    ...optional('lastTransitionTime', text(status.lastTransitionTime)),
    target: `${text(targetRef.kind) ?? 'Deployment'}/${text(targetRef.name) ?? '?'}`,
    ...optional('revision', text(status.lastAppliedSpec)),
    timeline: release.timeline,
    checks,
    gates,
    conditions,
    events,
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
