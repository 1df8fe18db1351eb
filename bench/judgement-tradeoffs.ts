/**
 * The trade-off table of docs/analysis.md: for each tolerance and alpha, what the sequential error-rate
 * test does on simulated releases (the Monte Carlo model of test/support/analysis-sim.ts, seeded).
 * Run: npx tsx bench/judgement-tradeoffs.ts
 */
import { compareRates } from '../src/analysis/index.ts';
import { interval, runRelease, seeded, type TrafficModel } from '../test/support/analysis-sim.ts';

const RELEASES = 200;
const model = (rps: number, regressionPp: number): TrafficModel => ({
  rps,
  primaryRate: 0.02,
  canaryRate: 0.02 + regressionPp / 100,
  sharedNoise: 0.3,
  ownNoise: 0.3,
  ticksPerInterval: 60,
});

function run(rps: number, regressionPp: number, tolerancePp: number, alpha: number, seed: number) {
  const random = seeded(seed);
  return Array.from({ length: RELEASES }, () => {
    const batches: ReturnType<typeof interval>[] = [];
    return runRelease(
      (weight) => batches.push(interval(model(rps, regressionPp), weight, random)),
      () => compareRates(batches, { alpha, tolerance: { absolute: tolerancePp / 100, ratio: 0 } }).verdict,
    );
  });
}

/** The share of sequences with a false rollback at the edge of the tolerance, looked at 20 times. */
function boundaryFalseRollbacks(rps: number, tolerancePp: number, alpha: number, seed: number): number {
  const random = seeded(seed);
  let failed = 0;
  for (let s = 0; s < 500; s++) {
    const batches: ReturnType<typeof interval>[] = [];
    for (let look = 0; look < 20; look++) {
      batches.push(interval(model(rps, tolerancePp), Math.min(50, 10 * (look + 1)), random));
      if (
        compareRates(batches, { alpha, tolerance: { absolute: tolerancePp / 100, ratio: 0 } }).verdict ===
        'fail'
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
