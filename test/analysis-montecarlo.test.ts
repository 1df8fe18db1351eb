/**
 * Monte Carlo checks of the sequential analysis's guarantee: thousands of seeded simulated releases,
 * looked at after every interval. Deterministic (fixed seeds) and fast (a few seconds).
 */
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import { describe, expect, it } from 'vitest';
import { SUITE_BUCKETS_MS } from '../bench/judgement-suite.ts';
import { type Batch, compareQuantiles, compareRates, type RequestCounts } from '../src/analysis/index.ts';
import {
  interval,
  type LatencyModel,
  latencyInterval,
  primaryHistory,
  runRelease,
  seeded,
  type TrafficModel,
} from './support/analysis-sim.ts';

const alpha = 0.01;
const LOOKS = 20;
const ISTIO_BOUNDS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/** Share of sequences in which `fails` says yes at any of `LOOKS` looks (weights 10..50, then held at 50). */
function everyLookFailureRate(
  model: TrafficModel,
  sequences: number,
  seed: number,
  fails: (batches: Batch<RequestCounts>[]) => boolean,
): number {
  const random = seeded(seed);
  let failed = 0;
  for (let s = 0; s < sequences; s++) {
    const batches: Batch<RequestCounts>[] = [];
    for (let look = 0; look < LOOKS; look++) {
      batches.push(interval(model, Math.min(50, 10 * (look + 1)), random));
      if (fails(batches)) {
        failed++;
        break;
      }
    }
  }
  return failed / sequences;
}

const sequential = (tolerancePp: number) => (batches: Batch<RequestCounts>[]) =>
  compareRates(batches, { alpha, tolerance: { absolute: tolerancePp / 100, ratio: 0 } }).verdict === 'fail';

/** What a fixed-horizon test repeated at every step does: a one-sided z-test at alpha on the pooled counts. */
const naiveFixed = (tolerancePp: number) => {
  const z = normalQuantile(1 - alpha, 0, 1);
  return (batches: Batch<RequestCounts>[]) => {
    let ec = 0;
    let nc = 0;
    let ep = 0;
    let np = 0;
    for (const b of batches) {
      ec += b.canary.errors;
      nc += b.canary.requests;
      ep += b.primary.errors;
      np += b.primary.requests;
    }
    const pooled = (ec + ep + 0.5) / (nc + np + 1);
    const se = Math.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / np));
    return (ec / nc - ep / np - tolerancePp / 100) / se > z;
  };
};

const model = (rps: number, rate: number, noise: number, regressionPp = 0): TrafficModel => ({
  rps,
  primaryRate: rate,
  canaryRate: rate + regressionPp / 100,
  sharedNoise: noise,
  ownNoise: noise,
  ticksPerInterval: 60,
});

describe('sequential error-rate test: false rollbacks at most alpha at every look', () => {
  const cases: Array<[string, TrafficModel, number]> = [
    ['20 rps, 2% errors, equal', model(20, 0.02, 0), 0],
    ['400 rps, 3% errors, equal', model(400, 0.03, 0), 0],
    ['400 rps, 3% errors, noisy (0.5), equal', model(400, 0.03, 0.5), 0],
    [
      '400 rps, 3% errors, noisy (0.5), canary worse by exactly the tolerance',
      model(400, 0.03, 0.5, 0.5),
      0.5,
    ],
    [
      '100 rps, 0.1% errors, noisy (0.5), canary worse by exactly the tolerance',
      model(100, 0.001, 0.5, 0.5),
      0.5,
    ],
    [
      '200 rps, 1% errors, noisy (0.3), canary worse by exactly the tolerance',
      model(200, 0.01, 0.3, 0.5),
      0.5,
    ],
  ];
  it.each(cases)('%s', (_name, traffic, tolerancePp) => {
    const rate = everyLookFailureRate(traffic, 1000, 17, sequential(tolerancePp));
    expect(rate).toBeLessThanOrEqual(alpha);
  });

  it('a fixed-horizon test repeated at every look rolls back far more than alpha (more so with noise)', () => {
    const clean = everyLookFailureRate(model(400, 0.03, 0), 1000, 17, naiveFixed(0));
    const noisy = everyLookFailureRate(model(400, 0.03, 0.5), 1000, 17, naiveFixed(0));
    expect(clean).toBeGreaterThan(3 * alpha);
    expect(noisy).toBeGreaterThan(clean);
    expect(noisy).toBeGreaterThan(10 * alpha);
  });
});

