import { SIM_ANNOTATIONS } from '../sandbox/traffic.ts';

export const SCENARIOS = ['default', 'all', 'healthy', 'errors', 'latency'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** How a simulated version behaves (written as `sim.petrel.dev/...` pod-template annotations). */
export interface VersionBehaviour {
  errorRatio: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

export type ReleaseKind = 'healthy' | 'errors' | 'latency';

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
  };
}

function assertNever(value: never): never {
  throw new Error(`unhandled value: ${String(value)}`);
}
