import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { apiVersionOf, type ResourceKind, resourcePath } from './resources.ts';

/** The metadata fields Petrel reads; the rest of an object passes through untouched. */
export interface KubeObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  deletionTimestamp?: string;
  finalizers?: string[];
  creationTimestamp?: string;
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Any Kubernetes object as plain JSON (what the API server sends; timestamps stay strings). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: KubeObjectMeta;
}

export interface KubeList<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** Points at one object: which kind, where, and its name. */
export interface ObjectRef {
  resource: ResourceKind;
  namespace?: string;
  name: string;
}

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'test' | 'move' | 'copy';
  path: string;
  value?: unknown;
  from?: string;
}

export interface CallOptions {
  /** Overrides the client's default timeout for this call. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ListOptions extends CallOptions {
  /** Omit for all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface DeleteOptions extends CallOptions {
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
}

export type KubeVerb = 'get' | 'list' | 'watch' | 'create' | 'patch' | 'delete';

/** One API request, reported after it ends (successfully or not) to the `onRequest` hook. */
export interface KubeRequestInfo {
  verb: KubeVerb;
  /** Plural resource name, e.g. `deployments`; `deployments/status` for a subresource. */
  resource: string;
  namespace?: string;
  name?: string;
  /** HTTP status when a response arrived. */
  status?: number;
  durationMs: number;
  errorCode?: KubeApiErrorCode;
}

export type KubeRequestHook = (info: KubeRequestInfo) => void;

export interface KubeApi {
  get<T extends KubeObject>(ref: ObjectRef, opts?: CallOptions): Promise<T>;
  list<T extends KubeObject>(resource: ResourceKind, opts?: ListOptions): Promise<KubeList<T>>;
  /** `obj.metadata.namespace` decides the namespace for namespaced kinds. */
  create<T extends KubeObject>(resource: ResourceKind, obj: T, opts?: CallOptions): Promise<T>;
  /** RFC 7386 merge patch (`application/merge-patch+json`): `null` deletes a key, arrays are replaced. */
  mergePatch<T extends KubeObject>(ref: ObjectRef, patch: unknown, opts?: CallOptions): Promise<T>;
  /** RFC 6902 JSON patch (`application/json-patch+json`), e.g. with a `test` op on resourceVersion. */
  jsonPatch<T extends KubeObject>(ref: ObjectRef, ops: JsonPatchOp[], opts?: CallOptions): Promise<T>;
  /** Merge patch through the `/status` subresource. */
  patchStatus<T extends KubeObject>(ref: ObjectRef, patch: unknown, opts?: CallOptions): Promise<T>;
  delete(ref: ObjectRef, opts?: DeleteOptions): Promise<void>;
}

export type KubeApiErrorCode =
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'ALREADY_EXISTS'
  | 'INVALID'
  | 'FORBIDDEN'
  | 'UNAUTHORIZED'
  | 'TOO_MANY_REQUESTS'
  | 'SERVER_ERROR'
  | 'TIMEOUT'
  | 'NETWORK';

const TRANSIENT_CODES: ReadonlySet<KubeApiErrorCode> = new Set([
  'CONFLICT', // optimistic concurrency: re-read and try again
  'TOO_MANY_REQUESTS',
  'SERVER_ERROR',
  'TIMEOUT',
  'NETWORK',
]);

/** A failed Kubernetes API call. Decide on `code` / `isTransient`, never on the message. */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  readonly code: KubeApiErrorCode;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly isTransient: boolean;
  /** The API server's `Status.reason` (e.g. `AlreadyExists`, `Invalid`) when it sent one. */
  readonly reason?: string;

  constructor(
    message: string,
    opts: {
      code: KubeApiErrorCode;
      status?: number;
      retryAfterMs?: number;
      reason?: string;
      cause?: unknown;
    },
  ) {
    super(message, { cause: opts.cause });
    this.code = opts.code;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
    this.reason = opts.reason;
    this.isTransient = TRANSIENT_CODES.has(opts.code);
  }
}

export function isKubeApiError(err: unknown, code?: KubeApiErrorCode): err is KubeApiError {
  return err instanceof KubeApiError && (code === undefined || err.code === code);
}

export interface KubeClientOptions {
  kubeConfig: KubeConfig;
  /** Default per-call timeout (ms). */
  timeoutMs?: number;
  /** Called once per request; lets metrics and benchmarks count API calls. Must not throw. */
  onRequest?: KubeRequestHook;
  userAgent?: string;
  /** Sent as `fieldManager` on create and patch, so managed fields name Petrel. */
  fieldManager?: string;
  /** Largest response body accepted (bytes). */
  maxResponseBytes?: number;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export function createKubeApi(opts: KubeClientOptions): HttpKubeApi {
  return new HttpKubeApi(opts);
}

interface RequestSpec {
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

/**
 * The Kubernetes REST API over node:http(s), authenticated by client-node's KubeConfig (tokens, exec
 * plugins, client certificates, CA, proxies). Requests are built from the resource table, so no
 * discovery round trips are needed, bodies stay plain JSON, and every call can be aborted on timeout.
 */
export class HttpKubeApi implements KubeApi {
  private readonly kc: KubeConfig;
  private readonly server: URL;
  private readonly timeoutMs: number;
  private readonly onRequest?: KubeRequestHook;
  private readonly userAgent: string;
  private readonly fieldManager: string;
  private readonly maxResponseBytes: number;
  private pooled?: { fingerprint: string; agent: http.Agent };

