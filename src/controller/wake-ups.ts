import type { OwnWrites } from '../kube/own-writes.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { KubeObject } from '../kube/types.ts';
import { wakeOnAutoscalerChanges } from './autoscaler.ts';
import type { CanaryLike, ControllerCaches } from './cache-set.ts';
import type { NamespacedInformers } from './caches.ts';
import { wakeOnConfigChanges } from './configs.ts';
import { wakeOnFreezeChanges } from './freezes.ts';
import { canaryKey } from './keys.ts';
import { wakeOnTemplateChanges } from './metric-checks.ts';
import { TargetIndex } from './target-index.ts';

export interface WakeUpOptions {
  caches: ControllerCaches;
  ownWrites: OwnWrites;
  enqueue: (key: string) => void;
  /** A canary was deleted: drop its queued work and cached answers, and its cached object. */
  forget: (key: string, canary: CanaryLike) => void;
}

/**
 * Attaches the cache event handlers that queue a canary: its own changes, its target Deployment, the
 * ConfigMaps, Secrets and autoscalers it uses, and the objects it owns. The watch echo of this process's
 * own writes wakes nobody.
 */
export function wakeOnChanges(options: WakeUpOptions): void {
  const { caches, ownWrites, enqueue } = options;
  const index = new TargetIndex();
  const onCanary = (obj: CanaryLike) => {
    const ns = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name ?? '';
    const target = obj.spec?.targetRef?.name;
    index.set(ns, name, typeof target === 'string' ? target : undefined);
    if (!ownWrites.isEcho(RESOURCES.canary, obj)) enqueue(canaryKey(ns, name));
  };
  caches.canaries.on('add', onCanary);
  caches.canaries.on('update', onCanary);
  caches.canaries.on('delete', (obj) => {
    const ns = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name ?? '';
    ownWrites.forget(RESOURCES.canary, obj);
    index.remove(ns, name);
    options.forget(canaryKey(ns, name), obj);
  });
  wakeOnFreezeChanges({ freezes: caches.releaseFreezes, canaries: caches.canaries, enqueue });
  wakeOnConfigChanges({
    canaries: caches.canaries,
    deployments: caches.deployments,
    configMaps: caches.configMaps,
    secrets: caches.secrets,
    targets: index,
    enqueue,
  });
  wakeOnAutoscalerChanges({ hpas: caches.hpas, canaries: caches.canaries, enqueue });
  wakeOnTemplateChanges({ templates: caches.metricTemplates, canaries: caches.canaries, enqueue });
  const onDeployment = (obj: KubeObject) => {
    for (const key of index.canariesFor(obj.metadata?.namespace ?? '', obj.metadata?.name ?? ''))
      enqueue(key);
  };
  const onOwned = (obj: KubeObject) => {
    for (const ref of obj.metadata?.ownerReferences ?? []) {
      if (ref.kind === 'Canary' && ref.apiVersion.startsWith('petrel.dev/')) {
        enqueue(canaryKey(obj.metadata?.namespace, ref.name));
      }
    }
  };
  const watched: Array<[NamespacedInformers<KubeObject>, (obj: KubeObject) => void]> = [
    [caches.deployments, onDeployment],
    [caches.services, onOwned],
    [caches.virtualServices, onOwned],
    [caches.destinationRules, onOwned],
  ];
  if (caches.httpRoutes) watched.push([caches.httpRoutes, onOwned]);
  for (const [informer, wake] of watched) {
    const resource = informer.resource;
    informer.on('add', (obj) => {
      if (!ownWrites.isEcho(resource, obj)) wake(obj);
    });
    informer.on('update', (obj) => {
      if (!ownWrites.isEcho(resource, obj)) wake(obj);
    });
    informer.on('delete', (obj) => {
      ownWrites.forget(resource, obj);
      wake(obj);
    });
  }
}
