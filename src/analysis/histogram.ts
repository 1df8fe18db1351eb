import { AnalysisInputError, type HistogramCounts } from './types.ts';

/** Adds histograms with the same bucket bounds. */
export function sumHistograms(histograms: readonly HistogramCounts[]): HistogramCounts | undefined {
  const first = histograms[0];
  if (!first) return undefined;
  const counts = new Array<number>(first.counts.length).fill(0);
  for (const h of histograms) {
    if (h.bounds.length !== first.bounds.length || h.bounds.some((b, i) => b !== first.bounds[i])) {
      throw new AnalysisInputError('histograms to add must have the same bucket bounds');
    }
    h.counts.forEach((c, i) => {
      counts[i] = (counts[i] ?? 0) + c;
    });
  }
  return { bounds: [...first.bounds], counts };
}

export function totalOf(h: HistogramCounts | undefined): number {
  return h?.counts[h.counts.length - 1] ?? 0;
}

/**
 * The q-quantile as Prometheus' histogram_quantile computes it: linear interpolation inside the bucket
 * holding rank q × total, the lower edge of the first bucket being 0; a rank in the +Inf bucket gives
 * the highest finite bound. NaN without observations.
 *
 * Worked example: bounds [100, 250, +Inf], counts [90, 99, 100]: p50 = 55.6, p99 = 250, p95 = 183.3.
 */
export function quantileOf(h: HistogramCounts, q: number): number {
  const total = totalOf(h);
  if (!(total > 0)) return Number.NaN;
  const rank = q * total;
  for (let i = 0; i < h.bounds.length; i++) {
    const upper = h.bounds[i]!;
    const below = i > 0 ? h.counts[i - 1]! : 0;
    const within = h.counts[i]!;
    if (within < rank) continue;
    if (!Number.isFinite(upper)) return i > 0 ? h.bounds[i - 1]! : Number.NaN;
    const lower = i > 0 ? h.bounds[i - 1]! : 0;
    const inBucket = within - below;
    return inBucket > 0 ? lower + ((upper - lower) * (rank - below)) / inBucket : upper;
  }
  return h.bounds[h.bounds.length - 2] ?? Number.NaN;
}

/**
 * How many observations lie above `x`, interpolating linearly inside its bucket (the reading
 * `quantileOf` makes). Above the highest finite bound nothing is known: 0 (the cautious answer for a
 * regression test).
 *
 * Worked example: bounds [100, 250, +Inf], counts [90, 99, 100]: above 175 → 5.5 (half of bucket 100..250 plus 1).
 */
export function countAbove(h: HistogramCounts, x: number): number {
  const total = totalOf(h);
  for (let i = 0; i < h.bounds.length; i++) {
    const upper = h.bounds[i]!;
    if (!Number.isFinite(upper)) return 0;
    if (x > upper) continue;
    const lower = i > 0 ? h.bounds[i - 1]! : 0;
    const below = i > 0 ? h.counts[i - 1]! : 0;
    const within = h.counts[i]! - below;
    const share = upper > lower ? (upper - Math.max(x, lower)) / (upper - lower) : 0;
    return total - h.counts[i]! + within * share;
  }
  return 0;
}

/** Checks bounds increase and end with +Inf, and counts are cumulative. */
export function validateHistogram(h: HistogramCounts, where: string): void {
  const { bounds, counts } = h;
  if (
    bounds.length === 0 ||
    bounds.length !== counts.length ||
    bounds[bounds.length - 1] !== Number.POSITIVE_INFINITY
  ) {
    throw new AnalysisInputError(`${where}: need one count per bound and a last bound of +Inf`);
  }
  for (let i = 0; i < bounds.length; i++) {
    const count = counts[i]!;
    if (!(count >= 0) || (i > 0 && (bounds[i]! <= bounds[i - 1]! || count < counts[i - 1]!))) {
      throw new AnalysisInputError(
        `${where}: bounds must increase and counts must be cumulative and not negative`,
      );
    }
  }
}
