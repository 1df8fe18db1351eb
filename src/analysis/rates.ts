import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import { clusterDesignEffect, DEFAULT_DISPERSION_PRIOR } from './dispersion.ts';
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
 * A pass needs the data to make a regression of twice the tolerance unlikely: the estimate plus 1.28
 * standard errors (a one-sided 90% bound) at most 2 × tolerance (+0.1pp, so a zero tolerance can pass).
 * This is what keeps a suspicious canary at a low weight until the evidence is in; it never adds false
 * rollbacks, only holds.
 */
const PASS_Z = 1.2815515655446004;
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
  const varianceOf = (n: number, m: number) =>
    (n > 0 ? bernoulli(nullC) / n : 0) + (m > 0 ? (scale * scale * bernoulli(smoothP)) / m : 0);

  const rateP0 = nP > 0 ? total.primary.errors / nP : 0;
  const rateC0 = nC > 0 ? total.canary.errors / nC : 0;
  const dispersion =
    nC > 0 && nP > 0
      ? clusterDesignEffect(
          batches.map(
            ({ canary, primary }) =>
              (canary.errors - canary.requests * rateC0) / nC -
              (scale * (primary.errors - primary.requests * rateP0)) / nP,
          ),
          varianceOf(nC, nP),
          options.dispersionPrior ?? DEFAULT_DISPERSION_PRIOR,
        )
      : 1;
  const first = batches.find((b) => b.canary.requests > 0 && b.primary.requests > 0);
  const rho = first
    ? tunedPrecision(
        1 / (DEFAULT_DISPERSION_PRIOR.value * varianceOf(first.canary.requests, first.primary.requests)),
        options.alpha,
      )
    : 1;
  const tested = rateC - scale * rateP;
  const testVariance = nC > 0 && nP > 0 ? dispersion * varianceOf(nC, nP) : Number.POSITIVE_INFINITY;
  const testRadius = mixtureRadius(testVariance, rho, options.alpha);

  const difference = rateC - rateP;
  const differenceVariance =
    nC > 0 && nP > 0
      ? dispersion * (bernoulli(nullC) / nC + bernoulli(smoothP) / nP)
      : Number.POSITIVE_INFINITY;
  const radius = mixtureRadius(differenceVariance, rho, options.alpha);
  const score = Number.isFinite(testVariance)
    ? Math.round(100 * normalCdf(absolute - tested, 0, Math.sqrt(testVariance)))
    : 50;

  const minSamples = options.minSamples ?? DEFAULT_RATE_MIN_SAMPLES;
  const evidence =
    `canary errors ${significant(rateC * 100)}% vs primary ${significant(rateP * 100)}% (${signed(difference * 100)}pp, ` +
    `${roundTo((1 - options.alpha) * 100, 1)}% interval ${signed((difference - radius) * 100)}..${signed((difference + radius) * 100)}pp) ` +
    `over ${count(nC)} vs ${count(nP)} requests`;
  const toleranceText = describeTolerance(options.tolerance, 'pp');
  let verdict: Judgement['verdict'];
  let reason: string;
  if (nC > 0 && nP > 0 && tested - testRadius > absolute) {
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
    interval: [roundTo((difference - radius) * 100, 3), roundTo((difference + radius) * 100, 3)],
    samples: { canary: nC, primary: nP },
    score,
    dispersion: roundTo(dispersion, 2),
    reason,
  };
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
