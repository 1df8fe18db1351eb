import betaQuantile from '@stdlib/stats-base-dists-beta-quantile';
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import { designEffect } from './dispersion.ts';
import { count, roundTo, signed } from './format.ts';
import { countAbove, quantileOf, sumHistograms, totalOf, validateHistogram } from './histogram.ts';
import {
  betaMixtureLogRatio,
  dirichletMultinomialLogRatio,
  mixtureRadius,
  tunedPrecision,
} from './mixture.ts';
import { describeTolerance, validateOptions } from './rates.ts';
import type { Batch, HistogramCounts, Judgement, JudgementOptions } from './types.ts';

/** Canary requests below which a quantile comparison is inconclusive by default. */
export const DEFAULT_QUANTILE_MIN_SAMPLES = 200;

/** A pass needs twice the allowed share of slow requests to be unlikely (one-sided 90%). */
const PASS_Z = 1.2815515655446004;

export interface QuantileOptions extends JudgementOptions {
  /** Which quantile is compared, e.g. 0.99. */
  quantile: number;
}

/**
 * Compares a latency quantile of the canary with the primary's from histogram bucket counts, one batch
 * per analysis interval.
 *
 * A quantile comparison is a proportion test in disguise: the canary's q-quantile is at most the limit
 * L = (1 + ratio) × primary quantile + absolute exactly when at most a share 1 - q of its requests are
 * slower than L. So the share of canary requests above L (read from the buckets the way
 * histogram_quantile reads them) is tested against 1 - q with the beta-binomial mixture martingale
 * (`betaMixtureLogRatio`, after Lindon, Sanden & Shirikian, KDD 2022), on counts divided by the design
 * effect of the batches (Rao & Scott 1992) so overdispersed traffic does not make it overconfident.
 * The primary's quantile is taken at the upper end of its Jeffreys interval, so its own sampling error
 * makes L larger, never smaller (a cautious limit).
 *
 * Outcomes as in `compareRates`: fail only when the evidence crosses the anytime-valid boundary. A
 * pass is also held back while the whole distribution is conclusively slower (`slowerShape`).
 */
