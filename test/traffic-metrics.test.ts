import { describe, expect, it } from 'vitest';
import { ISTIO_DURATION_BUCKETS_MS, IstioMetricsWriter } from '../dev/sandbox/istio-metrics.ts';
import { SIM_ANNOTATIONS, seededRandom, simulateTick } from '../dev/sandbox/traffic.ts';
import { canarySchema } from '../src/api/index.ts';
import { runChecks } from '../src/metrics/checks.ts';
import { PrometheusProvider } from '../src/metrics/prometheus.ts';
import { usePrometheus } from './support/prometheus.ts';

const prom = usePrometheus();
const NS = 'latency';

/** What histogram_quantile(0.99, ...) computes from these observations with Istio's buckets. */
function bucketedP99(latencies: number[]): number {
  const rank = 0.99 * latencies.length;
  let lower = 0;
  let below = 0;
  for (const upper of ISTIO_DURATION_BUCKETS_MS) {
    const within = latencies.filter((ms) => ms <= upper).length;
    if (within >= rank) return lower + ((rank - below) / (within - below)) * (upper - lower);
    lower = upper;
    below = within;
  }
  return lower;
}

describe('simulated traffic as the builtin checks see it', () => {
  it('reports the annotated error ratio and a p99 near the annotated tail', async () => {
    const annotations = {
      [SIM_ANNOTATIONS.errorRatio]: '0.05',
      [SIM_ANNOTATIONS.latencyP50Ms]: '30',
      [SIM_ANNOTATIONS.latencyP99Ms]: '600',
    };
    const random = seededRandom(99);
    const writer = new IstioMetricsWriter({ url: prom.url });
    const end = Date.now();
    const all: number[] = [];
    let requests = 0;
    let errors = 0;
    // One minute of history at 1000 rps, one flush every 5 s.
    for (let t = end - 60_000; t <= end; t += 5_000) {
      const [traffic] = simulateTick({
        targets: [{ namespace: NS, workload: 'slow', service: 'slow-canary', share: 1, annotations }],
        rps: 1000,
        elapsedMs: 5_000,
        random,
      });
      writer.record(NS, 'slow', traffic!);
      await writer.flush(t);
      all.push(...traffic!.latenciesMs);
      requests += traffic!.requests;
      errors += traffic!.errors;
    }

    const results = await runChecks({
      canary: canarySchema.parse({
        apiVersion: 'petrel.dev/v1alpha1',
        kind: 'Canary',
        metadata: { name: 'slow', namespace: NS },
        spec: {
          targetRef: { kind: 'Deployment', name: 'slow' },
          service: { port: 80 },
          analysis: {
            metrics: [
              { name: 'request-success-rate', thresholdRange: { min: 99 } },
              { name: 'request-duration', thresholdRange: { max: 500 } },
            ],
          },
        },
      }),
      templates: () => undefined,
      providerFor: () => new PrometheusProvider({ address: prom.url }),
      now: new Date(),
    });
    const [success, duration] = results;
    expect(Math.abs(100 - success!.value! - 5)).toBeLessThan(0.5);
    expect(success?.passed).toBe(false);
    expect(errors / requests).toBeCloseTo(0.05, 2);
    // Istio's buckets are coarse (500..1000 here): Prometheus interpolates inside them, so the
    // measured p99 sits near the configured 600 ms, and matches the bucketed estimate closely.
    expect(duration!.value!).toBeGreaterThan(550);
    expect(duration!.value!).toBeLessThan(800);
    expect(Math.abs(duration!.value! - bucketedP99(all)) / bucketedP99(all)).toBeLessThan(0.05);
    expect(duration?.passed).toBe(false);
    expect(duration?.reason).toMatch(/^request-duration \d+(\.\d+)?ms > max 500ms$/);
  });
});
