import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import {
  clusterDesignEffect,
  clusterSizeEffect,
  DEFAULT_DISPERSION_PRIOR,
  type DispersionHistory,
  type DispersionPrior,
} from './dispersion.ts';
import { count, roundTo, signed, significant } from './format.ts';
import { mixtureRadius, tunedPrecision } from './mixture.ts';
import {
  AnalysisInputError,
  type Batch,
  type Judgement,
  type JudgementOptions,
  type RequestCounts,
} from './types.ts';

/** Canary requests below which a rate comparison is inconclusive by default. */
export const DEFAULT_RATE_MIN_SAMPLES = 100;

/**
 * A pass needs the data to make a regression of twice the tolerance unlikely: the estimate plus 1.645
 * standard errors (a one-sided 95% bound) at most 2 × tolerance (+0.1pp, so a zero tolerance can pass).
 * This is what keeps a suspicious canary at a low weight until the evidence is in; it never adds false
 * rollbacks, only holds. (A 90% bound let about one +1pp regression in seven on a 2%, 20 requests/s
 * service pass its first weights and be caught only later.)
 */
const PASS_Z = 1.6448536269514722;
const MIN_DETECTABLE = 0.001;

/**
 * Compares the canary's error rate with the primary's from error and request counts, one batch per
 * analysis interval since the canary started taking traffic.
 *
 * Null hypothesis (the canary is acceptable): p_canary <= (1 + ratio) * p_primary + absolute.
 * The estimate of p_canary - (1 + ratio) * p_primary is tested with the normal-mixture confidence
 * sequence (see `mixtureRadius`), its binomial variance multiplied by the design effect of the
 * batches (`designEffect`), so traffic that varies more from interval to interval than independent
 * requests (overdispersion) widens the interval instead of producing false rollbacks. Noise shared by
 * canary and primary cancels in the per-interval differences the design effect is measured on.
 *
 * - fail: the whole confidence interval lies above the tolerance. Probability at most alpha over the
 *   release for an acceptable canary, however many steps look.
 * - pass: enough canary requests, the estimate within the tolerance and twice the tolerance unlikely.
 * - inconclusive: too few canary requests, or not enough evidence either way yet (holding the weight
 *   gathers it).
 */
