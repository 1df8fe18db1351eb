import type { Canary } from '../api/canary.ts';
import { AutoscalerNotFoundError, ensurePrimaryAutoscaler } from '../kube/autoscaler.ts';
import { canonicalJson } from '../kube/canonical.ts';
import type { DeploymentDeps } from '../kube/deployments.ts';
import type { CacheReader } from '../kube/informer.ts';
import type { KubeObject } from '../kube/types.ts';
import type { HorizontalPodAutoscaler } from '../kube/workloads.ts';
import type { WatchedCache } from './configs.ts';

/**
 * Runs the state machine's `syncPrimaryAutoscaler` action (emitted on every tick where the primary
 * exists or is being created): keeps `<autoscaler>-primary` in line with spec.autoscalerRef (cache
 * reads only; a write only when the source HPA changed). A missing source HPA is reported by the
 * returned warning instead of failing the tick: the rollout goes on, and the HPA's creation wakes the
 * canary again.
 */
export async function syncPrimaryAutoscaler(
  deps: DeploymentDeps,
  canary: Canary,
): Promise<{ write?: string; warning?: string }> {
  if (!deps.hpas || !canary.spec.autoscalerRef) return {};
  try {
    const action = await ensurePrimaryAutoscaler({ api: deps.api, hpas: deps.hpas }, canary);
    return action === 'unchanged' ? {} : { write: `primary autoscaler ${action}` };
  } catch (err) {
    if (err instanceof AutoscalerNotFoundError) return { warning: err.message };
    throw err;
  }
}

/**
 * Tells spec changes of HorizontalPodAutoscalers from status updates (an HPA rewrites its status every
 * sync period): only a spec change, a new HPA or a deleted one should wake the canaries that use it.
 */
export class AutoscalerSpecChanges {
  private readonly specs = new Map<string, string>();

  /** True when this event changes what the primary's autoscaler is built from. */
  changed(event: 'add' | 'update' | 'delete', hpa: HorizontalPodAutoscaler): boolean {
    const key = `${hpa.metadata?.namespace ?? ''}/${hpa.metadata?.name ?? ''}`;
    if (event === 'delete') {
      this.specs.delete(key);
      return true;
    }
    const spec = canonicalJson(hpa.spec ?? null);
    if (this.specs.get(key) === spec) return false;
    this.specs.set(key, spec);
    return true;
  }
}

/** Keys of the canaries whose spec.autoscalerRef names this HPA. */
export function canariesUsingAutoscaler(
  canaries: readonly { metadata?: { namespace?: string; name?: string }; spec?: unknown }[],
  hpa: HorizontalPodAutoscaler,
): string[] {
  const ns = hpa.metadata?.namespace ?? '';
  const name = hpa.metadata?.name;
  return canaries
    .filter(
      (c) =>
        c.metadata?.namespace === ns &&
        (c.spec as { autoscalerRef?: { name?: unknown } } | undefined)?.autoscalerRef?.name === name,
    )
    .map((c) => `${ns}/${c.metadata?.name ?? ''}`);
}

/**
 * Enqueues the canaries whose spec.autoscalerRef names an HPA when that HPA is created, deleted or its
 * spec changes (status updates are ignored), so `<autoscaler>-primary` follows it.
 */
export function wakeOnAutoscalerChanges(deps: {
  hpas: WatchedCache<HorizontalPodAutoscaler>;
  canaries: CacheReader<KubeObject>;
  enqueue: (key: string) => void;
}): void {
  const changes = new AutoscalerSpecChanges();
  for (const event of ['add', 'update', 'delete'] as const) {
    deps.hpas.on(event, (hpa) => {
      if (!changes.changed(event, hpa)) return;
      for (const key of canariesUsingAutoscaler(deps.canaries.list(hpa.metadata?.namespace), hpa))
        deps.enqueue(key);
    });
  }
}
