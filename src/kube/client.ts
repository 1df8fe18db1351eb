import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { AgentPool, type TlsOptions } from './agent-pool.ts';
import { KubeApiError, type KubeApiErrorCode } from './errors.ts';
import {
  errorFromFailure,
  errorFromResponse,
  type RawResponse,
  type RequestSpec,
  RequestTimeoutError,
  ResponseTooLargeError,
} from './request-errors.ts';
import { apiVersionOf, type ResourceKind, resourcePath } from './resources.ts';
import type {
  CallOptions,
  DeleteOptions,
  JsonPatchOp,
  KubeApi,
  KubeList,
  KubeObject,
  KubeRequestHook,
  ListOptions,
  ObjectRef,
} from './types.ts';
import { userAgent } from './user-agent.ts';

export interface KubeClientOptions {
  kubeConfig: KubeConfig;
  /** Default per-call timeout (ms). */
  timeoutMs?: number;
  /** Called once per request; lets metrics and benchmarks count API calls. Must not throw. */
  onRequest?: KubeRequestHook;
  /**
   * Names the component in the User-Agent after `petrel/<version>`: `petrel-controller` sends
   * `petrel/0.1.0 (petrel-controller)`. Every request carries Petrel's name and version.
   */
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
  private readonly agents: AgentPool;

  constructor(opts: KubeClientOptions) {
    const cluster = opts.kubeConfig.getCurrentCluster();
    if (!cluster?.server) {
      throw new TypeError('kubeconfig has no current cluster with a server URL: set current-context');
    }
    this.kc = opts.kubeConfig;
    this.server = new URL(cluster.server);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.onRequest = opts.onRequest;
    this.userAgent = userAgent(opts.userAgent);
    this.agents = new AgentPool(opts.kubeConfig);
    this.fieldManager = opts.fieldManager ?? 'petrel';
    this.maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }

  /** Closes the pooled keep-alive connections (idle ones never keep the process alive). */
  close(): void {
    this.agents.close();
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

  private async send(spec: RequestSpec): Promise<RawResponse> {
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
        { method: spec.method, headers, agent: this.agents.agentFor(url, opts), auth: opts.auth },
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
