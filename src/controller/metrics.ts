import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { CANARY_PHASES } from '../api/constants.ts';
import type { KubeRequestInfo } from '../kube/types.ts';
import { scrubSecrets } from '../lib/redact.ts';
import { petrelVersionOrUnknown } from '../lib/version.ts';
import type { MetricsQueryInfo } from '../metrics/provider.ts';

/**
 * What the metrics read from a Canary: its status, as any replica's informer sees it (hostile until
 * checked, so every field is optional and checked before use).
 */
export interface CanaryStatusView {
  metadata?: { namespace?: string; name?: string };
  status?: {
    phase?: unknown;
    canaryWeight?: unknown;
    failedChecks?: unknown;
    lastTransitionTime?: unknown;
    history?: unknown;
  };
}

export interface ControllerMetricsOptions {
  registry?: Registry;
  /** Node's default process metrics (CPU, memory, event loop lag, GC); default true. */
  defaultMetrics?: boolean;
  /**
   * Whether this replica counts rollout outcomes and durations. Every replica mirrors the per-canary
   * gauges from its cache, but only the leader counts, so sums across replicas are not doubled.
   */
  countsOutcomes?: () => boolean;
  now?: () => number;
  /** Shown by `petrel_info`; default the version in package.json. */
  version?: string;
}

/** Phases in which a rollout is under way (it started when the Canary first entered Progressing). */
const ACTIVE_PHASES = new Set(['Progressing', 'WaitingPromotion', 'Promoting', 'Finalising']);
const OUTCOMES: Record<string, string> = { Succeeded: 'succeeded', Failed: 'failed' };
const MAX_METRIC_NAME = 63;

/**
 * The controller's Prometheus metrics. Labels are bounded: canaries by namespace and name, phases by
 * the fixed list, metrics by the names in the Canary spec, API requests by verb, resource and status;
 * no revision hashes, pod template hashes or error messages.
 */
export class ControllerMetrics {
  readonly registry: Registry;
  private readonly countsOutcomes: () => boolean;
  private readonly now: () => number;
  private readonly canaryPhase: Gauge<'namespace' | 'name' | 'phase'>;
  private readonly canaryStatus: Gauge<'namespace' | 'name'>;
  private readonly canaryWeight: Gauge<'namespace' | 'name'>;
  private readonly failedChecks: Gauge<'namespace' | 'name'>;
  private readonly metricValue: Gauge<'namespace' | 'name' | 'metric'>;
  private readonly rolloutDuration: Histogram<'namespace' | 'name'>;
  private readonly rollouts: Counter<'namespace' | 'name' | 'outcome'>;
  private readonly reconciles: Counter<'result'>;
  private readonly reconcileDuration: Histogram<'result'>;
  private readonly apiRequests: Counter<'verb' | 'resource' | 'code'>;
  private readonly apiDuration: Histogram<'verb'>;
  private readonly failedQueries: Counter<'reason'>;
  private readonly leader: Gauge;
  private depthSource: () => number = () => 0;
  /** Per canary: the phase last seen, when its rollout started, and the metric names it reported. */
  private readonly seen = new Map<
    string,
    { phase?: string; shownPhase?: string; startedAt?: number; metrics: Set<string> }
  >();

