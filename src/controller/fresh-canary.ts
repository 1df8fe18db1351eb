import { isKubeApiError } from '../kube/errors.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { KubeApi, KubeObject } from '../kube/types.ts';
import type { WriteThroughCache } from '../kube/write-through.ts';

/**
 * Reads a Canary no older than what this process has already seen of it. The informer can lag behind the
 * API server (a dropped watch, a relist under API errors) for longer than the write-through cache remembers
 * this process's own writes; a reconcile acting on such a copy would re-apply the effects of an old
 * decision (route a promoted canary's old weight again) whenever its status looks unchanged, since no
 * guarded status write is made then. So the newest resourceVersion seen of each Canary is kept, and a
 * cached copy older than it is replaced by one GET: no read at all while the cache keeps up.
 */
export class FreshCanaries {
  private readonly newest = new Map<string, bigint>();

  constructor(
    private readonly api: KubeApi,
    private readonly cache: WriteThroughCache<KubeObject>,
  ) {}

  /** The Canary as cached, or as the API server has it when the cache is behind; undefined when gone. */
  async get(namespace: string, name: string): Promise<KubeObject | undefined> {
    const cached = this.cache.get(namespace, name);
    if (!cached) return undefined;
    const key = `${namespace}/${name}`;
    const version = numericVersion(cached);
    const newest = this.newest.get(key);
    if (version === undefined || newest === undefined || version >= newest) {
      this.seen(cached);
      return cached;
    }
    try {
      const fresh = await this.api.get<KubeObject>({ resource: RESOURCES.canary, namespace, name });
      this.cache.remember(fresh);
      this.seen(fresh);
      return fresh;
    } catch (err) {
      if (!isKubeApiError(err, 'NOT_FOUND')) throw err;
      this.cache.forget(namespace, name);
      return undefined;
    }
  }

  /** Notes an object this process read or wrote (a status patch's answer, say). */
  seen(obj: KubeObject): void {
    const version = numericVersion(obj);
    if (version === undefined) return;
    const key = `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
    const newest = this.newest.get(key);
    if (newest === undefined || version > newest) this.newest.set(key, version);
  }

  /** The Canary was deleted: a new one of the same name starts from nothing. */
  forget(namespace: string, name: string): void {
    this.newest.delete(`${namespace}/${name}`);
  }
}

/** resourceVersions are opaque; etcd's are numbers, and only those are compared. */
function numericVersion(obj: KubeObject): bigint | undefined {
  const version = obj.metadata?.resourceVersion;
  return version && /^\d+$/.test(version) ? BigInt(version) : undefined;
}
