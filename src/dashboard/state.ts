import { EventEmitter } from 'node:events';
import type { KubeConfig } from '@kubernetes/client-node';
import { ResilientInformer } from '../kube/informer.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { KubeApi, KubeObject } from '../kube/types.ts';
import { type Clock, systemClock } from '../lib/clock.ts';
import { ReleaseRecorder } from './release.ts';
import { type CanaryObject, type CanaryView, canaryKey, canaryView, type EventView } from './view.ts';

/** Events kept per Canary, newest first. */
const EVENTS_PER_CANARY = 30;

interface EventObject extends KubeObject {
  involvedObject?: { kind?: string; name?: string; namespace?: string };
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  eventTime?: string;
}

/** Whether the watches work; shown on the page when they do not (e.g. the user may not list Canaries). */
export interface Health {
  ok: boolean;
  message?: string;
}

export interface DashboardStateEvents {
  /** A Canary changed, or its events did; `view` is undefined once it was deleted. */
  change: [key: string, view: CanaryView | undefined];
  health: [health: Health];
}

export interface DashboardStateOptions {
  kubeConfig: KubeConfig;
  api: KubeApi;
  /** One namespace, or every namespace the user may list when omitted. */
  namespace?: string;
  clock?: Clock;
}

/**
 * Everything the page shows, kept up to date by two watches made with the user's kubeconfig: Canaries,
 * and the Events about Canaries (a field selector: other Events are never sent). Each change is emitted
 * at once, so the page follows the cluster as fast as the watch reports it.
 */
export class DashboardState {
  private readonly canaries: ResilientInformer<CanaryObject>;
  private readonly events: ResilientInformer<EventObject>;
  private readonly recorders = new Map<string, ReleaseRecorder>();
  private readonly views = new Map<string, CanaryView>();
  private readonly emitter = new EventEmitter();
  private readonly clock: Clock;
  private current: Health = { ok: true };

  constructor(opts: DashboardStateOptions) {
    this.clock = opts.clock ?? systemClock;
    this.emitter.setMaxListeners(0);
    const common = {
      kubeConfig: opts.kubeConfig,
      api: opts.api,
      userAgent: 'petrel-dashboard',
      clock: this.clock,
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
    };
    this.canaries = new ResilientInformer<CanaryObject>({ ...common, resource: RESOURCES.canary });
    this.events = new ResilientInformer<EventObject>({
      ...common,
      resource: RESOURCES.event,
      fieldSelector: 'involvedObject.kind=Canary',
    });
    const onCanary = (canary: CanaryObject) => this.update(canary);
    this.canaries.on('add', onCanary).on('update', onCanary);
    this.canaries.on('delete', (canary) => this.remove(canary));
    const onEvent = (event: EventObject) => {
      const ref = event.involvedObject;
      if (ref?.kind !== 'Canary' || !ref.name) return;
      const canary = this.canaries.get(ref.namespace, ref.name);
      if (canary) this.update(canary);
    };
    this.events.on('add', onEvent).on('update', onEvent).on('delete', onEvent);
    for (const [informer, what] of [
      [this.canaries, 'Canaries'],
      [this.events, 'Events'],
    ] as const) {
      informer.on('error', (err) =>
        this.setHealth({ ok: false, message: `cannot watch ${what}: ${describe(err)}` }),
      );
      informer.on('synced', () => this.setHealth({ ok: true }));
      informer.on('connect', () => {
        if (!this.current.ok && this.canaries.synced && this.events.synced) this.setHealth({ ok: true });
      });
    }
  }

  on<K extends keyof DashboardStateEvents>(event: K, fn: (...args: DashboardStateEvents[K]) => void): this {
    this.emitter.on(event, fn as (...args: unknown[]) => void);
    return this;
  }

  off<K extends keyof DashboardStateEvents>(event: K, fn: (...args: DashboardStateEvents[K]) => void): this {
    this.emitter.off(event, fn as (...args: unknown[]) => void);
    return this;
  }

  async start(): Promise<void> {
    await this.canaries.start();
    await this.events.start();
  }

  /** Resolves once both watches hold a complete list. */
  async waitForSync(signal?: AbortSignal): Promise<void> {
    await this.canaries.waitForSync(signal);
    await this.events.waitForSync(signal);
  }

  async stop(): Promise<void> {
    await this.canaries.stop();
    await this.events.stop();
  }

  health(): Health {
    return this.current;
  }

  snapshot(): CanaryView[] {
    return [...this.views.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  private update(canary: CanaryObject): void {
    const namespace = canary.metadata?.namespace ?? '';
    const name = canary.metadata?.name ?? '';
    const key = canaryKey(namespace, name);
    let recorder = this.recorders.get(key);
    if (!recorder) {
      recorder = new ReleaseRecorder();
      this.recorders.set(key, recorder);
    }
    const release = recorder.observe(canary, this.clock.now().getTime());
    const view = canaryView(canary, release, this.eventsOf(namespace, name));
    this.views.set(key, view);
    this.emitter.emit('change', key, view);
  }

  private remove(canary: CanaryObject): void {
    const key = canaryKey(canary.metadata?.namespace ?? '', canary.metadata?.name ?? '');
    this.recorders.delete(key);
    this.views.delete(key);
    this.emitter.emit('change', key, undefined);
  }

  private eventsOf(namespace: string, name: string): EventView[] {
    return (
      this.events
        .list(namespace)
        .filter((e) => e.involvedObject?.kind === 'Canary' && e.involvedObject.name === name)
        .map(
          (e): EventView => ({
            time: e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp ?? '',
            type: e.type ?? 'Normal',
            reason: e.reason ?? '',
            message: e.message ?? '',
            count: e.count ?? 1,
          }),
        )
        // Event times have whole seconds: within one second, the later in the list is the newer.
        .reverse()
        .sort((a, b) => b.time.localeCompare(a.time))
        .slice(0, EVENTS_PER_CANARY)
    );
  }

  private setHealth(health: Health): void {
    if (health.ok === this.current.ok && health.message === this.current.message) return;
    this.current = health;
    this.emitter.emit('health', health);
  }
}

function describe(err: unknown): string {
  const status =
    (err as { statusCode?: unknown; status?: unknown }).statusCode ?? (err as { status?: unknown }).status;
  if (status === 403) return 'forbidden: your kubeconfig user may not list and watch them here';
  if (status === 401) return 'unauthorized: your kubeconfig credentials were refused';
  return err instanceof Error ? err.message : String(err);
}
