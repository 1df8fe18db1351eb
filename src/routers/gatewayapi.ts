import type { Canary } from '../api/canary.ts';
import {
  type GatewayRef,
  type HttpRouteMatch,
  mergeHttpRouteMatches,
  toHttpRouteMatches,
} from '../api/gateway-api.ts';
import { mergePatchDiff } from '../kube/canonical.ts';
import { TargetNotFoundError } from '../kube/deployments.ts';
import type { CacheReader } from '../kube/informer.ts';
import { canaryName, primaryName, selectorLabel } from '../kube/names.ts';
import {
  assertOwnedBy,
  canaryOwnerReference,
  isOwnedBy,
  managedLabels,
  ownershipPatch,
} from '../kube/ownership.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { KubeApi, KubeObject } from '../kube/types.ts';
import type { Deployment } from '../kube/workloads.ts';
import { patchOrCreate, WriteThroughCache } from '../kube/write-through.ts';
import { stickyHttpRouteRule } from './gatewayapi-affinity.ts';
import { assertValidWeights, type Router, type RouteWeights } from './router.ts';
import { reconcileServices, type Service } from './services.ts';

export interface ServiceBackendRef {
  group: '';
  kind: 'Service';
  name: string;
  port: number;
  weight?: number;
  filters?: HttpRouteFilter[];
}

export interface HttpRouteFilter {
  type: 'RequestHeaderModifier' | 'ResponseHeaderModifier' | 'RequestMirror';
  requestHeaderModifier?: HeaderModifier;
  responseHeaderModifier?: HeaderModifier;
  requestMirror?: { backendRef: Omit<ServiceBackendRef, 'weight' | 'filters'> };
}

export interface HeaderModifier {
  set?: { name: string; value: string }[];
  add?: { name: string; value: string }[];
  remove?: string[];
}

export interface HttpRouteRule {
  matches?: HttpRouteMatch[];
  filters?: HttpRouteFilter[];
  backendRefs?: ServiceBackendRef[];
  timeouts?: { request?: string; backendRequest?: string };
}

export interface ParentRef {
  group: string;
  kind: string;
  name: string;
  namespace?: string;
  sectionName?: string;
  port?: number;
}

/** The parts of a `gateway.networking.k8s.io/v1` HTTPRoute Petrel writes and reads. */
export interface HttpRoute extends KubeObject {
  spec?: {
    parentRefs?: ParentRef[];
    hostnames?: string[];
    rules?: HttpRouteRule[];
    [key: string]: unknown;
  };
}

export interface GatewayApiRouterDeps {
  api: KubeApi;
  deployments: CacheReader<Deployment>;
  services: CacheReader<Service>;
  httpRoutes: CacheReader<HttpRoute>;
}

const INITIAL_WEIGHTS: RouteWeights = { primary: 100, canary: 0 };

/** Gateway API defaults written out, so the stored object equals what Petrel wrote and never drifts. */
function parentRef(ref: GatewayRef): ParentRef {
  return {
    group: ref.group ?? 'gateway.networking.k8s.io',
    kind: ref.kind ?? 'Gateway',
    name: ref.name,
    ...(ref.namespace ? { namespace: ref.namespace } : {}),
    ...(ref.sectionName ? { sectionName: ref.sectionName } : {}),
    ...(ref.port ? { port: ref.port } : {}),
  };
}

function backendRef(name: string, port: number, weight: number): ServiceBackendRef {
  return { group: '', kind: 'Service', name, port, weight };
}

/** Istio `{set: {k: v}, add: {k: v}, remove: [k]}` as a Gateway API header modifier. */
function headerModifier(ops: Record<string, unknown>): HeaderModifier {
  const pairs = (m: unknown) =>
    Object.entries((m ?? {}) as Record<string, string>).map(([name, value]) => ({ name, value }));
  const out: HeaderModifier = {};
  if (ops.set) out.set = pairs(ops.set);
  if (ops.add) out.add = pairs(ops.add);
  if (Array.isArray(ops.remove)) out.remove = [...(ops.remove as string[])];
  return out;
}