export function compareQuantiles(
  batches: readonly Batch<HistogramCounts>[],
  options: QuantileOptions,
): Judgement {
  validateOptions(options);
  const q = options.quantile;
  batches.forEach(({ canary, primary }, i) => {
    validateHistogram(canary, `batch ${i} canary`);
    validateHistogram(primary, `batch ${i} primary`);
  });
  const canary = sumHistograms(batches.map((b) => b.canary));
  const primary = sumHistograms(batches.map((b) => b.primary));
  const nC = totalOf(canary);
  const nP = totalOf(primary);
  const p0 = 1 - q;
  const minSamples = options.minSamples ?? DEFAULT_QUANTILE_MIN_SAMPLES;
  const label = `p${roundTo(q * 100, 2)}`;
  if (!canary || !primary || nC === 0 || nP === 0) {
    return {
      verdict: 'inconclusive',
      canary: Number.NaN,
      primary: Number.NaN,
      difference: Number.NaN,
      interval: [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY],
      samples: { canary: nC, primary: nP },
      score: 50,
      dispersion: 1,
      reason: `no requests yet (${count(nC)} canary, ${count(nP)} primary)`,
    };
  }
  const primaryDispersion = designEffect(
    batches.map((b) => shareAbove(b.primary, quantileOf(primary, q))),
    batches.map((b) => variance(p0, totalOf(b.primary))),
  );
  const effectivePrimary = nP / primaryDispersion;
  const cautiousLevel = Math.min(
    1 - p0 / 10,
    betaQuantile(1 - options.alpha, q * effectivePrimary + 0.5, p0 * effectivePrimary + 0.5),
  );
  const primaryValue = quantileOf(primary, q);
  const limitAt = (level: number) =>
    (1 + options.tolerance.ratio) * quantileOf(primary, level) + options.tolerance.absolute;
  const limit = limitAt(cautiousLevel);
  // A pass is judged against the other end of the primary's interval: a limit the canary cannot have
  // been flattered by while the primary's own quantile is still uncertain.
  const strictLevel = Math.max(
    q - p0 / 2,
    betaQuantile(options.alpha, q * effectivePrimary + 0.5, p0 * effectivePrimary + 0.5),
  );
  const strictShare = countAbove(canary, limitAt(strictLevel)) / nC;

  const above = countAbove(canary, limit);
  const dispersion = designEffect(
    batches.map((b) => shareAbove(b.canary, limit)),
    batches.map((b) => variance(p0, totalOf(b.canary))),
  );
  const share = above / nC;
  // Prior mean 4 × (1 - q): tuned to regressions that put several times too many requests above the limit.
  const logEvidence = betaMixtureLogRatio(above / dispersion, nC / dispersion, p0, 1, 1 / (4 * p0) - 1);
  const firstCanary = totalOf(batches.find((b) => totalOf(b.canary) > 0)?.canary);
  const rho = tunedPrecision(firstCanary / (p0 * (1 - p0)), options.alpha);
  const shareRadius = mixtureRadius((dispersion * p0 * (1 - p0)) / nC, rho, options.alpha);
  const canaryValue = quantileOf(canary, q);
  const low = quantileOf(canary, Math.max(0, q - shareRadius));
  const high = quantileOf(canary, Math.min(1, q + shareRadius));
  const score = Math.round(100 * normalCdf(p0 - share, 0, Math.sqrt((dispersion * p0 * (1 - p0)) / nC)));

  const toleranceText = describeTolerance(options.tolerance, 'ms');
  const evidence =
    `canary ${label} ${ms(canaryValue)}ms vs primary ${ms(primaryValue)}ms ` +
    `(${signed(((canaryValue - primaryValue) / primaryValue) * 100, 1)}%), ` +
    `${roundTo(share * 100, 2)}% of canary requests above the limit ${ms(limit)}ms, ` +
    `over ${count(nC)} vs ${count(nP)} requests`;
  let verdict: Judgement['verdict'];
  let reason: string;
  if (share > p0 && logEvidence >= Math.log(1 / options.alpha)) {
    verdict = 'fail';
    reason = `${evidence}: slower than the primary beyond the tolerance ${toleranceText}`;
  } else if (nC < minSamples) {
    verdict = 'inconclusive';
    reason = `${evidence}: too few canary requests to judge (need ${count(minSamples)})`;
  } else if (share > p0) {
    verdict = 'inconclusive';
    reason = `${evidence}: above the tolerance ${toleranceText} but not conclusively yet`;
  } else if (slowerShape(canary, primary, dispersion, options.alpha)) {
    verdict = 'inconclusive';
    reason = `${evidence}: within the tolerance ${toleranceText}, but the whole latency distribution is conclusively slower than the primary's: holding for more evidence`;
  } else if (strictShare + PASS_Z * Math.sqrt((dispersion * p0 * (1 - p0)) / nC) > 2 * p0) {
    verdict = 'inconclusive';
    reason = `${evidence}: within the tolerance ${toleranceText} but too uncertain yet`;
  } else {
    verdict = 'pass';
    reason = `${evidence}: within the tolerance ${toleranceText}`;
  }
  return {
    verdict,
    canary: ms(canaryValue),
    primary: ms(primaryValue),
    difference: ms(canaryValue - primaryValue),
    interval: [ms(low - primaryValue), ms(high - primaryValue)],
    samples: { canary: nC, primary: nP },
    score,
    dispersion: roundTo(dispersion, 2),
    reason,
  };
}

function shareAbove(h: HistogramCounts, x: number): number {
  const total = totalOf(h);
  return total > 0 && Number.isFinite(x) ? countAbove(h, x) / total : Number.NaN;
}

const variance = (p: number, n: number) => (n > 0 ? (p * (1 - p)) / n : 0);
const ms = (value: number) => roundTo(value, 1);

/** Prior weight of the multinomial test's Dirichlet mixture, in requests. */
const SHAPE_CONCENTRATION = 50;

/**
 * Whether the canary's bucket counts are conclusively not drawn from the primary's distribution
 * (Lindon & Malek's multinomial test, the primary's shares standing in for the null) and its median
 * is higher: a slowdown the quantile test cannot resolve inside one wide bucket. Only ever holds a
 * pass back, never fails a canary.
 */
function slowerShape(
  canary: HistogramCounts,
  primary: HistogramCounts,
  dispersion: number,
  alpha: number,
): boolean {
  if (!(quantileOf(canary, 0.5) > quantileOf(primary, 0.5))) return false;
  const perBucket = (h: HistogramCounts) => h.counts.map((c, i) => c - (i > 0 ? h.counts[i - 1]! : 0));
  const primaryCounts = perBucket(primary);
  const smoothing = 0.5;
  const total = totalOf(primary) + smoothing * primaryCounts.length;
  const p0 = primaryCounts.map((c) => (c + smoothing) / total);
  const observed = perBucket(canary).map((c) => Math.max(0, c) / dispersion);
  return dirichletMultinomialLogRatio(observed, p0, SHAPE_CONCENTRATION) >= Math.log(1 / alpha);
}
