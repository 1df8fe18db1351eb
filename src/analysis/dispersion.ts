import chisquareQuantile from '@stdlib/stats-base-dists-chisquare-quantile';

/**
 * The design effect of batched binomial data (Rao & Scott, "A simple method for the analysis of clustered
 * binary data", Biometrics 1992): how many times more the per-interval estimates vary than independent
 * requests would make them vary. Pearson's X² of the per-interval values around their pooled value,
 * divided by its degrees of freedom, never below 1. With one interval there is nothing to compare: 1.
 *
 * `values[i]` is interval i's estimate and `variances[i]` its binomial variance; intervals with a zero
 * or undefined variance are skipped.
 *
 * Worked example: values [0.02, 0.05, 0.01] with variances [1e-4, 1e-4, 1e-4] → pooled 0.0267,
 * X² = 8.67, df 2 → 4.33.
 */
export function designEffect(
  values: readonly number[],
  variances: readonly number[],
  prior: DispersionPrior = NO_PRIOR,
): number {
  let weightSum = 0;
  let weighted = 0;
  const used: Array<[number, number]> = [];
  values.forEach((value, i) => {
    const variance = variances[i] ?? 0;
    if (!(variance > 0) || !Number.isFinite(value)) return;
    used.push([value, variance]);
    weightSum += 1 / variance;
    weighted += value / variance;
  });
  const pooled = used.length > 0 ? weighted / weightSum : 0;
  const x2 = used.reduce((sum, [value, variance]) => sum + (value - pooled) ** 2 / variance, 0);
  const df = Math.max(0, used.length - 1);
  if (df + prior.weight === 0) return 1;
  return Math.max(1, (x2 + prior.weight * prior.value) / (df + prior.weight));
}

/**
 * What is assumed of the design effect before the intervals show it: `value` counted as `weight`
 * degrees of freedom of evidence (a scaled inverse-chi-square prior's point estimate). With few
 * intervals a Pearson estimate is mostly noise, and one that happens to come out low makes a test
 * overconfident exactly when it matters most, at the first steps.
 */
export interface DispersionPrior {
  value: number;
  weight: number;
}

export const NO_PRIOR: DispersionPrior = { value: 1, weight: 0 };
/** The analysis's default: twice the binomial variance, worth two intervals of evidence. */
export const DEFAULT_DISPERSION_PRIOR: DispersionPrior = { value: 3, weight: 4 };

/**
 * The design effect of a total over clusters (here: analysis intervals), from the cluster-robust
 * variance (Liang & Zeger, Biometrika 1986): `residuals[k]` is cluster k's contribution to the
 * estimate minus its share under the pooled model, `modelVariance` the variance the model (independent
 * requests) gives the estimate. The ratio of the two, shrunk towards `prior` with K - 1 degrees of
 * freedom of evidence, never below 1.
 */
export function clusterDesignEffect(
  residuals: readonly number[],
  modelVariance: number,
  prior: DispersionPrior = NO_PRIOR,
): number {
  const k = residuals.length;
  const df = Math.max(0, k - 1);
  if (!(modelVariance > 0) || df + prior.weight === 0) return 1;
  const robust = k > 1 ? (k / (k - 1)) * residuals.reduce((sum, r) => sum + r * r, 0) : 0;
  const ratio = robust / modelVariance;
  return Math.max(1, (df * ratio + prior.weight * prior.value) / (df + prior.weight));
}

/**
 * What a workload's recent history says about the overdispersion of its error counts: how many
 * intervals it rests on and the intraclass correlation ρ of requests within one interval (Kish,
 * "Survey Sampling", 1965: an interval of n requests varies as much as n / (1 + (n - 1) ρ) independent
 * ones would). ρ is an upper 90% confidence bound, so a short or quiet history errs on the side of
 * more dispersion, never less.
 */
export interface DispersionHistory {
  intervals: number;
  overdispersion: number;
}

/** Intervals of history below which it says nothing and the default prior applies. */
export const MIN_HISTORY_INTERVALS = 4;
/** One-sided confidence of the history's upper bound on ρ. */
const HISTORY_CONFIDENCE = 0.9;

/**
 * ρ from per-interval error and request counts of one workload, by the method of moments: Pearson's
 * X² of the intervals' error counts around their pooled rate, over its degrees of freedom, is
 * 1 + (n₀ - 1) ρ, with n₀ the mean interval size adjusted for unequal sizes (Donner, "The comparison of
 * proportions in the presence of litter effects", 1989). X² is first divided by the lower 10% quantile
 * of χ² on K - 1 degrees of freedom: the dispersion the intervals would show at most, with 90% confidence.
 * Undefined with fewer than MIN_HISTORY_INTERVALS intervals that saw requests.
 *
 * Worked example: 10 intervals of 1,000 requests with 10, 20, 10, 20, … errors → pooled 1.5%, X² 16.9 on
 * 9 degrees of freedom, 16.9 / 4.17 = 4.05, ρ ≤ (4.05 - 1) / 999 = 0.0031.
 */
export function historyDispersion(
  intervals: readonly { errors: number; requests: number }[],
): DispersionHistory | undefined {
  const used = intervals.filter(
    ({ errors, requests }) => requests > 0 && Number.isFinite(requests) && errors >= 0 && errors <= requests,
  );
  const k = used.length;
  if (k < MIN_HISTORY_INTERVALS) return undefined;
  const n = used.reduce((sum, i) => sum + i.requests, 0);
  const errors = used.reduce((sum, i) => sum + i.errors, 0);
  // Smoothed, so a history without a single error still bounds ρ instead of dividing by zero.
  const pooled = (errors + 0.5) / (n + 1);
  const x2 = used.reduce(
    (sum, i) => sum + (i.errors - i.requests * pooled) ** 2 / (i.requests * pooled * (1 - pooled)),
    0,
  );
  const df = k - 1;
  const n0 = (n - used.reduce((sum, i) => sum + i.requests ** 2, 0) / n) / df;
  const upper = x2 / chisquareQuantile(1 - HISTORY_CONFIDENCE, df);
  const rho = n0 > 1 ? Math.max(0, (upper - 1) / (n0 - 1)) : 0;
  return { intervals: k, overdispersion: roundUp(rho) };
}

/** Four significant digits, rounded up so the bound stays a bound: a status people can read. */
function roundUp(value: number): number {
  if (value === 0) return 0;
  const scale = 10 ** (3 - Math.floor(Math.log10(value)));
  return Math.ceil(value * scale) / scale;
}

/** The design effect of an interval of `requests` requests under intraclass correlation `rho`. */
export function clusterSizeEffect(requests: number, rho: number): number {
  return 1 + Math.max(0, requests - 1) * rho;
}
