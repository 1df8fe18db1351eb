/** One kind of object Petrel reads or writes, with what is needed to build its REST paths. */
export interface ResourceKind {
  readonly group: string; // '' for the core group
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

export const RESOURCES = {
  canary: { group: 'petrel.dev', version: 'v1alpha1', plural: 'canaries', kind: 'Canary', namespaced: true },
  metricTemplate: {
    group: 'petrel.dev',
    version: 'v1alpha1',
    plural: 'metrictemplates',
    kind: 'MetricTemplate',
    namespaced: true,
  },
  alertProvider: {
    group: 'petrel.dev',
    version: 'v1alpha1',
    plural: 'alertproviders',
    kind: 'AlertProvider',
    namespaced: true,
  },
  releaseFreeze: {
    group: 'petrel.dev',
    version: 'v1alpha1',
    plural: 'releasefreezes',
    kind: 'ReleaseFreeze',
    namespaced: true,
  },
  deployment: { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true },
  service: { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true },
  configMap: { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
  secret: { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true },
  event: { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true },
  virtualService: {
    group: 'networking.istio.io',
    version: 'v1beta1',
    plural: 'virtualservices',
    kind: 'VirtualService',
    namespaced: true,
  },
  destinationRule: {
    group: 'networking.istio.io',
    version: 'v1beta1',
    plural: 'destinationrules',
    kind: 'DestinationRule',
    namespaced: true,
  },
  httpRoute: {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    plural: 'httproutes',
    kind: 'HTTPRoute',
    namespaced: true,
  },
  horizontalPodAutoscaler: {
    group: 'autoscaling',
    version: 'v2',
    plural: 'horizontalpodautoscalers',
    kind: 'HorizontalPodAutoscaler',
    namespaced: true,
  },
  lease: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true },
} as const satisfies Record<string, ResourceKind>;

export type ResourceName = keyof typeof RESOURCES;

/** `apps/v1`, or `v1` for the core group. */
export function apiVersionOf(resource: ResourceKind): string {
  return resource.group ? `${resource.group}/${resource.version}` : resource.version;
}

/** Finds the table entry for an object's apiVersion and kind (undefined when Petrel does not use that kind). */
export function resourceFor(apiVersion: string, kind: string): ResourceKind | undefined {
  return Object.values(RESOURCES).find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
}

/**
 * REST path of a collection (no name) or one object, optionally a subresource:
 * `/apis/apps/v1/namespaces/demo/deployments/podinfo/status`. Without a namespace, a namespaced
 * collection path spans all namespaces.
 */
export function resourcePath(
  resource: ResourceKind,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  const root = resource.group ? `/apis/${resource.group}/${resource.version}` : `/api/${resource.version}`;
  const parts = [root];
  if (resource.namespaced && namespace) parts.push('namespaces', encodeURIComponent(namespace));
  parts.push(resource.plural);
  if (name !== undefined) {
    if (!name) throw new TypeError(`an object name is required for ${resource.kind}`);
    parts.push(encodeURIComponent(name));
    if (subresource) parts.push(subresource);
  }
  return parts.join('/');
}