  constructor(options: ControllerMetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    this.countsOutcomes = options.countsOutcomes ?? (() => true);
    this.now = options.now ?? Date.now;
    const registers = [this.registry];
    this.canaryPhase = new Gauge({
      name: 'petrel_canary_phase',
      help: 'Canary phase: one series per canary, labelled with its current phase, always 1',
      labelNames: ['namespace', 'name', 'phase'],
      registers,
    });
    this.canaryStatus = new Gauge({
      name: 'petrel_canary_status',
      help: 'Canary status as Flagger reports it: 0 running, 1 successful or initialised, 2 failed',
      labelNames: ['namespace', 'name'],
      registers,
    });
    this.canaryWeight = new Gauge({
      name: 'petrel_canary_weight',
      help: 'Share of traffic routed to the canary, in percent',
      labelNames: ['namespace', 'name'],
      registers,
    });
    this.failedChecks = new Gauge({
      name: 'petrel_canary_failed_checks',
      help: 'Failed checks in the current rollout',
      labelNames: ['namespace', 'name'],
      registers,
    });
    this.metricValue = new Gauge({
      name: 'petrel_canary_metric_value',
      help: 'Value of the last check of each analysis metric',
      labelNames: ['namespace', 'name', 'metric'],
      registers,
    });
    this.rolloutDuration = new Histogram({
      name: 'petrel_canary_rollout_duration_seconds',
      help: 'Time from the start of a rollout to its promotion or rollback',
      labelNames: ['namespace', 'name'],
      buckets: [30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400],
      registers,
    });
    this.rollouts = new Counter({
      name: 'petrel_canary_rollouts_total',
      help: 'Finished rollouts by outcome (succeeded, failed)',
      labelNames: ['namespace', 'name', 'outcome'],
      registers,
    });
    this.reconciles = new Counter({
      name: 'petrel_reconcile_total',
      help: 'Reconciles by result (success, error)',
      labelNames: ['result'],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'petrel_reconcile_duration_seconds',
      help: 'Time one reconcile took',
      labelNames: ['result'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    const depth = () => this.depthSource();
    // Read at scrape time; registered with the registry, so no field holds it.
    new Gauge({
      name: 'petrel_workqueue_depth',
      help: 'Canaries waiting in the work queue',
      registers,
      collect() {
        this.set(depth());
      },
    });
    this.apiRequests = new Counter({
      name: 'petrel_kube_api_requests_total',
      help: 'Kubernetes API requests by verb, resource and HTTP status (or client error code)',
      labelNames: ['verb', 'resource', 'code'],
      registers,
    });
    this.apiDuration = new Histogram({
      name: 'petrel_kube_api_request_duration_seconds',
      help: 'Kubernetes API request latency by verb',
      labelNames: ['verb'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.failedQueries = new Counter({
      name: 'petrel_metric_queries_failed_total',
      help: 'Metric queries (Prometheus) that yielded no value, by reason: the error code (QUERY_TIMEOUT, UNREACHABLE, HTTP_STATUS, BAD_RESPONSE, QUERY_ERROR, NO_VALUES, NAN, MULTIPLE_SERIES)',
      labelNames: ['reason'],
      registers,
    });
    this.leader = new Gauge({
      name: 'petrel_leader',
      help: '1 when this replica holds the leader lease (or runs without leader election)',
      registers,
    });
    new Gauge({
      name: 'petrel_info',
      help: 'Always 1, labelled with the version of the running controller',
      labelNames: ['version'],
      registers,
    }).set({ version: options.version ?? petrelVersionOrUnknown() }, 1);
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Mirrors a Canary's status into the per-canary series; counts a rollout when it ends. */
  observeCanary(canary: CanaryStatusView): void {
    const namespace = canary.metadata?.namespace;
    const name = canary.metadata?.name;
    if (!namespace || !name) return;
    const key = `${namespace}/${name}`;
    const status = canary.status ?? {};
    const labels = { namespace, name };
    const entry = this.seen.get(key) ?? { metrics: new Set<string>() };
    this.seen.set(key, entry);

    const phase =
      typeof status.phase === 'string' && CANARY_PHASES.includes(status.phase as never)
        ? status.phase
        : undefined;
    if (phase) {
      // One series per canary, not one per phase: with thousands of canaries the zeros would be most
      // of the controller's memory for metrics and of every scrape.
      if (entry.shownPhase !== undefined && entry.shownPhase !== phase)
        this.canaryPhase.remove({ ...labels, phase: entry.shownPhase });
      this.canaryPhase.set({ ...labels, phase }, 1);
      entry.shownPhase = phase;
      this.canaryStatus.set(
        labels,
        phase === 'Failed' ? 2 : phase === 'Succeeded' || phase === 'Initialized' ? 1 : 0,
      );
    }
    this.canaryWeight.set(labels, finite(status.canaryWeight) ?? 0);
    this.failedChecks.set(labels, finite(status.failedChecks) ?? 0);
    for (const [metric, value] of lastValues(status.history)) {
      entry.metrics.add(metric);
      this.metricValue.set({ ...labels, metric }, value);
    }

    if (phase && phase !== entry.phase) {
      const at = timeOf(status.lastTransitionTime) ?? this.now();
      if (ACTIVE_PHASES.has(phase) && !ACTIVE_PHASES.has(entry.phase ?? '')) entry.startedAt = at;
      const outcome = OUTCOMES[phase];
      // Counted only when this replica saw the rollout run, never for a status found at start-up.
      if (outcome && entry.startedAt !== undefined && this.countsOutcomes()) {
        this.rollouts.inc({ ...labels, outcome });
        this.rolloutDuration.observe(labels, Math.max(0, (at - entry.startedAt) / 1000));
      }
      if (outcome) entry.startedAt = undefined;
      entry.phase = phase;
    }
  }

  /** Drops every series of a deleted Canary, so deleted canaries do not linger as label sets. */
  forgetCanary(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const labels = { namespace, name };
    const shown = this.seen.get(key)?.shownPhase;
    if (shown !== undefined) this.canaryPhase.remove({ ...labels, phase: shown });
    this.canaryStatus.remove(labels);
    this.canaryWeight.remove(labels);
    this.failedChecks.remove(labels);
    for (const metric of this.seen.get(key)?.metrics ?? []) this.metricValue.remove({ ...labels, metric });
    this.seen.delete(key);
  }

  /** The KubeApi request hook: counts every API request by verb, resource and status. */
  readonly onRequest = (info: KubeRequestInfo): void => {
    const code = info.status !== undefined ? String(info.status) : (info.errorCode ?? 'unknown');
    this.apiRequests.inc({ verb: info.verb, resource: info.resource, code });
    this.apiDuration.observe({ verb: info.verb }, info.durationMs / 1000);
  };

  /** The metrics providers' query hook: counts the queries that failed, by their stable code. */
  readonly onMetricsQuery = (info: MetricsQueryInfo): void => {
    if (info.errorCode !== undefined) this.failedQueries.inc({ reason: info.errorCode });
  };

  /** Wraps a reconcile function to count and time it. */
  timeReconcile<A extends unknown[], R>(reconcile: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args: A) => {
      const end = this.reconcileDuration.startTimer();
      try {
        const result = await reconcile(...args);
        end({ result: 'success' });
        this.reconciles.inc({ result: 'success' });
        return result;
      } catch (err) {
        end({ result: 'error' });
        this.reconciles.inc({ result: 'error' });
        throw err;
      }
    };
  }

  /** Where the queue depth is read at scrape time. */
  queueDepthFrom(source: () => number): void {
    this.depthSource = source;
  }

  setLeader(leading: boolean): void {
    this.leader.set(leading ? 1 : 0);
  }

  /** The exposition text (what /metrics serves). */
  async text(): Promise<string> {
    return scrubSecrets(await this.registry.metrics());
  }
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function timeOf(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/** The latest value of each metric in a Canary's check history (entries are oldest first). */
function lastValues(history: unknown): Map<string, number> {
  const values = new Map<string, number>();
  if (!Array.isArray(history)) return values;
  for (const entry of history as { metric?: unknown; value?: unknown }[]) {
    const value = finite(entry?.value);
    if (typeof entry?.metric !== 'string' || entry.metric.length > MAX_METRIC_NAME || value === undefined)
      continue;
    values.set(entry.metric, value);
  }
  return values;
}
