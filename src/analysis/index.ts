export {
  type DispersionHistory,
  designEffect,
  historyDispersion,
  MIN_HISTORY_INTERVALS,
} from './dispersion.ts';
export { roundTo } from './format.ts';
export { countAbove, quantileOf, sumHistograms } from './histogram.ts';
export { compareQuantiles, DEFAULT_QUANTILE_MIN_SAMPLES, type QuantileOptions } from './latency.ts';
export { betaMixtureLogRatio, dirichletMultinomialLogRatio, mixtureRadius } from './mixture.ts';
export { requestsToDetect } from './planning.ts';
export { compareRates, DEFAULT_RATE_MIN_SAMPLES, describeTolerance } from './rates.ts';
export * from './types.ts';
