import {
  type ClusterView,
  type ObjectMetaLike,
  type ResolvedRoutes,
  resolveRoutes,
  type VirtualServiceLike,
} from './routes.ts';

interface BackendRefLike {
  group?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

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
      backendRefs?: Array<BackendRefLike & { weight?: number }>;
      filters?: Array<{ type?: string; requestMirror?: { backendRef?: BackendRefLike } }>;
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

const isService = (ref: BackendRefLike) => (ref.group ?? '') === '' && (ref.kind ?? 'Service') === 'Service';

/**
 * Follows an HTTPRoute's catch-all rule (the first that matches every request, else the first rule) to
 * its Service backends by their weights, then to Deployments, as resolveRoutes does for a
 * VirtualService. Gateway API weights are relative and default to 1; a backend that is not a core
 * Service is reported and gets nothing. A RequestMirror filter on that rule sends a copy of every
 * request to its Service as well (extra requests, on top of the split). The simulated clients send
 * plain requests, so A/B rules that need a header or a query parameter see none of them.
 */
export function resolveHttpRoute(route: HttpRouteLike, cluster: ClusterView): ResolvedRoutes {
  const namespace = route.metadata?.namespace ?? 'default';
  const name = `${namespace}/${route.metadata?.name ?? '?'}`;
  const rules = route.spec?.rules ?? [];
  const rule = rules.find(matchesEverything) ?? rules[0];
  const problems: string[] = [];
  const hostOf = (ref: BackendRefLike) => `${ref.name ?? ''}.${ref.namespace ?? namespace}`;
  const destinations: { destination: { host: string }; weight: number }[] = [];
  for (const ref of rule?.backendRefs ?? []) {
    if (!isService(ref)) {
      problems.push(
        `HTTPRoute ${name}: backend ${ref.kind}/${ref.name} is not a Service; it gets no traffic`,
      );
      continue;
    }
    destinations.push({ destination: { host: hostOf(ref) }, weight: ref.weight ?? 1 });
  }
  if (destinations.length === 0)
    return { targets: [], problems: [...problems, `HTTPRoute ${name} has no Service backend`] };
  // resolveRoutes names the route in its problems; this name is turned back into the HTTPRoute's.
  const metadata = { ...route.metadata, name: `${route.metadata?.name ?? '?'} (HTTPRoute)` };
  const follow = (route: VirtualServiceLike['spec']) => resolveRoutes({ metadata, spec: route }, cluster);
  const split = follow({ http: [{ route: destinations }] });
  const targets = [...split.targets];
  const found = [...split.problems];
  for (const filter of rule?.filters ?? []) {
    const ref = filter.type === 'RequestMirror' ? filter.requestMirror?.backendRef : undefined;
    if (!ref?.name || !isService(ref)) continue;
    const mirror = follow({ http: [{ route: [{ destination: { host: hostOf(ref) }, weight: 100 }] }] });
    targets.push(...mirror.targets);
    found.push(...mirror.problems.map((p) => `mirror: ${p}`));
  }
  return {
    targets,
    problems: [
      ...problems,
      ...found.map((p) => p.replace(/VirtualService (\S+) \(HTTPRoute\)/, 'HTTPRoute $1')),
    ],
  };
}
