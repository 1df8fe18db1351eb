import type { Canary } from '../api/canary.ts';
import { mergePatchDiff } from '../kube/canonical.ts';
import type { SelectorLabel } from '../kube/names.ts';
import { hasOwnerReferenceTo, isOwnedBy } from '../kube/ownership.ts';
import { RESOURCES, type ResourceKind } from '../kube/resources.ts';
import type { KubeApi, KubeObject } from '../kube/types.ts';
import type { WriteThroughCache } from '../kube/write-through.ts';
import type { Service } from './services.ts';

// revertOnDeletion: the objects that route the app's traffic (the apex Service, the mesh route) outlive the
// Canary. They point at the target Deployment and lose their ownerReference to the Canary, so the garbage
// collector leaves them alone; the managed-by label stays, so a Canary created again adopts them.

/**
 * The merge patch that makes `actual` carry `spec` and no ownerReference to `canary`; undefined when it
 * already does. Only the spec keys given are compared (other spec fields stay as they are).
 */
export function handOverPatch(
  actual: KubeObject & { spec?: unknown },
  canary: Canary,
  spec: Record<string, unknown>,
): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  const actualSpec = (actual.spec ?? {}) as Record<string, unknown>;
  const current = Object.fromEntries(Object.keys(spec).map((k) => [k, actualSpec[k]]));
  const specPatch = mergePatchDiff(current, spec);
  if (specPatch !== undefined) patch.spec = specPatch;
  if (hasOwnerReferenceTo(actual, canary)) {
    const others = (actual.metadata?.ownerReferences ?? []).filter(
      (ref) => !(ref.kind === 'Canary' && ref.apiVersion.startsWith('petrel.dev/')),
    );
    patch.metadata = { ownerReferences: others.length ? others : null };
  }
  return Object.keys(patch).length ? patch : undefined;
}

/**
 * Applies the hand-over patch to an object Petrel owns for `canary`; an object that is missing or not
 * Petrel's is left alone. True when something was written.
 */
export async function handOver<T extends KubeObject & { spec?: unknown }>(
  api: KubeApi,
  resource: ResourceKind,
  cache: WriteThroughCache<T>,
  canary: Canary,
  name: string,
  spec: Record<string, unknown>,
): Promise<boolean> {
  const ns = canary.metadata.namespace ?? '';
  const actual = cache.get(ns, name);
  if (!actual || !isOwnedBy(actual, canary)) return false;
  const patch = handOverPatch(actual, canary, spec);
  if (!patch) return false;
  cache.remember(await api.mergePatch<T>({ resource, namespace: ns, name }, patch));
  return true;
}

/** The apex Service `<target>` selects the target's pods and is handed over. */
export function handOverApexService(
  api: KubeApi,
  cache: WriteThroughCache<Service>,
  canary: Canary,
  label: SelectorLabel,
): Promise<boolean> {
  // The whole selector is replaced (merge patch nulls the other keys): the target's pods need only this one.
  const wanted = { selector: { [label.key]: label.value } };
  return handOver(api, RESOURCES.service, cache, canary, canary.spec.targetRef.name, wanted);
}
