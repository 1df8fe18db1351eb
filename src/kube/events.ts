import { randomBytes } from 'node:crypto';
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
  readonly stats: EventRecorderStats = { created: 0, aggregated: 0, dropped: 0, failed: 0 };

  constructor(opts: EventRecorderOptions) {
    this.api = opts.api;
    this.logger = opts.logger;
    this.now = opts.now ?? (() => new Date());
    this.instance = opts.instance ?? 'petrel';
    this.maxRemembered = opts.maxRemembered ?? 4096;
    this.burst = opts.burst ?? 25;
    this.refillIntervalMs = opts.refillIntervalMs ?? 10_000;
  }

  async record(obj: InvolvedObject, type: EventType, reason: string, message: string): Promise<void> {
    try {
      await this.recordOrThrow(obj, type, reason, message);
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
  ): Promise<void> {
    const namespace = obj.metadata.namespace ?? 'default';
    const objectKey = `${obj.kind ?? ''}/${namespace}/${obj.metadata.name}/${obj.metadata.uid ?? ''}`;
    const text =
      message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH - 3)}...` : message;
    if (!this.take(objectKey)) {
      this.stats.dropped++;
      this.logger.debug({ object: objectKey, reason }, 'event dropped by the per-object rate limit');
      return;
    }
    const key = `${objectKey}\u0000${type}\u0000${reason}\u0000${text}`;
    const timestamp = this.now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
    const seen = this.remembered.get(key);
    if (seen) {
      try {
        await this.api.mergePatch(
          { resource: RESOURCES.event, namespace: seen.namespace, name: seen.eventName },
          { count: seen.count + 1, lastTimestamp: timestamp },
        );
        seen.count++;
        this.touch(key, seen);
        this.stats.aggregated++;
        return;
      } catch (err) {
        // Events expire (1h by default); start a new one.
        if (!isKubeApiError(err, 'NOT_FOUND')) throw err;
        this.remembered.delete(key);
      }
    }
    const eventName = `${obj.metadata.name}.${this.now().getTime().toString(16)}${randomBytes(4).toString('hex')}`;
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
    this.touch(key, { eventName, namespace, count: 1, firstTimestamp: timestamp });
    this.stats.created++;
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
