import { Agent as HttpsAgent } from 'node:https';
import type { Logger } from 'pino';
import { PrometheusDriver, type QueryResult } from 'prometheus-query';
import {
  type MetricsProvider,
  MetricsProviderError,
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
  /** Per-query timeout, enforced on the client and sent to Prometheus as `timeout`. Default 10 s. */
  timeoutMs?: number;
  insecureSkipVerify?: boolean;
  logger?: Logger;
}

const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** The error prometheus-query throws: a plain object, not an Error. */
interface DriverFailure {
  status?: string;
  errorType?: string;
  error?: string;
  httpStatus?: number;
  code?: string;
  prometheus?: { errorType?: string; error?: string };
}

/**
 * Runs instant queries against Prometheus's HTTP API through prometheus-query, and insists on
 * exactly one finite sample. Credentials are sent, never logged, and never attached to errors.
 */
export class PrometheusProvider implements MetricsProvider {
  readonly address: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: PrometheusProviderOptions) {
    this.address = opts.address.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async runQuery(query: string, opts: { signal?: AbortSignal } = {}): Promise<number> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    let rawBody: unknown;
    const driver = this.driver(signal, (body) => {
      rawBody = body;
    });
    const started = Date.now();
    let result: QueryResult;
    try {
      result = await driver.instantQuery(
        query,
        undefined,
        `${Math.max(1, Math.ceil(this.timeoutMs / 1000))}s`,
      );
    } catch (failure) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      if (timeout.aborted) throw new QueryTimeoutError(query, this.timeoutMs);
      throw this.toProviderError(query, failure);
    } finally {
      this.opts.logger?.debug({ address: this.address, query, ms: Date.now() - started }, 'prometheus query');
    }
    return singleValue(query, result, rawBody);
  }

  async isOnline(): Promise<boolean> {
    try {
      return (await this.runQuery('vector(1)')) === 1;
    } catch {
      return false;
    }
  }

  private driver(signal: AbortSignal, onBody: (body: unknown) => void): PrometheusDriver {
    const credentials = this.opts.credentials;
    const insecure = this.opts.insecureSkipVerify === true;
    return new PrometheusDriver({
      endpoint: this.address,
      baseURL: '/api/v1',
      auth:
        credentials?.kind === 'basic'
          ? { username: credentials.username, password: credentials.password }
          : undefined,
      headers: credentials?.kind === 'bearer' ? { Authorization: `Bearer ${credentials.token}` } : undefined,
      timeout: this.timeoutMs,
      requestInterceptor: {
        onFulfilled: (config) => {
          config.signal = signal;
          // A hostile or misconfigured endpoint must not make the controller buffer without bound.
          config.maxContentLength = MAX_RESPONSE_BYTES;
          if (insecure) config.httpsAgent = new HttpsAgent({ rejectUnauthorized: false });
          return config;
        },
      },
      responseInterceptor: {
        onFulfilled: (response) => {
          onBody(response.data);
          return response;
        },
      },
    });
  }

  private toProviderError(query: string, failure: unknown): Error {
    const f = (failure ?? {}) as DriverFailure;
    if (f.prometheus?.errorType === 'timeout') return new QueryTimeoutError(query, this.timeoutMs);
    if (f.errorType === 'timeout_error') return new QueryTimeoutError(query, this.timeoutMs);
    const detail = f.error ?? (failure instanceof Error ? failure.message : 'unexpected error');
    const where = `prometheus at ${this.address}`;
    const message =
      f.errorType === 'http_error'
        ? `${where} answered ${f.httpStatus}${f.prometheus?.errorType ? ` (${f.prometheus.errorType})` : ''}: ${detail}`
        : `${where} could not be queried: ${detail}${f.code ? ` (${f.code})` : ''}`;
    // The driver's error carries the request config, credentials included: keep only safe fields.
    return new MetricsProviderError(message, query, {
      status: f.httpStatus,
      cause: { errorType: f.errorType, code: f.code, httpStatus: f.httpStatus },
    });
  }
}

/** Extracts the one sample of an instant-query result, or throws why there is not exactly one. */
export function singleValue(query: string, result: QueryResult, rawBody?: unknown): number {
  const rawValues = rawSampleValues(rawBody);
  switch (result.resultType) {
    case 'vector': {
      const samples = result.result as Array<{
        metric: { name?: string; labels?: Record<string, string> } | null;
        value: { value: number };
      }>;
      if (samples.length === 0) throw new NoValuesFoundError(query);
      if (samples.length > 1) {
        throw new MultipleSeriesError(
          query,
          samples.map((s) => ({
            ...(s.metric?.name ? { __name__: s.metric.name } : {}),
            ...(s.metric?.labels ?? {}),
          })),
        );
      }
      return finite(query, samples[0]!.value.value, rawValues[0]);
    }
    case 'scalar': {
      const [, raw] = result.result as unknown as [number, string];
      return finite(query, Number.parseFloat(raw), raw);
    }
    case 'matrix':
      throw new MetricsProviderError(
        'the query returned a range vector: write an instant expression (e.g. wrap the range in rate())',
        query,
      );
    case 'string':
      throw new MetricsProviderError('the query returned a string, not a number', query);
    default:
      throw new MetricsProviderError(`unexpected result type ${String(result.resultType)}`, query);
  }
}

function finite(query: string, value: number, raw: string | undefined): number {
  if (!Number.isFinite(value)) throw new NotANumberError(query, raw ?? String(value));
  return value;
}

/** The sample values exactly as Prometheus wrote them ("NaN", "+Inf"), which parseFloat blurs. */
function rawSampleValues(body: unknown): Array<string | undefined> {
  const result = (body as { data?: { result?: unknown } } | undefined)?.data?.result;
  if (!Array.isArray(result)) return [];
  return result.map((entry) => {
    const value = (entry as { value?: unknown })?.value;
    return Array.isArray(value) && typeof value[1] === 'string' ? value[1] : undefined;
  });
}
