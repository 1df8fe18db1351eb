import betaln from '@stdlib/math-base-special-betaln';
import gammaln from '@stdlib/math-base-special-gammaln';

/**
 * Radius of the normal-mixture confidence sequence (Robbins 1970; Howard, Ramdas, McAuliffe & Sekhon,
 * "Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist. 2021, eq. (3.7) with
 * a Gaussian mixing distribution; the same boundary as the mixture SPRT of Johari, Pekelis & Walsh,
 * "Always valid inference", 2017).
 *
 * For an estimate whose error is Gaussian with variance `variance` (information 1/variance growing
 * as data accumulate), `estimate ± radius` covers the truth at every look at once with probability
 * at least 1 - alpha. `rho` is the precision of the Gaussian mixing distribution, in the estimate's
 * information units (see `tunedPrecision`).
 *
 * Worked example: variance 1e-4 (sd 1 pp), rho tuned at that information, alpha 0.01 → radius ≈ 0.0357
 * (3.57 sd), where a single fixed-horizon two-sided test would use 2.58 sd.
 */
export function mixtureRadius(variance: number, rho: number, alpha: number): number {
  if (!(variance > 0) || !(rho > 0)) return Number.POSITIVE_INFINITY;
  const information = 1 / variance;
  const total = information + rho;
  return Math.sqrt(total * Math.log(total / (rho * alpha * alpha))) / information;
}

/**
 * The mixing precision that makes the normal-mixture boundary tightest when the information reaches
 * `information` (Howard et al. 2021, section 3.5): rho = m / (2 log(1/alpha) + log(1 + 2 log(1/alpha))).
 * The analysis tunes it at the first interval's information, which depends on request counts only,
 * never on the error counts being tested.
 */
export function tunedPrecision(information: number, alpha: number): number {
  const l = 2 * Math.log(1 / alpha);
  return information / (l + Math.log(1 + l));
}

/**
 * Log of the beta-binomial mixture martingale for a proportion (Robbins 1970; the conjugate mixtures of
 * Lindon, Sanden & Shirikian, KDD 2022): the likelihood of `successes` out of `trials` averaged over a
 * Beta(a, b) prior, divided by its likelihood at `p0`. Under p = p0 it is a nonnegative martingale of
 * mean 1, so by Ville's inequality it exceeds log(1/alpha) with probability at most alpha, ever.
 * Counts may be fractional (effective counts after a design-effect correction).
 *
 * Worked example: 5 of 100 above a p0 = 0.01 with a Beta(1, 99) prior → log M ≈ 1.68 (M ≈ 5.4).
 */
export function betaMixtureLogRatio(
  successes: number,
  trials: number,
  p0: number,
  a: number,
  b: number,
): number {
  const failures = trials - successes;
  const logMixture = betaln(a + successes, b + failures) - betaln(a, b);
  const logNull = successes * Math.log(p0) + failures * Math.log1p(-p0);
  return logMixture - logNull;
}

/**
 * Log of the Dirichlet-multinomial mixture martingale for categorical counts (Lindon & Malek,
 * "Anytime-valid inference for multinomial count data", NeurIPS 2022): the counts' likelihood averaged
 * over a Dirichlet(concentration × p0) prior, divided by their likelihood under the proportions `p0`.
 * Under p0 it is a nonnegative martingale of mean 1 (Ville's inequality bounds a false alarm by alpha).
 * Counts may be fractional; categories with p0 = 0 must have no counts.
 *
 * Worked example: counts [60, 40] against p0 [0.5, 0.5] with concentration 2 → log M ≈ -0.09 (no
 * evidence); counts [80, 20] → log M ≈ 17.0.
 */
export function dirichletMultinomialLogRatio(
  counts: readonly number[],
  p0: readonly number[],
  concentration: number,
): number {
  const n = counts.reduce((a, b) => a + b, 0);
  let log = gammaln(concentration) - gammaln(concentration + n);
  counts.forEach((x, i) => {
    const p = p0[i] ?? 0;
    if (x === 0) return;
    const a = concentration * p;
    log += gammaln(a + x) - gammaln(a) - x * Math.log(p);
  });
  return log;
}
