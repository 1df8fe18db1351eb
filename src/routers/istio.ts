import { createHash } from 'node:crypto';
import type { Canary } from '../api/canary.ts';
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
import { RESOURCES, type ResourceKind } from '../kube/resources.ts';
import type { KubeApi, KubeObject } from '../kube/types.ts';
import type { Deployment } from '../kube/workloads.ts';
import { patchOrCreate, WriteThroughCache } from '../kube/write-through.ts';
import { handOver, handOverApexService } from './handover.ts';
import { assertValidWeights, type Router, type RouteWeights } from './router.ts';
import { reconcileServices, type Service } from './services.ts';

export interface IstioDestination {
  host: string;
  port?: { number: number };
  subset?: string;
}

export interface IstioHttpRoute {
  name?: string;
  match?: Record<string, unknown>[];
  route?: { destination: IstioDestination; weight?: number; headers?: Record<string, unknown> }[];
  retries?: Record<string, unknown>;
  timeout?: string;
  headers?: Record<string, unknown>;
  corsPolicy?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface VirtualService extends KubeObject {
  spec?: {
    hosts?: string[];
    gateways?: string[];
    http?: IstioHttpRoute[];
    [key: string]: unknown;
  };
}

export interface DestinationRule extends KubeObject {
  spec?: { host?: string; trafficPolicy?: Record<string, unknown>; [key: string]: unknown };
}

export interface IstioRouterDeps {
  api: KubeApi;
  deployments: CacheReader<Deployment>;
  services: CacheReader<Service>;
  virtualServices: CacheReader<VirtualService>;
  destinationRules: CacheReader<DestinationRule>;
}

const INITIAL_WEIGHTS: RouteWeights = { primary: 100, canary: 0 };

function namespaceOf(canary: Canary): string {
  const ns = canary.metadata.namespace;
  if (!ns) throw new TypeError(`Canary ${canary.metadata.name} has no metadata.namespace`);
  return ns;
}

function ownedMetadata(canary: Canary, name: string) {
  return {
    name,
    namespace: canary.metadata.namespace,
    labels: managedLabels(),
    ownerReferences: [canaryOwnerReference(canary)],
  };
}

/** DestinationRules `<target>-primary` and `<target>-canary`, with spec.service.trafficPolicy passed through. */
export function buildDestinationRules(canary: Canary): DestinationRule[] {
  const target = canary.spec.targetRef.name;
  const trafficPolicy = canary.spec.service.trafficPolicy as Record<string, unknown> | undefined;
  return [primaryName(target), canaryName(target)].map((host) => ({
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'DestinationRule',
    metadata: ownedMetadata(canary, host),
    spec: trafficPolicy ? { host, trafficPolicy: structuredClone(trafficPolicy) } : { host },
  }));
}

/**
 * Merges A/B match conditions (spec.analysis.match) with the service's own (spec.service.match): every
 * combination, the A/B condition's fields winning, so the canary route only sees traffic the service
 * route would have seen.
 */
export function mergeMatches(
  abMatch: readonly Record<string, unknown>[],
  serviceMatch: readonly Record<string, unknown>[] | undefined,
): Record<string, unknown>[] {
  if (!serviceMatch?.length) return abMatch.map((m) => structuredClone(m));
  return abMatch.flatMap((ab) => serviceMatch.map((base) => structuredClone({ ...base, ...ab })));
}

/**
 * VirtualService `<target>`: hosts (the apex service and spec.service.hosts), gateways, and an HTTP
 * route splitting traffic between the primary and canary services, with match, retries, timeout,
 * headers and corsPolicy from spec.service passed through. With spec.analysis.match (A/B testing) the
 * split route only takes the matching requests, and a second route sends the rest to the primary.
 */
export function buildVirtualService(canary: Canary, weights: RouteWeights): VirtualService {
  const svc = canary.spec.service;
  const target = canary.spec.targetRef.name;
  const port = { number: svc.port };
  const hosts = [...new Set([target, ...(svc.hosts ?? [])])];
  const serviceMatch = svc.match as Record<string, unknown>[] | undefined;
  const common = {
    retries: svc.retries as Record<string, unknown> | undefined,
    timeout: svc.timeout,
    headers: svc.headers as Record<string, unknown> | undefined,
    corsPolicy: svc.corsPolicy as Record<string, unknown> | undefined,
    rewrite: svc.rewrite as Record<string, unknown> | undefined,
  };
  const abMatch = canary.spec.analysis?.match as Record<string, unknown>[] | undefined;
  const split: IstioHttpRoute = {
    match: abMatch?.length ? mergeMatches(abMatch, serviceMatch) : serviceMatch,
    ...common,
    route: [
      { destination: { host: primaryName(target), port }, weight: weights.primary },
      { destination: { host: canaryName(target), port }, weight: weights.canary },
    ],
  };
  if (weights.mirrored) {
    split.mirror = { host: canaryName(target), port };
    split.mirrorPercentage = { value: canary.spec.analysis?.mirrorWeight ?? 100 };
  }
  const sticky = abMatch?.length ? undefined : stickyRoute(canary, split, common);
  const http = [...(sticky ? [sticky] : []), structuredClone(dropUndefined(split))];
  if (abMatch?.length) {
    const rest: IstioHttpRoute = {
      match: serviceMatch,
      ...common,
      route: [{ destination: { host: primaryName(target), port }, weight: 100 }],
    };
    http.push(structuredClone(dropUndefined(rest)));
  }
  // A delegate VirtualService (spec.service.delegation) has no hosts or gateways: a root one routes to it.
  const spec: VirtualService['spec'] = { hosts: svc.delegation ? [] : hosts, http };
  if (svc.gateways?.length && !svc.delegation) spec.gateways = [...svc.gateways];
  return {
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'VirtualService',
    metadata: ownedMetadata(canary, target),
    spec,
  };
}

/**
 * The VirtualService a deleted Canary with revertOnDeletion leaves behind: the service's own route
 * (match, retries, timeout, headers, corsPolicy) with all traffic on the apex Service `<target>`.
 */
export function buildApexVirtualService(canary: Canary): VirtualService {
  const vs = buildVirtualService(canary, INITIAL_WEIGHTS);
  const svc = canary.spec.service;
  const target = canary.spec.targetRef.name;
  const route: IstioHttpRoute = {
    match: svc.match as Record<string, unknown>[] | undefined,
    retries: svc.retries as Record<string, unknown> | undefined,
    timeout: svc.timeout,
    headers: svc.headers as Record<string, unknown> | undefined,
    corsPolicy: svc.corsPolicy as Record<string, unknown> | undefined,
    route: [{ destination: { host: target, port: { number: svc.port } }, weight: 100 }],
  };
  return { ...vs, spec: { ...vs.spec, http: [structuredClone(dropUndefined(route))] } };
}

/** The route of spec.analysis.sessionAffinity, first in the VirtualService; never a weighted split. */
export const STICKY_ROUTE_NAME = 'sticky-route';

/**
 * The session cookie of the rollout under way: `<cookieName>` and a value derived from the Canary and the
 * revision under analysis, so it is the same at every tick and after a restart, and new for each rollout.
 */
export function affinityCookie(canary: Canary): { name: string; value: string } | undefined {
  const affinity = canary.spec.analysis?.sessionAffinity;
  const revision = canary.status?.lastAppliedSpec;
  if (!affinity || !revision) return undefined;
  const owner = canary.metadata.uid ?? `${canary.metadata.namespace}/${canary.metadata.name}`;
  const value = createHash('sha256').update(`${owner}/${revision}`).digest('hex').slice(0, 20);
  return { name: affinity.cookieName, value };
}

/**
 * spec.analysis.sessionAffinity (Flagger's semantics): while the canary has a share of the traffic, its
 * responses set the cookie (`Set-Cookie` added on the canary destination of the split) and a route matching
 * the cookie keeps those users on the canary. With no share (before, after, or rolled back), the route sends
 * them to the primary and expires the cookie (Max-Age=-1). Mutates `split` (the canary destination).
 */
function stickyRoute(
  canary: Canary,
  split: IstioHttpRoute,
  common: Pick<IstioHttpRoute, 'retries' | 'timeout' | 'headers' | 'corsPolicy'>,
): IstioHttpRoute | undefined {
  const cookie = affinityCookie(canary);
  const maxAge = canary.spec.analysis?.sessionAffinity?.maxAge ?? 86_400;
  if (!cookie || !split.route) return undefined;
  const serviceMatch = canary.spec.service.match as Record<string, unknown>[] | undefined;
  const carriesCookie = { headers: { cookie: { regex: `.*${escapeRegex(cookie.name)}=${cookie.value}.*` } } };
  const match = mergeMatches([carriesCookie], serviceMatch);
  const [primary, canaryDestination] = split.route;
  if (!primary || !canaryDestination) return undefined;
  if ((canaryDestination.weight ?? 0) > 0) {
    canaryDestination.headers = setCookie(undefined, `${cookie.name}=${cookie.value}; Max-Age=${maxAge}`);
    const route = [
      { destination: primary.destination, weight: 0 },
      { destination: canaryDestination.destination, weight: 100 },
    ];
    return structuredClone(dropUndefined({ name: STICKY_ROUTE_NAME, match, ...common, route }));
  }
  const headers = setCookie(common.headers, `${cookie.name}=${cookie.value}; Max-Age=-1`);
  return structuredClone(
    dropUndefined({ name: STICKY_ROUTE_NAME, match, ...common, headers, route: split.route }),
  );
}

/** Istio header operations with `Set-Cookie` added to the response, keeping the ones given. */
function setCookie(headers: Record<string, unknown> | undefined, value: string): Record<string, unknown> {
  const response = (headers?.response ?? {}) as Record<string, unknown>;
  const add = (response.add ?? {}) as Record<string, unknown>;
  return { ...headers, response: { ...response, add: { ...add, 'Set-Cookie': value } } };
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function dropUndefined<T extends Record<string, unknown>>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Reads the primary/canary split of a VirtualService built by Petrel: the weights of the first HTTP route
 * that has the canary as a destination (the first route when none has), and whether it mirrors to the
 * canary. A destination without a weight gets what is left of 100 (Istio's rule for a single
 * destination; Go clients omit zero weights). Undefined when the route is not a primary/canary split.
 */
export function readWeights(vs: VirtualService, target: string): RouteWeights | undefined {
  const http = (vs.spec?.http ?? []).filter((h) => h.name !== STICKY_ROUTE_NAME);
  const split = http.find((h) => h.route?.some((r) => r.destination?.host === canaryName(target))) ?? http[0];
  const weights = splitWeights(split?.route, target);
  const mirror = split?.mirror as { host?: string } | undefined;
  return weights && mirror?.host === canaryName(target) ? { ...weights, mirrored: true } : weights;
}

function splitWeights(routes: IstioHttpRoute['route'], target: string): RouteWeights | undefined {
  if (!routes?.length) return undefined;
  const find = (host: string) => routes.find((r) => r.destination?.host === host);
  const primary = find(primaryName(target));
  const canary = find(canaryName(target));
  if (!primary && !canary) return undefined;
  const pw = primary?.weight;
  const cw = canary?.weight;
  if (pw === undefined && cw === undefined)
    return primary ? { ...INITIAL_WEIGHTS } : { primary: 0, canary: 100 };
  if (pw === undefined) return { primary: primary ? 100 - (cw ?? 0) : 0, canary: cw ?? 0 };
  if (cw === undefined) return { primary: pw, canary: canary ? 100 - pw : 0 };
  return { primary: pw, canary: cw };
}

/** The Istio router: Services, DestinationRules and a VirtualService per Canary. */
export class IstioRouter implements Router {
  private readonly api: KubeApi;
  private readonly deployments: CacheReader<Deployment>;
  private readonly services: WriteThroughCache<Service>;
  private readonly virtualServices: WriteThroughCache<VirtualService>;
  private readonly destinationRules: WriteThroughCache<DestinationRule>;

  constructor(deps: IstioRouterDeps) {
    this.api = deps.api;
    this.deployments = deps.deployments;
    this.services = new WriteThroughCache(deps.services);
    this.virtualServices = new WriteThroughCache(deps.virtualServices);
    this.destinationRules = new WriteThroughCache(deps.destinationRules);
  }

  async reconcile(canary: Canary): Promise<void> {
    const ns = namespaceOf(canary);
    const targetName = canary.spec.targetRef.name;
    const target = this.deployments.get(ns, targetName);
    if (!target) throw new TargetNotFoundError(ns, targetName);
    await reconcileServices(
      this.api,
      this.services,
      canary,
      selectorLabel(target),
      target.spec?.template?.spec,
    );
    for (const desired of buildDestinationRules(canary)) {
      await this.apply(RESOURCES.destinationRule, this.destinationRules, canary, desired);
    }
    const actual = this.virtualServices.get(ns, targetName);
    const live = actual && isOwnedBy(actual, canary) ? readWeights(actual, targetName) : undefined;
    await this.apply(
      RESOURCES.virtualService,
      this.virtualServices,
      canary,
      buildVirtualService(canary, live ?? INITIAL_WEIGHTS),
    );
  }

  async setRoutes(canary: Canary, weights: RouteWeights): Promise<void> {
    assertValidWeights(weights);
    await this.apply(
      RESOURCES.virtualService,
      this.virtualServices,
      canary,
      buildVirtualService(canary, weights),
    );
  }

  getRoutes(canary: Canary): RouteWeights | undefined {
    const ns = namespaceOf(canary);
    const actual = this.virtualServices.get(ns, canary.spec.targetRef.name);
    if (!actual || !isOwnedBy(actual, canary)) return undefined;
    return readWeights(actual, canary.spec.targetRef.name);
  }

  /**
   * The apex Service selects the target's pods first (the route still names the primary Service then),
   * then the VirtualService sends everything to the apex Service; both are handed over.
   */
  async finalize(canary: Canary): Promise<void> {
    const ns = namespaceOf(canary);
    const targetName = canary.spec.targetRef.name;
    const target = this.deployments.get(ns, targetName);
    if (!target) throw new TargetNotFoundError(ns, targetName);
    await handOverApexService(this.api, this.services, canary, selectorLabel(target));
    const apexOnly = buildApexVirtualService(canary).spec ?? {};
    await handOver(this.api, RESOURCES.virtualService, this.virtualServices, canary, targetName, apexOnly);
  }

  /** Create when missing; otherwise patch the spec and Petrel's metadata only where they differ. */
  private async apply<T extends KubeObject & { spec?: Record<string, unknown> }>(
    resource: ResourceKind,
    cache: WriteThroughCache<T>,
    canary: Canary,
    desired: T,
  ): Promise<boolean> {
    const ns = desired.metadata?.namespace ?? '';
    const name = desired.metadata?.name ?? '';
    const actual = cache.get(ns, name);
    if (!actual) {
      cache.remember(await this.api.create(resource, desired));
      return true;
    }
    assertOwnedBy(actual, canary, resource.kind);
    const patch: Record<string, unknown> = {};
    const specPatch = mergePatchDiff(actual.spec ?? {}, desired.spec ?? {});
    if (specPatch !== undefined) patch.spec = specPatch;
    const meta = ownershipPatch(actual, canary);
    if (meta) patch.metadata = meta;
    if (!Object.keys(patch).length) return false;
    await patchOrCreate(this.api, resource, cache, patch, desired);
    return true;
  }
}
