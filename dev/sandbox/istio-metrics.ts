import type { Logger } from 'pino';
import { pushTimeseries } from 'prometheus-remote-write';

/** Envoy's default histogram buckets, which Istio uses for istio_request_duration_milliseconds. */
export const ISTIO_DURATION_BUCKETS_MS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
];

export interface WorkloadTraffic {
  /** Requests served since the last record() for this workload (successes + errors). */
  requests: number;
  /** How many of those requests answered with `errorCode` (default 500). */
  errors: number;
  /**
   * Observed latencies in ms: either empty (no histogram observation) or exactly one per
   * request. The first `errors` entries are attributed to the error responses.
   */
  latenciesMs: readonly number[];
  /** The `destination_service` label; default `<workload>.<namespace>.svc.cluster.local`. */
  destinationService?: string;
  /** HTTP status used for errors; default 500. */
  errorCode?: number;
  /** Upper bounds of the duration histogram's buckets in ms; default Istio's (Envoy's) defaults. */
  durationBucketsMs?: readonly number[];
}

export class RemoteWriteError extends Error {
  override readonly name = 'RemoteWriteError';
  readonly code = 'REMOTE_WRITE_FAILED';
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class OutOfOrderFlushError extends Error {
  override readonly name = 'OutOfOrderFlushError';
  readonly code = 'OUT_OF_ORDER';
  constructor(
    readonly at: number,
    readonly lastFlushedAt: number,
  ) {
    super(
      `cannot flush at ${new Date(at).toISOString()}: samples were already written at ` +
        `${new Date(lastFlushedAt).toISOString()} and Prometheus rejects out-of-order samples per series; ` +
        'flush with a later time',
    );
  }
}

export class InvalidTrafficError extends Error {
  override readonly name = 'InvalidTrafficError';
  readonly code = 'INVALID_TRAFFIC';
}

export interface IstioMetricsWriterOptions {
  /** Prometheus base URL (http://host:port) or its remote-write URL (…/api/v1/write). */
  url: string;
  logger?: Logger;
  /** Timeout of one remote-write request. Default 5 s. */
  timeoutMs?: number;
  /** The `source_workload` label of every series. Default 'istio-ingressgateway'. */
  sourceWorkload?: string;
  sourceWorkloadNamespace?: string;
}

type Labels = Record<string, string>;

interface SeriesState {
  labels: Labels;
  value: number;
  flushed: boolean;
}

/**
 * Accumulates Istio's standard request metrics per destination workload, as the sidecar of
 * that workload would report them (reporter="destination"), and remote-writes one sample per
 * series on flush(). Counters only ever go up, like real ones.
 */
export class IstioMetricsWriter {
  private readonly series = new Map<string, SeriesState>();
  private readonly writeUrl: string;
  private readonly timeoutMs: number;
  private readonly sourceWorkload: string;
  private readonly sourceWorkloadNamespace: string;
  private lastFlushedAt: number | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly opts: IstioMetricsWriterOptions) {
    const base = opts.url.replace(/\/+$/, '');
    this.writeUrl = base.endsWith('/api/v1/write') ? base : `${base}/api/v1/write`;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.sourceWorkload = opts.sourceWorkload ?? 'istio-ingressgateway';
    this.sourceWorkloadNamespace = opts.sourceWorkloadNamespace ?? 'istio-system';
  }

  /** Time (ms since epoch) of the last successful flush, if any. */
  get lastFlushTime(): number | undefined {
    return this.lastFlushedAt;
  }

  /** Adds traffic to the workload's counters and histogram; nothing is sent until flush(). */
  record(namespace: string, workload: string, traffic: WorkloadTraffic): void {
    validateTraffic(namespace, workload, traffic);
    const errorCode = String(traffic.errorCode ?? 500);
    const base: Labels = {
      reporter: 'destination',
      destination_workload: workload,
      destination_workload_namespace: namespace,
      destination_app: workload,
      destination_service: traffic.destinationService ?? `${workload}.${namespace}.svc.cluster.local`,
      source_workload: this.sourceWorkload,
      source_workload_namespace: this.sourceWorkloadNamespace,
      request_protocol: 'http',
      connection_security_policy: 'mutual_tls',
    };
    const successes = traffic.requests - traffic.errors;
    const byCode: Array<[string, number, readonly number[]]> = [
      ['200', successes, traffic.latenciesMs.slice(traffic.errors)],
      [errorCode, traffic.errors, traffic.latenciesMs.slice(0, traffic.errors)],
    ];
    for (const [code, count, latencies] of byCode) {
      // A series appears only once it has seen a request, as in Istio.
      if (
        count === 0 &&
        !this.series.has(seriesKey('istio_requests_total', { ...base, response_code: code }))
      ) {
        continue;
      }
      const labels = { ...base, response_code: code };
      this.add('istio_requests_total', labels, count);
      if (traffic.latenciesMs.length === 0) continue;
      for (const le of traffic.durationBucketsMs ?? ISTIO_DURATION_BUCKETS_MS) {
        const within = latencies.filter((ms) => ms <= le).length;
        this.add('istio_request_duration_milliseconds_bucket', { ...labels, le: formatLe(le) }, within);
      }
      this.add('istio_request_duration_milliseconds_bucket', { ...labels, le: '+Inf' }, latencies.length);
      this.add(
        'istio_request_duration_milliseconds_sum',
        labels,
        latencies.reduce((a, b) => a + b, 0),
      );
      this.add('istio_request_duration_milliseconds_count', labels, latencies.length);
    }
  }

