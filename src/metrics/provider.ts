/** A metrics backend that answers one query with one number (Flagger's providers.Interface). */
export interface MetricsProvider {
  /** Runs an instant query that must yield exactly one finite sample; throws the errors below otherwise. */
  runQuery(query: string, opts?: { signal?: AbortSignal }): Promise<number>;
  /** True when the backend answers at all; never throws. */
  isOnline(): Promise<boolean>;
  /**
   * Runs an instant query that may yield several series (e.g. `sum by (destination_workload)`), for the
   * relative checks; non-finite values come back as NaN. Providers without it cannot serve builtin
   * relative checks.
   */
  runVectorQuery?(query: string, opts?: { signal?: AbortSignal }): Promise<LabelledValue[]>;
  /**
   * Runs an instant query of a range (e.g. a subquery `(...)[10m:1m]`) and returns every series' samples,
   * oldest first; non-finite values come back as NaN. Providers without it give the relative checks no
   * history, and the default dispersion prior applies.
   */
  runSeriesQuery?(query: string, opts?: { signal?: AbortSignal }): Promise<LabelledSeries[]>;
}

export interface LabelledSeries {
  labels: Record<string, string>;
  /** Seconds since the epoch and the value, oldest first. */
  points: Array<{ time: number; value: number }>;
}

export interface LabelledValue {
  labels: Record<string, string>;
  value: number;
}

export type MetricsErrorCode = 'NO_VALUES' | 'NAN' | 'MULTIPLE_SERIES' | 'QUERY_TIMEOUT' | 'PROVIDER_ERROR';

/**
 * Why a backend gave no answer, finer than PROVIDER_ERROR: not reachable, an HTTP error status, an
 * answer that is not the backend's format, or the backend refused the query (or it yields no number).
 */
export type ProviderFailureReason = 'UNREACHABLE' | 'HTTP_STATUS' | 'BAD_RESPONSE' | 'QUERY_ERROR';

/** What a provider reports of each query it ran to the end; a query its caller cancelled is not reported. */
export interface MetricsQueryInfo {
  durationMs: number;
  /** Set when the query yielded no value: see `failureCode`. */
  errorCode?: MetricsErrorCode | ProviderFailureReason;
}
export type MetricsQueryHook = (info: MetricsQueryInfo) => void;

/** Base class of every error a provider throws; `code` is stable, the message is for people. */
export abstract class MetricsError extends Error {
  abstract readonly code: MetricsErrorCode;
  constructor(
    message: string,
    readonly query?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The query matched no series: usually no traffic reached the workload, or a label is wrong. */
export class NoValuesFoundError extends MetricsError {
  override readonly name = 'NoValuesFoundError';
  readonly code = 'NO_VALUES';
  constructor(query: string) {
    super('no values found: the query returned no data (is traffic reaching the workload?)', query);
  }
}

/** The query returned NaN or an infinity, e.g. 0/0 when a rate had no requests. */
export class NotANumberError extends MetricsError {
  override readonly name = 'NotANumberError';
  readonly code = 'NAN';
  constructor(
    query: string,
    readonly raw: string,
  ) {
    super(`the query returned ${raw}, not a number (often 0/0: no requests in the interval)`, query);
  }
}

/** The query returned more than one series; Petrel never silently picks one. */
export class MultipleSeriesError extends MetricsError {
  override readonly name = 'MultipleSeriesError';
  readonly code = 'MULTIPLE_SERIES';
  /** The first few series' labels (at most 10). */
  readonly series: Array<Record<string, string>>;
  constructor(query: string, series: Array<Record<string, string>>) {
    const shown = series
      .slice(0, 3)
      .map(
        (labels) =>
          `{${Object.entries(labels)
            .map(([k, v]) => `${k}="${v}"`)
            .join(', ')}}`,
      )
      .join(', ');
    super(
      `the query returned ${series.length} series (${shown}${series.length > 3 ? ', ...' : ''}); ` +
        'aggregate it (e.g. sum(...)) so it yields exactly one',
      query,
    );
    this.series = series.slice(0, 10);
    this.count = series.length;
  }
  readonly count: number;
}

export class QueryTimeoutError extends MetricsError {
  override readonly name = 'QueryTimeoutError';
  readonly code = 'QUERY_TIMEOUT';
  constructor(
    query: string,
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super(`the query did not answer within ${timeoutMs} ms`, query, options);
  }
}

/** Anything else: connection refused, HTTP errors, a bad query, an unexpected response. */
export class MetricsProviderError extends MetricsError {
  override readonly name = 'MetricsProviderError';
  readonly code = 'PROVIDER_ERROR';
  readonly status: number | undefined;
  readonly reason: ProviderFailureReason | undefined;
  constructor(
    message: string,
    query?: string,
    options?: { cause?: unknown; status?: number; reason?: ProviderFailureReason },
  ) {
    super(message, query, options);
    this.status = options?.status;
    this.reason = options?.reason;
  }
}

/** The most telling stable code of a failed query: a provider error's reason, else the error's code. */
export function failureCode(error: MetricsError): MetricsErrorCode | ProviderFailureReason {
  return error instanceof MetricsProviderError ? (error.reason ?? error.code) : error.code;
}
