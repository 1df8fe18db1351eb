import type { Canary } from '../api/canary.ts';
import { TargetNotFoundError } from '../kube/deployments.ts';
import type { CacheReader } from '../kube/informer.ts';
import { selectorLabel } from '../kube/names.ts';
import { isOwnedBy } from '../kube/ownership.ts';
import type { KubeApi } from '../kube/types.ts';
import type { Deployment } from '../kube/workloads.ts';
import { WriteThroughCache } from '../kube/write-through.ts';
import { handOverApexService } from './handover.ts';
import { assertValidWeights, type Router, type RouteWeights } from './router.ts';
import { apexServiceName, reconcileServices, type Service } from './services.ts';

export interface KubernetesRouterDeps {
  api: KubeApi;
  deployments: CacheReader<Deployment>;
  services: CacheReader<Service>;
}

/** Plain Kubernetes Services cannot split traffic by weight: only all-primary is possible. */
export class TrafficSplitUnsupportedError extends Error {
  override readonly name = 'TrafficSplitUnsupportedError';
  readonly code = 'TRAFFIC_SPLIT_UNSUPPORTED';
  constructor(weights: RouteWeights) {
    super(
      `provider kubernetes cannot ${weights.mirrored ? 'mirror traffic' : `route ${weights.canary}%`} to the canary: ` +
        'Services have no weights or mirrors. ' +
        'Use analysis.iterations (blue/green: the canary is tested through <target>-canary, then promoted) ' +
        'or spec.provider: istio for progressive traffic shifting',
    );
  }
}

/**
 * Blue/green without a mesh: the apex Service `<target>` and `<target>-primary` always select the primary
 * pods, `<target>-canary` selects the target's, so tests can reach the new version before it is promoted.
 */
export class KubernetesRouter implements Router {
  private readonly api: KubeApi;
  private readonly deployments: CacheReader<Deployment>;
  private readonly services: WriteThroughCache<Service>;

  constructor(deps: KubernetesRouterDeps) {
    this.api = deps.api;
    this.deployments = deps.deployments;
    this.services = new WriteThroughCache(deps.services);
  }

  async reconcile(canary: Canary): Promise<void> {
    const ns = canary.metadata.namespace ?? '';
    const target = this.deployments.get(ns, canary.spec.targetRef.name);
    if (!target) throw new TargetNotFoundError(ns, canary.spec.targetRef.name);
    await reconcileServices(
      this.api,
      this.services,
      canary,
      selectorLabel(target),
      target.spec?.template?.spec,
    );
  }

  async setRoutes(_canary: Canary, weights: RouteWeights): Promise<void> {
    assertValidWeights(weights);
    if (weights.canary !== 0 || weights.mirrored) throw new TrafficSplitUnsupportedError(weights);
  }

  getRoutes(canary: Canary): RouteWeights | undefined {
    const apex = this.services.get(canary.metadata.namespace ?? '', apexServiceName(canary));
    return apex && isOwnedBy(apex, canary) ? { primary: 100, canary: 0 } : undefined;
  }

  async finalize(canary: Canary): Promise<void> {
    const ns = canary.metadata.namespace ?? '';
    const target = this.deployments.get(ns, canary.spec.targetRef.name);
    if (!target) throw new TargetNotFoundError(ns, canary.spec.targetRef.name);
    await handOverApexService(this.api, this.services, canary, selectorLabel(target));
  }
}
