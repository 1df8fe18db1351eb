import {
  type ClusterView,
  type ObjectMetaLike,
  type ResolvedRoutes,
  resolveRoutes,
  type VirtualServiceLike,
} from './routes.ts';

/** The parts of a Gateway API HTTPRoute the simulator reads. */
export interface HttpRouteLike {
  metadata?: ObjectMetaLike;
  spec?: {
    rules?: Array<{
      matches?: Array<{
        path?: { type?: string; value?: string };
        method?: string;
        headers?: unknown[];
        queryParams?: unknown[];
      }>;
      backendRefs?: Array<{
        group?: string;
        kind?: string;
        name?: string;
        namespace?: string;
        weight?: number;
      }>;
    }>;
  };
}

type Rule = NonNullable<NonNullable<HttpRouteLike['spec']>['rules']>[number];

/** A rule that takes every request: no matches (the API's default), or one match on path prefix "/" alone. */
function matchesEverything(rule: Rule): boolean {
  const matches = rule.matches ?? [];
  if (matches.length === 0) return true;
  return matches.some(
    (m) =>
      (m.path === undefined || (m.path.type === 'PathPrefix' && m.path.value === '/')) &&
      !m.method &&
      !m.headers?.length &&
      !m.queryParams?.length,
  );
}

/**
 * Follows an HTTPRoute's catch-all rule (the first that matches every request, else the first rule) to
 * its Service backends by their weights, then to Deployments, as resolveRoutes does for a
 * VirtualService. Gateway API weights are relative and default to 1; a backend that is not a core
 * Service is reported and gets nothing. The simulated clients send plain requests, so A/B rules that
 * need a header or a query parameter see none of them.
 */
export function resolveHttpRoute(route: HttpRouteLike, cluster: ClusterView): ResolvedRoutes {
  const namespace = route.metadata?.namespace ?? 'default';
  const name = `${namespace}/${route.metadata?.name ?? '?'}`;
  const rules = route.spec?.rules ?? [];
  const rule = rules.find(matchesEverything) ?? rules[0];
  const problems: string[] = [];
  const destinations: { destination: { host: string }; weight: number }[] = [];
  for (const ref of rule?.backendRefs ?? []) {
    if ((ref.group ?? '') !== '' || (ref.kind ?? 'Service') !== 'Service') {
      problems.push(
        `HTTPRoute ${name}: backend ${ref.kind}/${ref.name} is not a Service; it gets no traffic`,
      );
      continue;
    }
    destinations.push({
      destination: { host: `${ref.name ?? ''}.${ref.namespace ?? namespace}` },
      weight: ref.weight ?? 1,
    });
  }
  if (destinations.length === 0)
    return { targets: [], problems: [...problems, `HTTPRoute ${name} has no Service backend`] };
  const asVirtualService: VirtualServiceLike = {
    metadata: { ...route.metadata, name: `${route.metadata?.name ?? '?'} (HTTPRoute)` },
    spec: { http: [{ route: destinations }] },
  };
  const resolved = resolveRoutes(asVirtualService, cluster);
  return {
    targets: resolved.targets,
    problems: [
      ...problems,
      ...resolved.problems.map((p) => p.replace(/^VirtualService (\S+) \(HTTPRoute\)/, 'HTTPRoute $1')),
    ],
  };
}
