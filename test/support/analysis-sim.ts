/**
 * A fast model of the traffic the simulator produces, for Monte Carlo checks of the analysis: per
 * one-second tick, each version gets rps × share requests; its error probability is the base rate times
 * a factor shared by both versions (the same traffic mix) and a factor of its own (1 + noise × N(0,1)),
 * as dev/sandbox/traffic does. Errors are binomial draws.
 */
import type { RandomSource as Random } from '../../dev/sandbox/traffic/random.ts';
import { gaussian } from '../../dev/sandbox/traffic/random.ts';
import {
  type Batch,
  type DispersionHistory,
  historyDispersion,
  type RequestCounts,
} from '../../src/analysis/index.ts';

// The simulator's own generator and normal draws, so the model draws exactly as dev/sandbox/traffic does.
export {
  gaussian,
  type RandomSource as Random,
  seededRandom as seeded,
} from '../../dev/sandbox/traffic/random.ts';

export function binomial(n: number, p: number, random: Random): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  if (p > 0.5) return n - binomial(n, 1 - p, random);
  const q = 1 - p;
  const ratio = p / q;
  let pmf = q ** n;
  if (pmf === 0) {
    // n × p large: a normal draw is close enough for this model.
    return Math.max(0, Math.min(n, Math.round(n * p + Math.sqrt(n * p * q) * gaussian(random))));
  }
  let u = random();
  let k = 0;
  while (u > pmf && k < n) {
    u -= pmf;
    pmf *= (ratio * (n - k)) / (k + 1);
    k++;
  }
  return k;
}

export interface TrafficModel {
  rps: number;
  primaryRate: number;
  canaryRate: number;
  /** Relative tick-to-tick variation of both versions' error rate together. */
  sharedNoise: number;
  /** Relative tick-to-tick variation of each version's error rate alone. */
  ownNoise: number;
  ticksPerInterval: number;
}

/** One analysis interval of traffic at `weight` percent on the canary. */
export function interval(model: TrafficModel, weight: number, random: Random): Batch<RequestCounts> {
  const canary = { errors: 0, requests: 0 };
  const primary = { errors: 0, requests: 0 };
  const factor = (noise: number) => (noise > 0 ? Math.max(0, 1 + noise * gaussian(random)) : 1);
  for (let t = 0; t < model.ticksPerInterval; t++) {
    const shared = factor(model.sharedNoise);
    const nC = roundAtRandom((model.rps * weight) / 100, random);
    const nP = roundAtRandom((model.rps * (100 - weight)) / 100, random);
    canary.requests += nC;
    primary.requests += nP;
    canary.errors += binomial(nC, Math.min(1, model.canaryRate * shared * factor(model.ownNoise)), random);
    primary.errors += binomial(nP, Math.min(1, model.primaryRate * shared * factor(model.ownNoise)), random);
  }
  return { canary, primary };
}

/**
 * What the primary's history before the release says about overdispersion: `count` intervals with all
 * traffic on the primary, drawn from the same model (shared and own noise alike).
 */
export function primaryHistory(
  model: TrafficModel,
  count: number,
  random: Random,
): DispersionHistory | undefined {
  return historyDispersion(Array.from({ length: count }, () => interval(model, 0, random).primary));
}

function roundAtRandom(x: number, random: Random): number {
  const whole = Math.floor(x);
  return whole + (random() < x - whole ? 1 : 0);
}

export interface LatencyModel {
  rps: number;
  /** Log-normal medians and 99th percentiles of the two versions, in ms. */
  primary: { p50: number; p99: number };
  canary: { p50: number; p99: number };
  /** Relative tick-to-tick variation of each version's latencies (a factor on every request of the tick). */
  noise: number;
  ticksPerInterval: number;
  bounds: readonly number[];
}

const Z99 = 2.3263478740408408;

