import { EventEmitter } from 'node:events';
import { type KubeConfig, type KubernetesObject, ListWatch, Watch } from '@kubernetes/client-node';
import { type BackoffPolicy, backoffDelay } from '../lib/backoff.ts';
import { type Clock, systemClock } from '../lib/clock.ts';
import { type ResourceKind, resourcePath } from './resources.ts';
import type { KubeApi, KubeList, KubeObject, KubeRequestHook } from './types.ts';
import { userAgent } from './user-agent.ts';

/** Read side of an informer: what routers and the controller use instead of GETs. */
export interface CacheReader<T> {
  get(namespace: string | undefined, name: string): T | undefined;
  list(namespace?: string): readonly T[];
}

/** The restart backoff (lib/backoff.ts's formula); `jitter` 0.2 spreads each delay over ±20%. */
export interface BackoffOptions extends Required<BackoffPolicy> {
  /** After this long without an error, the next error starts again from `initialMs`. */
  resetAfterMs: number;
}

export const DEFAULT_INFORMER_BACKOFF: BackoffOptions = {
  initialMs: 500,
  maxMs: 30_000,
  factor: 2,
  jitter: 0.2,
  resetAfterMs: 60_000,
};

export interface InformerOptions<T extends KubeObject = KubeObject> {
  /** Used for the watch connection (auth, TLS) through client-node's Watch. */
  kubeConfig: KubeConfig;
  /** Used for the initial and recovery lists (counted and time-limited like every API call). */
  api: KubeApi;
  resource: ResourceKind;
  /** One namespace, or all namespaces when omitted. */
  namespace?: string;
  /** e.g. `petrel.dev/managed-by=petrel` to cache only Petrel's own objects. */
  labelSelector?: string;
  /** e.g. `involvedObject.kind=Canary` to cache only the Events about Canaries. */
  fieldSelector?: string;
  backoff?: Partial<BackoffOptions>;
  /** Timeout of each list call (ms); lists of a whole cluster can be large. */
  listTimeoutMs?: number;
  /** A watch that ended sooner than this after it started is reopened only after the rest of it. */
  minWatchIntervalMs?: number;
  /**
   * Applied to every listed and watched object before it is cached or handed to event handlers (e.g. to
   * drop fields nobody reads). May change the object in place: it was just parsed and is not shared.
   */
  transform?: (obj: T) => T;
  /** Names the component in the watches' User-Agent after `petrel/<version>` (see user-agent.ts). */
  userAgent?: string;
  /** Counts watch requests the same way the client counts the others. */
  onRequest?: KubeRequestHook;
  /** Restart delays and reconnect spacing run on it (a fake clock in tests); the system clock by default. */
  clock?: Clock;
  random?: () => number;
}

export interface RestartInfo {
  /** 1 for the first restart after a healthy period. */
  attempt: number;
  delayMs: number;
  error: unknown;
}

export interface InformerEvents<T> {
  add: [obj: T];
  update: [obj: T];
  delete: [obj: T];
  /** A list or watch connection is being opened. */
  connect: [];
  /** The list or watch failed; a restart follows (see `restart`). */
  error: [error: unknown];
  restart: [info: RestartInfo];
  /** The cache holds a complete list for the first time. */
  synced: [];
}

const OBJECT_EVENTS: ReadonlySet<string> = new Set(['ADDED', 'MODIFIED', 'DELETED']);

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}

/**
 * The KubeConfig as client-node's Watch sees it, with Petrel's User-Agent on every watch request
 * (otherwise node-fetch sends its own, and audit logs cannot tell Petrel's watches from anyone's).
 */
function withUserAgent(kc: KubeConfig, agent: string): KubeConfig {
  const view = Object.create(kc) as KubeConfig;
  view.applyToFetchOptions = async (opts) => {
    const init = await kc.applyToFetchOptions(opts);
    const headers: Record<string, string> = {};
    new Headers(init.headers as HeadersInit | undefined).forEach((value, name) => {
      headers[name] = value;
    });
    headers['user-agent'] = agent;
    return { ...init, headers };
  };
  return view;
}

