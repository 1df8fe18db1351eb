import { SIM_ANNOTATIONS } from '../sandbox/traffic.ts';

export const SCENARIOS = ['default', 'all', 'healthy', 'errors', 'latency', 'subtle'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** How a simulated version behaves (written as `sim.petrel.dev/...` pod-template annotations). */
export interface VersionBehaviour {
  errorRatio: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Tick-to-tick variation of this version alone, and the one it shares with the other version. */
  noise?: number;
  sharedNoise?: number;
}

export type ReleaseKind = 'healthy' | 'errors' | 'latency' | 'subtle-healthy' | 'subtle-errors';

/**
 * The `subtle` scenario's service: 2% of its requests fail even when healthy, with noisy traffic. Flagger's
 * usual `min: 99` would roll back every release of it; the relative check judges it against its primary.
 */
export const SUBTLE_SERVICE: VersionBehaviour = {
  errorRatio: 0.02,
  latencyP50Ms: 20,
  latencyP99Ms: 80,
  noise: 0.3,
  sharedNoise: 0.3,
};

/** Whether a scenario's Canary judges against the primary (compare) instead of fixed thresholds. */
export function isRelativeScenario(scenario: ScenarioName): boolean {
  return scenario === 'subtle';
}

/** The version running before the scenario's first release. */
export function initialVersion(scenario: ScenarioName): { image: string; behaviour: VersionBehaviour } {
  return isRelativeScenario(scenario) ? { ...INITIAL_VERSION, behaviour: SUBTLE_SERVICE } : INITIAL_VERSION;
}

export interface Release {
  /** v2, v3, ...: v1 is what runs before the first release. */
  name: string;
  kind: ReleaseKind;
  image: string;
  description: string;
  behaviour: VersionBehaviour;
  /** How the release must end for the demo to pass. */
  expect: { phase: 'Succeeded' | 'Failed'; failedMetric?: string };
}

export const BASE_IMAGE = 'ghcr.io/stefanprodan/podinfo';

/** v1, the version running before the first release. */
export const INITIAL_VERSION = { image: `${BASE_IMAGE}:6.7.0`, behaviour: healthyBehaviour() };

function healthyBehaviour(): VersionBehaviour {
  return { errorRatio: 0, latencyP50Ms: 20, latencyP99Ms: 80 };
}

/** What each kind of release does; the thresholds it must cross live in the demo Canary (app.ts). */
function releaseOf(kind: ReleaseKind, version: number): Release {
  const name = `v${version}`;
  const image = `${BASE_IMAGE}:6.${7 + version - 1}.0`;
  switch (kind) {
    case 'healthy':
      return {
        name,
        kind,
        image,
        description: 'healthy: no errors, p99 80ms',
        behaviour: healthyBehaviour(),
        expect: { phase: 'Succeeded' },
      };
    case 'errors':
      return {
        name,
        kind,
        image,
        description: 'broken: 10% of requests answer HTTP 500',
        behaviour: { errorRatio: 0.1, latencyP50Ms: 20, latencyP99Ms: 80 },
        expect: { phase: 'Failed', failedMetric: 'request-success-rate' },
      };
    case 'latency':
      // A median close to the 500ms threshold puts a third of the requests above it, so even the
      // few requests a 10% canary weight gets in one check window show a p99 well over 500ms.
      return {
        name,
        kind,
        image,
        description: 'slow: median 400ms, p99 1500ms',
        behaviour: { errorRatio: 0, latencyP50Ms: 400, latencyP99Ms: 1500 },
        expect: { phase: 'Failed', failedMetric: 'request-duration' },
      };
    case 'subtle-healthy':
      return {
        name,
        kind,
        image,
        description:
          'healthy for this service: 2% errors like the primary (a fixed min 99% would roll it back)',
        behaviour: SUBTLE_SERVICE,
        expect: { phase: 'Succeeded' },
      };
    case 'subtle-errors':
      return {
        name,
        kind,
        image,
        description:
          "+1pp: 3% errors against the primary's 2% (within a fixed min 99%? no; the relative check sees +1pp)",
        behaviour: { ...SUBTLE_SERVICE, errorRatio: 0.03 },
        expect: { phase: 'Failed', failedMetric: 'request-success-rate' },
      };
    default:
      return assertNever(kind);
  }
}

/** The releases of a scenario, in order. Unknown names are a type error, never a silent default. */
export function scenarioReleases(scenario: ScenarioName): Release[] {
  const kinds = ((): ReleaseKind[] => {
    switch (scenario) {
      case 'default':
        return ['healthy', 'errors'];
      case 'all':
        return ['healthy', 'errors', 'latency'];
      case 'healthy':
        return ['healthy'];
      case 'errors':
        return ['errors'];
      case 'latency':
        return ['latency'];
      case 'subtle':
        return ['subtle-healthy', 'subtle-errors'];
      default:
        return assertNever(scenario);
    }
  })();
  return kinds.map((kind, i) => releaseOf(kind, i + 2));
}

export function isScenarioName(value: string): value is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(value);
}

/** The pod-template annotations the traffic simulator reads. */
export function behaviourAnnotations(b: VersionBehaviour): Record<string, string> {
  return {
    [SIM_ANNOTATIONS.errorRatio]: String(b.errorRatio),
    [SIM_ANNOTATIONS.latencyP50Ms]: String(b.latencyP50Ms),
    [SIM_ANNOTATIONS.latencyP99Ms]: String(b.latencyP99Ms),
    ...(b.noise !== undefined ? { [SIM_ANNOTATIONS.noise]: String(b.noise) } : {}),
    ...(b.sharedNoise !== undefined ? { [SIM_ANNOTATIONS.sharedNoise]: String(b.sharedNoise) } : {}),
  };
}

function assertNever(value: never): never {
  throw new Error(`unhandled value: ${String(value)}`);
}
