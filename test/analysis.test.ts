import { describe, expect, it } from 'vitest';
import {
  clusterDesignEffect,
  clusterSizeEffect,
  historyDispersion,
  MIN_HISTORY_INTERVALS,
} from '../src/analysis/dispersion.ts';
import { significant } from '../src/analysis/format.ts';
import {
  AnalysisInputError,
  betaMixtureLogRatio,
  compareQuantiles,
  compareRates,
  countAbove,
  designEffect,
  mixtureRadius,
  quantileOf,
  roundTo,
} from '../src/analysis/index.ts';
import { tunedPrecision } from '../src/analysis/mixture.ts';

const alpha = 0.01;
const pp = (x: number) => ({ absolute: x / 100, ratio: 0 });

describe('statistics against known values', () => {
  it('normal-mixture radius: closed form sqrt((V+rho) log((V+rho)/(rho alpha^2)))/V', () => {
    // information 10_000, rho 2_000: sqrt(12000 × ln(12000 / 0.2)) / 10000 = sqrt(12000 × 11.0021) / 10000
    expect(mixtureRadius(1e-4, 2000, 0.01)).toBeCloseTo(Math.sqrt(12000 * Math.log(60000)) / 10000, 12);
    expect(mixtureRadius(1e-4, 2000, 0.01)).toBeCloseTo(0.036335, 5);
    // tuned at the information it is used at: about 3.57 standard deviations at alpha 1%
    expect(mixtureRadius(1e-4, tunedPrecision(1e4, 0.01), 0.01) / 0.01).toBeCloseTo(3.57, 2);
    expect(mixtureRadius(0, 1, 0.01)).toBe(Number.POSITIVE_INFINITY);
  });

  it('beta mixture: matches the Beta-function closed form and is 0 with no data', () => {
    expect(betaMixtureLogRatio(0, 0, 0.01, 1, 99)).toBeCloseTo(0, 12);
    // B(6, 194)/B(1, 99) / (0.01^5 0.99^95), computed independently with lgamma in R: 1.6795
    expect(betaMixtureLogRatio(5, 100, 0.01, 1, 99)).toBeCloseTo(1.6795, 3);
  });

  it('design effect: Pearson X²/df, at least 1, shrunk towards a prior', () => {
    expect(designEffect([0.02, 0.05, 0.01], [1e-4, 1e-4, 1e-4])).toBeCloseTo(4.3333, 4);
    expect(designEffect([0.02, 0.02], [1e-4, 1e-4])).toBe(1);
    expect(designEffect([0.02], [1e-4])).toBe(1);
    expect(designEffect([0.02], [1e-4], { value: 3, weight: 4 })).toBe(3);
    // cluster-robust: residuals ±0.01 over two clusters, model variance 1e-4 → 2 × 2e-4 / 1e-4 = 4
    expect(clusterDesignEffect([0.01, -0.01], 1e-4)).toBeCloseTo(4, 10);
  });

  it('histogram quantile and exceedance as histogram_quantile reads buckets', () => {
    const h = { bounds: [100, 250, Number.POSITIVE_INFINITY], counts: [90, 99, 100] };
    expect(quantileOf(h, 0.5)).toBeCloseTo(55.556, 3);
    expect(quantileOf(h, 0.95)).toBeCloseTo(183.333, 3);
    expect(quantileOf(h, 0.995)).toBe(250);
    expect(countAbove(h, 175)).toBeCloseTo(5.5, 10);
    expect(countAbove(h, 50)).toBeCloseTo(55, 10);
    expect(quantileOf({ bounds: [1, Number.POSITIVE_INFINITY], counts: [0, 0] }, 0.99)).toBeNaN();
  });

  it('rounds for people', () => {
    expect(roundTo(90.8999999999999, 2)).toBe(90.9);
    expect(roundTo(-0.0001, 2)).toBe(0);
  });
});

