/** The parts of Kubernetes and Istio objects the simulator reads. */
export interface ObjectMetaLike {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface HttpRouteDestinationLike {
  destination?: { host?: string; subset?: string };
  weight?: number;
}

export interface HttpRouteLike {
  match?: unknown[];
  route?: HttpRouteDestinationLike[];
  /** Istio traffic mirroring: a copy of `mirrorPercentage.value` % (default 100) of the requests. */
  mirror?: { host?: string };
  mirrorPercentage?: { value?: number };
}

export interface VirtualServiceLike {
  metadata?: ObjectMetaLike;
  spec?: { hosts?: string[]; http?: HttpRouteLike[] };
}

export interface ServiceLike {
  metadata?: ObjectMetaLike;
  spec?: { selector?: Record<string, string> };
}

export interface DeploymentLike {
  metadata?: ObjectMetaLike;
  spec?: { template?: { metadata?: ObjectMetaLike } };
  status?: { readyReplicas?: number };
}

/** A workload that receives a share of one VirtualService's requests. */
export interface WorkloadTarget {
  namespace: string;
  /** The Deployment's name: Istio's `destination_workload`. */
  workload: string;
  /** The Service the route named, as `destination_service`. */
  service: string;
  /** Fraction (0..1) of the VirtualService's requests. */
  share: number;
  /** The Deployment's pod-template annotations (behaviour). */
  annotations: Record<string, string>;
  /** Copies of requests (Istio mirroring): served and measured, their responses discarded. */
  mirrored?: boolean;
}

export interface ClusterView {
  service(namespace: string, name: string): ServiceLike | undefined;
  deployments(namespace: string): readonly DeploymentLike[];
}

export interface ResolvedRoutes {
  targets: WorkloadTarget[];
  /** Why some traffic goes nowhere (unknown host, no selector, no ready pods...). */
  problems: string[];
}

/**
 * Follows a VirtualService's default HTTP route (the first without `match`, else the first) to
 * Services, then to the Deployments whose pod-template labels match each Service's selector.
 * A Service's share is split between its Deployments by ready replicas, as endpoints are; a
 * destination with no ready pod receives nothing (Istio answers 503 at the gateway, which the
 * destination workload never reports).
 */
export function resolveRoutes(vs: VirtualServiceLike, cluster: ClusterView): ResolvedRoutes {
  const problems: string[] = [];
  const vsNamespace = vs.metadata?.namespace ?? 'default';
  const vsName = `${vsNamespace}/${vs.metadata?.name ?? '?'}`;
  const http = vs.spec?.http ?? [];
  const chosen = http.find((h) => !h.match || h.match.length === 0) ?? http[0];
  const route = chosen?.route ?? [];
  if (route.length === 0) return { targets: [], problems: [`VirtualService ${vsName} has no http route`] };

  const weights = route.map((r) =>
    typeof r.weight === 'number' && r.weight > 0
      ? r.weight
      : route.length === 1 && r.weight === undefined
        ? 100
        : 0,
  );
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0) return { targets: [], problems: [`VirtualService ${vsName} routes all weights to 0`] };

  const targets: WorkloadTarget[] = [];
  const into = { vsNamespace, vsName, cluster, problems, targets };
  const backends = (host: string, share: number, what: string, mirrored: boolean) =>
    addBackends(into, host, share, what, mirrored);
  route.forEach((destination, index) => {
    const weight = weights[index]!;
    if (weight === 0) return;
    backends(destination.destination?.host ?? '', weight / total, 'destination', false);
  });
  // Mirroring copies a share of every request the route serves to another host, on top of the split.
  const mirrorHost = chosen?.mirror?.host;
  if (mirrorHost) {
    const percent = Math.max(0, Math.min(100, chosen?.mirrorPercentage?.value ?? 100));
    if (percent > 0) backends(mirrorHost, percent / 100, 'mirror', true);
  }
  return { targets, problems };
}

/** Where `addBackends` puts what it finds, and what it needs to look it up. */
export interface BackendSink {
  vsNamespace: string;
  vsName: string;
  cluster: ClusterView;
  problems: string[];
  targets: WorkloadTarget[];
}

/**
 * Sends `share` of a VirtualService's requests to `host`: to the Deployments its Service selects, split by
 * ready replicas; a host without ready pods gets nothing and is reported in `problems`.
 */
export function addBackends(
  into: BackendSink,
  host: string,
  share: number,
  what: string,
  mirrored: boolean,
): void {
  const { vsNamespace, vsName, cluster, problems, targets } = into;
  const ref = serviceOfHost(host, vsNamespace);
  if (!ref) {
    problems.push(`VirtualService ${vsName}: ${what} host "${host}" is not a cluster service`);
    return;
  }
  const service = cluster.service(ref.namespace, ref.name);
  if (!service) {
    problems.push(`VirtualService ${vsName}: Service ${ref.namespace}/${ref.name} not found`);
    return;
  }
  const selector = service.spec?.selector;
  if (!selector || Object.keys(selector).length === 0) {
    problems.push(`Service ${ref.namespace}/${ref.name} has no selector`);
    return;
  }
  const backing = cluster
    .deployments(ref.namespace)
    .filter((d) => matches(selector, d.spec?.template?.metadata?.labels))
    .map((d) => ({ deployment: d, ready: Math.max(0, d.status?.readyReplicas ?? 0) }));
  const ready = backing.reduce((sum, b) => sum + b.ready, 0);
  if (ready === 0) {
    const percent = Math.round(share * 100);
    problems.push(`Service ${ref.namespace}/${ref.name} has no ready pods: its ${percent}% gets no traffic`);
    return;
  }
  for (const { deployment, ready: replicas } of backing) {
    if (replicas === 0) continue;
    targets.push({
      namespace: ref.namespace,
      workload: deployment.metadata?.name ?? '?',
      service: `${ref.name}.${ref.namespace}.svc.cluster.local`,
      share: share * (replicas / ready),
      annotations: { ...(deployment.spec?.template?.metadata?.annotations ?? {}) },
      ...(mirrored ? { mirrored: true } : {}),
    });
  }
}

/** `name`, `name.ns`, `name.ns.svc` or `name.ns.svc.cluster.local`; anything else is external. */
export function serviceOfHost(
  host: string,
  defaultNamespace: string,
): { name: string; namespace: string } | undefined {
  const parts = host.split('.');
  if (!parts[0]) return undefined;
  if (parts.length === 1) return { name: parts[0], namespace: defaultNamespace };
  const [name, namespace, ...rest] = parts as [string, string, ...string[]];
  const suffix = rest.join('.');
  if (!namespace || !['', 'svc', 'svc.cluster.local'].includes(suffix)) return undefined;
  return { name, namespace };
}

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}
