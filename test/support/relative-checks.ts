/** What the relative-check tests against a real Prometheus share: a progressing Canary, a provider, templates. */
import {
  type Canary,
  type CanaryMetricInput,
  canarySchema,
  type MetricTemplate,
  PETREL_API_VERSION,
} from '../../src/api/index.ts';
import { createMetricsProvider } from '../../src/metrics/factory.ts';
import type { MetricsProvider } from '../../src/metrics/provider.ts';

/** A Canary of release rev-1, progressing at `weight`, checking `metrics` against its primary. */
export function progressingCanary(
  namespace: string,
  target: string,
  metrics: CanaryMetricInput[],
  status: Canary['status'] = {},
  weight = 20,
): Canary {
  return canarySchema.parse({
    apiVersion: PETREL_API_VERSION,
    kind: 'Canary',
    metadata: { name: target, namespace },
    spec: { targetRef: { kind: 'Deployment', name: target }, service: { port: 9898 }, analysis: { metrics } },
    status: { phase: 'Progressing', canaryWeight: weight, lastAppliedSpec: 'rev-1', ...status },
  });
}

export const prometheusProvider = (url: string): MetricsProvider =>
  createMetricsProvider(undefined, { defaultAddress: url, timeoutMs: 5_000 });

/** MetricTemplates by namespace/name, and the lookup runChecks takes. */
export function templateStore() {
  const templates = new Map<string, MetricTemplate>();
  return {
    templates,
    lookup: ({ name, namespace }: { name: string; namespace: string }) =>
      templates.get(`${namespace}/${name}`),
  };
}

/** Istio's 5xx and all requests of `{{ workload }}`, as a template a relative check can split by workload. */
export function istioErrorsTemplate(namespace: string, name = 'errors'): MetricTemplate {
  const selector = `destination_workload_namespace="${namespace}", destination_workload="{{ workload }}"`;
  return {
    apiVersion: PETREL_API_VERSION,
    kind: 'MetricTemplate',
    metadata: { name, namespace },
    spec: {
      provider: { type: 'prometheus' },
      query: `sum(increase(istio_requests_total{${selector}, response_code=~"5.*"}[{{ interval }}]))`,
      totalQuery: `sum(increase(istio_requests_total{${selector}}[{{ interval }}]))`,
    },
  };
}