/** One interval of latency histograms (cumulative bucket counts, last bound +Inf). */
export function latencyInterval(
  model: LatencyModel,
  weight: number,
  random: Random,
): Batch<{ bounds: number[]; counts: number[] }> {
  const bounds = [...model.bounds, Number.POSITIVE_INFINITY];
  const canary = new Array<number>(bounds.length).fill(0);
  const primary = new Array<number>(bounds.length).fill(0);
  for (let t = 0; t < model.ticksPerInterval; t++) {
    const nC = roundAtRandom((model.rps * weight) / 100, random);
    const nP = roundAtRandom((model.rps * (100 - weight)) / 100, random);
    addBuckets(canary, bounds, nC, model.canary, model.noise, random);
    addBuckets(primary, bounds, nP, model.primary, model.noise, random);
  }
  return { canary: { bounds, counts: cumulative(canary) }, primary: { bounds, counts: cumulative(primary) } };
}

function addBuckets(
  into: number[],
  bounds: number[],
  n: number,
  shape: { p50: number; p99: number },
  noise: number,
  random: Random,
): void {
  const factor = noise > 0 ? Math.max(0.05, 1 + noise * gaussian(random)) : 1;
  const mu = Math.log(shape.p50 * factor);
  const sigma = (Math.log(shape.p99) - Math.log(shape.p50)) / Z99;
  let left = n;
  let below = 0;
  for (let i = 0; i < bounds.length && left > 0; i++) {
    const upper = bounds[i]!;
    const cdf = Number.isFinite(upper) ? normalCdf((Math.log(upper) - mu) / sigma) : 1;
    const p = below >= 1 ? 1 : Math.min(1, Math.max(0, (cdf - below) / (1 - below)));
    const k = Number.isFinite(upper) ? binomialAny(left, p, random) : left;
    into[i]! += k;
    left -= k;
    below = cdf;
  }
}

function binomialAny(n: number, p: number, random: Random): number {
  const small = Math.min(p, 1 - p);
  if (n * small > 30) {
    return Math.max(0, Math.min(n, Math.round(n * p + Math.sqrt(n * p * (1 - p)) * gaussian(random))));
  }
  return binomial(n, p, random);
}

function cumulative(counts: number[]): number[] {
  let sum = 0;
  return counts.map((c) => {
    sum += c;
    return sum;
  });
}

/** Standard normal CDF (Zelen & Severo 26.2.17, error < 7.5e-8): enough for a traffic model. */
function normalCdf(x: number): number {
  const t = 1 / (1 + 0.2316419 * Math.abs(x));
  const d = 0.3989422804014327 * Math.exp((-x * x) / 2);
  const tail =
    d * t * (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  return x >= 0 ? 1 - tail : tail;
}

export type Verdict = 'pass' | 'fail' | 'inconclusive';

export interface ReleaseOutcome {
  decision: 'rollback' | 'promote' | 'undecided';
  /** Canary weight when the decision was taken. */
  weight: number;
  /** Analysis intervals looked at. */
  steps: number;
}

/**
 * Runs one release the way the controller does: weights 10, 20, ... maxWeight; a pass advances (and
 * promotes at the top), a fail rolls back at once, an inconclusive holds the weight for at most
 * `maxHolds` consecutive intervals, then advances.
 */
export function runRelease(
  next: (weight: number) => void,
  judge: () => Verdict,
  options: { stepWeight?: number; maxWeight?: number; maxHolds?: number } = {},
): ReleaseOutcome {
  const step = options.stepWeight ?? 10;
  const top = options.maxWeight ?? 50;
  const maxHolds = options.maxHolds ?? 10;
  let weight = step;
  let holds = 0;
  for (let steps = 1; steps <= 200; steps++) {
    next(weight);
    const verdict = judge();
    if (verdict === 'fail') return { decision: 'rollback', weight, steps };
    if (verdict === 'inconclusive' && holds < maxHolds) {
      holds++;
      continue;
    }
    holds = 0;
    if (weight >= top) return { decision: 'promote', weight, steps };
    weight = Math.min(top, weight + step);
  }
  return { decision: 'undecided', weight, steps: 200 };
}
