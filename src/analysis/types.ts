/** The three outcomes of a relative check at one step. */
export type AnalysisVerdict = 'pass' | 'fail' | 'inconclusive';

/** Errors out of requests of one workload over one interval. */
export interface RequestCounts {
  errors: number;
  requests: number;
}

/** Cumulative histogram counts of one workload over one interval: `counts[i]` requests took at most `bounds[i]`. */
export interface HistogramCounts {
  /** Upper bounds in the metric's unit (ms), increasing; the last is Infinity (`le="+Inf"`). */
  bounds: number[];
  counts: number[];
}

/** One interval's data of the canary and the primary, measured over the same window. */
export interface Batch<T> {
  canary: T;
  primary: T;
}

/**
 * What the user accepts: the canary may be worse than the primary by `absolute` (in the metric's unit:
 * a fraction for rates, ms for latencies) plus `ratio` of the primary's value.
 * "+0.5pp" is `{ absolute: 0.005, ratio: 0 }`, "20%" is `{ absolute: 0, ratio: 0.2 }`.
 */
export interface Tolerance {
  absolute: number;
  ratio: number;
}

export interface Judgement {
  verdict: AnalysisVerdict;
  /** The canary's value in the metric's unit (percent for rates, ms for latencies), rounded for people. */
  canary: number;
  primary: number;
  /** canary - primary, in the metric's unit. */
  difference: number;
  /** The anytime-valid confidence interval of the difference at level 1 - alpha. */
  interval: [number, number];
  samples: { canary: number; primary: number };
  /** 0-100: how confident the data make us that the canary is within the tolerance (Kayenta-like score). */
  score: number;
  /** The design effect used (>= 1): how much more the intervals vary than independent requests would. */
  dispersion: number;
  /** One sentence quoting the deciding evidence. */
  reason: string;
}

export interface JudgementOptions {
  tolerance: Tolerance;
  /** Probability of a false `fail` over the whole release, however often the data are looked at. */
  alpha: number;
  /** Canary requests below which the check is inconclusive whatever the data say. */
  minSamples?: number;
  /** What is assumed of the overdispersion before the intervals show it (default DEFAULT_DISPERSION_PRIOR). */
  dispersionPrior?: { value: number; weight: number };
  /**
   * The primary's overdispersion before the release (`historyDispersion`): when given, the prior on the
   * design effect comes from it instead of `dispersionPrior`.
   */
  history?: { intervals: number; overdispersion: number };
}

export class AnalysisInputError extends Error {
  override readonly name = 'AnalysisInputError';
  readonly code = 'INVALID_ANALYSIS_INPUT';
}
