import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * Why an instant query got no result: the server could not be reached, did not answer in time,
 * answered an HTTP error, answered something that is not Prometheus's JSON, or refused the query.
 */
export type PrometheusHttpErrorCode =
  | 'UNREACHABLE'
  | 'TIMEOUT'
  | 'HTTP_STATUS'
  | 'BAD_RESPONSE'
  | 'QUERY_ERROR';

/** A failed instant query. Never carries the request, so credentials cannot leak through it. */
export class PrometheusHttpError extends Error {
  override readonly name = 'PrometheusHttpError';
  /** HTTP status of the answer, when there was one. */
  readonly status: number | undefined;
  /** Prometheus's own `errorType` (bad_data, execution, timeout, ...), when it sent one. */
  readonly errorType: string | undefined;
  constructor(
    readonly code: PrometheusHttpErrorCode,
    message: string,
    options: { status?: number; errorType?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status;
    this.errorType = options.errorType;
  }
}

export interface PrometheusHttpOptions {
  /** Base URL, e.g. http://prometheus:9090 or https://thanos/prometheus (a path prefix is kept). */
  address: string;
  /** Sent with every query, e.g. a tenant header; `bearerToken` and `basicAuth` set Authorization. */
  headers?: Readonly<Record<string, string>>;
  bearerToken?: string;
  basicAuth?: { username: string; password: string };
  insecureSkipVerify?: boolean;
  /** Answers larger than this are refused. Default 8 MiB. */
  maxResponseBytes?: number;
}

/** A sample as Prometheus wrote it: the value is kept as text ("NaN", "+Inf", "12.5"). */
export interface PrometheusSample {
  labels: Record<string, string>;
  value: string;
}

/** A range of samples of one series, oldest first: `[seconds since the epoch, "value"]`. */
export interface PrometheusSeries {
  labels: Record<string, string>;
  points: Array<[number, string]>;
}

export type InstantQueryResult =
  | { resultType: 'vector'; samples: PrometheusSample[] }
  | { resultType: 'scalar'; value: string }
  | { resultType: 'matrix'; series: PrometheusSeries[] }
  | { resultType: 'string'; value: string };

export interface InstantQueryOptions {
  /** Evaluation time, in milliseconds since the epoch. */
  timeMs: number;
  /** Enforced here and sent to Prometheus as `timeout` (rounded up to whole seconds). */
  timeoutMs: number;
  /** The caller's own cancellation: its reason is thrown as it is. */
  signal?: AbortSignal;
}

const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
const MAX_MESSAGE = 300;

/**
 * Connections kept per client. Queries beyond this wait for a free connection (still within their
 * timeout) instead of opening ever more sockets to one Prometheus.
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

/**
 * Prometheus's instant-query API (`GET /api/v1/query`) over node:http(s), one keep-alive agent per
 * client. Not fetch: Node 20's fetch can neither skip TLS verification for one server
 * (MetricTemplate insecureSkipVerify) nor bound the sockets to one server without the undici package.
 * Every answer is hostile until its shape is checked.
 */
export class PrometheusHttpClient {
  readonly address: string;
  private readonly base: URL;
  private readonly headers: Record<string, string>;
  private readonly agent: HttpAgent;
  private readonly maxResponseBytes: number;

  constructor(options: PrometheusHttpOptions) {
    this.address = options.address.replace(/\/+$/, '');
    this.base = new URL(`${this.address}/`);
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.headers = {
      ...options.headers,
      Accept: 'application/json',
      // Answers are small JSON documents: compressing them costs both sides more than it saves.
      'Accept-Encoding': 'identity',
      ...authorization(options),
    };
    this.agent =
      this.base.protocol === 'https:'
        ? new HttpsAgent({
            ...AGENT_OPTIONS,
            ...(options.insecureSkipVerify === true ? { rejectUnauthorized: false } : {}),
          })
        : new HttpAgent(AGENT_OPTIONS);
  }

  async instantQuery(query: string, options: InstantQueryOptions): Promise<InstantQueryResult> {
    const url = new URL('api/v1/query', this.base);
    url.searchParams.set('query', query);
    url.searchParams.set('time', String(options.timeMs / 1000));
    url.searchParams.set('timeout', `${Math.max(1, Math.ceil(options.timeoutMs / 1000))}s`);
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let answer: { status: number; body: string };
    try {
      answer = await this.get(url, signal);
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (timeout.aborted)
        throw new PrometheusHttpError('TIMEOUT', `no answer within ${options.timeoutMs} ms`, { cause: err });
      if (err instanceof PrometheusHttpError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new PrometheusHttpError(
        'UNREACHABLE',
        `could not be queried: ${(err as Error).message}${code && !(err as Error).message.includes(code) ? ` (${code})` : ''}`,
        { cause: err },
      );
    }
    return readAnswer(answer.status, answer.body);
  }

  /** One GET, its body read in full up to the size limit. */
  private get(url: URL, signal: AbortSignal): Promise<{ status: number; body: string }> {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const request = send(
        url,
        { method: 'GET', headers: this.headers, agent: this.agent, signal },
        (res) => {
          readBody(res, this.maxResponseBytes).then(
            (body) => resolve({ status: res.statusCode ?? 0, body }),
            (err: unknown) => {
              reject(err);
              request.destroy();
            },
          );
        },
      );
      request.on('error', reject);
      request.end();
    });
  }
}

