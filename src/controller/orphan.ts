import { isKubeApiError } from '../kube/errors.ts';
import type { CacheReader } from '../kube/informer.ts';
import { ownerReferenceRemoval } from '../kube/ownership.ts';
import { RESOURCES, type ResourceKind } from '../kube/resources.ts';
import type { KubeApi, KubeObject } from '../kube/types.ts';
import type { OwnedObject } from '../rollout/deletion.ts';
import type { ControllerCaches } from './cache-set.ts';

/** One kind of object Petrel creates for Canaries, with the cache it is read from. */
export interface OwnedKindCache {
  resource: ResourceKind;
  cache: CacheReader<KubeObject>;
}

/** Every kind the controller creates for Canaries, with its cache (what a deletion keeps serving). */
export function ownedKindCaches(caches: ControllerCaches): OwnedKindCache[] {
  const kinds: [ResourceKind, CacheReader<KubeObject> | undefined][] = [
    [RESOURCES.deployment, caches.deployments],
    [RESOURCES.horizontalPodAutoscaler, caches.hpas],
    [RESOURCES.service, caches.services],
    [RESOURCES.virtualService, caches.virtualServices],
    [RESOURCES.destinationRule, caches.destinationRules],
    [RESOURCES.httpRoute, caches.httpRoutes],
    [RESOURCES.configMap, caches.configMaps],
    [RESOURCES.secret, caches.secrets],
  ];
  return kinds.flatMap(([resource, cache]) => (cache ? [{ resource, cache }] : []));
}

/** The objects in `namespace` whose ownerReferences name the Canary with `uid` (from the caches). */
export function ownedObjects(
  kinds: readonly OwnedKindCache[],
  namespace: string,
  uid: string,
): OwnedObject[] {
  const owned: OwnedObject[] = [];
  for (const { resource, cache } of kinds) {
    for (const obj of cache.list(namespace)) {
      if ((obj.metadata?.ownerReferences ?? []).some((ref) => ref.uid === uid)) {
        owned.push({ kind: resource.kind, name: obj.metadata?.name ?? '' });
      }
    }
  }
  return owned.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
}

/**
 * What became of one object: `orphaned` (its ownerReference to the Canary was removed), `done` (gone, or no
 * longer owned), or `stale` (it changed since the cache read it: the `test` of the patch failed; look again
 * once the cache caught up).
 */
export type OrphanOutcome = 'orphaned' | 'done' | 'stale';

/** Removes the ownerReference to the Canary with `uid` from one object, with a minimal JSON patch. */
export async function orphanObject(
  api: KubeApi,
  kinds: readonly OwnedKindCache[],
  namespace: string,
  object: OwnedObject,
  uid: string,
): Promise<OrphanOutcome> {
  const kind = kinds.find((k) => k.resource.kind === object.kind);
  const cached = kind?.cache.get(namespace, object.name);
  const ops = cached ? ownerReferenceRemoval(cached, uid) : undefined;
  if (!kind || !ops) return 'done';
  try {
    await api.jsonPatch({ resource: kind.resource, namespace, name: object.name }, ops);
    return 'orphaned';
  } catch (err) {
    if (isKubeApiError(err, 'NOT_FOUND')) return 'done';
    if (isKubeApiError(err, 'INVALID') || isKubeApiError(err, 'CONFLICT')) return 'stale';
    throw err;
  }
}
