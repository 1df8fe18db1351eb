import type { ResourceKind } from './resources.ts';
import type { CallOptions, JsonPatchOp, KubeApi, KubeObject, ObjectRef } from './types.ts';

/**
 * The resourceVersion each object had right after this process last wrote it. Every write comes back
 * through the watch a moment later; that event shows the controller nothing it did not already decide,
 * so it need not wake anyone. A change made by anybody else carries another resourceVersion and still
 * does. An entry is dropped when its echo arrives or the object is deleted; a write that changed
 * nothing (same resourceVersion, so no echo) keeps its entry until the next write of that object, so
 * the map holds at most one entry per object the controller writes.
 */
export class OwnWrites {
  private readonly last = new Map<string, string>();
  private readonly watched: ReadonlySet<string>;

  /** Only writes to `watched` kinds are kept: an echo never comes for a kind nobody watches (Events). */
  constructor(watched: Iterable<ResourceKind>) {
    this.watched = new Set([...watched].map(kindKey));
  }

  record(resource: ResourceKind, obj: KubeObject | undefined): void {
    if (!this.watched.has(kindKey(resource))) return;
    const rv = obj?.metadata?.resourceVersion;
    const key = keyOf(resource, obj);
    if (rv && key) this.last.set(key, rv);
  }

  /** True when `obj` is exactly the object this process wrote last (and forgets it: an echo comes once). */
  isEcho(resource: ResourceKind, obj: KubeObject): boolean {
    const key = keyOf(resource, obj);
    const rv = obj.metadata?.resourceVersion;
    if (!key || !rv || this.last.get(key) !== rv) return false;
    this.last.delete(key);
    return true;
  }

  forget(resource: ResourceKind, obj: KubeObject): void {
    const key = keyOf(resource, obj);
    if (key) this.last.delete(key);
  }

  /** Writes whose echo has not arrived yet (for tests and diagnostics). */
  get pending(): number {
    return this.last.size;
  }
}

function kindKey(resource: ResourceKind): string {
  return `${resource.group}/${resource.plural}`;
}

function keyOf(resource: ResourceKind, obj: KubeObject | undefined): string | undefined {
  const name = obj?.metadata?.name;
  if (!name) return undefined;
  return `${kindKey(resource)}/${obj.metadata?.namespace ?? ''}/${name}`;
}

/** A KubeApi that records the object every successful create and patch returns. */
export function recordingOwnWrites(api: KubeApi, writes: OwnWrites): KubeApi {
  const kept = <T extends KubeObject>(resource: ResourceKind, obj: T): T => {
    writes.record(resource, obj);
    return obj;
  };
  return {
    get: (ref, opts) => api.get(ref, opts),
    list: (resource, opts) => api.list(resource, opts),
    create: async (resource, obj, opts) => kept(resource, await api.create(resource, obj, opts)),
    mergePatch: async <T extends KubeObject>(ref: ObjectRef, patch: unknown, opts?: CallOptions) =>
      kept(ref.resource, await api.mergePatch<T>(ref, patch, opts)),
    jsonPatch: async <T extends KubeObject>(ref: ObjectRef, ops: JsonPatchOp[], opts?: CallOptions) =>
      kept(ref.resource, await api.jsonPatch<T>(ref, ops, opts)),
    patchStatus: async <T extends KubeObject>(ref: ObjectRef, patch: unknown, opts?: CallOptions) =>
      kept(ref.resource, await api.patchStatus<T>(ref, patch, opts)),
    delete: (ref, opts) => api.delete(ref, opts),
  };
}
