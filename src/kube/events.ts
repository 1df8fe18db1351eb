import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { isKubeApiError } from './errors.ts';
import { RESOURCES } from './resources.ts';
import type { KubeApi, KubeObject } from './types.ts';

export type EventType = 'Normal' | 'Warning';

export const REPORTING_CONTROLLER = 'petrel.dev/controller';
export const SOURCE_COMPONENT = 'petrel';
const MAX_MESSAGE_LENGTH = 1024;

/** The object an event is about (a Canary, or any object read from the API server). */
export type InvolvedObject = KubeObject & { metadata: { name: string; namespace?: string } };

export interface EventRecorderOptions {
  api: KubeApi;
  logger: Logger;
  now?: () => Date;
  /** `reportingInstance` / `source.host`, e.g. the pod name. */
  instance?: string;
  /** How many distinct (object, type, reason, message) entries to remember for aggregation. */
  maxRemembered?: number;
  /** Events one object may emit in a burst before rate limiting starts. */
  burst?: number;
  /** One more event per object is allowed every this many ms once the burst is spent. */
  refillIntervalMs?: number;
}

interface Remembered {
  eventName: string;
  namespace: string;
  count: number;
  firstTimestamp: string;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export interface EventRecorderStats {
  created: number;
  aggregated: number;
  dropped: number;
  failed: number;
  /** Keyed events (a transition) found already recorded, by an earlier process or an earlier try. */
  repeated: number;
}

/** A keyed event: one Kubernetes Event per key, however often it is recorded. */
export interface EventKey {
  key: string;
}

/**
 * Records core/v1 Events on an object, as `kubectl describe` shows them. Repeats of the same type, reason
 * and message on the same object become a count/lastTimestamp patch on the existing Event (remembered in
 * memory, bounded); each object has a token bucket so an event storm cannot flood the API server.
 * `record` never throws or rejects: failures go to the logger.
 */
export class EventRecorder {
  private readonly api: KubeApi;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly instance: string;
  private readonly maxRemembered: number;
  private readonly burst: number;
  private readonly refillIntervalMs: number;
  private readonly remembered = new Map<string, Remembered>();
  private readonly buckets = new Map<string, Bucket>();
  readonly stats: EventRecorderStats = { created: 0, aggregated: 0, dropped: 0, failed: 0, repeated: 0 };

  constructor(opts: EventRecorderOptions) {
    this.api = opts.api;
    this.logger = opts.logger;
    this.now = opts.now ?? (() => new Date());
    this.instance = opts.instance ?? 'petrel';
    this.maxRemembered = opts.maxRemembered ?? 4096;
    this.burst = opts.burst ?? 25;
    this.refillIntervalMs = opts.refillIntervalMs ?? 10_000;
  }

  /**
   * Records an event. With `notice` (a transition recorded in a Canary's status) the Event is named after
   * its key: recording it again, even from a restarted process, finds it and writes nothing.
   */
  async record(
    obj: InvolvedObject,
    type: EventType,
    reason: string,
    message: string,
    notice?: EventKey,
  ): Promise<void> {
    try {
      await this.recordOrThrow(obj, type, reason, message, notice);
    } catch (err) {
      this.stats.failed++;
      this.logger.warn(
        { err, object: `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`, reason },
        'could not record Kubernetes event',
      );
    }
  }

  private async recordOrThrow(
    obj: InvolvedObject,
    type: EventType,
    reason: string,
    message: string,
    notice: EventKey | undefined,
  ): Promise<void> {
    const namespace = obj.metadata.namespace ?? 'default';
    const objectKey = `${obj.kind ?? ''}/${namespace}/${obj.metadata.name}/${obj.metadata.uid ?? ''}`;
    const text =
      message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH - 3)}...` : message;
    // A transition is recorded once whatever the rate: there are few, and each must be seen.
    if (!notice && !this.take(objectKey)) {
      this.stats.dropped++;
      this.logger.debug({ object: objectKey, reason }, 'event dropped by the per-object rate limit');
      return;
    }
    const key = notice
      ? `${objectKey}\u0000key\u0000${notice.key}`
      : `${objectKey}\u0000${type}\u0000${reason}\u0000${text}`;
    const timestamp = this.now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
    const seen = this.remembered.get(key);
    if (seen) {
      if (notice) {
        this.stats.repeated++;
        return;
      }
      try {
        await this.addToCount(seen, timestamp);
        this.touch(key, seen);
        return;
      } catch (err) {
        // Events expire (1h by default); start a new one.
        if (!isKubeApiError(err, 'NOT_FOUND')) throw err;
        this.remembered.delete(key);
      }
    }
    // The name follows from what the event says, so a repeat finds it even when this process forgot it
    // (a restart, the memory bound) instead of creating a duplicate.
    const eventName = `${obj.metadata.name}.${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
    const entry: Remembered = { eventName, namespace, count: 1, firstTimestamp: timestamp };
    try {
      await this.api.create(RESOURCES.event, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: eventName, namespace },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: obj.metadata.name,
          namespace,
          uid: obj.metadata.uid,
          resourceVersion: obj.metadata.resourceVersion,
        },
        type,
        reason,
        message: text,
        count: 1,
        firstTimestamp: timestamp,
        lastTimestamp: timestamp,
        source: { component: SOURCE_COMPONENT, host: this.instance },
        reportingComponent: REPORTING_CONTROLLER,
        reportingInstance: this.instance,
      } as KubeObject);
      this.stats.created++;
    } catch (err) {
      if (!isKubeApiError(err, 'ALREADY_EXISTS')) throw err;
      if (notice) {
        this.stats.repeated++;
      } else {
        const existing = await this.api.get<KubeObject & { count?: number; firstTimestamp?: string }>({
          resource: RESOURCES.event,
          namespace,
          name: eventName,
        });
        entry.count = typeof existing.count === 'number' ? existing.count : 1;
        entry.firstTimestamp = existing.firstTimestamp ?? timestamp;
        await this.addToCount(entry, timestamp);
      }
    }
    this.touch(key, entry);
  }

  private async addToCount(entry: Remembered, timestamp: string): Promise<void> {
    await this.api.mergePatch(
      { resource: RESOURCES.event, namespace: entry.namespace, name: entry.eventName },
      { count: entry.count + 1, lastTimestamp: timestamp },
    );
    entry.count++;
    this.stats.aggregated++;
  }

  /** Keeps the map in least-recently-used order and within its bound. */
  private touch(key: string, entry: Remembered): void {
    setMostRecent(this.remembered, key, entry, this.maxRemembered);
  }

  private take(objectKey: string): boolean {
    const now = this.now().getTime();
    const bucket = this.buckets.get(objectKey) ?? { tokens: this.burst, updatedAt: now };
    const refill = Math.floor(Math.max(0, now - bucket.updatedAt) / this.refillIntervalMs);
    if (refill > 0) {
      bucket.tokens = Math.min(this.burst, bucket.tokens + refill);
      bucket.updatedAt += refill * this.refillIntervalMs;
    }
    if (bucket.tokens >= this.burst) bucket.updatedAt = now;
    setMostRecent(this.buckets, objectKey, bucket, this.maxRemembered);
    if (bucket.tokens < 1) return false;
    bucket.tokens--;
    return true;
  }
}

/** Sets `key` as the most recently used entry of `map` (insertion order), dropping the oldest beyond `max`. */
function setMostRecent<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next().value;
    if (oldest === undefined) break;
    map.delete(oldest);
  }
}
