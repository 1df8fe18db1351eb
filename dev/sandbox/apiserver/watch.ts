import type { ServerResponse } from 'node:http';
import type { ResourceApi } from './api.ts';
import type { TimerSet } from './clock.ts';
import { statusBody } from './errors.ts';
import type { FaultInjector } from './faults.ts';
import type { FieldSelector, LabelSelector } from './selectors.ts';
import type { ObjectStore, StoreEvent } from './store.ts';
import { groupVersion, type KubeObject, type ResourceType, storageKey } from './types.ts';

export interface WatchRequest {
  type: ResourceType;
  version: string;
  namespace?: string;
  labels: LabelSelector;
  fields: FieldSelector;
  /** undefined, '' or '0': start with synthetic ADDED events for the current state. */
  resourceVersion?: string;
  allowBookmarks: boolean;
  timeoutSeconds?: number;
}

type WireEvent = { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'; object: unknown };

/** One open watch: a chunked stream of newline-delimited JSON events. */
class WatchStream {
  private sent = 0;
  private closed = false;
  private unsubscribe: () => void = () => {};
  private readonly handles: unknown[] = [];

  constructor(
    readonly request: WatchRequest,
    private readonly response: ServerResponse,
    private readonly timers: TimerSet,
    private readonly maxEvents: number | undefined,
    private readonly onClose: (stream: WatchStream) => void,
  ) {
    response.on('close', () => this.close());
  }

  get resource(): string {
    return this.request.type.plural;
  }

  start(
    store: ObjectStore,
    api: ResourceApi,
    bookmarkIntervalMs: number,
    maxSeconds: number | undefined,
  ): void {
    const { request } = this;
    this.response.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
    });
    this.response.flushHeaders();
    const rv = request.resourceVersion;
    let backlog: StoreEvent[];
    if (rv === undefined || rv === '' || rv === '0') {
      const { items } = api.list(request.type, request.namespace, request.labels, request.fields);
      for (const object of items) if (!this.send({ type: 'ADDED', object: this.present(object) })) return;
      backlog = [];
    } else {
      const since = Number(rv);
      const events = store.eventsSince(since);
      if (events === 'expired') {
        this.expire(`too old resource version: ${rv} (${store.oldestResumableVersion})`);
        return;
      }
      backlog = events;
    }
    for (const event of backlog) if (!this.deliver(event)) return;
    if (this.closed) return;
    this.unsubscribe = store.subscribe((event) => this.deliver(event));
    const seconds = [request.timeoutSeconds, maxSeconds].filter((s): s is number => s !== undefined && s > 0);
    if (seconds.length > 0)
      this.handles.push(this.timers.after(Math.min(...seconds) * 1000, () => this.close()));
    if (request.allowBookmarks) this.scheduleBookmark(store, bookmarkIntervalMs);
  }

  private scheduleBookmark(store: ObjectStore, interval: number): void {
    this.handles.push(
      this.timers.after(interval, () => {
        if (this.closed) return;
        const { type, version } = this.request;
        this.write({
          type: 'BOOKMARK',
          object: {
            kind: type.kind,
            apiVersion: groupVersion(type.group, version),
            metadata: { resourceVersion: String(store.resourceVersion) },
          },
        });
        this.scheduleBookmark(store, interval);
      }),
    );
  }

  /** Sends a store event if it concerns this watch; false once the stream has closed. */
  deliver(event: StoreEvent): boolean {
    if (this.closed) return false;
    const { type, namespace, labels, fields } = this.request;
    if (event.key !== storageKey(type)) return true;
    if (type.namespaced && namespace !== undefined && event.object.metadata.namespace !== namespace)
      return true;
    const matchesNow = labels(event.object.metadata.labels) && fields(event.object);
    const matchedBefore =
      event.previous !== undefined && labels(event.previous.metadata.labels) && fields(event.previous);
    let wireType: WireEvent['type'] | undefined;
    if (event.type === 'ADDED') wireType = matchesNow ? 'ADDED' : undefined;
    else if (event.type === 'DELETED') wireType = matchesNow || matchedBefore ? 'DELETED' : undefined;
    else if (matchesNow) wireType = matchedBefore ? 'MODIFIED' : 'ADDED';
    else wireType = matchedBefore ? 'DELETED' : undefined;
    if (!wireType) return true;
    return this.send({ type: wireType, object: this.present(event.object) });
  }

  /** Ends the watch with a 410 ERROR event, as a server does when the requested version was compacted. */
  expire(message: string): void {
    this.write({ type: 'ERROR', object: statusBody(410, 'Expired', message) });
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    for (const handle of this.handles) this.timers.cancel(handle);
    if (!this.response.writableEnded) this.response.end();
    this.onClose(this);
  }

  private present(object: KubeObject): KubeObject {
    const { type, version } = this.request;
    return { ...object, apiVersion: groupVersion(type.group, version), kind: type.kind };
  }

  private send(event: WireEvent): boolean {
    this.write(event);
    this.sent += 1;
    if (this.maxEvents !== undefined && this.sent >= this.maxEvents) {
      this.close();
      return false;
    }
    return true;
  }

  private write(event: WireEvent): void {
    if (!this.closed) this.response.write(`${JSON.stringify(event)}\n`);
  }
}

/** All open watches of the server. */
export class WatchHub {
  private readonly streams = new Set<WatchStream>();

  constructor(
    private readonly store: ObjectStore,
    private readonly api: ResourceApi,
    private readonly timers: TimerSet,
    private readonly faults: FaultInjector,
    private readonly bookmarkIntervalMs: number,
  ) {}

  get open(): number {
    return this.streams.size;
  }

  serve(request: WatchRequest, response: ServerResponse): void {
    const limits = this.faults.watchLimits(request.type.plural);
    const stream = new WatchStream(request, response, this.timers, limits.events, (s) =>
      this.streams.delete(s),
    );
    this.streams.add(stream);
    stream.start(this.store, this.api, this.bookmarkIntervalMs, limits.seconds);
  }

  drop(resource: string): number {
    let closed = 0;
    for (const stream of [...this.streams]) {
      if (resource !== '*' && stream.resource !== resource) continue;
      stream.close();
      closed += 1;
    }
    return closed;
  }

  /** Ends every watch on one resource type (its CRD was deleted). */
  dropType(key: string): void {
    for (const stream of [...this.streams]) if (storageKey(stream.request.type) === key) stream.close();
  }

  expireAll(): void {
    this.store.compactAll();
    for (const stream of [...this.streams])
      stream.expire(`too old resource version: history compacted at ${this.store.oldestResumableVersion}`);
  }

  closeAll(): void {
    for (const stream of [...this.streams]) stream.close();
  }
}
