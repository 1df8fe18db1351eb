import { randomUUID } from 'node:crypto';
import { ApiError } from '../../dev/sandbox/apiserver/errors.ts';
import { applyJsonPatch as applyJsonPatchDoc, applyMergePatch } from '../../dev/sandbox/apiserver/patch.ts';
import { canonicalJson } from '../../src/kube/canonical.ts';
import { KubeApiError } from '../../src/kube/errors.ts';
import type { CacheReader } from '../../src/kube/informer.ts';
import { apiVersionOf, type ResourceKind } from '../../src/kube/resources.ts';
import type {
  CallOptions,
  DeleteOptions,
  JsonPatchOp,
  KubeApi,
  KubeList,
  KubeObject,
  KubeRequestInfo,
  ListOptions,
  ObjectRef,
} from '../../src/kube/types.ts';

/** The sandbox API server's RFC 6902 implementation, failing with the client's error (INVALID, 422). */
function applyJsonPatch(doc: unknown, ops: JsonPatchOp[]): unknown {
  try {
    return applyJsonPatchDoc(doc, ops);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    throw new KubeApiError(err.message, { code: 'INVALID', status: err.code, reason: err.reason });
  }
}

type InformerEvent = 'add' | 'update' | 'delete';

/** An informer of one kind over the fake API; `put` and `remove` change the store as a watch would. */
export interface FakeInformer<T> extends CacheReader<T> {
  on(event: InformerEvent, fn: (obj: T) => void): void;
  put(obj: T): void;
  remove(obj: T): void;
}

function key(resource: ResourceKind, namespace: string | undefined, name: string): string {
  return `${resource.plural}.${resource.group}/${namespace ?? ''}/${name}`;
}

export type MemoryListener = (
  type: 'ADDED' | 'MODIFIED' | 'DELETED',
  obj: KubeObject,
  resource: ResourceKind,
) => void;

/**
 * The fake Kubernetes API of the unit tests: a KubeApi over an in-memory store, with resourceVersions,
 * generations on spec changes, status subresources, uids and optimistic concurrency. `cache(resource)`
 * is a CacheReader that always reflects the store (a synced informer with no lag). Patches are applied
 * by the sandbox API server's RFC 7386 / RFC 6902 code, so both fakes agree on what a patch does.
 */
export class InMemoryKubeApi implements KubeApi {
  private readonly objects = new Map<string, KubeObject>();
  private revision = 0;
  /** Every request, in order (what a test counts). */
  readonly requests: KubeRequestInfo[] = [];
  private readonly listeners: MemoryListener[] = [];
  /** Set to make the next matching calls fail. */
  failNext?: (info: KubeRequestInfo) => KubeApiError | undefined;

  onChange(fn: MemoryListener): void {
    this.listeners.push(fn);
  }

  writes(): KubeRequestInfo[] {
    return this.requests.filter((r) => r.verb === 'create' || r.verb === 'patch' || r.verb === 'delete');
  }

  cache<T extends KubeObject>(resource: ResourceKind): CacheReader<T> {
    return {
      get: (namespace, name) => {
        const obj = this.objects.get(key(resource, namespace, name));
        return obj ? (structuredClone(obj) as T) : undefined;
      },
      list: (namespace) => this.listSync<T>(resource, namespace),
    };
  }

  /** Puts an object in the store without counting a request (test setup); listeners see ADDED or MODIFIED. */
  seed<T extends KubeObject>(resource: ResourceKind, obj: T): T {
    const exists = this.objects.has(key(resource, obj.metadata?.namespace, obj.metadata?.name ?? ''));
    return this.store(resource, structuredClone(obj), undefined, exists ? 'MODIFIED' : 'ADDED') as T;
  }

  /** Takes an object out of the store without counting a request (test setup); listeners see DELETED. */
  unseed(resource: ResourceKind, obj: KubeObject): void {
    const k = key(resource, obj.metadata?.namespace, obj.metadata?.name ?? '');
    const current = this.objects.get(k);
    if (!current) return;
    this.objects.delete(k);
    for (const l of this.listeners) l('DELETED', structuredClone(current), resource);
  }

  /**
   * One kind as an informer shows it: the cache, and add/update/delete handlers called after the store
   * has changed (as client-node's informers do).
   */
  informer<T extends KubeObject>(resource: ResourceKind): FakeInformer<T> {
    const handlers: Record<InformerEvent, ((obj: T) => void)[]> = { add: [], update: [], delete: [] };
    const events = { ADDED: 'add', MODIFIED: 'update', DELETED: 'delete' } as const;
    this.onChange((type, obj, changed) => {
      if (changed !== resource) return;
      for (const fn of handlers[events[type]]) fn(obj as T);
    });
    return {
      ...this.cache<T>(resource),
      on: (event, fn) => {
        handlers[event].push(fn);
      },
      put: (obj) => {
        this.seed(resource, obj);
      },
      remove: (obj) => this.unseed(resource, obj),
    };
  }

  async get<T extends KubeObject>(ref: ObjectRef, _opts?: CallOptions): Promise<T> {
    this.note('get', ref.resource, ref.namespace, ref.name);
    return structuredClone(this.must(ref)) as T;
  }

  async list<T extends KubeObject>(resource: ResourceKind, opts: ListOptions = {}): Promise<KubeList<T>> {
    this.note('list', resource, opts.namespace);
    let items = this.listSync<T>(resource, opts.namespace);
    if (opts.labelSelector) {
      const wanted = opts.labelSelector.split(',').map((p) => p.split('='));
      items = items.filter((o) => wanted.every(([k, v]) => o.metadata?.labels?.[k ?? ''] === v));
    }
    return {
      apiVersion: apiVersionOf(resource),
      kind: `${resource.kind}List`,
      metadata: { resourceVersion: `${this.revision}` },
      items,
    };
  }

