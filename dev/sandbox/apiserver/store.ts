import type { KubeObject } from './types.ts';

export type StoreEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  resourceVersion: number;
  type: StoreEventType;
  /** Storage key of the resource type (see types.ts storageKey). */
  key: string;
  object: KubeObject;
  /** The object before this change, for MODIFIED and DELETED (lets selector watches emit ADDED/DELETED). */
  previous?: KubeObject;
}

export interface StoreSnapshot {
  resourceVersion: number;
  objects: { key: string; object: KubeObject }[];
}

function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

/**
 * In-memory object storage with one global, monotonically increasing resourceVersion (like etcd's
 * revision) and a bounded history of changes that watches replay from.
 */
export class ObjectStore {
  private current = 0;
  /** A watch may resume from resourceVersion X only when X >= compacted. */
  private compacted = 0;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly byUid = new Map<string, { key: string; object: KubeObject }>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<(event: StoreEvent) => void>();

  constructor(private readonly historyLimit: number) {}

  get resourceVersion(): number {
    return this.current;
  }

  get oldestResumableVersion(): number {
    return this.compacted;
  }

  get(key: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.objects.get(key)?.get(objectKey(namespace, name));
  }

  list(key: string, namespace?: string): KubeObject[] {
    const all = this.objects.get(key);
    if (!all) return [];
    const items = [...all.values()];
    return namespace === undefined ? items : items.filter((o) => o.metadata.namespace === namespace);
  }

  keys(): string[] {
    return [...this.objects.keys()];
  }

  findByUid(uid: string): { key: string; object: KubeObject } | undefined {
    return this.byUid.get(uid);
  }

  /** Every stored object with its storage key. */
  *entries(): Generator<{ key: string; object: KubeObject }> {
    for (const [key, map] of this.objects) for (const object of map.values()) yield { key, object };
  }

  /** Stores a new or changed object, stamping it with the next resourceVersion. */
  write(key: string, object: KubeObject, type: 'ADDED' | 'MODIFIED'): KubeObject {
    const name = object.metadata.name ?? '';
    const map = this.objects.get(key) ?? new Map<string, KubeObject>();
    this.objects.set(key, map);
    const previous = map.get(objectKey(object.metadata.namespace, name));
    this.current += 1;
    object.metadata.resourceVersion = String(this.current);
    map.set(objectKey(object.metadata.namespace, name), object);
    if (object.metadata.uid) this.byUid.set(object.metadata.uid, { key, object });
    this.record({ resourceVersion: this.current, type, key, object, previous });
    return object;
  }

  remove(key: string, object: KubeObject): KubeObject {
    const map = this.objects.get(key);
    const id = objectKey(object.metadata.namespace, object.metadata.name ?? '');
    const previous = map?.get(id);
    if (!map || !previous) return object;
    map.delete(id);
    if (previous.metadata.uid) this.byUid.delete(previous.metadata.uid);
    this.current += 1;
    const deleted = {
      ...previous,
      metadata: { ...previous.metadata, resourceVersion: String(this.current) },
    };
    this.record({ resourceVersion: this.current, type: 'DELETED', key, object: deleted, previous });
    return deleted;
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events after `since`, or 'expired' when the history no longer reaches back that far. */
  eventsSince(since: number): StoreEvent[] | 'expired' {
    if (since < this.compacted) return 'expired';
    const first = this.history.findIndex((e) => e.resourceVersion > since);
    return first < 0 ? [] : this.history.slice(first);
  }

  /**
   * Drops the whole history and moves the version on, so that every client holding an existing
   * resourceVersion gets 410 Gone when it resumes and must relist (what etcd compaction does).
   */
  compactAll(): void {
    this.current += 1;
    this.compacted = this.current;
    this.history.length = 0;
  }

  snapshot(): StoreSnapshot {
    return { resourceVersion: this.current, objects: [...this.entries()] };
  }

  restore(snapshot: StoreSnapshot): void {
    this.objects.clear();
    this.byUid.clear();
    this.history.length = 0;
    for (const { key, object } of snapshot.objects) {
      const map = this.objects.get(key) ?? new Map<string, KubeObject>();
      this.objects.set(key, map);
      map.set(objectKey(object.metadata.namespace, object.metadata.name ?? ''), object);
      if (object.metadata.uid) this.byUid.set(object.metadata.uid, { key, object });
    }
    this.current = snapshot.resourceVersion;
    this.compacted = snapshot.resourceVersion;
  }

  private record(event: StoreEvent): void {
    this.history.push(event);
    while (this.history.length > this.historyLimit) {
      const dropped = this.history.shift();
      if (dropped) this.compacted = dropped.resourceVersion;
    }
    for (const listener of [...this.listeners]) listener(event);
  }
}
