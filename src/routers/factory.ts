import type { Canary } from '../api/canary.ts';
import type { CacheReader } from '../kube/informer.ts';
import { GatewayApiRouter, type HttpRoute } from './gatewayapi.ts';
import { IstioRouter, type IstioRouterDeps } from './istio.ts';
import { KubernetesRouter } from './kubernetes.ts';
import { type Router, UnknownProviderError } from './router.ts';

/**
 * Everything any router needs; each router takes the part it uses. `httpRoutes` is there only when the
 * controller watches HTTPRoutes (--gateway-api).
 */
export type RouterDeps = IstioRouterDeps & { httpRoutes?: CacheReader<HttpRoute> };

/** provider gatewayapi:v1 on a controller that does not watch HTTPRoutes. */
export const GATEWAY_API_DISABLED =
  'the controller does not watch HTTPRoutes: start it with --gateway-api (chart value gatewayAPI.enabled=true, ' +
  'which also grants access to httproutes.gateway.networking.k8s.io)';

export type RouterProvider = Canary['spec']['provider'];

/** One router per provider, built on first use. Unknown or unsupported providers are errors. */
export class RouterFactory {
  private readonly routers = new Map<RouterProvider, Router>();

  constructor(private readonly deps: RouterDeps) {}

  for(canary: Canary): Router {
    const provider = canary.spec.provider;
    let router = this.routers.get(provider);
    if (!router) {
      router = createRouter(provider, this.deps);
      this.routers.set(provider, router);
    }
    return router;
  }
}

export function createRouter(provider: RouterProvider | string, deps: RouterDeps): Router {
  const known = provider as RouterProvider;
  switch (known) {
    case 'istio':
      return new IstioRouter(deps);
    case 'kubernetes':
      return new KubernetesRouter(deps);
    case 'gatewayapi:v1': {
      const { httpRoutes } = deps;
      if (!httpRoutes) throw new UnknownProviderError(known, GATEWAY_API_DISABLED);
      return new GatewayApiRouter({ ...deps, httpRoutes });
    }
    default: {
      const unreachable: never = known;
      throw new UnknownProviderError(String(unreachable));
    }
  }
}
