import type { Canary } from '../api/canary.ts';
import { IstioRouter, type IstioRouterDeps } from './istio.ts';
import { KubernetesRouter } from './kubernetes.ts';
import { type Router, UnknownProviderError } from './router.ts';

/** Everything any router needs; each router takes the part it uses. */
export type RouterDeps = IstioRouterDeps;

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
    default: {
      const unreachable: never = known;
      throw new UnknownProviderError(String(unreachable));
    }
  }
}
