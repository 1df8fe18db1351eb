import type { Logger } from 'pino';
import { WORKLOAD_PLACEHOLDER } from '../api/analysis-spec.ts';
import type { Canary } from '../api/canary.ts';
import { type MetricTemplate, validateMetricTemplate } from '../api/metric-template.ts';
import type { Secret } from '../kube/configs.ts';
import type { CacheReader } from '../kube/informer.ts';
import type { KubeApi, KubeObject } from '../kube/types.ts';
import { runChecks } from '../metrics/checks.ts';
import { createMetricsProvider } from '../metrics/factory.ts';
import type { MetricsQueryInfo } from '../metrics/provider.ts';
import { canaryKey } from './keys.ts';
import { MetricProviders } from './metric-providers.ts';

export interface MetricChecksOptions {
  api: KubeApi;
  metricTemplates: CacheReader<KubeObject>;
  /** The Secret informer when Secrets are tracked; otherwise a template's secretRef is read with a GET. */
  secrets?: CacheReader<Secret>;
  /** Default Prometheus for builtin checks and MetricTemplates without an address. */
  prometheusAddress?: string;
  queryTimeoutMs?: number;
  logger: Logger;
  /** Told of every query and its outcome (the controller counts the failed ones). */
  onQuery?: (info: MetricsQueryInfo) => void;
}

/**
 * The reconciler's metric checks: MetricTemplates read from the cache, one provider (and its keep-alive
 * client) per distinct provider spec, shared by every canary that uses it; a template's secretRef is
 * resolved into the provider's credentials.
 */
export function metricChecks(
  options: MetricChecksOptions,
): (canary: Canary, now: Date) => ReturnType<typeof runChecks> {
  const { providerFor } = new MetricProviders({
    api: options.api,
    ...(options.secrets ? { secrets: options.secrets } : {}),
    create: (spec, secretValues) =>
      createMetricsProvider(spec, {
        defaultAddress: options.prometheusAddress,
        timeoutMs: options.queryTimeoutMs,
        logger: options.logger,
        onQuery: options.onQuery,
        ...(secretValues ? { secretValues } : {}),
      }),
  });
  const templates = (ref: { name: string; namespace: string }): MetricTemplate | undefined => {
    const raw = options.metricTemplates.get(ref.namespace, ref.name);
    if (!raw) return undefined;
    const result = validateMetricTemplate(raw);
    return result.ok ? result.value : undefined;
  };
  return (canary, now) => runChecks({ canary, templates, providerFor, now });
}

/**
 * A relative check (compare) on a MetricTemplate needs counts per workload: a totalQuery, and both
 * queries naming {{ workload }}. Anything else cannot be split by workload and is an InvalidSpec,
 * named by the metric's field path. A template not found yet stays a failed check, as for any metric.
 */
export function relativeTemplateProblems(
  metricTemplates: CacheReader<KubeObject>,
): (canary: Canary) => string[] {
  return (canary) => {
    const namespace = canary.metadata.namespace ?? 'default';
    const problems: string[] = [];
    canary.spec.analysis.metrics.forEach((metric, index) => {
      if (!metric.compare || !metric.templateRef) return;
      const ref = { name: metric.templateRef.name, namespace: metric.templateRef.namespace ?? namespace };
      const raw = metricTemplates.get(ref.namespace, ref.name);
      if (!raw) return;
      const result = validateMetricTemplate(raw);
      if (!result.ok) return;
      const { query, totalQuery } = result.value.spec;
      const path = `spec.analysis.metrics[${index}].compare`;
      if (!totalQuery) {
        problems.push(
          `${path}: MetricTemplate ${ref.namespace}/${ref.name} cannot be split by workload: add spec.totalQuery (all requests) next to its query (the bad ones), both with {{ workload }}`,
        );
      } else if (!WORKLOAD_PLACEHOLDER.test(query)) {
        problems.push(
          `${path}: MetricTemplate ${ref.namespace}/${ref.name} has no {{ workload }} placeholder in its query: put it where the workload label goes`,
        );
      }
    });
    return problems;
  };
}

/**
 * A MetricTemplate change wakes the canaries that use it: a relative check refused for its template
 * (InvalidSpec) is looked at again once the template is fixed.
 */
export function wakeOnTemplateChanges(deps: {
  templates: { on(event: 'add' | 'update' | 'delete', handler: (obj: KubeObject) => void): void };
  canaries: CacheReader<KubeObject>;
  enqueue: (key: string) => void;
}): void {
  for (const event of ['add', 'update', 'delete'] as const) {
    deps.templates.on(event, (template) => {
      const name = template.metadata?.name;
      const namespace = template.metadata?.namespace;
      for (const canary of deps.canaries.list()) {
        const metrics = (canary as { spec?: { analysis?: { metrics?: unknown } } }).spec?.analysis?.metrics;
        if (!Array.isArray(metrics)) continue;
        const uses = metrics.some((m: { templateRef?: { name?: string; namespace?: string } }) => {
          const ref = m?.templateRef;
          return ref?.name === name && (ref?.namespace ?? canary.metadata?.namespace) === namespace;
        });
        if (uses) deps.enqueue(canaryKey(canary.metadata?.namespace, canary.metadata?.name ?? ''));
      }
    });
  }
}
