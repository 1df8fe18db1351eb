import { z } from 'zod';
import { ApiError } from './errors.ts';
import { ALL_VERBS, type Verb } from './types.ts';

const verbSchema = z.enum(['*', ...ALL_VERBS]);

export const errorFaultSchema = z.strictObject({
  verb: verbSchema.default('*'),
  /** Plural resource name, `plural/subresource`, or `*`. */
  resource: z.string().min(1).default('*'),
  /** Probability in [0, 1] that a matching request fails. */
  rate: z.number().min(0).max(1).default(1),
  status: z.union([z.literal(500), z.literal(503), z.literal(429), z.literal(409)]),
  retryAfterSeconds: z.number().int().min(0).max(3600).default(1),
  /** Stop after failing this many requests (unlimited when omitted). */
  times: z.number().int().positive().optional(),
});

export const latencyFaultSchema = z.strictObject({
  verb: verbSchema.default('*'),
  resource: z.string().min(1).default('*'),
  ms: z.number().int().min(0).max(600_000),
});

export const watchFaultSchema = z.strictObject({
  resource: z.string().min(1).default('*'),
  /** Close each matching watch after it has sent this many events. */
  closeAfterEvents: z.number().int().positive().optional(),
  /** Close each matching watch this long after it opened. */
  closeAfterSeconds: z.number().positive().max(86_400).optional(),
});

export type ErrorFault = z.input<typeof errorFaultSchema>;
export type LatencyFault = z.input<typeof latencyFaultSchema>;
export type WatchFault = z.input<typeof watchFaultSchema>;

type StoredError = z.output<typeof errorFaultSchema> & { id: string; failed: number };
type StoredLatency = z.output<typeof latencyFaultSchema> & { id: string };
type StoredWatch = z.output<typeof watchFaultSchema> & { id: string };

export interface FaultHooks {
  /** Closes every open watch; returns how many were closed. */
  dropWatches(resource: string): number;
  /** Compacts history and ends open watches with a 410 ERROR event. */
  expireHistory(): void;
}

function matches(rule: { verb: string; resource: string }, verb: Verb, resource: string): boolean {
  return (rule.verb === '*' || rule.verb === verb) && (rule.resource === '*' || rule.resource === resource);
}

/** Faults switchable at run time: failing requests, added latency, cut watches, forced 410 Gone. */
export class FaultInjector {
  private errors: StoredError[] = [];
  private latencies: StoredLatency[] = [];
  private watches: StoredWatch[] = [];
  private nextId = 1;
  private hooks: FaultHooks | undefined;

  constructor(private readonly random: () => number = Math.random) {}

  /** @internal wired by the server */
  attach(hooks: FaultHooks): void {
    this.hooks = hooks;
  }

  /** Fails matching requests with 500/503, 429 (+Retry-After) or 409. Returns an id for remove(). */
  injectError(fault: ErrorFault): string {
    const parsed = errorFaultSchema.parse(fault);
    const id = `error-${this.nextId++}`;
    this.errors.push({ ...parsed, id, failed: 0 });
    return id;
  }

  addLatency(fault: LatencyFault): string {
    const parsed = latencyFaultSchema.parse(fault);
    const id = `latency-${this.nextId++}`;
    this.latencies.push({ ...parsed, id });
    return id;
  }

  /** Makes matching watches (open now or later) end after N events or S seconds. */
  limitWatches(fault: WatchFault): string {
    const parsed = watchFaultSchema.parse(fault);
    if (parsed.closeAfterEvents === undefined && parsed.closeAfterSeconds === undefined)
      throw new Error('limitWatches: set closeAfterEvents or closeAfterSeconds');
    const id = `watch-${this.nextId++}`;
    this.watches.push({ ...parsed, id });
    return id;
  }

  /** Closes all open watches (of one resource, or all) now, as a server restart or a load balancer would. */
  dropWatches(resource = '*'): number {
    return this.hooks?.dropWatches(resource) ?? 0;
  }

  /** Every client must relist: open watches get a 410 ERROR event and resuming from any known resourceVersion is Gone. */
  forceGone(): void {
    this.hooks?.expireHistory();
  }

  remove(id: string): boolean {
    const before = this.errors.length + this.latencies.length + this.watches.length;
    this.errors = this.errors.filter((f) => f.id !== id);
    this.latencies = this.latencies.filter((f) => f.id !== id);
    this.watches = this.watches.filter((f) => f.id !== id);
    return this.errors.length + this.latencies.length + this.watches.length < before;
  }

  reset(): void {
    this.errors = [];
    this.latencies = [];
    this.watches = [];
  }

  describe() {
    return { errors: this.errors, latencies: this.latencies, watches: this.watches };
  }

  /** @internal The error a request should fail with, if a rule fires. */
  errorFor(verb: Verb, resource: string): ApiError | undefined {
    for (const rule of this.errors) {
      if (!matches(rule, verb, resource)) continue;
      if (rule.times !== undefined && rule.failed >= rule.times) continue;
      if (this.random() >= rule.rate) continue;
      rule.failed += 1;
      switch (rule.status) {
        case 429:
          return new ApiError(
            429,
            'TooManyRequests',
            'the server has received too many requests and has asked us to try again later (injected fault)',
            { retryAfterSeconds: rule.retryAfterSeconds },
            { 'Retry-After': String(rule.retryAfterSeconds) },
          );
        case 409:
          return new ApiError(
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${resource}: the object has been modified; please apply your changes to the latest version and try again (injected fault)`,
          );
        case 503:
          return new ApiError(
            503,
            'InternalError',
            'the server is currently unable to handle the request (injected fault)',
            { retryAfterSeconds: rule.retryAfterSeconds },
            { 'Retry-After': String(rule.retryAfterSeconds) },
          );
        case 500:
          return new ApiError(500, 'InternalError', 'Internal error occurred: injected fault');
      }
    }
    return undefined;
  }

  /** @internal Added latency for a request, the sum of matching rules. */
  latencyFor(verb: Verb, resource: string): number {
    return this.latencies.filter((r) => matches(r, verb, resource)).reduce((sum, r) => sum + r.ms, 0);
  }

  /** @internal The tightest limits that apply to a new watch on `resource`. */
  watchLimits(resource: string): { events?: number; seconds?: number } {
    const rules = this.watches.filter((r) => r.resource === '*' || r.resource === resource);
    const events = rules.map((r) => r.closeAfterEvents).filter((n): n is number => n !== undefined);
    const seconds = rules.map((r) => r.closeAfterSeconds).filter((n): n is number => n !== undefined);
    return {
      events: events.length ? Math.min(...events) : undefined,
      seconds: seconds.length ? Math.min(...seconds) : undefined,
    };
  }
}
