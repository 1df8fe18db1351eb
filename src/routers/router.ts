import type { Canary } from '../api/canary.ts';

export { ObjectNotOwnedError } from '../kube/ownership.ts';

export interface RouteWeights {
  primary: number;
  canary: number;
  /**
   * Also copy the primary's traffic to the canary (responses discarded), as spec.analysis.mirror asks;
   * `spec.analysis.mirrorWeight` percent of it (all when unset). Reported by getRoutes only when on.
   */
  mirrored?: boolean;
}

/**
 * Routes traffic between the primary and canary workloads of one Canary. Reads come from informer
 * caches; writes happen only when the desired objects differ from the cached ones.
 */
export interface Router {
  /**
   * Creates or updates the services (apex, primary, canary) and the mesh objects. Keeps the live weights
   * (a new route starts at 100/0), and leaves alone fields Petrel does not own.
   */
  reconcile(canary: Canary): Promise<void>;
  setRoutes(canary: Canary, weights: RouteWeights): Promise<void>;
  /** Live weights from the cache; undefined when the route does not exist (yet) or is not Petrel's. */
  getRoutes(canary: Canary): RouteWeights | undefined;
  /**
   * revertOnDeletion, once the target Deployment is scaled up and ready: points the apex Service (and the
   * mesh route) at the target's pods and removes their ownerReference to the Canary, so they keep serving
   * after it is gone. Idempotent: writes nothing when already done.
   */
  finalize(canary: Canary): Promise<void>;
}

export class UnknownProviderError extends Error {
  override readonly name = 'UnknownProviderError';
  readonly code = 'UNKNOWN_PROVIDER';
  constructor(
    readonly provider: string,
    why = 'supported providers: istio, gatewayapi:v1, kubernetes',
  ) {
    super(`spec.provider "${provider}" cannot be used: ${why}`);
  }
}

/** The desired weights are not two integers in [0, 100] adding up to 100. */
export class InvalidWeightsError extends Error {
  override readonly name = 'InvalidWeightsError';
  readonly code = 'INVALID_WEIGHTS';
  constructor(weights: RouteWeights) {
    super(
      `route weights primary=${weights.primary} canary=${weights.canary} must be integers in 0..100 adding up to 100`,
    );
  }
}

export function assertValidWeights(weights: RouteWeights): void {
  const ok =
    Number.isInteger(weights.primary) &&
    Number.isInteger(weights.canary) &&
    weights.primary >= 0 &&
    weights.canary >= 0 &&
    weights.primary + weights.canary === 100;
  if (!ok) throw new InvalidWeightsError(weights);
}
