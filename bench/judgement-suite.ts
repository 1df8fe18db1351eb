/**
 * The decision-quality suite: simulated services with known truth, each released once per kind
 * (healthy, +1pp and +5pp errors, p99 +20% and +100%), judged by two modes configured once for the
 * whole suite: absolute thresholds as Flagger's docs write them, and the relative sequential check.
 */

import { ISTIO_BUCKETS_ANNOTATION } from '../dev/sandbox/traffic/histogram-buckets.ts';
import { SIM_ANNOTATIONS } from '../dev/sandbox/traffic.ts';

export interface Service {
  name: string;
  errorRatio: number;
  p99Ms: number;
  rps: number;
  noise: number;
}

export const RELEASE_KINDS = ['healthy', 'errors+1pp', 'errors+5pp', 'p99+20%', 'p99+100%'] as const;
export type ReleaseKind = (typeof RELEASE_KINDS)[number];
export const MODES = ['absolute', 'relative'] as const;
export type Mode = (typeof MODES)[number];

/** Healthy error rates 0.1-3%, p99 80-900 ms, 20-400 requests/s, some noisy. */
export const SERVICES: readonly Service[] = [
  { name: 'a', errorRatio: 0.001, p99Ms: 80, rps: 20, noise: 0 },
  { name: 'b', errorRatio: 0.001, p99Ms: 300, rps: 400, noise: 0.3 },
  { name: 'c', errorRatio: 0.01, p99Ms: 80, rps: 100, noise: 0.3 },
  { name: 'd', errorRatio: 0.01, p99Ms: 900, rps: 20, noise: 0 },
  { name: 'e', errorRatio: 0.02, p99Ms: 300, rps: 100, noise: 0.3 },
  { name: 'f', errorRatio: 0.03, p99Ms: 80, rps: 400, noise: 0.3 },
  { name: 'g', errorRatio: 0.03, p99Ms: 900, rps: 100, noise: 0 },
  { name: 'h', errorRatio: 0.005, p99Ms: 150, rps: 400, noise: 0.3 },
];

export interface Behaviour {
  errorRatio: number;
  p50Ms: number;
  p99Ms: number;
  noise: number;
}

export function baseline(service: Service): Behaviour {
  return {
    errorRatio: service.errorRatio,
    p50Ms: service.p99Ms / 4,
    p99Ms: service.p99Ms,
    noise: service.noise,
  };
}

/** The released version's true behaviour. */
export function released(service: Service, kind: ReleaseKind): Behaviour {
  const base = baseline(service);
  switch (kind) {
    case 'healthy':
      return base;
    case 'errors+1pp':
      return { ...base, errorRatio: base.errorRatio + 0.01 };
    case 'errors+5pp':
      return { ...base, errorRatio: base.errorRatio + 0.05 };
    case 'p99+20%':
      return { ...base, p50Ms: base.p50Ms * 1.2, p99Ms: base.p99Ms * 1.2 };
    case 'p99+100%':
      return { ...base, p50Ms: base.p50Ms * 2, p99Ms: base.p99Ms * 2 };
  }
}

/**
 * Duration buckets 20% apart from 10 ms to 15 s (two significant digits), set through Istio's
 * `sidecar.istio.io/statsHistogramBuckets` on every version: Istio's defaults (…, 50, 100, 250, 500,
 * 1000, …) hide a 20% move of p99 inside one bucket, which no histogram-based check can see.
 */
export const SUITE_BUCKETS_MS: readonly number[] = (() => {
  const bounds: number[] = [];
  for (let bound = 10; bound <= 15_000; bound *= 1.2) {
    const rounded = Number(bound.toPrecision(2));
    if (bounds.at(-1) !== rounded) bounds.push(rounded);
  }
  return bounds;
})();

export function annotations(b: Behaviour): Record<string, string> {
  return {
    [ISTIO_BUCKETS_ANNOTATION]: JSON.stringify({ istiocustom: SUITE_BUCKETS_MS }),
    [SIM_ANNOTATIONS.errorRatio]: String(b.errorRatio),
    [SIM_ANNOTATIONS.latencyP50Ms]: String(b.p50Ms),
    [SIM_ANNOTATIONS.latencyP99Ms]: String(b.p99Ms),
    [SIM_ANNOTATIONS.noise]: String(b.noise),
    [SIM_ANNOTATIONS.sharedNoise]: String(b.noise),
  };
}

export interface SuiteTiming {
  /** The analysis interval (and the relative checks' first window). */
  interval: string;
  /** Simulated requests per second are the service's times this: an interval of `interval` carries
   * as many requests as `speedup` × `interval` of the service's real traffic. */
  speedup: number;
}

/**
 * How long an inconclusive relative check may hold one weight (intervals) before it advances. The
 * default is 10; a 20 requests/s service with 1% errors needs about 45 to gather the 10,000-19,000
 * canary requests a +1pp regression takes at 10-20% weight (the tables in docs/analysis.md).
 */
export const SUITE_MAX_INCONCLUSIVE = 45;

/** Both modes, configured once for the whole suite. */
export function canarySpec(mode: Mode, timing: SuiteTiming) {
  const metrics =
    mode === 'absolute'
      ? [
          { name: 'request-success-rate', thresholdRange: { min: 99 }, interval: timing.interval },
          { name: 'request-duration', thresholdRange: { max: 500 }, interval: timing.interval },
        ]
      : [
          {
            name: 'request-success-rate',
            interval: timing.interval,
            compare: { tolerance: '+0.25pp', alpha: 0.01, maxInconclusive: SUITE_MAX_INCONCLUSIVE },
          },
          {
            name: 'request-duration',
            interval: timing.interval,
            compare: { tolerance: '5%', alpha: 0.01, maxInconclusive: SUITE_MAX_INCONCLUSIVE },
          },
        ];
  return {
    targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'app' },
    service: { port: 9898, targetPort: 9898 },
    progressDeadlineSeconds: 120,
    analysis: { interval: timing.interval, threshold: 5, maxWeight: 50, stepWeight: 10, metrics },
  };
}

export interface ReleaseCase {
  service: Service;
  kind: ReleaseKind;
  mode: Mode;
  namespace: string;
}

export function suite(services: readonly Service[] = SERVICES): ReleaseCase[] {
  return services.flatMap((service) =>
    RELEASE_KINDS.flatMap((kind) =>
      MODES.map((mode) => ({
        service,
        kind,
        mode,
        namespace: `j-${service.name}-${kind.replace(/[^a-z0-9]+/g, '')}-${mode.slice(0, 3)}`,
      })),
    ),
  );
}