export function compareRates(batches: readonly Batch<RequestCounts>[], options: JudgementOptions): Judgement {
  validateOptions(options);
  batches.forEach(({ canary, primary }, i) => {
    validateCounts(canary, `batch ${i} canary`);
    validateCounts(primary, `batch ${i} primary`);
  });
  const { absolute, ratio } = options.tolerance;
  const scale = 1 + ratio;
  const total = sumCounts(batches);
  const nC = total.canary.requests;
  const nP = total.primary.requests;
  const rateC = nC > 0 ? total.canary.errors / nC : 0;
  const rateP = nP > 0 ? total.primary.errors / nP : 0;
  // Smoothed rates keep the variance away from zero when no error was seen yet.
  const smoothP = (total.primary.errors + 0.5) / (nP + 1);
  const smoothC = (total.canary.errors + 0.5) / (nC + 1);
  // The variance at the edge of the null hypothesis, or above it: never smaller than the null allows.
  const nullC = Math.min(1 - 1e-9, Math.max(smoothC, scale * smoothP + absolute));
  // The variance of p_canary - s · p_primary over n canary and m primary requests, the canary at rate c.
  const spread = (c: number, s: number, n: number, m: number) =>
    (n > 0 ? bernoulli(c) / n : 0) + (m > 0 ? (s * s * bernoulli(smoothP)) / m : 0);
  const varianceOf = (n: number, m: number) => spread(nullC, scale, n, m);

  const prior = dispersionPriorOf(batches, options);
  const dispersion =
    nC > 0 && nP > 0
      ? clusterDesignEffect(
          batches.map(
            ({ canary, primary }) =>
              (canary.errors - canary.requests * rateC) / nC -
              (scale * (primary.errors - primary.requests * rateP)) / nP,
          ),
          varianceOf(nC, nP),
          prior,
        )
      : 1;
  const first = batches.find((b) => b.canary.requests > 0 && b.primary.requests > 0);
  // Tuned once, at the first interval's information at the edge of the null hypothesis: request counts
  // and the primary's rate only, never the canary's errors being tested.
  const edge = Math.min(1 - 1e-9, scale * smoothP + absolute);
  const rho = first
    ? tunedPrecision(
        1 /
          (dispersionPriorOf([first], options).value *
            spread(edge, scale, first.canary.requests, first.primary.requests)),
        options.alpha,
      )
    : 1;
  const tested = rateC - scale * rateP;
  const testVariance = nC > 0 && nP > 0 ? dispersion * varianceOf(nC, nP) : Number.POSITIVE_INFINITY;
  // Score intervals: each candidate difference d is tested with the variance the counts would have if d
  // were the truth (Wilson's construction, here for the normal-mixture boundary), so a canary far above
  // the primary is judged by the spread of a canary at the tolerance, not by its own larger spread.
  const scoreInterval = (estimate: number, s: number): [number, number] =>
    nC > 0 && nP > 0
      ? invertScoreTest(estimate, s * rateP, (d) => {
          const c = Math.min(1 - 1e-9, Math.max(1e-9, s * smoothP + d));
          return mixtureRadius(dispersion * spread(c, s, nC, nP), rho, options.alpha);
        })
      : [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];
  const [testedLower] = scoreInterval(tested, scale);

  const difference = rateC - rateP;
  const [lower, upper] = scoreInterval(difference, 1);
  const score = Number.isFinite(testVariance)
    ? Math.round(100 * normalCdf(absolute - tested, 0, Math.sqrt(testVariance)))
    : 50;

  const minSamples = options.minSamples ?? DEFAULT_RATE_MIN_SAMPLES;
  const evidence =
    `canary errors ${significant(rateC * 100)}% vs primary ${significant(rateP * 100)}% (${signed(difference * 100)}pp, ` +
    `${roundTo((1 - options.alpha) * 100, 1)}% interval ${signed(lower * 100)}..${signed(upper * 100)}pp) ` +
    `over ${count(nC)} vs ${count(nP)} requests`;
  const toleranceText = describeTolerance(options.tolerance, 'pp');
  let verdict: Judgement['verdict'];
  let reason: string;
  if (nC > 0 && nP > 0 && testedLower > absolute) {
    verdict = 'fail';
    reason = `${evidence}: worse than the primary beyond the tolerance ${toleranceText}`;
  } else if (nC < minSamples || nP === 0) {
    verdict = 'inconclusive';
    reason = `${evidence}: too few requests to judge (need ${count(minSamples)} canary requests and some on the primary)`;
  } else if (tested > absolute) {
    verdict = 'inconclusive';
    reason = `${evidence}: above the tolerance ${toleranceText} but not conclusively yet`;
  } else if (tested + PASS_Z * Math.sqrt(testVariance) > 2 * absolute + ratio * rateP + MIN_DETECTABLE) {
    verdict = 'inconclusive';
    reason = `${evidence}: within the tolerance ${toleranceText} but too uncertain to rule out twice that yet`;
  } else {
    verdict = 'pass';
    reason = `${evidence}: within the tolerance ${toleranceText}`;
  }
  return {
    verdict,
    canary: pct(rateC),
    primary: pct(rateP),
    difference: roundTo(difference * 100, 3),
    interval: [roundTo(lower * 100, 3), roundTo(upper * 100, 3)],
    samples: { canary: nC, primary: nP },
    score,
    dispersion: roundTo(dispersion, 2),
    reason,
  };
}

