import { freezesSelecting } from '../../controller/freezes.ts';
import { isKubeApiError } from '../../kube/errors.ts';
import type { CacheReader } from '../../kube/informer.ts';
import { RESOURCES, type ResourceKind } from '../../kube/resources.ts';
import type { KubeApi, KubeObject } from '../../kube/types.ts';
import type { FreezeObservation } from '../../rollout/windows.ts';
import { isEventOf, type KubeEventLike } from '../../view/events.ts';

/** What the views are drawn from: the canaries in scope, the events about them, the ReleaseFreezes. */
export interface Snapshot {
  canaries: readonly KubeObject[];
  events: readonly KubeEventLike[];
  freezes: readonly KubeObject[];
  /** Kinds that could not be read (no permission, CRD missing), with why: the view says so and goes on. */
  unreadable: Record<string, string>;
}

/** One canary, or every canary of a namespace, or (namespace undefined) of the cluster. */
export interface Scope {
  namespace?: string;
  name?: string;
}

export function canaryIn(snapshot: Snapshot, namespace: string, name: string): KubeObject | undefined {
  return snapshot.canaries.find((c) => c.metadata?.namespace === namespace && c.metadata?.name === name);
}

export function eventsOf(snapshot: Snapshot, namespace: string, name: string): KubeEventLike[] {
  return snapshot.events.filter((e) => isEventOf(e, namespace, name));
}

/** The ReleaseFreezes that select this canary, as the controller reads them. */
export function freezesOf(snapshot: Snapshot, canary: KubeObject): FreezeObservation[] {
  const reader: CacheReader<KubeObject> = {
    get: () => undefined,
    list: (namespace) => snapshot.freezes.filter((f) => !namespace || f.metadata?.namespace === namespace),
  };
  return freezesSelecting(canary as Parameters<typeof freezesSelecting>[0], reader);
}

/** Kinds a view can do without: their absence is shown, not fatal. */
export const OPTIONAL_KINDS = { events: RESOURCES.event, freezes: RESOURCES.releaseFreeze } as const;

/** Reads the snapshot once (no watch): `petrel get` without --watch, and `petrel explain`. */
export async function readSnapshot(api: KubeApi, scope: Scope): Promise<Snapshot> {
  const unreadable: Record<string, string> = {};
  const canaries = scope.name
    ? [
        await api.get<KubeObject>({
          resource: RESOURCES.canary,
          namespace: scope.namespace,
          name: scope.name,
        }),
      ]
    : (await api.list<KubeObject>(RESOURCES.canary, { namespace: scope.namespace })).items;
  const optional = async (key: keyof typeof OPTIONAL_KINDS, resource: ResourceKind) => {
    try {
      return (await api.list<KubeObject>(resource, { namespace: scope.namespace })).items;
    } catch (err) {
      if (!isKubeApiError(err)) throw err;
      unreadable[key] = err.message;
      return [];
    }
  };
  const [events, freezes] = await Promise.all([
    scope.name ? optional('events', OPTIONAL_KINDS.events) : Promise.resolve([]),
    optional('freezes', OPTIONAL_KINDS.freezes),
  ]);
  return { canaries, events: events as KubeEventLike[], freezes, unreadable };
}
