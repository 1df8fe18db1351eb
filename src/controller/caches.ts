import type { KubeConfig } from '@kubernetes/client-node';
import { type CacheReader, ResilientInformer } from '../kube/informer.ts';
import type { ResourceKind } from '../kube/resources.ts';
import type { KubeApi, KubeObject, KubeRequestHook } from '../kube/types.ts';

/**
 * The informers of one kind, one per watched namespace (or one for the whole cluster), seen as a single
 * cache. Event handlers are attached to every underlying informer.
 */
export class NamespacedInformers<T extends KubeObject> implements CacheReader<T> {
  private readonly byNamespace = new Map<string | undefined, ResilientInformer<T>>();

  constructor(
    readonly resource: ResourceKind,
    namespaces: readonly string[],
    opts: {
      kubeConfig: KubeConfig;
      api: KubeApi;
      onRequest?: KubeRequestHook;
      /** Makes the transform of each kind's informers (what the cache keeps of an object). */
      transformFor?: (resource: ResourceKind) => <O extends KubeObject>(obj: O) => O;
    },
  ) {
    const scopes = namespaces.length > 0 ? namespaces : [undefined];
    for (const namespace of scopes) {
      this.byNamespace.set(
        namespace,
        new ResilientInformer<T>({
          kubeConfig: opts.kubeConfig,
          api: opts.api,
          resource,
          namespace,
          onRequest: opts.onRequest,
          ...(opts.transformFor ? { transform: opts.transformFor(resource) } : {}),
        }),
      );
    }
  }

  get informers(): ResilientInformer<T>[] {
    return [...this.byNamespace.values()];
  }

  get synced(): boolean {
    return this.informers.every((i) => i.synced);
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.scope(namespace)?.get(namespace, name);
  }

  list(namespace?: string): readonly T[] {
    if (namespace !== undefined) return this.scope(namespace)?.list(namespace) ?? [];
    return this.informers.flatMap((i) => [...i.list()]);
  }

  on(event: 'add' | 'update' | 'delete', fn: (obj: T) => void): void {
    for (const informer of this.informers) informer.on(event, fn);
  }

  async start(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.start()));
  }

  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all(this.informers.map((i) => i.waitForSync(signal)));
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  private scope(namespace: string | undefined): ResilientInformer<T> | undefined {
    return (
      this.byNamespace.get(undefined) ??
      (namespace === undefined ? undefined : this.byNamespace.get(namespace))
    );
  }
}
