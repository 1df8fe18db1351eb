import { type Behaviour, behaviourAtShare, parseBehaviour } from './behaviour.ts';
import { durationBuckets } from './histogram-buckets.ts';
import { gaussian, type RandomSource } from './random.ts';
import type { WorkloadTarget } from './routes.ts';

/** The 99th percentile of the standard normal distribution. */
const Z99 = 2.3263478740408408;

export interface TickInput {
  /** Every workload receiving traffic, with its share of `rps` (shares of one VirtualService sum to ≤ 1). */
  targets: readonly WorkloadTarget[];
  rps: number;
  elapsedMs: number;
  random: RandomSource;
}

export interface TickTraffic {
  namespace: string;
  workload: string;
  service: string;
  requests: number;
  errors: number;
  /** One per request; the first `errors` belong to the failed requests. */
  latenciesMs: number[];
  behaviour: Behaviour;
  /** How many of `requests` were mirrored copies: served and measured, their responses discarded. */
  mirrored: number;
  /** The duration histogram's bucket bounds (ms) of this workload's sidecar. */
  durationBucketsMs: readonly number[];
}

/**
 * The requests each workload served during `elapsedMs`: counts follow rps × share (fractions
 * rounded at random, so the long-run rate is exact), errors are drawn per request with the
 * workload's error ratio, and latencies from a log-normal with its median and p99.
 * Pure: the same input and random sequence give the same output.
 */
export function simulateTick(input: TickInput): TickTraffic[] {
  const byWorkload = new Map<string, TickTraffic>();
  const ordered = [...input.targets].sort((a, b) =>
    `${a.namespace}/${a.workload}`.localeCompare(`${b.namespace}/${b.workload}`),
  );
  // One draw per service and tick: the variation canary and primary share (drawn only when asked for,
  // so runs without shared noise keep their random sequence).
  const sharedDraws = new Map<string, number>();
  const sharedDraw = (service: string) => {
    if (!sharedDraws.has(service)) sharedDraws.set(service, gaussian(input.random));
    return sharedDraws.get(service)!;
  };
  for (const target of ordered) {
    const behaviour = behaviourAtShare(parseBehaviour(target.annotations).behaviour, target.share);
    const expected = Math.max(0, input.rps * (input.elapsedMs / 1000) * target.share);
    const whole = Math.floor(expected);
    const requests = whole + (input.random() < expected - whole ? 1 : 0);

    const ownFactor = behaviour.noise > 0 ? Math.max(0, 1 + behaviour.noise * gaussian(input.random)) : 1;
    const shared = behaviour.sharedNoise ?? 0;
    const errorFactor =
      shared > 0 ? ownFactor * Math.max(0, 1 + shared * sharedDraw(target.service)) : ownFactor;
    const latencyFactor =
      behaviour.noise > 0 ? Math.max(0.05, 1 + behaviour.noise * gaussian(input.random)) : 1;
    const errorRatio = Math.min(1, behaviour.errorRatio * errorFactor);
    let errors = 0;
    for (let i = 0; i < requests; i++) if (input.random() < errorRatio) errors++;
    const latencies = Array.from(
      { length: requests },
      () => sampleLatency(behaviour, input.random) * latencyFactor,
    );

    const key = `${target.namespace}/${target.workload}`;
    const existing = byWorkload.get(key);
    if (existing) {
      // Keep error latencies first in the merged list.
      existing.latenciesMs = [
        ...existing.latenciesMs.slice(0, existing.errors),
        ...latencies.slice(0, errors),
        ...existing.latenciesMs.slice(existing.errors),
        ...latencies.slice(errors),
      ];
      existing.requests += requests;
      existing.errors += errors;
      if (target.mirrored) existing.mirrored += requests;
    } else {
      byWorkload.set(key, {
        namespace: target.namespace,
        workload: target.workload,
        service: target.service,
        requests,
        errors,
        latenciesMs: latencies,
        behaviour,
        mirrored: target.mirrored ? requests : 0,
        durationBucketsMs: durationBuckets(target.annotations).bucketsMs,
      });
    }
  }
  return [...byWorkload.values()];
}

/** A log-normal draw whose median is p50 and whose 99th percentile is p99. */
export function sampleLatency(b: Behaviour, random: RandomSource): number {
  const mu = Math.log(b.latencyP50Ms);
  const sigma = b.latencyP99Ms > b.latencyP50Ms ? (Math.log(b.latencyP99Ms) - mu) / Z99 : 0;
  return Math.exp(mu + sigma * gaussian(random));
}
