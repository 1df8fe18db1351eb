/**
 * The trade-off tables of docs/analysis.md: for each tolerance and alpha, what the sequential error-rate
 * test does on simulated releases; how long to hold an inconclusive weight; and which buckets and p99
 * tolerance a latency check needs (the Monte Carlo model of test/support/analysis-sim.ts, seeded). Error-rate
 * checks read 10 intervals of the primary's history before each release, as the controller does; the last
 * table shows what they do without it (a primary younger than that).
 * Run: npx tsx bench/judgement-tradeoffs.ts
 */
import { ISTIO_DURATION_BUCKETS_MS } from '../dev/sandbox/istio-metrics.ts';
import { compareQuantiles, compareRates } from '../src/analysis/index.ts';
import {
  interval,
  type LatencyModel,
  latencyInterval,
  primaryHistory,
  runRelease,
  seeded,
  type TrafficModel,
} from '../test/support/analysis-sim.ts';
import { SUITE_BUCKETS_MS } from './judgement-suite.ts';

const RELEASES = 200;
const model = (rps: number, regressionPp: number): TrafficModel => ({
  rps,
  primaryRate: 0.02,
  canaryRate: 0.02 + regressionPp / 100,
  sharedNoise: 0.3,
  ownNoise: 0.3,
  ticksPerInterval: 60,
});

const HISTORY_INTERVALS = 10;
const historyOf = (traffic: TrafficModel, random: ReturnType<typeof seeded>, withHistory: boolean) =>
  withHistory ? primaryHistory(traffic, HISTORY_INTERVALS, random) : undefined;

function run(
  rps: number,
  regressionPp: number,
  tolerancePp: number,
  alpha: number,
  seed: number,
  options: { maxHolds?: number; withHistory?: boolean } = {},
) {
  const random = seeded(seed);
  const traffic = model(rps, regressionPp);
  return Array.from({ length: RELEASES }, () => {
    const history = historyOf(traffic, random, options.withHistory ?? true);
    const batches: ReturnType<typeof interval>[] = [];
    return runRelease(
      (weight) => batches.push(interval(traffic, weight, random)),
      () =>
        compareRates(batches, { alpha, tolerance: { absolute: tolerancePp / 100, ratio: 0 }, history })
          .verdict,
      { maxHolds: options.maxHolds ?? 10 },
    );
  });
}

/** The share of sequences with a false rollback at the edge of the tolerance, looked at 20 times. */
function boundaryFalseRollbacks(
  rps: number,
  tolerancePp: number,
  alpha: number,
  seed: number,
  withHistory = true,
): number {
  const random = seeded(seed);
  const traffic = model(rps, tolerancePp);
  let failed = 0;
  for (let s = 0; s < 500; s++) {
    const history = historyOf(traffic, random, withHistory);
    const batches: ReturnType<typeof interval>[] = [];
    for (let look = 0; look < 20; look++) {
      batches.push(interval(traffic, Math.min(50, 10 * (look + 1)), random));
      if (
        compareRates(batches, { alpha, tolerance: { absolute: tolerancePp / 100, ratio: 0 }, history })
          .verdict === 'fail'
      ) {
        failed++;
        break;
      }
    }
  }
  return failed / 500;
}

const pct = (n: number) => `${Math.round(n * 1000) / 10}%`;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;

console.log(
  '| tolerance | alpha | rps | healthy promoted | healthy: intervals to promote (median) | false rollbacks at the tolerance (20 looks) | +1pp caught | +1pp caught by 20% weight | +5pp caught at the first interval |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const tolerancePp of [0, 0.25, 0.5]) {
  for (const alpha of [0.01, 0.05]) {
    for (const rps of [20, 100, 400]) {
      const healthy = run(rps, 0, tolerancePp, alpha, 1);
      const plus1 = run(rps, 1, tolerancePp, alpha, 2);
      const plus5 = run(rps, 5, tolerancePp, alpha, 3);
      const share = (list: typeof healthy, pred: (o: (typeof healthy)[number]) => boolean) =>
        list.filter(pred).length / list.length;
      console.log(
        `| +${tolerancePp}pp | ${alpha} | ${rps} | ${pct(share(healthy, (o) => o.decision === 'promote'))} | ${median(healthy.map((o) => o.steps))} | ${pct(boundaryFalseRollbacks(rps, tolerancePp, alpha, 4))} | ${pct(share(plus1, (o) => o.decision === 'rollback'))} | ${pct(share(plus1, (o) => o.decision === 'rollback' && o.weight <= 20))} | ${pct(share(plus5, (o) => o.decision === 'rollback' && o.steps === 1))} |`,
      );
    }
  }
}

