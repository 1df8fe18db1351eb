import { Agent as HttpAgent } from 'node:http';
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

/**
 * Connections kept per provider. Queries beyond this wait for a free connection (still within
 * their timeout) instead of opening ever more sockets to one Prometheus.
 */
const MAX_SOCKETS = 64;

/**
 * Node's own global agent settings: idle sockets are unref'd (they never keep the process alive)
 * and closed after 5 s, well under the idle timeouts of Prometheus and common proxies.
 */
const AGENT_OPTIONS = {
  keepAlive: true,
  scheduling: 'lifo',
  timeout: 5_000,
  maxSockets: MAX_SOCKETS,
} as const;

/** The error prometheus-query throws: a plain object, not an Error. */
interface DriverFailure {
  status?: string;
  errorType?: string;
  error?: string;
  httpStatus?: number;
  code?: string;
  prometheus?: { errorType?: string; error?: string };
}

/** What one query hands to its own request, and what it gets back from it. */
interface Exchange {
  readonly signal: AbortSignal;
  claimed: boolean;
  body?: unknown;
}

/** The slice of axios that the driver keeps in its (untyped) `axiosInstance` field. */
interface RequestConfig {
  signal?: unknown;
  maxContentLength?: number;
  httpAgent?: unknown;
  httpsAgent?: unknown;
}
interface AxiosLike {
  interceptors: {
    request: {
      use(
        onFulfilled: (config: RequestConfig) => RequestConfig,
        onRejected: undefined,
        options: { synchronous: boolean },
      ): unknown;
    };
    response: { use(onFulfilled: (response: { config: RequestConfig; data: unknown }) => unknown): unknown };
  };
}

/**
 * Runs instant queries against Prometheus's HTTP API through prometheus-query, and insists on
 * exactly one finite sample. Credentials are sent, never logged, and never attached to errors.
 *
 * One driver, one axios instance and one pair of keep-alive agents serve every query of a
 * provider. Each query's abort signal reaches its own request through a synchronous request
 * interceptor: the driver calls axios, and axios runs synchronous interceptors, within the
 * `instantQuery` call itself, so the exchange set just before that call is the one the
 * interceptor takes. (AsyncLocalStorage would also work, but on Node 20 it turns on promise
 * hooks for the whole process, which costs more CPU than this change saves.)
 */
export class PrometheusProvider implements MetricsProvider {
  readonly address: string;
  private readonly timeoutMs: number;
  private client: PrometheusDriver | undefined;
  /** The exchange of the `instantQuery` call in progress; set and taken in the same tick. */
  private pending: Exchange | undefined;
  private readonly exchanges = new WeakMap<object, Exchange>();

  constructor(private readonly opts: PrometheusProviderOptions) {
    this.address = opts.address.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async runQuery(query: string, opts: { signal?: AbortSignal } = {}): Promise<number> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    this.client ??= this.createDriver();
    const exchange: Exchange = { signal, claimed: false };
    const started = Date.now();
    let result: QueryResult;
    try {
      this.pending = exchange;
      let answer: Promise<QueryResult>;
      try {
        answer = this.client.instantQuery(
          query,
          undefined,
          `${Math.max(1, Math.ceil(this.timeoutMs / 1000))}s`,
        );
      } finally {
        this.pending = undefined;
      }
      if (!exchange.claimed) {
        // The request was not issued within the call: another query could have taken it.
        answer.catch(() => {});
        throw new Error('the request was not issued synchronously; per-query signals cannot be attached');
      }
      result = await answer;
    } catch (failure) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      if (timeout.aborted) throw new QueryTimeoutError(query, this.timeoutMs);
      throw this.toProviderError(query, failure);
    } finally {
      this.opts.logger?.debug({ address: this.address, query, ms: Date.now() - started }, 'prometheus query');
    }
    return singleValue(query, result, exchange.body);
  }

  async isOnline(): Promise<boolean> {
    try {
      return (await this.runQuery('vector(1)')) === 1;
    } catch {
      return false;
    }
  }

  private createDriver(): PrometheusDriver {
    const credentials = this.opts.credentials;
    const driver = new PrometheusDriver({
      endpoint: this.address,
      baseURL: '/api/v1',
      auth:
        credentials?.kind === 'basic'
          ? { username: credentials.username, password: credentials.password }
          : undefined,
      headers: {
        // Answers are small JSON documents: compressing them costs both sides more than it saves.
        'Accept-Encoding': 'identity',
        ...(credentials?.kind === 'bearer' ? { Authorization: `Bearer ${credentials.token}` } : {}),
      },
      timeout: this.timeoutMs,
    });
    const axios = (driver as unknown as { axiosInstance?: AxiosLike }).axiosInstance;
    if (typeof axios?.interceptors?.request?.use !== 'function') {
      throw new Error('prometheus-query no longer exposes its axios instance');
    }
    const httpAgent = new HttpAgent(AGENT_OPTIONS);
    const httpsAgent = new HttpsAgent({
      ...AGENT_OPTIONS,
      ...(this.opts.insecureSkipVerify === true ? { rejectUnauthorized: false } : {}),
    });
    axios.interceptors.request.use(
      (config) => {
        const exchange = this.pending;
        // Only the request issued inside runQuery's own instantQuery call may carry its signal.
        if (!exchange) throw new Error('prometheus request issued outside a query');
        exchange.claimed = true;
        this.pending = undefined;
        this.exchanges.set(config, exchange);
        config.signal = exchange.signal;
        // A hostile or misconfigured endpoint must not make the controller buffer without bound.
        config.maxContentLength = MAX_RESPONSE_BYTES;
        config.httpAgent = httpAgent;
        config.httpsAgent = httpsAgent;
        return config;
      },
      undefined,
      { synchronous: true },
    );
    axios.interceptors.response.use((response) => {
      const exchange = this.exchanges.get(response.config);
      if (exchange) exchange.body = response.data;
      return response;
    });
    return driver;
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