  /**
   * Remote-writes the current value of every series at `now`. A series written for the first
   * time also gets a zero sample 1 ms earlier, so rate() counts its first requests. Flushes are
   * serialised; `now` must be later than the previous flush.
   */
  flush(now: Date | number): Promise<void> {
    const at = typeof now === 'number' ? now : now.getTime();
    const run = this.queue.then(() => this.flushAt(at));
    this.queue = run.catch(() => {});
    return run;
  }

  private async flushAt(at: number): Promise<void> {
    if (this.lastFlushedAt !== undefined && at <= this.lastFlushedAt) {
      throw new OutOfOrderFlushError(at, this.lastFlushedAt);
    }
    const states = [...this.series.values()];
    if (states.length === 0) {
      this.lastFlushedAt = at;
      return;
    }
    const timeseries = states.map((state) => ({
      labels: state.labels as Labels & { __name__: string },
      samples: state.flushed
        ? [{ value: state.value, timestamp: at }]
        : [
            { value: 0, timestamp: at - 1 },
            { value: state.value, timestamp: at },
          ],
    }));
    let result: Awaited<ReturnType<typeof pushTimeseries>>;
    try {
      result = await pushTimeseries(timeseries, {
        url: this.writeUrl,
        fetch: (url, init) =>
          globalThis.fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) } as RequestInit),
      });
    } catch (err) {
      throw new RemoteWriteError(
        `remote write to ${this.writeUrl} failed: ${(err as Error).message}`,
        undefined,
        { cause: err },
      );
    }
    if (result.status !== 200 && result.status !== 204) {
      throw new RemoteWriteError(
        `remote write to ${this.writeUrl} answered ${result.status} ${result.statusText}: ${result.errorMessage ?? ''}`.trim(),
        result.status,
      );
    }
    // Prometheus 2.42 commits a remote write all or nothing, so only a success marks the
    // zero baselines as written.
    for (const state of states) state.flushed = true;
    this.lastFlushedAt = at;
    this.opts.logger?.trace({ series: states.length, at }, 'istio metrics flushed');
  }

  private add(name: string, labels: Labels, delta: number): void {
    const key = seriesKey(name, labels);
    const existing = this.series.get(key);
    if (existing) {
      existing.value += delta;
      return;
    }
    this.series.set(key, { labels: sortedLabels(name, labels), value: delta, flushed: false });
  }
}

function validateTraffic(namespace: string, workload: string, t: WorkloadTraffic): void {
  const where = `traffic for ${namespace}/${workload}`;
  if (!namespace || !workload) throw new InvalidTrafficError('namespace and workload must be non-empty');
  if (!Number.isInteger(t.requests) || t.requests < 0) {
    throw new InvalidTrafficError(`${where}: requests must be a non-negative integer, got ${t.requests}`);
  }
  if (!Number.isInteger(t.errors) || t.errors < 0 || t.errors > t.requests) {
    throw new InvalidTrafficError(`${where}: errors must be an integer in 0..requests, got ${t.errors}`);
  }
  if (t.latenciesMs.length !== 0 && t.latenciesMs.length !== t.requests) {
    throw new InvalidTrafficError(
      `${where}: latenciesMs must be empty or hold one entry per request (${t.requests}), got ${t.latenciesMs.length}`,
    );
  }
  if (t.latenciesMs.some((ms) => !Number.isFinite(ms) || ms < 0)) {
    throw new InvalidTrafficError(`${where}: latenciesMs must be finite, non-negative numbers`);
  }
}

function formatLe(le: number): string {
  return String(le);
}

function seriesKey(name: string, labels: Labels): string {
  return JSON.stringify([name, Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1))]);
}

/** Remote-write expects labels sorted by name; `__name__` sorts first. */
function sortedLabels(name: string, labels: Labels): Labels {
  const out: Labels = {};
  for (const [k, v] of Object.entries({ ...labels, __name__: name }).sort(([a], [b]) => (a < b ? -1 : 1))) {
    out[k] = v;
  }
  return out;
}