  constructor(opts: KubeClientOptions) {
    const cluster = opts.kubeConfig.getCurrentCluster();
    if (!cluster?.server) {
      throw new TypeError('kubeconfig has no current cluster with a server URL: set current-context');
    }
    this.kc = opts.kubeConfig;
    this.server = new URL(cluster.server);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.onRequest = opts.onRequest;
    this.userAgent = opts.userAgent ?? 'petrel';
    this.fieldManager = opts.fieldManager ?? 'petrel';
    this.maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }

  /** Closes the pooled keep-alive connections (idle ones never keep the process alive). */
  close(): void {
    this.pooled?.agent.destroy();
    this.pooled = undefined;
  }

  async get<T extends KubeObject>(ref: ObjectRef, call?: CallOptions): Promise<T> {
    return this.request<T>({ verb: 'get', method: 'GET', ...refParts(ref), call });
  }

  async list<T extends KubeObject>(resource: ResourceKind, opts: ListOptions = {}): Promise<KubeList<T>> {
    return this.request<KubeList<T>>({
      verb: 'list',
      method: 'GET',
      resource,
      namespace: opts.namespace,
      query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector },
      call: opts,
    });
  }

  async create<T extends KubeObject>(resource: ResourceKind, obj: T, call?: CallOptions): Promise<T> {
    if (resource.namespaced && !obj.metadata?.namespace) {
      throw new TypeError(`${resource.kind} ${obj.metadata?.name ?? ''}: metadata.namespace is required`);
    }
    return this.request<T>({
      verb: 'create',
      method: 'POST',
      resource,
      namespace: obj.metadata?.namespace,
      query: { fieldManager: this.fieldManager },
      body: { apiVersion: apiVersionOf(resource), kind: resource.kind, ...obj },
      contentType: 'application/json',
      call,
    });
  }

  async mergePatch<T extends KubeObject>(ref: ObjectRef, patch: unknown, call?: CallOptions): Promise<T> {
    return this.patch<T>(ref, patch, 'application/merge-patch+json', undefined, call);
  }

  async jsonPatch<T extends KubeObject>(ref: ObjectRef, ops: JsonPatchOp[], call?: CallOptions): Promise<T> {
    return this.patch<T>(ref, ops, 'application/json-patch+json', undefined, call);
  }

  async patchStatus<T extends KubeObject>(ref: ObjectRef, patch: unknown, call?: CallOptions): Promise<T> {
    return this.patch<T>(ref, patch, 'application/merge-patch+json', 'status', call);
  }

  async delete(ref: ObjectRef, opts: DeleteOptions = {}): Promise<void> {
    await this.request<unknown>({
      verb: 'delete',
      method: 'DELETE',
      ...refParts(ref),
      body: opts.propagationPolicy
        ? { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: opts.propagationPolicy }
        : undefined,
      contentType: opts.propagationPolicy ? 'application/json' : undefined,
      call: opts,
    });
  }

  private async patch<T>(
    ref: ObjectRef,
    body: unknown,
    contentType: string,
    subresource: string | undefined,
    call: CallOptions | undefined,
  ): Promise<T> {
    return this.request<T>({
      verb: 'patch',
      method: 'PATCH',
      ...refParts(ref),
      subresource,
      query: { fieldManager: this.fieldManager },
      body,
      contentType,
      call,
    });
  }

  private async request<T>(spec: RequestSpec): Promise<T> {
    const started = performance.now();
    const resourceLabel = spec.subresource
      ? `${spec.resource.plural}/${spec.subresource}`
      : spec.resource.plural;
    let status: number | undefined;
    let errorCode: KubeApiErrorCode | undefined;
    try {
      const res = await this.send(spec);
      status = res.status;
      if (res.status >= 200 && res.status < 300) return parseJson(res.body) as T;
      throw errorFromResponse(spec, res);
    } catch (err) {
      const mapped = err instanceof KubeApiError ? err : errorFromFailure(spec, err);
      errorCode = mapped.code;
      throw mapped;
    } finally {
      this.report(spec, resourceLabel, started, status, errorCode);
    }
  }