export class InformerStoppedError extends Error {
  override readonly name = 'InformerStoppedError';
  readonly code = 'INFORMER_STOPPED';
  constructor(what: string) {
    super(`${what}: the informer was stopped`);
  }
}

/**
 * An informer over client-node's ListWatch that does not give up: as shipped, a ListWatch stops for good
 * on any error other than 410 Gone; this one starts it again with capped exponential backoff and jitter,
 * resuming from the last resourceVersion (a 410 then relists). It does no logging: it emits lifecycle
 * events for the composition root to log and count. After `stop()` no request, timer or socket is left.
 */
export class ResilientInformer<T extends KubeObject> implements CacheReader<T> {
  readonly resource: ResourceKind;
  private readonly emitter = new EventEmitter();
  private readonly opts: InformerOptions<T>;
  private readonly backoff: BackoffOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly listWatch: ListWatch<KubernetesObject>;
  private readonly watch: Watch;
  private readonly activeWatches = new Set<AbortController>();
  private listAbort?: AbortController;
  private running = false;
  private isSynced = false;
  private restartTimer?: unknown;
  private restartPending = false;
  private attempt = 0;
  private healthySince = 0;
  private lastWatchStart = Number.NEGATIVE_INFINITY;
  private waitTimer?: { timer: unknown; resolve: () => void };
  private syncWaiters: Array<() => void> = [];

  constructor(opts: InformerOptions<T>) {
    this.opts = opts;
    this.resource = opts.resource;
    this.backoff = { ...DEFAULT_INFORMER_BACKOFF, ...opts.backoff };
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.emitter.setMaxListeners(0);
    // Without a listener, EventEmitter throws on 'error'.
    this.emitter.on('error', () => {});
    this.watch = new Watch(withUserAgent(opts.kubeConfig, userAgent(opts.userAgent)));
    const trackedWatch = { watch: this.openWatch.bind(this) } as unknown as Watch;
    this.listWatch = new ListWatch<KubernetesObject>(
      resourcePath(opts.resource, opts.namespace),
      trackedWatch,
      this.listOnce.bind(this) as () => Promise<never>,
      false,
      opts.labelSelector,
      opts.fieldSelector,
    );
    this.listWatch.on('add', (o) => this.emitter.emit('add', o));
    this.listWatch.on('update', (o) => this.emitter.emit('update', o));
    this.listWatch.on('delete', (o) => this.emitter.emit('delete', o));
    this.listWatch.on('connect', () => {
      if (this.running) this.emitter.emit('connect');
    });
    this.listWatch.on('error', (err) => this.onFailure(err));
  }

  get synced(): boolean {
    return this.isSynced;
  }

  get started(): boolean {
    return this.running;
  }

  on<K extends keyof InformerEvents<T>>(event: K, fn: (...args: InformerEvents<T>[K]) => void): this {
    this.emitter.on(event, fn as (...args: unknown[]) => void);
    return this;
  }

  off<K extends keyof InformerEvents<T>>(event: K, fn: (...args: InformerEvents<T>[K]) => void): this {
    this.emitter.off(event, fn as (...args: unknown[]) => void);
    return this;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.listWatch.get(name, namespace) as T | undefined;
  }

  list(namespace?: string): readonly T[] {
    return this.listWatch.list(namespace) as unknown as readonly T[];
  }

