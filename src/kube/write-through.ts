import type { KubeObject } from './client.ts';
import type { CacheReader } from './informer.ts';

/**
 * An informer cache plus the objects this process just wrote. The watch event for a write arrives a
 * moment after the write returns; until the cache has caught up (same or newer resourceVersion), reads
 * return the written object, so a reconcile right after a write does not write the same thing again.
 */
export class WriteThroughCache<T extends KubeObject> {
  private readonly written = new Map<string, T>();

  constructor(private readonly cache: CacheReader<T>) {}

  get(namespace: string, name: string): T | undefined {
    const key = `${namespace}/${name}`;
    const cached = this.cache.get(namespace, name);
    const mine = this.written.get(key);
    if (!mine) return cached;
    if (cached && !isOlder(cached, mine)) {
      this.written.delete(key);
      return cached;
    }
    return mine;
  }

  remember(obj: T): void {
    const ns = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name;
    if (name) this.written.set(`${ns}/${name}`, obj);
  }

  forget(namespace: string, name: string): void {
    this.written.delete(`${namespace}/${name}`);
  }
}

/** resourceVersions are opaque; when either is not a number the cache is trusted. */
function isOlder(cached: KubeObject, written: KubeObject): boolean {
  const a = cached.metadata?.resourceVersion;
  const b = written.metadata?.resourceVersion;
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) < BigInt(b);
}
