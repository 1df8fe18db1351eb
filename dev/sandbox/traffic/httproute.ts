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

interface HeaderMatchLike {
  type?: string;
  name?: string;
  value?: string;
}

interface FilterLike {
  type?: string;
  requestMirror?: { backendRef?: BackendRefLike };
  responseHeaderModifier?: {
    set?: { name?: string; value?: string }[];
    add?: { name?: string; value?: string }[];
  };
}

/** The parts of a Gateway API HTTPRoute the simulator reads. */
export interface HttpRouteLike {
  metadata?: ObjectMetaLike;
  spec?: {
    rules?: Array<{
      matches?: Array<{
        path?: { type?: string; value?: string };
        method?: string;
        headers?: HeaderMatchLike[];
        queryParams?: unknown[];
      }>;
      backendRefs?: Array<BackendRefLike & { weight?: number; filters?: FilterLike[] }>;
      filters?: FilterLike[];
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

type Match = NonNullable<Rule['matches']>[number];

const isCookieMatch = (h: HeaderMatchLike) => h.name?.toLowerCase() === 'cookie';

/** Whether some rule of the HTTPRoute matches on the Cookie header (session affinity). */
export function httpRouteRoutesByCookie(route: HttpRouteLike): boolean {
  return (route.spec?.rules ?? []).some((r) => r.matches?.some((m) => m.headers?.some(isCookieMatch)));
}

/** Whether a simulated request (`GET /`, no query) can satisfy the match, its headers aside. */
function reachable(m: Match): boolean {
  const path = m.path ?? { type: 'PathPrefix', value: '/' };
  const pathOk = (path.type === 'PathPrefix' || path.type === 'Exact') && path.value === '/';
  return pathOk && (!m.method || m.method === 'GET') && !m.queryParams?.length;
}

/** Gateway API header operations as the Istio `{response: {set, add}}` form the session simulator applies. */
function responseHeaders(filters: readonly FilterLike[] | undefined) {
  const modifier = filters?.find((f) => f.type === 'ResponseHeaderModifier')?.responseHeaderModifier;
  if (!modifier) return undefined;
  const record = (list: { name?: string; value?: string }[] | undefined) =>
    Object.fromEntries((list ?? []).map((h) => [h.name ?? '', h.value ?? '']));
  return { response: { set: record(modifier.set), add: record(modifier.add) } };
}

/**
 * An HTTPRoute that matches on the Cookie header, as the VirtualService form that resolveSessionRoutes routes
 * request by request: one http route per match the simulated `GET /` can satisfy, ordered by the Gateway API's
 * precedence among equal paths (more header matches first, then rule order), header matches as Istio string
 * matches, backends with their weights, and ResponseHeaderModifier filters (of the rule and of each backend)
 * as response header operations, so `Set-Cookie` reaches the cookie-keeping clients. Undefined when no rule
 * matches on cookies. The name gets " (HTTPRoute)", which keeps its clients apart from a VirtualService's.
 */
export function httpRouteAsSessionRoutes(route: HttpRouteLike): VirtualServiceLike | undefined {
  if (!httpRouteRoutesByCookie(route)) return undefined;
  const namespace = route.metadata?.namespace ?? 'default';
  const hostOf = (ref: BackendRefLike) =>
    ref.namespace ? `${ref.name ?? ''}.${ref.namespace}` : (ref.name ?? '');
  const candidates = (route.spec?.rules ?? []).flatMap((rule, order) => {
    const mirror = rule.filters?.find((f) => f.type === 'RequestMirror')?.requestMirror?.backendRef;
    const destinations = (rule.backendRefs ?? []).filter(isService).map((ref) => ({
      destination: { host: hostOf(ref) },
      weight: ref.weight ?? 1,
      ...(responseHeaders(ref.filters) ? { headers: responseHeaders(ref.filters) } : {}),
    }));
    const matches = rule.matches?.length ? rule.matches : [{}];
    return matches.filter(reachable).map((m) => ({
      order,
      headerCount: m.headers?.length ?? 0,
      http: {
        match: m.headers?.length
          ? [
              {
                headers: Object.fromEntries(
                  m.headers.map((h) => [
                    h.name ?? '',
                    h.type === 'RegularExpression' ? { regex: h.value ?? '' } : { exact: h.value ?? '' },
                  ]),
                ),
              },
            ]
          : undefined,
        route: destinations,
        ...(mirror?.name && isService(mirror) ? { mirror: { host: hostOf(mirror) } } : {}),
        ...(responseHeaders(rule.filters) ? { headers: responseHeaders(rule.filters) } : {}),
      },
    }));
  });
  candidates.sort((a, b) => b.headerCount - a.headerCount || a.order - b.order);
  return {
    metadata: { ...route.metadata, namespace, name: `${route.metadata?.name ?? '?'} (HTTPRoute)` },
    spec: { http: candidates.map((c) => c.http) },
  };
}
