import type { Logger } from 'pino';
import type { Canary } from '../api/canary.ts';
import { type MetricTemplate, validateMetricTemplate } from '../api/metric-template.ts';
import type { Secret } from '../kube/configs.ts';
import type { CacheReader } from '../kube/informer.ts';
import type { KubeApi, KubeObject } from '../kube/types.ts';
import { runChecks } from '../metrics/checks.ts';
import { createMetricsProvider } from '../metrics/factory.ts';
import type { MetricsQueryInfo } from '../metrics/provider.ts';
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