describe('power of the error-rate test (tolerance +0.5pp, inconclusive holds up to 10 intervals)', () => {
  function releases(traffic: TrafficModel, count: number, seed: number, tolerancePp: number) {
    const random = seeded(seed);
    return Array.from({ length: count }, () => {
      const batches: Batch<RequestCounts>[] = [];
      return runRelease(
        (weight) => batches.push(interval(traffic, weight, random)),
        () => compareRates(batches, { alpha, tolerance: { absolute: tolerancePp / 100, ratio: 0 } }).verdict,
      );
    });
  }

  const caughtBy20 = (outcomes: ReturnType<typeof releases>) =>
    outcomes.filter((o) => o.decision === 'rollback' && o.weight <= 20).length / outcomes.length;

  it('+1pp on a 2% service at 400 rps: caught at 20% weight or less in at least 95% of releases', () => {
    expect(caughtBy20(releases(model(400, 0.02, 0.3, 1), 300, 5, 0.5))).toBeGreaterThanOrEqual(0.95);
  });

  it('+1pp on a 2% service at 100 rps: a tolerance of +0.25pp catches it by 20% weight in most releases', () => {
    // The price of low traffic: with +0.5pp most are caught later (see docs/analysis.md).
    expect(caughtBy20(releases(model(100, 0.02, 0.3, 1), 300, 5, 0.25))).toBeGreaterThanOrEqual(0.85);
    expect(caughtBy20(releases(model(100, 0.02, 0.3, 1), 300, 5, 0.5))).toBeLessThan(0.85);
  });

  it('holding an inconclusive weight longer (maxInconclusive 30) catches +1pp at 50 rps by 20% weight, where 10 holds do not', () => {
    const traffic = model(50, 0.02, 0.3, 1);
    const judge = (batches: Batch<RequestCounts>[]) =>
      compareRates(batches, { alpha, tolerance: { absolute: 0.0025, ratio: 0 } }).verdict;
    const caught = (maxHolds: number) => {
      const random = seeded(5);
      const outcomes = Array.from({ length: 300 }, () => {
        const batches: Batch<RequestCounts>[] = [];
        return runRelease(
          (weight) => batches.push(interval(traffic, weight, random)),
          () => judge(batches),
          { maxHolds },
        );
      });
      return caughtBy20(outcomes);
    };
    expect(caught(30)).toBeGreaterThanOrEqual(0.95);
    expect(caught(10)).toBeLessThan(0.95);
  });

  it('+5pp on a 2% service at 400 rps: caught at the first step', () => {
    const outcomes = releases(model(400, 0.02, 0.3, 5), 300, 6, 0.5);
    const first = outcomes.filter((o) => o.decision === 'rollback' && o.steps === 1).length;
    expect(first / outcomes.length).toBeGreaterThanOrEqual(0.97);
    expect(outcomes.every((o) => o.decision === 'rollback')).toBe(true);
  });

  it('healthy releases are promoted (at least 99%), low traffic or not', () => {
    for (const rps of [20, 100, 400]) {
      const outcomes = releases(model(rps, 0.02, 0.3, 0), 200, 7, 0.5);
      const promoted = outcomes.filter((o) => o.decision === 'promote').length;
      expect(promoted / outcomes.length, `${rps} rps`).toBeGreaterThanOrEqual(0.99);
    }
  });
});

