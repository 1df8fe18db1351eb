/**
 * How a simulated version behaves, read from its Deployment's pod-template annotations:
 *
 * - `sim.petrel.dev/error-ratio`: share of requests answered with HTTP 500, 0..1 (default 0).
 * - `sim.petrel.dev/latency-p50-ms`: median latency in ms, > 0 (default 20).
 * - `sim.petrel.dev/latency-p99-ms`: 99th-percentile latency in ms, >= p50 (default 4 × p50).
 * - `sim.petrel.dev/noise`: 0..1, relative tick-to-tick variation of the error ratio and of the
 *   latencies of this version alone (default 0: every tick draws from the same distribution).
 * - `sim.petrel.dev/shared-noise`: 0..1, relative tick-to-tick variation of the error ratio that every
 *   version of the service shares in a tick (the same traffic mix reaches canary and primary).
 * - `sim.petrel.dev/load-share`: 0..1, a share of the service's traffic at and above which this version
 *   degrades (a regression that appears only under load, i.e. above some canary weight).
 * - `sim.petrel.dev/load-error-ratio`, `sim.petrel.dev/load-latency-factor`: the error ratio, and the
 *   factor on latencies, from `load-share` on (defaults: unchanged).
 *
 * Latencies are log-normal with the given median and 99th percentile.
 */
export const SIM_ANNOTATIONS = {
  errorRatio: 'sim.petrel.dev/error-ratio',
  latencyP50Ms: 'sim.petrel.dev/latency-p50-ms',
  latencyP99Ms: 'sim.petrel.dev/latency-p99-ms',
  noise: 'sim.petrel.dev/noise',
  sharedNoise: 'sim.petrel.dev/shared-noise',
  loadShare: 'sim.petrel.dev/load-share',
  loadErrorRatio: 'sim.petrel.dev/load-error-ratio',
  loadLatencyFactor: 'sim.petrel.dev/load-latency-factor',
} as const;

export interface Behaviour {
  errorRatio: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  noise: number;
  /** 0 unless set: variation shared with the other versions of the service. */
  sharedNoise?: number;
  /** Degradation under load: from this share of the service's traffic on. */
  load?: { share: number; errorRatio: number; latencyFactor: number };
}

export const DEFAULT_BEHAVIOUR: Behaviour = { errorRatio: 0, latencyP50Ms: 20, latencyP99Ms: 80, noise: 0 };

/**
 * The behaviour of a version serving `share` of its service's traffic: past its load share it takes
 * its load error ratio and slower latencies.
 *
 * Worked example: error ratio 0.02, load { share 0.3, errorRatio 0.03 }: at share 0.2 → 0.02, at 0.3 → 0.03.
 */
export function behaviourAtShare(b: Behaviour, share: number): Behaviour {
  if (!b.load || share < b.load.share) return b;
  return {
    ...b,
    errorRatio: b.load.errorRatio,
    latencyP50Ms: b.latencyP50Ms * b.load.latencyFactor,
    latencyP99Ms: b.latencyP99Ms * b.load.latencyFactor,
  };
}

export interface BehaviourParse {
  behaviour: Behaviour;
  /** One message per annotation that was ignored, naming it and the fix. */
  problems: string[];
}

/**
 * Reads the behaviour annotations. A bad value is reported in `problems` (naming the
 * annotation, the value and what is allowed) and that one field keeps its default.
 */
export function parseBehaviour(annotations: Readonly<Record<string, string>> | undefined): BehaviourParse {
  const problems: string[] = [];
  const read = (key: string, fallback: number, ok: (n: number) => boolean, allowed: string): number => {
    const raw = annotations?.[key];
    if (raw === undefined) return fallback;
    const value = raw.trim() === '' ? Number.NaN : Number(raw);
    if (!Number.isFinite(value) || !ok(value)) {
      problems.push(`annotation ${key}="${raw}" ignored: it must be ${allowed} (using ${fallback})`);
      return fallback;
    }
    return value;
  };
  const errorRatio = read(
    SIM_ANNOTATIONS.errorRatio,
    DEFAULT_BEHAVIOUR.errorRatio,
    (n) => n >= 0 && n <= 1,
    'a number in 0..1',
  );
  const latencyP50Ms = read(
    SIM_ANNOTATIONS.latencyP50Ms,
    DEFAULT_BEHAVIOUR.latencyP50Ms,
    (n) => n > 0,
    'a number of ms > 0',
  );
  let latencyP99Ms = read(SIM_ANNOTATIONS.latencyP99Ms, latencyP50Ms * 4, (n) => n > 0, 'a number of ms > 0');
  if (latencyP99Ms < latencyP50Ms) {
    problems.push(
      `annotation ${SIM_ANNOTATIONS.latencyP99Ms}="${latencyP99Ms}" is below the median ${latencyP50Ms}: using the median`,
    );
    latencyP99Ms = latencyP50Ms;
  }
  const noise = read(
    SIM_ANNOTATIONS.noise,
    DEFAULT_BEHAVIOUR.noise,
    (n) => n >= 0 && n <= 1,
    'a number in 0..1',
  );
  const sharedNoise = read(SIM_ANNOTATIONS.sharedNoise, 0, (n) => n >= 0 && n <= 1, 'a number in 0..1');
  const behaviour: Behaviour = { errorRatio, latencyP50Ms, latencyP99Ms, noise };
  if (sharedNoise > 0) behaviour.sharedNoise = sharedNoise;
  if (annotations?.[SIM_ANNOTATIONS.loadShare] !== undefined) {
    const share = read(SIM_ANNOTATIONS.loadShare, 1, (n) => n >= 0 && n <= 1, 'a number in 0..1');
    behaviour.load = {
      share,
      errorRatio: read(
        SIM_ANNOTATIONS.loadErrorRatio,
        errorRatio,
        (n) => n >= 0 && n <= 1,
        'a number in 0..1',
      ),
      latencyFactor: read(SIM_ANNOTATIONS.loadLatencyFactor, 1, (n) => n > 0, 'a number > 0'),
    };
  }
  return { behaviour, problems };
}
