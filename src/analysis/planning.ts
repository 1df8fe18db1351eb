import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import { DEFAULT_DISPERSION_PRIOR } from './dispersion.ts';
import { mixtureRadius, tunedPrecision } from './mixture.ts';

/**
 * About how many canary requests the error-rate test needs to roll back a regression of
 * `regression` (fractions: 0.01 is +1pp) over a primary at `baseline`, with the given tolerance and
 * alpha, in `power` of releases; assuming the primary has `primaryPerCanary` times more requests and
 * a design effect of 1.5. The test is judged as compareRates judges it: the boundary at the spread a
 * canary at the tolerance would have, the estimate scattered by the regressed canary's own spread.
 * For docs and lint hints, not for decisions.
 *
 * Worked example: baseline 0.02, regression 0.01, tolerance 0.005, alpha 0.01, power 0.5, primary 9×
 * → about 25,700 canary requests (at 10 rps on the canary: 43 minutes; a tolerance of 0 needs a fifth).
 */
export function requestsToDetect(input: {
  baseline: number;
  regression: number;
  tolerance: number;
  alpha: number;
  power?: number;
  primaryPerCanary?: number;
  /** Canary requests in the first interval, where the boundary is tuned. Default 600 (10 rps for a minute). */
  firstInterval?: number;
  /** The design effect the data will show. Default 1.5. */
  dispersion?: number;
}): number {
  const { baseline, regression, tolerance, alpha } = input;
  if (!(regression > tolerance)) return Number.POSITIVE_INFINITY;
  const ratio = input.primaryPerCanary ?? 9;
  const zPower = normalQuantile(input.power ?? 0.5, 0, 1);
  const spread = (canaryRate: number) => {
    const p = Math.min(1 - 1e-9, canaryRate);
    return p * (1 - p) + (baseline * (1 - baseline)) / ratio;
  };
  const dispersion = input.dispersion ?? 1.5;
  const atTolerance = dispersion * spread(baseline + tolerance);
  const regressed = dispersion * spread(baseline + regression);
  // Information grows with n; find the n where the effect clears the boundary plus the power margin.
  const rho = tunedPrecision(
    (input.firstInterval ?? 600) / (DEFAULT_DISPERSION_PRIOR.value * spread(baseline + tolerance)),
    alpha,
  );
  const clears = (n: number) =>
    regression - tolerance >= mixtureRadius(atTolerance / n, rho, alpha) + zPower * Math.sqrt(regressed / n);
  let low = 1;
  let high = 1;
  while (!clears(high) && high < 1e12) high *= 2;
  while (high - low > Math.max(1, low * 0.001)) {
    const mid = Math.floor((low + high) / 2);
    if (clears(mid)) high = mid;
    else low = mid;
  }
  return high;
}