  async create<T extends KubeObject>(resource: ResourceKind, obj: T, _opts?: CallOptions): Promise<T> {
    const ns = obj.metadata?.namespace;
    const name = obj.metadata?.name ?? '';
    this.note('create', resource, ns, name);
    if (this.objects.has(key(resource, ns, name))) {
      throw new KubeApiError(`${resource.kind} ${name} already exists`, {
        code: 'ALREADY_EXISTS',
        status: 409,
        reason: 'AlreadyExists',
      });
    }
    const copy = structuredClone(obj) as KubeObject;
    copy.apiVersion = apiVersionOf(resource);
    copy.kind = resource.kind;
    copy.metadata = {
      ...copy.metadata,
      uid: randomUUID(),
      generation: 1,
      creationTimestamp: new Date().toISOString(),
    };
    return structuredClone(this.store(resource, copy, undefined, 'ADDED')) as T;
  }

  async mergePatch<T extends KubeObject>(ref: ObjectRef, patch: unknown, _opts?: CallOptions): Promise<T> {
    this.note('patch', ref.resource, ref.namespace, ref.name);
    const current = this.must(ref);
    const next = applyMergePatch(current, patch) as KubeObject;
    // The main resource ignores status changes, as with a status subresource.
    (next as Record<string, unknown>).status = (current as Record<string, unknown>).status;
    return structuredClone(this.update(ref.resource, current, next)) as T;
  }

  async jsonPatch<T extends KubeObject>(ref: ObjectRef, ops: JsonPatchOp[], _opts?: CallOptions): Promise<T> {
    this.note('patch', ref.resource, ref.namespace, ref.name);
    const current = this.must(ref);
    const next = applyJsonPatch(current, ops) as KubeObject;
    return structuredClone(this.update(ref.resource, current, next)) as T;
  }

  async patchStatus<T extends KubeObject>(ref: ObjectRef, patch: unknown, _opts?: CallOptions): Promise<T> {
    this.note('patch', ref.resource, ref.namespace, ref.name, 'status');
    const current = this.must(ref);
    const patched = applyMergePatch(current, patch) as Record<string, unknown>;
    const next = { ...structuredClone(current), status: patched.status } as KubeObject;
    // metadata.resourceVersion in the patch is a precondition (409 when stale), as on a real API server.
    const expected = (patch as { metadata?: { resourceVersion?: string } } | null)?.metadata?.resourceVersion;
    if (expected) next.metadata = { ...next.metadata, resourceVersion: expected };
    return structuredClone(this.update(ref.resource, current, next, true)) as T;
  }

  async delete(ref: ObjectRef, _opts?: DeleteOptions): Promise<void> {
    this.note('delete', ref.resource, ref.namespace, ref.name);
    const current = this.must(ref);
    this.objects.delete(key(ref.resource, ref.namespace, ref.name));
    for (const l of this.listeners) l('DELETED', structuredClone(current), ref.resource);
  }

  private listSync<T>(resource: ResourceKind, namespace?: string): T[] {
    const prefix = `${resource.plural}.${resource.group}/`;
    const out: T[] = [];
    for (const [k, v] of this.objects) {
      if (!k.startsWith(prefix)) continue;
      if (namespace && v.metadata?.namespace !== namespace) continue;
      out.push(structuredClone(v) as T);
    }
    return out;
  }

  private note(
    verb: KubeRequestInfo['verb'],
    resource: ResourceKind,
    namespace?: string,
    name?: string,
    sub?: string,
  ): void {
    const info: KubeRequestInfo = {
      verb,
      resource: sub ? `${resource.plural}/${sub}` : resource.plural,
      namespace,
      name,
      durationMs: 0,
    };
    this.requests.push(info);
    const err = this.failNext?.(info);
    if (err) throw err;
  }

  private must(ref: ObjectRef): KubeObject {
    const obj = this.objects.get(key(ref.resource, ref.namespace, ref.name));
    if (!obj) {
      throw new KubeApiError(`${ref.resource.kind} ${ref.namespace ?? ''}/${ref.name} not found`, {
        code: 'NOT_FOUND',
        status: 404,
        reason: 'NotFound',
      });
    }
    return obj;
  }

  private update(
    resource: ResourceKind,
    current: KubeObject,
    next: KubeObject,
    statusOnly = false,
  ): KubeObject {
    const expected = next.metadata?.resourceVersion;
    if (expected && expected !== current.metadata?.resourceVersion) {
      throw new KubeApiError(`${resource.kind} ${current.metadata?.name}: the object has been modified`, {
        code: 'CONFLICT',
        status: 409,
        reason: 'Conflict',
      });
    }
    const specChanged =
      !statusOnly &&
      canonicalJson((current as Record<string, unknown>).spec) !==
        canonicalJson((next as Record<string, unknown>).spec);
    next.metadata = {
      ...next.metadata,
      uid: current.metadata?.uid,
      generation: (current.metadata?.generation ?? 1) + (specChanged ? 1 : 0),
    };
    return this.store(resource, next, current, 'MODIFIED');
  }

  private store(
    resource: ResourceKind,
    obj: KubeObject,
    _previous: KubeObject | undefined,
    type: 'ADDED' | 'MODIFIED',
  ): KubeObject {
    this.revision++;
    obj.metadata = { ...obj.metadata, resourceVersion: `${this.revision}` };
    obj.apiVersion ??= apiVersionOf(resource);
    obj.kind ??= resource.kind;
    this.objects.set(key(resource, obj.metadata.namespace, obj.metadata.name ?? ''), obj);
    for (const l of this.listeners) l(type, structuredClone(obj), resource);
    return obj;
  }
}