describe("with the primary's history before the release (10 intervals at full traffic)", () => {
  const HISTORY = 10;
  function falseRollbacks(traffic: TrafficModel, tolerancePp: number, seed: number): number {
    const random = seeded(seed);
    const sequences = 1000;
    let failed = 0;
    for (let s = 0; s < sequences; s++) {
      const history = primaryHistory(traffic, HISTORY, random);
      const batches: Batch<RequestCounts>[] = [];
      for (let look = 0; look < LOOKS; look++) {
        batches.push(interval(traffic, Math.min(50, 10 * (look + 1)), random));
        const options = { alpha, tolerance: { absolute: tolerancePp / 100, ratio: 0 }, history };
        if (compareRates(batches, options).verdict === 'fail') {
          failed++;
          break;
        }
      }
    }
    return failed / sequences;
  }

  it.each([
    ['20 rps, 2% errors, equal', model(20, 0.02, 0), 0],
    ['20 rps, 0.1% errors, worse by exactly the tolerance', model(20, 0.001, 0, 0.25), 0.25],
    ['100 rps, 0.1% errors, noisy (0.5), worse by exactly the tolerance', model(100, 0.001, 0.5, 0.5), 0.5],
    ['400 rps, 3% errors, noisy (0.5), equal', model(400, 0.03, 0.5), 0],
    ['400 rps, 3% errors, noisy (0.5), worse by exactly the tolerance', model(400, 0.03, 0.5, 0.5), 0.5],
    // Beyond what the default prior covers (about 5% there): the history shows the dispersion at once.
    ['400 rps, 3% errors, noisy (1.0), worse by exactly the tolerance', model(400, 0.03, 1, 0.5), 0.5],
  ] as Array<[string, TrafficModel, number]>)(
    'false rollbacks at most alpha at every look: %s',
    (_name, traffic, tolerancePp) => {
      expect(falseRollbacks(traffic, tolerancePp, 17)).toBeLessThanOrEqual(alpha);
    },
  );

  /** Share of releases rolled back at the first analysis interval (maxInconclusive 45, tolerance +0.25pp). */
  function firstInterval(traffic: TrafficModel, withHistory: boolean): number {
    const random = seeded(5);
    const releases = 300;
    let caught = 0;
    for (let r = 0; r < releases; r++) {
      const history = withHistory ? primaryHistory(traffic, HISTORY, random) : undefined;
      const batches: Batch<RequestCounts>[] = [];
      const outcome = runRelease(
        (weight) => batches.push(interval(traffic, weight, random)),
        () => compareRates(batches, { alpha, tolerance: { absolute: 0.0025, ratio: 0 }, history }).verdict,
        { maxHolds: 45 },
      );
      if (outcome.decision === 'rollback' && outcome.steps === 1) caught++;
    }
    return caught / releases;
  }

  it('+5pp is caught at the first interval from 100 rps up, where the default prior misses many', () => {
    for (const [rps, rate, noise] of [
      [100, 0.01, 0.3],
      [100, 0.02, 0.3],
      [100, 0.03, 0],
      [400, 0.001, 0.3],
      [400, 0.03, 0.3],
    ] as const) {
      expect(
        firstInterval(model(rps, rate, noise, 5), true),
        `${rps} rps, ${rate * 100}%`,
      ).toBeGreaterThanOrEqual(0.9);
    }
    expect(firstInterval(model(100, 0.03, 0, 5), false)).toBeLessThan(0.7);
  });

  it('+5pp at 20 rps (120 canary requests in the first interval): caught there as often as the counts allow', () => {
    // 0.1% → 5.1%: the most powerful single test at alpha 1% catches 95%; 1% → 6%: 73%.
    expect(firstInterval(model(20, 0.001, 0, 5), true)).toBeGreaterThanOrEqual(0.8);
    expect(firstInterval(model(20, 0.01, 0, 5), true)).toBeGreaterThanOrEqual(0.45);
  });

  it("a noisy primary's history makes the first steps more cautious than the default prior", () => {
    const random = seeded(3);
    const traffic = model(400, 0.03, 1);
    const history = primaryHistory(traffic, HISTORY, random)!;
    const first = [interval(traffic, 10, random)];
    const options = { alpha, tolerance: { absolute: 0.005, ratio: 0 } };
    expect(compareRates(first, { ...options, history }).dispersion).toBeGreaterThan(
      compareRates(first, options).dispersion,
    );
  });
});

