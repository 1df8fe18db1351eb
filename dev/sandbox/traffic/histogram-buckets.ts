import { ISTIO_DURATION_BUCKETS_MS } from '../istio-metrics.ts';

/**
 * Istio's pod annotation for histogram buckets: a JSON object from a metric-name prefix to bucket
 * bounds, e.g. `{"istiocustom": [10, 20, 50]}`. The longest prefix of
 * `istiocustom.istio_request_duration_milliseconds` that has an entry applies, as in the sidecar.
 */
export const ISTIO_BUCKETS_ANNOTATION = 'sidecar.istio.io/statsHistogramBuckets';
const DURATION_METRIC = 'istiocustom.istio_request_duration_milliseconds';
const MAX_BUCKETS = 200;

export interface BucketsParse {
  bucketsMs: readonly number[];
  /** Set when the annotation was present but not usable: names it, the value and the fix. */
  problem?: string;
}

/** The duration buckets a workload's sidecar would use, from its pod-template annotations. */
export function durationBuckets(annotations: Readonly<Record<string, string>> | undefined): BucketsParse {
  const raw = annotations?.[ISTIO_BUCKETS_ANNOTATION];
  if (raw === undefined) return { bucketsMs: ISTIO_DURATION_BUCKETS_MS };
  const refuse = (why: string): BucketsParse => ({
    bucketsMs: ISTIO_DURATION_BUCKETS_MS,
    problem: `annotation ${ISTIO_BUCKETS_ANNOTATION} ignored: ${why} (using Istio's default buckets)`,
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return refuse('it is not JSON; write {"istiocustom": [10, 20, 50, ...]}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return refuse('it must be a JSON object from a metric prefix to a list of bounds');
  }
  const prefix = Object.keys(parsed)
    .filter((key) => DURATION_METRIC.startsWith(key) && key.length > 0)
    .sort((a, b) => b.length - a.length)[0];
  if (prefix === undefined) return { bucketsMs: ISTIO_DURATION_BUCKETS_MS };
  const bounds = (parsed as Record<string, unknown>)[prefix];
  if (
    !Array.isArray(bounds) ||
    bounds.length === 0 ||
    bounds.length > MAX_BUCKETS ||
    !bounds.every((b): b is number => typeof b === 'number' && Number.isFinite(b) && b > 0)
  ) {
    return refuse(`"${prefix}" must list 1..${MAX_BUCKETS} positive numbers of ms`);
  }
  const sorted = [...new Set(bounds)].sort((a, b) => a - b);
  return { bucketsMs: sorted };
}
