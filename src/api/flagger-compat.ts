import { CANARY_PROVIDERS } from './constants.ts';

/**
 * Fields of Flagger's Canary, MetricTemplate and AlertProvider that Petrel does not accept, and what to
 * write instead. A Flagger user writes these on purpose, so lint and InvalidSpec say "not supported by
 * Petrel" with the alternative, never "check its spelling". Paths use `[]` for any list index.
 * Fields Petrel accepts are in the zod schemas; this table is only for the rest.
 */
export const FLAGGER_UNSUPPORTED_FIELDS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  Canary: {
    'spec.canaryAnalysis':
      'spec.canaryAnalysis is the flagger.app/v1alpha3 name of spec.analysis: rename it to analysis (`petrel migrate` does it)',
    'spec.metricsServer':
      'a Prometheus address per Canary: start the controller with --prometheus-address, or use a MetricTemplate with provider.address',
    'spec.ingressRef': `an Ingress is the nginx provider's router: Petrel routes with ${providerList()}`,
    'spec.routeRef': `an ApisixRoute is the apisix provider's router: Petrel routes with ${providerList()}`,
    'spec.upstreamRef': `a Gloo Upstream is the gloo provider's router: Petrel routes with ${providerList()}`,
    'spec.autoscalerRef.primaryScalerQueries':
      'KEDA ScaledObject queries: use a HorizontalPodAutoscaler; Petrel copies it for the primary',
    'spec.autoscalerRef.primaryScalerReplicas':
      "replica bounds of the primary's autoscaler: Petrel copies minReplicas and maxReplicas from the target's HorizontalPodAutoscaler, so set them there",
    'spec.service.headless':
      'headless Services: Petrel creates ClusterIP Services (the mesh routes by their names); remove the field',
    'spec.service.trafficDistribution':
      'Service trafficDistribution: remove it, or set it with a mesh DestinationRule (spec.service.trafficPolicy.loadBalancer.localityLbSetting)',
    'spec.service.backendTimeout':
      'a Gateway API backend timeout: use spec.service.timeout (the whole request) and spec.service.retries.perTryTimeout',
    'spec.service.meshName':
      'App Mesh: Petrel routes with istio, kubernetes or the Gateway API; remove the field',
    'spec.service.backends':
      'App Mesh virtual node backends: Petrel does not drive App Mesh; remove the field',
    'spec.service.mirror':
      'Gateway API request mirrors to extra backends: use spec.analysis.mirror to shadow traffic to the canary',
    'spec.analysis.sessionAffinity.primaryCookieName':
      'a cookie that keeps users on the primary: only users who reached the canary are kept there (sessionAffinity.cookieName); remove the field',
    'spec.service.unmanagedMetadata':
      'not needed: Petrel never overwrites labels or annotations it did not set on its Services; remove the field',
    'spec.service.appendHeaders':
      'the pre-1.0 Istio header field: use spec.service.headers.request.add instead',
    'spec.analysis.primaryReadyThreshold':
      'a partial readiness threshold: Petrel waits until every pod of the primary is ready; remove the field',
    'spec.analysis.canaryReadyThreshold':
      'a partial readiness threshold: Petrel waits until every pod of the canary is ready; remove the field',
    'spec.analysis.metrics[].query':
      'inline metric queries: put the query in a MetricTemplate and refer to it with templateRef (`petrel migrate` does it)',
    'spec.analysis.webhooks[].disableTLS':
      'turning off TLS verification for one webhook: use an http:// URL inside the cluster, or give the controller the CA (NODE_EXTRA_CA_CERTS)',
  },
  MetricTemplate: {
    'spec.provider.headers':
      'extra headers to the metrics server: use provider.secretRef (username/password or token keys) for authentication',
    'spec.provider.region': 'CloudWatch regions: Petrel queries Prometheus (provider type prometheus)',
  },
  AlertProvider: {
    'spec.proxy':
      'a proxy per AlertProvider: give the controller HTTPS_PROXY/HTTP_PROXY/NO_PROXY (chart value env), which every alert and webhook uses',
  },
};

export const NOT_SUPPORTED = 'not supported by Petrel';

/** Providers Flagger routes with that Petrel does not, and the hint given for each. */
const FLAGGER_PROVIDER_HINTS: Readonly<Record<string, string>> = {
  'gatewayapi:v1beta1': 'use gatewayapi:v1 (the same HTTPRoute, served as gateway.networking.k8s.io/v1)',
  'gatewayapi:v1': 'use istio or kubernetes',
};

function providerList(): string {
  return CANARY_PROVIDERS.join(', ');
}

/** "not supported by Petrel: ..." for a field of a Flagger resource Petrel refuses; undefined when it is not one. */
export function flaggerFieldMessage(kind: string, path: string): string | undefined {
  const normalised = path.replace(/\[\d+\]/g, '[]');
  const why = FLAGGER_UNSUPPORTED_FIELDS[kind]?.[normalised];
  return why === undefined ? undefined : `${NOT_SUPPORTED}: ${why}`;
}

/** The message for a spec.provider Petrel does not route with (Flagger's linkerd, nginx, contour...). */
export function unsupportedProviderMessage(provider: unknown): string {
  const shown = typeof provider === 'string' ? provider : JSON.stringify(provider);
  const hint =
    typeof provider === 'string' && FLAGGER_PROVIDER_HINTS[provider] && !isPetrelProvider(provider)
      ? FLAGGER_PROVIDER_HINTS[provider]
      : gatewayHint();
  return `${NOT_SUPPORTED}: provider ${shown}; Petrel routes with ${providerList()}${hint ? ` (${hint})` : ''}`;
}

function isPetrelProvider(provider: string): boolean {
  return (CANARY_PROVIDERS as readonly string[]).includes(provider);
}

function gatewayHint(): string {
  return isPetrelProvider('gatewayapi:v1')
    ? 'Contour, Linkerd, Kuma, Traefik, APISIX, Kong, Cilium and Envoy Gateway implement the Gateway API: use gatewayapi:v1'
    : '';
}

export const METRIC_PROVIDER_HINT = 'Petrel queries Prometheus: use type prometheus';
export const ALERT_PROVIDER_HINTS: Readonly<Record<string, string>> = {
  rocket: 'use type slack (Rocket.Chat incoming webhooks accept Slack messages)',
  gchat: 'use type webhook with a relay to Google Chat',
};

export const FLAGGER_GROUP = 'flagger.app';
export const FLAGGER_KINDS = ['Canary', 'MetricTemplate', 'AlertProvider'] as const;

/** The kind of a Flagger Canary, MetricTemplate or AlertProvider (any flagger.app version); undefined otherwise. */
export function flaggerKind(input: unknown): (typeof FLAGGER_KINDS)[number] | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const { apiVersion, kind } = input as { apiVersion?: unknown; kind?: unknown };
  if (typeof apiVersion !== 'string' || apiVersion.split('/')[0] !== FLAGGER_GROUP) return undefined;
  return FLAGGER_KINDS.find((k) => k === kind);
}
