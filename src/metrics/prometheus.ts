import type { Logger } from 'pino';
import { type InstantQueryResult, PrometheusHttpClient, PrometheusHttpError } from './prometheus-http.ts';
import {
  failureCode,
  type LabelledSeries,
  type LabelledValue,
  type MetricsProvider,
  MetricsProviderError,
  type MetricsQueryHook,
  MultipleSeriesError,
  NotANumberError,
  NoValuesFoundError,
  QueryTimeoutError,
} from './provider.ts';

export type PrometheusCredentials =
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'bearer'; token: string };

export interface PrometheusProviderOptions {
  /** Base URL of Prometheus, e.g. http://prometheus.istio-system:9090 (a path prefix is kept). */
  address: string;
  credentials?: PrometheusCredentials;
  /** Extra request headers, e.g. a tenant ID for Mimir or Cortex; credentials set Authorization. */
  headers?: Readonly<Record<string, string>>;
  /** Per-query timeout, enforced on the client and sent to Prometheus as `timeout`. Default 10 s. */
  timeoutMs?: number;
  insecureSkipVerify?: boolean;
  logger?: Logger;
  /** Told about every query run to its end: how long it took and, when it failed, why. */
  onQuery?: MetricsQueryHook;
  /** Evaluation time of each query, in milliseconds since the epoch. Default Date.now. */
  now?: () => number;
}

/**
 * Runs instant queries against Prometheus's HTTP API and insists on exactly one finite sample.
 * One client (one keep-alive agent) serves every query of a provider. Credentials are sent, never
 * logged, and never attached to errors.
 */
export class PrometheusProvider implements MetricsProvider {
  readonly address: string;
  private readonly timeoutMs: number;
  private readonly client: PrometheusHttpClient;
  private readonly now: () => number;

  constructor(private readonly opts: PrometheusProviderOptions) {
    const credentials = opts.credentials;
    this.client = new PrometheusHttpClient({
      address: opts.address,
      headers: opts.headers,
      ...(credentials?.kind === 'bearer' ? { bearerToken: credentials.token } : {}),
      ...(credentials?.kind === 'basic'
        ? { basicAuth: { username: credentials.username, password: credentials.password } }
        : {}),
      insecureSkipVerify: opts.insecureSkipVerify,
    });
    this.address = this.client.address;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  runQuery(query: string, opts: { signal?: AbortSignal } = {}): Promise<number> {
    return this.instant(query, opts, singleValue);
  }

  runVectorQuery(query: string, opts: { signal?: AbortSignal } = {}): Promise<LabelledValue[]> {
    return this.instant(query, opts, vectorValues);
  }

  runSeriesQuery(query: string, opts: { signal?: AbortSignal } = {}): Promise<LabelledSeries[]> {
    return this.instant(query, opts, seriesValues);
  }

  /** One instant query, its result read by `read`; timed, reported and logged the same for every shape. */
  private async instant<T>(
    query: string,
    opts: { signal?: AbortSignal },
    read: (query: string, result: InstantQueryResult) => T,
  ): Promise<T> {
    const started = performance.now();
    const report = (errorCode?: ReturnType<typeof failureCode>) =>
      this.opts.onQuery?.({ durationMs: performance.now() - started, ...(errorCode ? { errorCode } : {}) });
    try {
      const result = await this.client.instantQuery(query, {
        timeMs: this.now(),
        timeoutMs: this.timeoutMs,
        signal: opts.signal,
      });
      const value = read(query, result);
      report();
      return value;
    } catch (failure) {
      if (opts.signal?.aborted && failure === opts.signal.reason) throw failure;
      const error = this.toMetricsError(query, failure);
      report(failureCode(error));
      throw error;
    } finally {
      this.opts.logger?.debug(
        { address: this.address, query, ms: Math.round(performance.now() - started) },
        'prometheus query',
      );
    }
  }

  async isOnline(): Promise<boolean> {
    try {
      return (await this.runQuery('vector(1)')) === 1;
    } catch {
      return false;
    }
  }

  private toMetricsError(query: string, failure: unknown) {
    if (failure instanceof NoValuesFoundError) return failure;
    if (failure instanceof NotANumberError) return failure;
    if (failure instanceof MultipleSeriesError) return failure;
    if (failure instanceof MetricsProviderError) return failure;
    if (!(failure instanceof PrometheusHttpError)) {
      return new MetricsProviderError(
        `prometheus at ${this.address} could not be queried: ${(failure as Error)?.message ?? String(failure)}`,
        query,
      );
    }
    // Prometheus's own evaluation timeout is a timeout too, whatever its HTTP status.
    if (failure.code === 'TIMEOUT' || failure.errorType === 'timeout')
      return new QueryTimeoutError(query, this.timeoutMs, { cause: failure });
    return new MetricsProviderError(`prometheus at ${this.address} ${failure.message}`, query, {
      status: failure.status,
      reason: failure.code,
      cause: failure,
    });
  }
}

/** Extracts the one sample of an instant-query result, or throws why there is not exactly one. */
export function singleValue(query: string, result: InstantQueryResult): number {
  switch (result.resultType) {
    case 'vector': {
      const { samples } = result;
      if (samples.length === 0) throw new NoValuesFoundError(query);
      if (samples.length > 1)
        throw new MultipleSeriesError(
          query,
          samples.map((s) => s.labels),
        );
      return finite(query, samples[0]!.value);
    }
    case 'scalar':
      return finite(query, result.value);
    case 'matrix':
      throw new MetricsProviderError(
        'the query returned a range vector: write an instant expression (e.g. wrap the range in rate())',
        query,
        { reason: 'QUERY_ERROR' },
      );
    case 'string':
      throw new MetricsProviderError('the query returned a string, not a number', query, {
        reason: 'QUERY_ERROR',
      });
  }
}

/** A decimal number as Prometheus writes one; "NaN", "+Inf" and anything else are not numbers. */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function finite(query: string, raw: string): number {
  const value = DECIMAL.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(value)) throw new NotANumberError(query, raw);
  return value;
}

/** Every series of a range result, its samples oldest first; NaN for non-finite values. */
export function seriesValues(query: string, result: InstantQueryResult): LabelledSeries[] {
  if (result.resultType !== 'matrix') {
    throw new MetricsProviderError(
      `the query returned a ${result.resultType}, not a range: write a range or a subquery (e.g. (...)[10m:1m])`,
      query,
      { reason: 'QUERY_ERROR' },
    );
  }
  return result.series.map((s) => ({
    labels: s.labels,
    points: s.points.map(([time, raw]) => ({ time, value: DECIMAL.test(raw) ? Number(raw) : Number.NaN })),
  }));
}

/** Every sample of a vector result (a scalar is one unlabelled sample); NaN for non-finite values. */
export function vectorValues(query: string, result: InstantQueryResult): LabelledValue[] {
  switch (result.resultType) {
    case 'vector':
      return result.samples.map((s) => ({
        labels: s.labels,
        value: DECIMAL.test(s.value) ? Number(s.value) : Number.NaN,
      }));
    case 'scalar':
      return [{ labels: {}, value: DECIMAL.test(result.value) ? Number(result.value) : Number.NaN }];
    default:
      return [singleValue(query, result)].map((value) => ({ labels: {}, value }));
  }
}