/** spec.service.headers as HTTPRoute filters (request and response header modifiers). */
export function headerFilters(canary: Canary): HttpRouteFilter[] {
  const headers = canary.spec.service.headers as Record<string, Record<string, unknown>> | undefined;
  const filters: HttpRouteFilter[] = [];
  if (headers?.request)
    filters.push({ type: 'RequestHeaderModifier', requestHeaderModifier: headerModifier(headers.request) });
  if (headers?.response)
    filters.push({
      type: 'ResponseHeaderModifier',
      responseHeaderModifier: headerModifier(headers.response),
    });
  return filters;
}

function matchesOf(conditions: unknown): HttpRouteMatch[] {
  return toHttpRouteMatches((conditions ?? []) as Record<string, unknown>[]).matches;
}

/**
 * HTTPRoute `<target>`: parentRefs from spec.service.gatewayRefs, hostnames from spec.service.hosts, and
 * a rule splitting traffic between the `<target>-primary` and `<target>-canary` Services by weight, with
 * spec.service.match, headers and timeout carried over. With spec.analysis.match (A/B testing) the split
 * rule takes only the matching requests and a second rule sends the rest to the primary. Mirroring adds a
 * RequestMirror filter to the canary Service on the split rule. With spec.analysis.sessionAffinity a rule
 * matching the session cookie comes first (see stickyHttpRouteRule).
 */
export function buildHttpRoute(canary: Canary, weights: RouteWeights): HttpRoute {
  const svc = canary.spec.service;
  const target = canary.spec.targetRef.name;
  const port = svc.port;
  const serviceMatches = matchesOf(svc.match);
  const abMatches = matchesOf(canary.spec.analysis?.match);
  const base = serviceMatches.length
    ? serviceMatches
    : [{ path: { type: 'PathPrefix', value: '/' } } as const];
  const common: HttpRouteRule = {};
  const headers = headerFilters(canary);
  if (headers.length) common.filters = headers;
  if (svc.timeout) common.timeouts = { request: svc.timeout };

  const split: HttpRouteRule = {
    matches: abMatches.length ? mergeHttpRouteMatches(abMatches, base) : base,
    ...structuredClone(common),
    backendRefs: [
      backendRef(primaryName(target), port, weights.primary),
      backendRef(canaryName(target), port, weights.canary),
    ],
  };
  const sticky = abMatches.length ? undefined : stickyHttpRouteRule(canary, split);
  if (weights.mirrored) {
    split.filters = [
      ...(split.filters ?? []),
      {
        type: 'RequestMirror',
        requestMirror: { backendRef: { group: '', kind: 'Service', name: canaryName(target), port } },
      },
    ];
  }
  const rules = [...(sticky ? [sticky] : []), structuredClone(split)];
  if (abMatches.length) {
    rules.push(
      structuredClone({
        matches: base,
        ...common,
        backendRefs: [backendRef(primaryName(target), port, 100)],
      }),
    );
  }
  const spec: NonNullable<HttpRoute['spec']> = {
    parentRefs: (svc.gatewayRefs ?? []).map(parentRef),
    rules,
  };
  if (svc.hosts?.length) spec.hostnames = [...new Set(svc.hosts)];
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: {
      name: target,
      namespace: canary.metadata.namespace,
      labels: managedLabels(),
      ownerReferences: [canaryOwnerReference(canary)],
    },
    spec,
  };
}

/**
 * Reads the primary/canary split of an HTTPRoute built by Petrel: the weights of the last rule with the
 * canary Service as a backend (the first rule when none has; the session-affinity rule, when there is one,
 * comes before the split and an A/B rule's fallback has no canary), and whether that rule mirrors to the canary.
 * Gateway API weights are relative (a missing one is 1), so they are turned into percentages:
 * primary 3, canary 1 → 75/25. Undefined when the rule has neither Service, or sends them nothing.
 */
