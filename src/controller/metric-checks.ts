import type { Logger } from 'pino';
import type { Canary } from '../api/canary.ts';
import { type MetricTemplate, validateMetricTemplate } from '../api/metric-template.ts';
import { canonicalJson } from '../kube/canonical.ts';
import type { CacheReader } from '../kube/informer.ts';
import type { KubeObject } from '../kube/types.ts';
import { runChecks } from '../metrics/checks.ts';
import { createMetricsProvider } from '../metrics/factory.ts';
import type { MetricsProvider, MetricsQueryInfo } from '../metrics/provider.ts';

export interface MetricChecksOptions {
  metricTemplates: CacheReader<KubeObject>;
  /** Default Prometheus for builtin checks and MetricTemplates without an address. */
  prometheusAddress?: string;
  queryTimeoutMs?: number;
  logger: Logger;
  /** Told of every query and its outcome (the controller counts the failed ones). */
  onQuery?: (info: MetricsQueryInfo) => void;
}

/**
 * The reconciler's metric checks: MetricTemplates read from the cache, one provider (and its keep-alive
 * client) per distinct provider spec, shared by every canary that uses it.
 */
export function metricChecks(
  options: MetricChecksOptions,
): (canary: Canary, now: Date) => ReturnType<typeof runChecks> {
  const providers = new Map<string, MetricsProvider>();
  const providerFor = (spec: MetricTemplate['spec']['provider'] | undefined): MetricsProvider => {
    const cacheKey = canonicalJson(spec ?? null);
    let provider = providers.get(cacheKey);
    if (!provider) {
      provider = createMetricsProvider(spec, {
        defaultAddress: options.prometheusAddress,
        timeoutMs: options.queryTimeoutMs,
        logger: options.logger,
        onQuery: options.onQuery,
      });
      providers.set(cacheKey, provider);
    }
    return provider;
  };
  const templates = (ref: { name: string; namespace: string }): MetricTemplate | undefined => {
    const raw = options.metricTemplates.get(ref.namespace, ref.name);
    if (!raw) return undefined;
    const result = validateMetricTemplate(raw);
    return result.ok ? result.value : undefined;
  };
  return (canary, now) => runChecks({ canary, templates, providerFor, now });
}