  /** Resolves once the cache is complete; rejects with the signal's reason if aborted first. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.isSynced) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.syncWaiters = this.syncWaiters.filter((w) => w !== done);
        reject(signal?.reason);
      };
      const done = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.syncWaiters.push(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Starts listing and watching; returns once the first attempt has begun (use `waitForSync`). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    this.healthySince = this.now();
    void this.runAttempt();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.restartTimer !== undefined) this.clock.clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.restartPending = false;
    if (this.waitTimer) {
      this.clock.clearTimeout(this.waitTimer.timer);
      this.waitTimer.resolve();
      this.waitTimer = undefined;
    }
    this.listAbort?.abort();
    await this.listWatch.stop();
    for (const controller of this.activeWatches) controller.abort();
    this.activeWatches.clear();
  }

  private async runAttempt(): Promise<void> {
    if (!this.running) return;
    try {
      await this.listWatch.start();
    } catch (err) {
      this.onFailure(err);
    }
  }

  private async listOnce(): Promise<KubeList<T>> {
    const abort = new AbortController();
    this.listAbort = abort;
    try {
      const list = await this.opts.api.list<T>(this.opts.resource, {
        namespace: this.opts.namespace,
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
        timeoutMs: this.opts.listTimeoutMs ?? 60_000,
        signal: abort.signal,
      });
      // ListWatch goes on to open a watch after listing without checking whether it was stopped meanwhile.
      if (!this.running) throw new InformerStoppedError(`list ${this.opts.resource.plural}`);
      const transform = this.opts.transform;
      const items = list.items ?? [];
      return { ...list, items: transform ? items.map(transform) : items };
    } finally {
      if (this.listAbort === abort) this.listAbort = undefined;
    }
  }

  /**
   * Stands in for Watch.watch. ListWatch only opens a watch after it has applied a complete list to its
   * cache, so the first call is the moment the cache is synced. Every connection is tracked so `stop()`
   * can abort one that was still connecting, and reconnects are spaced so a server that closes watches at
   * once cannot cause a hot loop.
   */
  private async openWatch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, obj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (this.running && !this.isSynced) this.markSynced();
    const sinceLast = this.now() - this.lastWatchStart;
    const minInterval = this.opts.minWatchIntervalMs ?? 1000;
    if (sinceLast < minInterval) await this.pause(minInterval - sinceLast);
    if (!this.running) {
      const idle = new AbortController();
      done(new InformerStoppedError(`watch ${this.opts.resource.plural}`));
      return idle;
    }
    this.lastWatchStart = this.now();
    const started = performance.now();
    let controller: AbortController | undefined;
    const transform = this.opts.transform;
    const onEvent = transform
      ? (phase: string, obj: unknown, watchObj?: unknown) =>
          callback(phase, OBJECT_EVENTS.has(phase) && isObject(obj) ? transform(obj as T) : obj, watchObj)
      : callback;
    controller = await this.watch.watch(path, query, onEvent, (err: unknown) => {
      if (controller) this.activeWatches.delete(controller);
      done(err);
    });
    this.opts.onRequest?.({
      verb: 'watch',
      resource: this.opts.resource.plural,
      namespace: this.opts.namespace,
      durationMs: performance.now() - started,
    });
    if (!this.running) {
      controller.abort();
    } else if (!controller.signal.aborted) {
      this.activeWatches.add(controller);
    }
    return controller;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.waitTimer = undefined;
        resolve();
      }, ms);
      this.waitTimer = { timer, resolve };
    });
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  private markSynced(): void {
    this.isSynced = true;
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const w of waiters) w();
    this.emitter.emit('synced');
  }

  private onFailure(err: unknown): void {
    if (!this.running) return;
    this.emitter.emit('error', err);
    if (this.restartPending) return;
    const now = this.now();
    if (now - this.healthySince >= this.backoff.resetAfterMs) this.attempt = 0;
    this.attempt += 1;
    const delayMs = backoffDelay(this.backoff, this.attempt, this.random);
    this.restartPending = true;
    this.emitter.emit('restart', { attempt: this.attempt, delayMs, error: err });
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined;
      this.restartPending = false;
      this.healthySince = this.now();
      // The backoff already spaced this attempt out; the reconnect spacing is for immediate reconnects.
      this.lastWatchStart = Number.NEGATIVE_INFINITY;
      void this.runAttempt();
    }, delayMs);
  }
}