  private report(
    spec: RequestSpec,
    resource: string,
    started: number,
    status: number | undefined,
    errorCode: KubeApiErrorCode | undefined,
  ): void {
    if (!this.onRequest) return;
    try {
      this.onRequest({
        verb: spec.verb,
        resource,
        namespace: spec.namespace,
        name: spec.name,
        status,
        durationMs: performance.now() - started,
        errorCode,
      });
    } catch {
      // A counting hook must never break an API call.
    }
  }

  /**
   * One keep-alive agent per client, so requests reuse connections (and TLS sessions) instead of opening
   * one each; rebuilt when the credentials it was made with change (rotated client certificates).
   * Behind a proxy, client-node's own per-request agent is used.
   */
  private agentFor(url: URL, opts: TlsOptions): http.Agent | undefined {
    if (this.kc.getCurrentCluster()?.proxyUrl)
      return opts.agent instanceof http.Agent ? opts.agent : undefined;
    const tls = {
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      pfx: opts.pfx,
      passphrase: opts.passphrase,
      rejectUnauthorized: opts.rejectUnauthorized,
      servername: this.kc.getCurrentCluster()?.tlsServerName ?? opts.servername,
    };
    const fingerprint = createHash('sha256')
      .update(url.protocol)
      .update(JSON.stringify(tls, (_k, v) => (Buffer.isBuffer(v) ? v.toString('base64') : v)))
      .digest('hex');
    if (this.pooled?.fingerprint !== fingerprint) {
      this.pooled?.agent.destroy();
      const common = { keepAlive: true, maxSockets: 32, timeout: 60_000 };
      const agent =
        url.protocol === 'http:'
          ? new http.Agent(common)
          : new https.Agent({ ...common, ...(tls as https.AgentOptions) });
      this.pooled = { fingerprint, agent };
    }
    return this.pooled.agent;
  }

  private async send(
    spec: RequestSpec,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    const url = new URL(
      this.server.pathname.replace(/\/$/, '') +
        resourcePath(spec.resource, spec.namespace, spec.name, spec.subresource),
      this.server,
    );
    for (const [key, value] of Object.entries(spec.query ?? {})) {
      if (value !== undefined && value !== '') url.searchParams.set(key, value);
    }
    const opts: TlsOptions = { headers: {} };
    await this.kc.applyToHTTPSOptions(opts);
    const authHeaders = (opts.headers ?? {}) as Record<string, string | string[] | number>;
    const payload = spec.body === undefined ? undefined : Buffer.from(JSON.stringify(spec.body));
    const headers: Record<string, string | string[] | number> = {
      ...authHeaders,
      Accept: 'application/json',
      'User-Agent': this.userAgent,
    };
    if (payload) {
      headers['Content-Type'] = spec.contentType ?? 'application/json';
      headers['Content-Length'] = payload.length;
    }
    const timeoutMs = spec.call?.timeoutMs ?? this.timeoutMs;
    const transport = url.protocol === 'http:' ? http : https;
    const externalSignal = spec.call?.signal;
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        externalSignal?.removeEventListener('abort', onAbort);
        fn();
      };
      const req = transport.request(
        url,
        { method: spec.method, headers, agent: this.agentFor(url, opts), auth: opts.auth },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > this.maxResponseBytes) {
              req.destroy(new ResponseTooLargeError(this.maxResponseBytes));
              return;
            }
            chunks.push(chunk);
          });
          res.on('error', (err) => finish(() => reject(err)));
          res.on('end', () =>
            finish(() =>
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                body: Buffer.concat(chunks).toString('utf8'),
              }),
            ),
          );
        },
      );
      const timer = setTimeout(() => {
        const err = new RequestTimeoutError(timeoutMs);
        finish(() => reject(err));
        req.destroy(err);
      }, timeoutMs);
      const onAbort = () => {
        const err = new RequestTimeoutError(timeoutMs, 'aborted by caller');
        finish(() => reject(err));
        req.destroy(err);
      };
      if (externalSignal?.aborted) onAbort();
      externalSignal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => finish(() => reject(err)));
      if (payload) req.write(payload);
      req.end();
    });
  }
}

type TlsOptions = https.RequestOptions & { pfx?: unknown; passphrase?: string };

class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
  constructor(
    readonly timeoutMs: number,
    why = `no response within ${timeoutMs}ms`,
  ) {
    super(why);
  }
}

class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
  constructor(limit: number) {
    super(`response larger than ${limit} bytes`);
  }
}

function refParts(ref: ObjectRef): Pick<RequestSpec, 'resource' | 'namespace' | 'name'> {
  if (ref.resource.namespaced && !ref.namespace) {
    throw new TypeError(`${ref.resource.kind} ${ref.name}: a namespace is required`);
  }
  return { resource: ref.resource, namespace: ref.namespace, name: ref.name };
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  return JSON.parse(text);
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

function errorFromResponse(
  spec: RequestSpec,
  res: { status: number; headers: http.IncomingHttpHeaders; body: string },
): KubeApiError {
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

function errorFromFailure(spec: RequestSpec, err: unknown): KubeApiError {
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
