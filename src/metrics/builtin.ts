import type { BuiltinMetric, CanaryProvider } from '../api/index.ts';
import { BUILTIN_METRICS } from '../api/index.ts';

/** Flagger's Istio queries: success rate in percent, and p99 latency in milliseconds. */
const ISTIO_QUERIES: Record<BuiltinMetric, string> = {
  'request-success-rate': `sum(
  rate(
    istio_requests_total{
      reporter="destination",
      destination_workload_namespace="{{ namespace }}",
      destination_workload=~"{{ target }}",
      response_code!~"5.*"
    }[{{ interval }}]
  )
)
/
sum(
  rate(
    istio_requests_total{
      reporter="destination",
      destination_workload_namespace="{{ namespace }}",
      destination_workload=~"{{ target }}"
    }[{{ interval }}]
  )
)
* 100`,
  'request-duration': `histogram_quantile(
  0.99,
  sum(
    rate(
      istio_request_duration_milliseconds_bucket{
        reporter="destination",
        destination_workload_namespace="{{ namespace }}",
        destination_workload=~"{{ target }}"
      }[{{ interval }}]
    )
  ) by (le)
)`,
};

/** Units of the builtin checks, for reasons such as `request-duration 612ms > max 500ms`. */
export const BUILTIN_UNITS: Record<BuiltinMetric, string> = {
  'request-success-rate': '%',
  'request-duration': 'ms',
};

export class UnsupportedBuiltinError extends Error {
  override readonly name = 'UnsupportedBuiltinError';
  readonly code = 'UNSUPPORTED_BUILTIN';
}

export function isBuiltinMetric(name: string): name is BuiltinMetric {
  return (BUILTIN_METRICS as readonly string[]).includes(name);
}

/** The query template of a builtin check for the canary's mesh provider. */
export function builtinQuery(provider: CanaryProvider, metric: BuiltinMetric): string {
  switch (provider) {
    case 'istio':
      return ISTIO_QUERIES[metric];
    // The Gateway API has no metrics of its own: each implementation exports its own. Istio implements
    // it (and the sandbox's simulator writes Istio metrics), so its workload metrics are the default;
    // with another implementation, use MetricTemplates (templateRef) over that implementation's metrics.
    case 'gatewayapi:v1':
      return ISTIO_QUERIES[metric];
    case 'kubernetes':
      throw new UnsupportedBuiltinError(
        `the builtin check "${metric}" needs mesh metrics, and provider "kubernetes" has none: ` +
          'use a MetricTemplate (templateRef) for this metric',
      );
    default: {
      const unknown: never = provider;
      throw new UnsupportedBuiltinError(`no builtin checks for provider "${String(unknown)}"`);
    }
  }
}
