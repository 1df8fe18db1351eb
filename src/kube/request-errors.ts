import http from 'node:http';
import { KubeApiError, type KubeApiErrorCode } from './errors.ts';
import type { ResourceKind } from './resources.ts';
import type { CallOptions, KubeVerb } from './types.ts';

/** One API request as the client builds it; also what error messages describe. */
export interface RequestSpec {
  verb: KubeVerb;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  resource: ResourceKind;
  namespace?: string;
  name?: string;
  subresource?: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  call?: CallOptions;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
  constructor(
    readonly timeoutMs: number,
    why = `no response within ${timeoutMs}ms`,
  ) {
    super(why);
  }
}

export class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
  constructor(limit: number) {
    super(`response larger than ${limit} bytes`);
  }
}

function describe(spec: RequestSpec): string {
  const where = spec.namespace ? `${spec.namespace}/` : '';
  const what = spec.name ? ` ${where}${spec.name}` : spec.namespace ? ` in ${spec.namespace}` : '';
  const sub = spec.subresource ? `/${spec.subresource}` : '';
  return `${spec.verb} ${spec.resource.plural}${sub}${what}`;
}

interface StatusBody {
  kind?: string;
  message?: string;
  reason?: string;
  details?: { retryAfterSeconds?: number; causes?: { field?: string; reason?: string }[] };
}

function codeForStatus(status: number, reason: string | undefined): KubeApiErrorCode {
  switch (status) {
    case 400:
    case 422:
      return 'INVALID';
    case 401:
      return 'UNAUTHORIZED';
    case 403:
      return 'FORBIDDEN';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return reason === 'AlreadyExists' ? 'ALREADY_EXISTS' : 'CONFLICT';
    case 410:
      return 'CONFLICT'; // Gone: the resourceVersion expired; re-read and try again
    case 429:
      return 'TOO_MANY_REQUESTS';
    case 504:
      return 'TIMEOUT';
    default:
      return 'SERVER_ERROR';
  }
}

/** The KubeApiError for a response outside 2xx, from its status, `Status` body and Retry-After. */
export function errorFromResponse(spec: RequestSpec, res: RawResponse): KubeApiError {
  let statusBody: StatusBody | undefined;
  try {
    const parsed = JSON.parse(res.body) as unknown;
    if (parsed && typeof parsed === 'object') statusBody = parsed as StatusBody;
  } catch {
    statusBody = undefined;
  }
  const reason = typeof statusBody?.reason === 'string' ? statusBody.reason : undefined;
  const code = codeForStatus(res.status, reason);
  const retryAfterMs = retryAfter(res.headers['retry-after'], statusBody?.details?.retryAfterSeconds);
  const detail = safeMessage(spec, statusBody, res.status);
  return new KubeApiError(`${describe(spec)}: ${res.status} ${detail}`, {
    code,
    status: res.status,
    retryAfterMs,
    reason,
  });
}

/**
 * The API server's message, except for Secrets, whose validation messages can echo values: there only
 * the reason and the offending field names are kept.
 */
function safeMessage(spec: RequestSpec, body: StatusBody | undefined, status: number): string {
  if (spec.resource.kind === 'Secret') {
    const fields = (body?.details?.causes ?? []).map((c) => c.field).filter((f): f is string => !!f);
    return `${body?.reason ?? http.STATUS_CODES[status] ?? 'error'}${fields.length ? ` (fields: ${fields.join(', ')})` : ''}`;
  }
  if (body && typeof body.message === 'string' && body.message) return body.message.slice(0, 2000);
  return http.STATUS_CODES[status] ?? 'error';
}

function retryAfter(header: string | string[] | undefined, seconds: number | undefined): number | undefined {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw !== undefined) {
    const n = Number(raw);
    if (Number.isFinite(n) && n >= 0) return n * 1000;
    const date = Date.parse(raw);
    if (!Number.isNaN(date)) return Math.max(0, date - Date.now());
  }
  if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  return undefined;
}

/** The KubeApiError for a request that got no usable response (timeout, bad body, network). */
export function errorFromFailure(spec: RequestSpec, err: unknown): KubeApiError {
  if (err instanceof RequestTimeoutError) {
    return new KubeApiError(`${describe(spec)}: ${err.message}`, { code: 'TIMEOUT', cause: err });
  }
  if (err instanceof SyntaxError) {
    return new KubeApiError(`${describe(spec)}: the API server sent a body that is not JSON`, {
      code: 'SERVER_ERROR',
      cause: err,
    });
  }
  if (err instanceof ResponseTooLargeError) {
    return new KubeApiError(`${describe(spec)}: ${err.message}`, { code: 'SERVER_ERROR', cause: err });
  }
  const sysCode = (err as NodeJS.ErrnoException | undefined)?.code;
  const text = err instanceof Error ? err.message : String(err);
  return new KubeApiError(`${describe(spec)}: ${sysCode ?? 'network error'}: ${text}`, {
    code: 'NETWORK',
    cause: err,
  });
}