describe('compareRates', () => {
  const batch = (ce: number, cn: number, pe: number, pn: number) => ({
    canary: { errors: ce, requests: cn },
    primary: { errors: pe, requests: pn },
  });

  it('fails at once on overwhelming evidence, quoting the evidence', () => {
    const j = compareRates([batch(100, 1000, 200, 10_000)], { alpha, tolerance: pp(0.5) });
    expect(j.verdict).toBe('fail');
    expect(j.canary).toBe(10);
    expect(j.primary).toBe(2);
    expect(j.difference).toBe(8);
    expect(j.interval[0]).toBeGreaterThan(0.5);
    expect(j.samples).toEqual({ canary: 1000, primary: 10_000 });
    expect(j.score).toBe(0);
    expect(j.reason).toMatch(
      /canary errors 10% vs primary 2% \(\+8pp, 99% interval \+[\d.]+\.\.\+[\d.]+pp\)/,
    );
  });

  it('says the rates in a sentence without the noise rate() leaves in the counts (9.998% reads 10%)', () => {
    const j = compareRates([batch(60.19, 602, 6.02, 602)], { alpha, tolerance: pp(0.5) });
    expect(j.canary).toBe(9.998);
    expect(j.reason).toMatch(/^canary errors 10% vs primary 1% \(\+9pp/);
    expect(significant(0.05234)).toBe(0.052);
    expect(significant(12.345)).toBe(12.3);
    expect(significant(0.0004)).toBe(0);
    expect(significant(0)).toBe(0);
  });

  it('passes an equal canary with enough requests, inconclusive with too few', () => {
    expect(compareRates([batch(100, 5000, 200, 10_000)], { alpha, tolerance: pp(0.5) }).verdict).toBe('pass');
    const few = compareRates([batch(0, 20, 200, 10_000)], { alpha, tolerance: pp(0.5) });
    expect(few.verdict).toBe('inconclusive');
    expect(few.reason).toMatch(/too few requests/);
  });

  it('holds (inconclusive) when the estimate is beyond the tolerance without conclusive evidence', () => {
    const j = compareRates([batch(30, 1000, 200, 10_000)], { alpha, tolerance: pp(0.5) });
    expect(j.verdict).toBe('inconclusive');
    expect(j.score).toBeLessThan(50);
  });

  it('a ratio tolerance scales with the primary: +50% of 2% allows 3%', () => {
    const ratio = { absolute: 0, ratio: 0.5 };
    const big = [batch(290, 10_000, 2000, 100_000)];
    expect(compareRates(big, { alpha, tolerance: ratio }).verdict).toBe('pass');
    expect(compareRates([batch(600, 10_000, 2000, 100_000)], { alpha, tolerance: ratio }).verdict).toBe(
      'fail',
    );
  });

  it('no errors anywhere is a pass, not a division by zero', () => {
    const j = compareRates([batch(0, 5000, 0, 50_000)], { alpha, tolerance: pp(0.5) });
    expect(j.verdict).toBe('pass');
    expect(j.canary).toBe(0);
    expect(Number.isFinite(j.interval[1])).toBe(true);
  });

  it('no batches at all is inconclusive', () => {
    expect(compareRates([], { alpha, tolerance: pp(0.5) }).verdict).toBe('inconclusive');
  });

  it('overdispersed intervals widen the interval', () => {
    const steady = [batch(20, 1000, 200, 10_000), batch(20, 1000, 200, 10_000), batch(20, 1000, 200, 10_000)];
    const jumpy = [batch(5, 1000, 50, 10_000), batch(40, 1000, 420, 10_000), batch(15, 1000, 130, 10_000)];
    const a = compareRates(steady, { alpha, tolerance: pp(0.5) });
    const b = compareRates(jumpy, { alpha, tolerance: pp(0.5) });
    expect(b.dispersion).toBeGreaterThan(a.dispersion);
    expect(b.interval[1] - b.interval[0]).toBeGreaterThan(a.interval[1] - a.interval[0]);
  });

  it('refuses bad input with a typed error', () => {
    expect(() => compareRates([batch(2, 1, 0, 1)], { alpha, tolerance: pp(0.5) })).toThrow(
      AnalysisInputError,
    );
    expect(() => compareRates([], { alpha: 0, tolerance: pp(0.5) })).toThrow(/alpha/);
    expect(() => compareRates([], { alpha, tolerance: { absolute: -1, ratio: 0 } })).toThrow(/tolerance/);
  });
});

describe('compareQuantiles', () => {
  const bounds = [50, 100, 250, 500, 1000, Number.POSITIVE_INFINITY];
  const hist = (counts: number[]) => ({ bounds, counts });

  it('fails a p99 that doubled, passes one that did not move', () => {
    const primary = hist([9000, 9950, 10_000, 10_000, 10_000, 10_000]);
    const same = hist([900, 995, 1000, 1000, 1000, 1000]);
    const slower = hist([700, 900, 1000, 1000, 1000, 1000]);
    const ok = compareQuantiles([{ canary: same, primary }], {
      alpha,
      quantile: 0.99,
      tolerance: { absolute: 0, ratio: 0.2 },
    });
    expect(ok.verdict).toBe('pass');
    expect(ok.canary).toBeCloseTo(ok.primary, 0);
    const bad = compareQuantiles([{ canary: slower, primary }], {
      alpha,
      quantile: 0.99,
      tolerance: { absolute: 0, ratio: 0.2 },
    });
    expect(bad.verdict).toBe('fail');
    expect(bad.canary).toBeGreaterThan(bad.primary * 1.2);
    expect(bad.reason).toMatch(/canary p99 [\d.]+ms vs primary [\d.]+ms/);
  });

  it('no requests is inconclusive, not NaN verdicts', () => {
    const empty = hist([0, 0, 0, 0, 0, 0]);
    const j = compareQuantiles([{ canary: empty, primary: empty }], {
      alpha,
      quantile: 0.99,
      tolerance: { absolute: 0, ratio: 0.2 },
    });
    expect(j.verdict).toBe('inconclusive');
  });

  it('refuses a histogram that is not cumulative', () => {
    const bad = hist([10, 5, 10, 10, 10, 10]);
    expect(() =>
      compareQuantiles([{ canary: bad, primary: bad }], {
        alpha,
        quantile: 0.99,
        tolerance: { absolute: 0, ratio: 0.2 },
      }),
    ).toThrow(AnalysisInputError);
  });
});

describe('requestsToDetect', () => {
  it('needs more requests for smaller effects, a tighter alpha and more power; never for an effect within tolerance', async () => {
    const { requestsToDetect } = await import('../src/analysis/index.ts');
    const base = { baseline: 0.02, regression: 0.01, tolerance: 0.005, alpha: 0.01 };
    const n = requestsToDetect(base);
    expect(n).toBeGreaterThan(10_000);
    expect(n).toBeLessThan(60_000);
    expect(requestsToDetect({ ...base, regression: 0.05 })).toBeLessThan(n / 10);
    expect(requestsToDetect({ ...base, alpha: 0.05 })).toBeLessThan(n);
    expect(requestsToDetect({ ...base, power: 0.95 })).toBeGreaterThan(n);
    expect(requestsToDetect({ ...base, regression: 0.004 })).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('Dirichlet-multinomial mixture (Lindon & Malek 2022)', () => {
  it('matches the closed form and grows with evidence against the null', async () => {
    const { dirichletMultinomialLogRatio } = await import('../src/analysis/index.ts');
    expect(dirichletMultinomialLogRatio([0, 0], [0.5, 0.5], 2)).toBe(0);
    // Γ(2)Γ(61)Γ(41) / (Γ(102) Γ(1)Γ(1)) / 0.5^100, computed in log space independently
    expect(dirichletMultinomialLogRatio([60, 40], [0.5, 0.5], 2)).toBeCloseTo(-0.091, 2);
    expect(dirichletMultinomialLogRatio([80, 20], [0.5, 0.5], 2)).toBeCloseTo(16.97, 1);
  });
});

describe('overdispersion from the primary history', () => {
  it('the worked example: 10 intervals of 1,000 requests with 10 and 20 errors in turns', () => {
    const intervals = Array.from({ length: 10 }, (_, i) => ({
      requests: 1000,
      errors: i % 2 === 0 ? 10 : 20,
    }));
    // Pooled (150 + 0.5) / (10,000 + 1); X² = Σ (e - 1000 p)² / (1000 p (1 - p)) = 16.87 on 9 df;
    // chi-square's 10% quantile on 9 df is 4.1682; ρ ≤ (16.87 / 4.1682 - 1) / 999.
    const p = 150.5 / 10001;
    const x2 = intervals.reduce((sum, i) => sum + (i.errors - 1000 * p) ** 2 / (1000 * p * (1 - p)), 0);
    expect(x2).toBeCloseTo(16.87, 2);
    const history = historyDispersion(intervals)!;
    expect(history.intervals).toBe(10);
    // Four significant digits, rounded up: still a bound.
    expect(history.overdispersion).toBe(0.003051);
    expect(history.overdispersion).toBeGreaterThanOrEqual((x2 / 4.168159 - 1) / 999);
  });

  it('binomial intervals give no overdispersion; an interval of n requests then counts as n', () => {
    // Errors exactly at the pooled rate: X² = 0.
    const steady = historyDispersion(Array.from({ length: 12 }, () => ({ requests: 5000, errors: 50 })))!;
    expect(steady.overdispersion).toBe(0);
    expect(clusterSizeEffect(600, steady.overdispersion)).toBe(1);
    expect(clusterSizeEffect(600, 0.001)).toBeCloseTo(1.599, 6);
  });

  it('too short a history says nothing; a history without errors still bounds ρ; bad intervals are skipped', () => {
    const few = Array.from({ length: MIN_HISTORY_INTERVALS - 1 }, () => ({ requests: 100, errors: 1 }));
    expect(historyDispersion(few)).toBeUndefined();
    expect(
      historyDispersion([
        ...few,
        { requests: 0, errors: 0 },
        { requests: Number.NaN, errors: 1 },
        { requests: 5, errors: 9 },
      ]),
    ).toBeUndefined();
    const clean = historyDispersion(Array.from({ length: 10 }, () => ({ requests: 1000, errors: 0 })))!;
    expect(Number.isFinite(clean.overdispersion)).toBe(true);
    expect(clean.overdispersion).toBeGreaterThanOrEqual(0);
  });

  it("intervals of unequal size: Donner's adjusted mean size, so one huge interval does not dilute ρ", () => {
    const history = historyDispersion([
      { requests: 10_000, errors: 100 },
      { requests: 100, errors: 5 },
      { requests: 100, errors: 0 },
      { requests: 100, errors: 3 },
      { requests: 100, errors: 0 },
    ])!;
    // n0 = (10,400 - (10,000² + 4 × 100²) / 10,400) / 4 = 192.3, far below the mean size of 2,080.
    expect(history.overdispersion).toBeGreaterThan(0.01);
  });

  it('compareRates takes its prior from the history: weight intervals - 1, value the design effect of the sizes seen', () => {
    const batches = [{ canary: { errors: 12, requests: 240 }, primary: { errors: 54, requests: 5400 } }];
    const options = { alpha: 0.01, tolerance: { absolute: 0.0025, ratio: 0 } };
    const steady = compareRates(batches, { ...options, history: { intervals: 10, overdispersion: 0 } });
    const bursty = compareRates(batches, { ...options, history: { intervals: 10, overdispersion: 0.01 } });
    const none = compareRates(batches, options);
    expect(steady.dispersion).toBe(1);
    // 240 and 5,400 per interval at ρ 0.01: (5400 × 3.39 + 240 × 54.99) / 5640 = 5.59.
    expect(bursty.dispersion).toBeCloseTo(5.59, 2);
    expect(none.dispersion).toBe(3);
    expect(steady.verdict).toBe('fail');
    expect(none.verdict).toBe('inconclusive');
    expect(bursty.verdict).toBe('inconclusive');
  });
});

describe('compareRates: the score interval and the verdict agree', () => {
  it('fails exactly when the interval lies above the tolerance, and the interval holds the estimate', () => {
    const options = { alpha: 0.01, tolerance: { absolute: 0.005, ratio: 0 } };
    for (const canaryRequests of [120, 600, 2400]) {
      for (
        let errors = 0;
        errors <= canaryRequests / 5;
        errors += Math.max(1, Math.round(canaryRequests / 200))
      ) {
        const batches = [
          { canary: { errors, requests: canaryRequests }, primary: { errors: 100, requests: 10_000 } },
        ];
        const judged = compareRates(batches, options);
        const [lower, upper] = judged.interval;
        expect(lower).toBeLessThanOrEqual(judged.difference + 1e-3);
        expect(upper).toBeGreaterThanOrEqual(judged.difference - 1e-3);
        // Percentage points, rounded to 3 decimals in the result.
        if (judged.verdict === 'fail') expect(lower).toBeGreaterThan(0.5 - 1e-3);
        else expect(lower).toBeLessThanOrEqual(0.5 + 1e-3);
        // Never below what a canary without errors could show.
        expect(lower).toBeGreaterThanOrEqual(-1 - 1e-3);
      }
    }
  });

  it('a canary far above the primary is judged by the spread a canary at the tolerance would have', () => {
    // 36 of 600 (6%) against 1%: the spread of 6% would hide it behind the default design effect of 3;
    // the spread of 1.25% (the tolerance) does not.
    const judged = compareRates(
      [{ canary: { errors: 36, requests: 600 }, primary: { errors: 54, requests: 5400 } }],
      {
        alpha: 0.01,
        tolerance: { absolute: 0.0025, ratio: 0 },
      },
    );
    expect(judged.verdict).toBe('fail');
    expect(judged.dispersion).toBe(3);
  });
});