export function readHttpRouteWeights(route: HttpRoute, target: string): RouteWeights | undefined {
  const rules = route.spec?.rules ?? [];
  const isCanary = (b: { name?: string; kind?: string }) =>
    b.name === canaryName(target) && (b.kind ?? 'Service') === 'Service';
  const split = [...rules].reverse().find((r) => r.backendRefs?.some(isCanary)) ?? rules[0];
  const refs = split?.backendRefs ?? [];
  const weightOf = (name: string) => {
    const ref = refs.find((b) => b.name === name && (b.kind ?? 'Service') === 'Service');
    return ref ? (ref.weight ?? 1) : 0;
  };
  const primary = weightOf(primaryName(target));
  const canary = weightOf(canaryName(target));
  const total = primary + canary;
  if (total <= 0) return undefined;
  const primaryPercent = Math.round((primary * 100) / total);
  const weights: RouteWeights = { primary: primaryPercent, canary: 100 - primaryPercent };
  const mirrored = split?.filters?.some(
    (f) => f.type === 'RequestMirror' && f.requestMirror?.backendRef?.name === canaryName(target),
  );
  return mirrored ? { ...weights, mirrored: true } : weights;
}

/** The Gateway API router (`provider: gatewayapi:v1`): the three Services and one HTTPRoute per Canary. */
export class GatewayApiRouter implements Router {
  private readonly api: KubeApi;
  private readonly deployments: CacheReader<Deployment>;
  private readonly services: WriteThroughCache<Service>;
  private readonly httpRoutes: WriteThroughCache<HttpRoute>;

  constructor(deps: GatewayApiRouterDeps) {
    this.api = deps.api;
    this.deployments = deps.deployments;
    this.services = new WriteThroughCache(deps.services);
    this.httpRoutes = new WriteThroughCache(deps.httpRoutes);
  }

  async reconcile(canary: Canary): Promise<void> {
    const ns = canary.metadata.namespace ?? '';
    const targetName = canary.spec.targetRef.name;
    const target = this.deployments.get(ns, targetName);
    if (!target) throw new TargetNotFoundError(ns, targetName);
    await reconcileServices(this.api, this.services, canary, selectorLabel(target));
    await this.apply(canary, buildHttpRoute(canary, this.getRoutes(canary) ?? INITIAL_WEIGHTS));
  }

  async setRoutes(canary: Canary, weights: RouteWeights): Promise<void> {
    assertValidWeights(weights);
    await this.apply(canary, buildHttpRoute(canary, weights));
  }

  getRoutes(canary: Canary): RouteWeights | undefined {
    const route = this.owned(canary);
    return route ? readHttpRouteWeights(route, canary.spec.targetRef.name) : undefined;
  }

  async finalize(canary: Canary): Promise<void> {
    if (this.owned(canary)) await this.setRoutes(canary, INITIAL_WEIGHTS);
  }

  private owned(canary: Canary): HttpRoute | undefined {
    const route = this.httpRoutes.get(canary.metadata.namespace ?? '', canary.spec.targetRef.name);
    return route && isOwnedBy(route, canary) ? route : undefined;
  }

  /** Create when missing; otherwise patch the spec and Petrel's metadata only where they differ. */
  private async apply(canary: Canary, desired: HttpRoute): Promise<void> {
    const ns = desired.metadata?.namespace ?? '';
    const name = desired.metadata?.name ?? '';
    const actual = this.httpRoutes.get(ns, name);
    if (!actual) {
      this.httpRoutes.remember(await this.api.create(RESOURCES.httpRoute, desired));
      return;
    }
    assertOwnedBy(actual, canary, 'HTTPRoute');
    const patch: Record<string, unknown> = {};
    const specPatch = mergePatchDiff(actual.spec ?? {}, desired.spec ?? {});
    if (specPatch !== undefined) patch.spec = specPatch;
    const meta = ownershipPatch(actual, canary);
    if (meta) patch.metadata = meta;
    if (Object.keys(patch).length)
      await patchOrCreate(this.api, RESOURCES.httpRoute, this.httpRoutes, patch, desired);
  }
}