function authorization(options: PrometheusHttpOptions): Record<string, string> {
  if (options.bearerToken !== undefined) return { Authorization: `Bearer ${options.bearerToken}` };
  if (options.basicAuth) {
    const { username, password } = options.basicAuth;
    return { Authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
  }
  return {};
}

function readBody(res: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const encoding = res.headers['content-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      res.resume();
      reject(
        new PrometheusHttpError(
          'BAD_RESPONSE',
          `answered with content-encoding ${encoding} though asked for none`,
          {
            status: res.statusCode,
          },
        ),
      );
      return;
    }
    const tooLarge = () =>
      new PrometheusHttpError('BAD_RESPONSE', `answered more than ${limit} bytes`, {
        status: res.statusCode,
      });
    if (Number(res.headers['content-length']) > limit) {
      res.resume();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // The caller destroys the request after this rejection, so this error is the one reported.
        res.removeAllListeners('data');
        res.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('the answer was cut off')));
  });
}

/** Checks an answer's status and shape; anything unexpected is BAD_RESPONSE, never a thrown TypeError. */
export function readAnswer(status: number, text: string): InstantQueryResult {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const envelope = isObject(body) ? body : undefined;
  if (envelope?.status === 'error') {
    const errorType = typeof envelope.errorType === 'string' ? clip(envelope.errorType) : undefined;
    const error = typeof envelope.error === 'string' ? clip(envelope.error) : 'no error message';
    throw new PrometheusHttpError(
      'QUERY_ERROR',
      `answered ${status}${errorType ? ` (${errorType})` : ''}: ${error}`,
      { status, ...(errorType ? { errorType } : {}) },
    );
  }
  if (status < 200 || status > 299)
    throw new PrometheusHttpError(
      'HTTP_STATUS',
      `answered ${status}: ${clip(firstLine(text)) || 'no body'}`,
      {
        status,
      },
    );
  if (envelope === undefined)
    throw new PrometheusHttpError('BAD_RESPONSE', 'answered something that is not JSON', { status });
  if (envelope.status !== 'success' || !isObject(envelope.data))
    throw new PrometheusHttpError('BAD_RESPONSE', 'answered JSON without status "success" and data', {
      status,
    });
  const result = readResult(envelope.data);
  if (!result)
    throw new PrometheusHttpError('BAD_RESPONSE', 'answered a result that is not an instant-query result', {
      status,
    });
  return result;
}

function readResult(data: Record<string, unknown>): InstantQueryResult | undefined {
  switch (data.resultType) {
    case 'vector': {
      if (!Array.isArray(data.result)) return undefined;
      const samples: PrometheusSample[] = [];
      for (const entry of data.result) {
        if (!isObject(entry)) return undefined;
        const labels = readLabels(entry.metric);
        const value = sampleValue(entry.value);
        if (!labels || value === undefined) return undefined;
        samples.push({ labels, value });
      }
      return { resultType: 'vector', samples };
    }
    case 'scalar':
    case 'string': {
      const value = sampleValue(data.result);
      return value === undefined ? undefined : { resultType: data.resultType, value };
    }
    case 'matrix': {
      if (!Array.isArray(data.result)) return undefined;
      const series: PrometheusSeries[] = [];
      for (const entry of data.result) {
        if (!isObject(entry) || !Array.isArray(entry.values)) return undefined;
        const labels = readLabels(entry.metric);
        if (!labels) return undefined;
        const points: Array<[number, string]> = [];
        for (const pair of entry.values) {
          const value = sampleValue(pair);
          if (value === undefined) return undefined;
          points.push([(pair as [number, string])[0], value]);
        }
        series.push({ labels, points });
      }
      return { resultType: 'matrix', series };
    }
    default:
      return undefined;
  }
}

/** A `[time, "value"]` pair: the value as Prometheus wrote it. */
function sampleValue(pair: unknown): string | undefined {
  if (!Array.isArray(pair) || pair.length !== 2) return undefined;
  const [time, value] = pair as unknown[];
  return typeof time === 'number' && typeof value === 'string' ? value : undefined;
}

function readLabels(metric: unknown): Record<string, string> | undefined {
  if (metric === undefined || metric === null) return {};
  if (!isObject(metric)) return undefined;
  const entries = Object.entries(metric);
  // fromEntries defines own properties: a label named __proto__ stays a label.
  return entries.every(([, value]) => typeof value === 'string')
    ? (Object.fromEntries(entries) as Record<string, string>)
    : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}...` : text;
}