// How long an inconclusive check may hold a weight (compare.maxInconclusive) against how early a +1pp
// regression is caught, tolerance +0.25pp, alpha 0.01.
const holdsRun = (rps: number, regressionPp: number, maxHolds: number, seed: number) =>
  run(rps, regressionPp, 0.25, 0.01, seed, { maxHolds });

console.log('');
console.log(
  '| maxInconclusive | rps | +1pp caught by 20% weight | +1pp: intervals to roll back (median) | healthy promoted | healthy: intervals to promote (median) |',
);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const maxHolds of [10, 20, 30, 45]) {
  for (const rps of [20, 100, 400]) {
    const plus1 = holdsRun(rps, 1, maxHolds, 2);
    const healthy = holdsRun(rps, 0, maxHolds, 1);
    const by20 = plus1.filter((o) => o.decision === 'rollback' && o.weight <= 20).length / RELEASES;
    const promoted = healthy.filter((o) => o.decision === 'promote').length / RELEASES;
    console.log(
      `| ${maxHolds} | ${rps} | ${pct(by20)} | ${median(plus1.filter((o) => o.decision === 'rollback').map((o) => o.steps))} | ${pct(promoted)} | ${median(healthy.map((o) => o.steps))} |`,
    );
  }
}

// Latency: the histogram's buckets and the p99 tolerance against a +20% p99 (p99 300 ms, noise 0.3,
// inconclusive held at most 30 intervals per weight).
const LATENCY_RELEASES = 100;
function latencyRun(rps: number, factor: number, bounds: readonly number[], ratio: number, seed: number) {
  const random = seeded(seed);
  const shape: LatencyModel = {
    rps,
    primary: { p50: 75, p99: 300 },
    canary: { p50: 75 * factor, p99: 300 * factor },
    noise: 0.3,
    ticksPerInterval: 60,
    bounds,
  };
  return Array.from({ length: LATENCY_RELEASES }, () => {
    const batches: ReturnType<typeof latencyInterval>[] = [];
    return runRelease(
      (weight) => batches.push(latencyInterval(shape, weight, random)),
      () =>
        compareQuantiles(batches, { alpha: 0.01, quantile: 0.99, tolerance: { absolute: 0, ratio } }).verdict,
      { maxHolds: 30 },
    );
  });
}

console.log('');
console.log(
  '| buckets | p99 tolerance | rps | p99 +20% caught by 20% weight | p99 +20% caught | healthy promoted | healthy: intervals to promote (median) |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const [bucketsName, bounds] of [
  ["Istio's defaults", ISTIO_DURATION_BUCKETS_MS],
  ['20% apart', SUITE_BUCKETS_MS],
] as const) {
  for (const ratio of [0.05, 0.1]) {
    for (const rps of [20, 100, 400]) {
      const slower = latencyRun(rps, 1.2, bounds, ratio, 5);
      const healthy = latencyRun(rps, 1, bounds, ratio, 6);
      const rolled = slower.filter((o) => o.decision === 'rollback');
      console.log(
        `| ${bucketsName} | ${ratio * 100}% | ${rps} | ${pct(rolled.filter((o) => o.weight <= 20).length / LATENCY_RELEASES)} | ${pct(rolled.length / LATENCY_RELEASES)} | ${pct(healthy.filter((o) => o.decision === 'promote').length / LATENCY_RELEASES)} | ${median(healthy.map((o) => o.steps))} |`,
      );
    }
  }
}

// The primary's history before the release (tolerance +0.25pp, alpha 0.01, maxInconclusive 45).
console.log('');
console.log(
  "| primary's history | rps | healthy promoted | false rollbacks at the tolerance (20 looks) | +1pp caught by 20% weight | +5pp caught at the first interval |",
);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const withHistory of [true, false]) {
  for (const rps of [20, 100, 400]) {
    const options = { maxHolds: 45, withHistory };
    const healthy = run(rps, 0, 0.25, 0.01, 1, options);
    const plus1 = run(rps, 1, 0.25, 0.01, 2, options);
    const plus5 = run(rps, 5, 0.25, 0.01, 3, options);
    console.log(
      `| ${withHistory ? `${HISTORY_INTERVALS} intervals` : 'none'} | ${rps} | ${pct(healthy.filter((o) => o.decision === 'promote').length / RELEASES)} | ${pct(boundaryFalseRollbacks(rps, 0.25, 0.01, 4, withHistory))} | ${pct(plus1.filter((o) => o.decision === 'rollback' && o.weight <= 20).length / RELEASES)} | ${pct(plus5.filter((o) => o.decision === 'rollback' && o.steps === 1).length / RELEASES)} |`,
    );
  }
}
