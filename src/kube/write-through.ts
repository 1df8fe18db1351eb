import { isKubeApiError } from './errors.ts';
import type { CacheReader } from './informer.ts';
import type { ResourceKind } from './resources.ts';
import type { KubeApi, KubeObject } from './types.ts';

export interface WriteThroughOptions {
  /**
   * How long a written object stands in for the cache at most. Watch events arrive within milliseconds;
   * the limit makes sure an object deleted since (no event can ever catch up) is not remembered forever.
   */
  ttlMs?: number;
  now?: () => number;
}

/**
 * An informer cache plus the objects this process just wrote. The watch event for a write arrives a
 * moment after the write returns; until the cache has caught up (same or newer resourceVersion), reads
 * return the written object, so a reconcile right after a write does not write the same thing again.
 */
export class WriteThroughCache<T extends KubeObject> {
  private readonly written = new Map<string, { obj: T; at: number }>();
  /** uids of objects whose delete event came, each with when: a write answered later must not revive them. */
  private readonly deletedUids = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly cache: CacheReader<T>,
    opts: WriteThroughOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 5000;
    this.now = opts.now ?? Date.now;
  }

  get(namespace: string, name: string): T | undefined {
    const key = `${namespace}/${name}`;
    const cached = this.cache.get(namespace, name);
    const mine = this.written.get(key);
    if (!mine) return cached;
    if ((cached && !isOlder(cached, mine.obj)) || this.now() - mine.at > this.ttlMs) {
      this.written.delete(key);
      return cached;
    }
    return mine.obj;
  }

  remember(obj: T): void {
    const ns = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name;
    const uid = obj.metadata?.uid;
    if (uid && this.deletedUids.has(uid)) return;
    if (name) this.written.set(`${ns}/${name}`, { obj, at: this.now() });
  }

  forget(namespace: string, name: string): void {
    this.written.delete(`${namespace}/${name}`);
  }

  /**
   * The informer's delete event: the object is gone, whatever this process wrote last. A write that was
   * in flight when the delete came is not remembered when it returns (kept for `ttlMs`, by uid).
   */
  deleted(obj: KubeObject): void {
    this.forget(obj.metadata?.namespace ?? '', obj.metadata?.name ?? '');
    const uid = obj.metadata?.uid;
    if (!uid) return;
    const now = this.now();
    for (const [old, at] of this.deletedUids) if (now - at > this.ttlMs) this.deletedUids.delete(old);
    this.deletedUids.set(uid, now);
  }
}

const sharedViews = new WeakMap<CacheReader<KubeObject>, WriteThroughCache<KubeObject>>();

/**
 * The one WriteThroughCache of an informer cache, shared by every writer of this process, so what one
 * writer wrote is what the next reads (module-level, keyed weakly by the cache it wraps).
 */
export function writeThroughView<T extends KubeObject>(cache: CacheReader<T>): WriteThroughCache<T> {
  let view = sharedViews.get(cache) as WriteThroughCache<T> | undefined;
  if (!view) {
    view = new WriteThroughCache(cache);
    sharedViews.set(cache, view as WriteThroughCache<KubeObject>);
  }
  return view;
}

/** resourceVersions are opaque; when either is not a number the cache is trusted. */
function isOlder(cached: KubeObject, written: KubeObject): boolean {
  const a = cached.metadata?.resourceVersion;
  const b = written.metadata?.resourceVersion;
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) < BigInt(b);
}

/**
 * Merge-patches an object the cache says exists and remembers the result. When the object turns out to be
 * gone (deleted after the cache or the last write saw it), `desired` is created instead.
 */
export async function patchOrCreate<T extends KubeObject>(
  api: KubeApi,
  resource: ResourceKind,
  cache: WriteThroughCache<T>,
  patch: unknown,
  desired: T,
): Promise<T> {
  const namespace = desired.metadata?.namespace ?? '';
  const name = desired.metadata?.name ?? '';
  let result: T;
  try {
    result = await api.mergePatch<T>({ resource, namespace, name }, patch);
  } catch (err) {
    if (!isKubeApiError(err, 'NOT_FOUND')) throw err;
    cache.forget(namespace, name);
    result = await api.create(resource, desired);
  }
  cache.remember(result);
  return result;
}