/**
 * The prior on the design effect: from the primary's history when there is one (the design effect
 * its intraclass correlation gives intervals of the sizes seen so far, worth its intervals less one of
 * evidence), else the caller's or the default. Depends on request counts only, never on errors.
 */
function dispersionPriorOf(
  batches: readonly Batch<RequestCounts>[],
  options: JudgementOptions,
): DispersionPrior {
  const history: DispersionHistory | undefined = options.history;
  const fallback = options.dispersionPrior ?? DEFAULT_DISPERSION_PRIOR;
  const seen = batches.filter((b) => b.canary.requests > 0 && b.primary.requests > 0);
  if (!history || seen.length === 0) return fallback;
  const nC = seen.reduce((sum, b) => sum + b.canary.requests, 0) / seen.length;
  const nP = seen.reduce((sum, b) => sum + b.primary.requests, 0) / seen.length;
  // Weighted by each side's share of the difference's variance, at equal rates.
  const value =
    (nP * clusterSizeEffect(nC, history.overdispersion) +
      nC * clusterSizeEffect(nP, history.overdispersion)) /
    (nC + nP);
  return { value, weight: Math.max(0, history.intervals - 1) };
}

/**
 * The confidence interval of an estimate from a test of every candidate value: `radiusAt(d)` is the
 * boundary's radius when d is the truth. Bisection on both sides; the lower end never below -offset
 * (a canary rate of 0).
 */
function invertScoreTest(
  estimate: number,
  offset: number,
  radiusAt: (d: number) => number,
): [number, number] {
  const bisect = (lo: number, hi: number, inside: (d: number) => boolean, lowerEnd: boolean) => {
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (inside(mid) === lowerEnd) hi = mid;
      else lo = mid;
    }
    return lowerEnd ? hi : lo;
  };
  const floor = -offset;
  const ceiling = 1 - offset;
  const inside = (d: number) => Math.abs(estimate - d) <= radiusAt(d);
  const lower = inside(floor) ? floor : bisect(floor, Math.max(floor, estimate), inside, true);
  const upper = inside(ceiling) ? ceiling : bisect(Math.min(ceiling, estimate), ceiling, inside, false);
  return [lower, upper];
}

function sumCounts(batches: readonly Batch<RequestCounts>[]): Batch<RequestCounts> {
  const total = { canary: { errors: 0, requests: 0 }, primary: { errors: 0, requests: 0 } };
  for (const { canary, primary } of batches) {
    total.canary.errors += canary.errors;
    total.canary.requests += canary.requests;
    total.primary.errors += primary.errors;
    total.primary.requests += primary.requests;
  }
  return total;
}

const bernoulli = (p: number) => p * (1 - p);
const pct = (fraction: number) => roundTo(fraction * 100, 3);

export function describeTolerance(
  { absolute, ratio }: { absolute: number; ratio: number },
  unit: string,
): string {
  const parts: string[] = [];
  if (absolute > 0 || ratio === 0)
    parts.push(`+${roundTo(unit === 'pp' ? absolute * 100 : absolute, 3)}${unit}`);
  if (ratio > 0) parts.push(`+${roundTo(ratio * 100, 2)}%`);
  return parts.join(' and ');
}

export function validateOptions({ alpha, tolerance }: JudgementOptions): void {
  if (!(alpha > 0 && alpha < 0.5)) throw new AnalysisInputError(`alpha must be in (0, 0.5), got ${alpha}`);
  if (
    !(tolerance.absolute >= 0) ||
    !(tolerance.ratio >= 0) ||
    !Number.isFinite(tolerance.absolute + tolerance.ratio)
  ) {
    throw new AnalysisInputError('tolerance must be finite and not negative');
  }
}

function validateCounts({ errors, requests }: RequestCounts, where: string): void {
  if (!(requests >= 0) || !(errors >= 0) || errors > requests || !Number.isFinite(requests)) {
    throw new AnalysisInputError(`${where}: need 0 <= errors <= requests, got ${errors} of ${requests}`);
  }
}