describe('sequential p99 test', () => {
  const latency = (
    rps: number,
    p99: number,
    factor: number,
    noise: number,
    bounds: readonly number[] = ISTIO_BOUNDS,
  ): LatencyModel => ({
    rps,
    primary: { p50: p99 / 4, p99 },
    canary: { p50: (p99 / 4) * factor, p99: p99 * factor },
    noise,
    ticksPerInterval: 30,
    bounds,
  });
  const judge = (batches: Batch<{ bounds: number[]; counts: number[] }>[], ratio: number) =>
    compareQuantiles(batches, { alpha, quantile: 0.99, tolerance: { absolute: 0, ratio } }).verdict;

  function expectEqualCanaryWithinAlpha(bounds: readonly number[], ratio: number) {
    for (const [rps, p99, noise] of [
      [200, 80, 0],
      [200, 900, 0.3],
      [50, 300, 0.3],
    ] as const) {
      const random = seeded(rps + p99);
      let failed = 0;
      const sequences = 300;
      for (let s = 0; s < sequences; s++) {
        const batches: Batch<{ bounds: number[]; counts: number[] }>[] = [];
        for (let look = 0; look < 12; look++) {
          batches.push(
            latencyInterval(latency(rps, p99, 1, noise, bounds), Math.min(50, 10 * (look + 1)), random),
          );
          if (judge(batches, ratio) === 'fail') {
            failed++;
            break;
          }
        }
      }
      expect(failed / sequences, `${rps} rps, p99 ${p99}ms, noise ${noise}`).toBeLessThanOrEqual(alpha);
    }
  }

  it('no false rollback above alpha for an equal canary looked at every interval, noisy or not', () => {
    expectEqualCanaryWithinAlpha(ISTIO_BOUNDS, 0.1);
  });

  it('no false rollback above alpha either with buckets 20% apart and a 5% tolerance', () => {
    expectEqualCanaryWithinAlpha(SUITE_BUCKETS_MS, 0.05);
  });

  it('with buckets 20% apart and a 5% tolerance, p99 +20% on 150ms at 400 rps is caught by 20% weight', () => {
    const random = seeded(11);
    const outcomes = Array.from({ length: 100 }, () => {
      const batches: Batch<{ bounds: number[]; counts: number[] }>[] = [];
      return runRelease(
        (weight) =>
          batches.push(latencyInterval(latency(400, 150, 1.2, 0.3, SUITE_BUCKETS_MS), weight, random)),
        () => judge(batches, 0.05),
        { maxHolds: 30 },
      );
    });
    const caught = outcomes.filter((o) => o.decision === 'rollback' && o.weight <= 20).length;
    expect(caught / outcomes.length).toBeGreaterThanOrEqual(0.95);
  });

  it('at 20 rps a pass is judged against the primary p99 it cannot be flattered by: p99 +20% on 80ms is caught by 20% weight, healthy still promoted', () => {
    // One-minute intervals, as in the judgement bench. Judged against the cautious (high) end of the
    // primary's p99, two thirds of these passed their first weight at its second to fifth interval, while
    // the primary's own p99 was still uncertain.
    const run = (factor: number) => {
      const random = seeded(13);
      return Array.from({ length: 100 }, () => {
        const batches: Batch<{ bounds: number[]; counts: number[] }>[] = [];
        return runRelease(
          (weight) =>
            batches.push(
              latencyInterval(
                { ...latency(20, 80, factor, 0, SUITE_BUCKETS_MS), ticksPerInterval: 60 },
                weight,
                random,
              ),
            ),
          () => judge(batches, 0.05),
          { maxHolds: 45 },
        );
      });
    };
    const slower = run(1.2);
    expect(slower.filter((o) => o.decision === 'rollback' && o.weight <= 20).length).toBeGreaterThanOrEqual(
      90,
    );
    expect(run(1).filter((o) => o.decision === 'promote').length).toBeGreaterThanOrEqual(99);
  });

  it.each([
    ['+100% on 80ms at 20 rps', 20, 80, 2],
    ['+100% on 900ms at 100 rps', 100, 900, 2],
    ['+20% on 900ms at 400 rps', 400, 900, 1.2],
  ] as const)('p99 %s is caught by 20%% weight (tolerance 10%%)', (_name, rps, p99, factor) => {
    const random = seeded(p99 * 7 + rps);
    const outcomes = Array.from({ length: 100 }, () => {
      const batches: Batch<{ bounds: number[]; counts: number[] }>[] = [];
      return runRelease(
        (weight) => batches.push(latencyInterval(latency(rps, p99, factor, 0.1), weight, random)),
        () => judge(batches, 0.1),
      );
    });
    const caught = outcomes.filter((o) => o.decision === 'rollback' && o.weight <= 20).length;
    expect(caught / outcomes.length).toBeGreaterThanOrEqual(0.95);
  });

  it('a +20% p99 inside one wide bucket is not visible to a histogram (80 → 96ms, both in 50..100)', () => {
    const random = seeded(3);
    const outcomes = Array.from({ length: 50 }, () => {
      const batches: Batch<{ bounds: number[]; counts: number[] }>[] = [];
      return runRelease(
        (weight) => batches.push(latencyInterval(latency(400, 80, 1.2, 0.1), weight, random)),
        () => judge(batches, 0.1),
      );
    });
    expect(outcomes.filter((o) => o.decision === 'rollback').length).toBeLessThan(10);
  });
});
