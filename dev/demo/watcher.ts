import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { CanaryStatus } from '../../src/api/canary.ts';
import { ResilientInformer } from '../../src/kube/informer.ts';
import { RESOURCES } from '../../src/kube/resources.ts';
import type { KubeApi, KubeObject } from '../../src/kube/types.ts';
import type { DemoEvent, DemoReporter } from './events.ts';
import { CanaryEvents, CanaryProgress, type KubeEventLike, thresholdsOf } from './observe.ts';

const EVENT_HOLD_MS = 300;

export interface WatchedCanary extends KubeObject {
  spec?: { analysis?: { metrics?: unknown } };
  status?: CanaryStatus;
}

/**
 * Watches one Canary and the Events in its namespace, and reports what changes, labelled with
 * the release in progress. Reads come from its own informer caches: waiting costs no requests.
 */
export class CanaryWatcher {
  private readonly canaries: ResilientInformer<WatchedCanary>;
  private readonly events: ResilientInformer<KubeObject & KubeEventLike>;
  private readonly progress = new CanaryProgress();
  private readonly canaryEvents = new CanaryEvents();
  private readonly listeners = new Set<() => void>();
  private held: DemoEvent[] = [];
  /** `release/reason` of every Event seen, so a release's outcome can wait for the Event that ends it. */
  private readonly reasons = new Set<string>();
  private holdTimer: NodeJS.Timeout | undefined;
  /** The release that changes are attributed to. */
  release = 'v1';

  constructor(
    private readonly opts: {
      kubeConfig: KubeConfig;
      api: KubeApi;
      namespace: string;
      name: string;
      reporter: DemoReporter;
      logger: Logger;
    },
  ) {
    const base = { kubeConfig: opts.kubeConfig, api: opts.api, namespace: opts.namespace };
    this.canaries = new ResilientInformer<WatchedCanary>({ ...base, resource: RESOURCES.canary });
    this.events = new ResilientInformer<KubeObject & KubeEventLike>({ ...base, resource: RESOURCES.event });
    const onCanary = (canary: WatchedCanary) => {
      if (canary.metadata?.name !== opts.name) return;
      const events = this.progress.observe(canary.status, this.release, thresholdsOf(canary.spec));
      for (const event of events) opts.reporter.emit(event);
      this.flushHeld();
      for (const listener of this.listeners) listener();
    };
    this.canaries.on('add', onCanary);
    this.canaries.on('update', onCanary);
    const onEvent = (event: KubeEventLike) => {
      if (event.involvedObject?.name !== opts.name) return;
      const demoEvent = this.canaryEvents.observe(event, this.release);
      if (!demoEvent) return;
      this.reasons.add(`${this.release}/${event.reason ?? ''}`);
      this.hold(demoEvent);
      for (const listener of this.listeners) listener();
    };
    this.events.on('add', onEvent);
    this.events.on('update', onEvent);
    for (const informer of [this.canaries, this.events] as ResilientInformer<KubeObject>[]) {
      informer.on('restart', (info) =>
        opts.logger.warn(
          { resource: informer.resource.plural, attempt: info.attempt, err: String(info.error) },
          'demo watch restarting',
        ),
      );
    }
  }

  /**
   * Events and the status that explains them arrive in either order (the controller writes a decision's
   * status first, then records its Event): holding Events until the next status (or briefly) shows the
   * checks before the verdict.
   */
  private hold(event: DemoEvent): void {
    this.held.push(event);
    this.holdTimer ??= setTimeout(() => this.flushHeld(), EVENT_HOLD_MS);
  }

  private flushHeld(): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    const held = this.held;
    this.held = [];
    for (const event of held) this.opts.reporter.emit(event);
  }

  async start(signal: AbortSignal): Promise<void> {
    await Promise.all([this.canaries.start(), this.events.start()]);
    await Promise.all([this.canaries.waitForSync(signal), this.events.waitForSync(signal)]);
  }

  /** Whether an Event with this reason was seen during the release, and shown. */
  sawEvent(release: string, reason: string): boolean {
    if (!this.reasons.has(`${release}/${reason}`)) return false;
    this.flushHeld();
    return true;
  }

  /** The Canary as last seen, from the cache. */
  current(): WatchedCanary | undefined {
    return this.canaries.get(this.opts.namespace, this.opts.name);
  }

  /** Calls `fn` after every change of the Canary; returns a function that stops it. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async stop(): Promise<void> {
    this.listeners.clear();
    this.flushHeld();
    await Promise.all([this.canaries.stop(), this.events.stop()]);
  }
}
