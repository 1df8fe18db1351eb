import type { KubeConfig } from '@kubernetes/client-node';
import { isKubeApiError } from '../../kube/errors.ts';
import { ResilientInformer } from '../../kube/informer.ts';
import { RESOURCES } from '../../kube/resources.ts';
import type { KubeApi, KubeObject } from '../../kube/types.ts';
import { isEventOf, type KubeEventLike } from '../../view/events.ts';
import { OPTIONAL_KINDS, type Scope, type Snapshot } from './source.ts';

export interface WatchOptions {
  kubeConfig: KubeConfig;
  api: KubeApi;
  scope: Scope;
  userAgent: string;
  /** Called (coalesced) after every change in any watched kind, and when the connection state changes. */
  onChange: () => void;
}

/**
 * The canaries in scope, their events and the ReleaseFreezes, each kept by a ResilientInformer (list, then
 * watch; restarted with backoff when a watch or the connection is lost), so a view redraws on every change
 * without polling. Events and freezes are optional: without permission to list them the view goes on
 * without them and says so.
 */
export class ClusterWatch {
  private readonly canaries: ResilientInformer<KubeObject>;
  private readonly optional = new Map<string, ResilientInformer<KubeObject>>();
  private readonly unreadable: Record<string, string> = {};
  private lastError?: string;
  private scheduled = false;
  private stopped = false;

  constructor(private readonly opts: WatchOptions) {
    this.canaries = this.informer(RESOURCES.canary);
  }

  /** Starts every watch; resolves once the canaries are listed, rejects with the last error if `signal` fires first. */
  async start(signal: AbortSignal): Promise<void> {
    // One plain list first: a wrong server, a missing CRD or a missing permission fails at once, clearly.
    await this.opts.api.list(RESOURCES.canary, {
      namespace: this.opts.scope.namespace,
      timeoutMs: 10_000,
      signal,
    });
    const kinds = Object.entries(OPTIONAL_KINDS).filter(([key]) => key !== 'events' || this.opts.scope.name);
    await Promise.all(kinds.map(([key, resource]) => this.startOptional(key, resource)));
    await this.canaries.start();
    try {
      await this.canaries.waitForSync(signal);
    } catch {
      throw new Error(this.lastError ?? 'the canaries could not be listed in time');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.canaries.stop(), ...[...this.optional.values()].map((i) => i.stop())]);
  }

  /** The connection problem being recovered from, if any. */
  get problem(): string | undefined {
    return this.lastError;
  }

  snapshot(): Snapshot {
    const { namespace } = this.opts.scope;
    return {
      canaries: this.canaries.list(namespace),
      events: (this.optional.get('events')?.list(namespace) ?? []) as KubeEventLike[],
      freezes: this.optional.get('freezes')?.list(namespace) ?? [],
      unreadable: { ...this.unreadable },
    };
  }

  /** A probe list first: a kind the user may not read is left out rather than retried forever. */
  private async startOptional(key: string, resource: (typeof OPTIONAL_KINDS)[keyof typeof OPTIONAL_KINDS]) {
    try {
      await this.opts.api.list(resource, { namespace: this.opts.scope.namespace, timeoutMs: 10_000 });
    } catch (err) {
      if (!isKubeApiError(err) || err.isTransient) throw err;
      this.unreadable[key] = err.message;
      return;
    }
    const informer = this.informer(resource);
    this.optional.set(key, informer);
    await informer.start();
  }

  private informer(resource: typeof RESOURCES.canary | (typeof OPTIONAL_KINDS)[keyof typeof OPTIONAL_KINDS]) {
    const informer = new ResilientInformer<KubeObject>({
      kubeConfig: this.opts.kubeConfig,
      api: this.opts.api,
      resource,
      ...(this.opts.scope.namespace ? { namespace: this.opts.scope.namespace } : {}),
      userAgent: this.opts.userAgent,
      backoff: { maxMs: 5_000 },
    });
    const { namespace, name } = this.opts.scope;
    // Events of other objects in the namespace (pods, other canaries) change nothing on this view.
    const relevant = (obj: KubeObject) =>
      resource !== OPTIONAL_KINDS.events || !name || isEventOf(obj as KubeEventLike, namespace ?? '', name);
    const changed = (obj?: KubeObject) => {
      if (obj && !relevant(obj)) return;
      this.lastError = undefined;
      this.schedule();
    };
    informer
      .on('add', changed)
      .on('update', changed)
      .on('delete', changed)
      .on('synced', () => changed());
    informer.on('error', (err) => {
      this.lastError = `lost the watch of ${resource.plural} (${err instanceof Error ? err.message : String(err)}): reconnecting`;
      this.schedule();
    });
    return informer;
  }

  /** A burst of events (a relist after a lost watch) becomes one redraw. */
  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.stopped) this.opts.onChange();
    });
  }
}
