import { describe, expect, it } from 'vitest';
import { intervalsBetween, type ReleaseResult, renderJudgement, summarise } from '../bench/judgement.ts';
import { canarySpec, SUITE_BUCKETS_MS, suite } from '../bench/judgement-suite.ts';
import { canarySchema, PETREL_API_VERSION } from '../src/api/index.ts';

const result = (over: Partial<ReleaseResult>): ReleaseResult => ({
  service: 'a',
  kind: 'healthy',
  mode: 'relative',
  rps: 20,
  errorRatio: 0.01,
  p99Ms: 80,
  noise: 0,
  decision: 'promoted',
  weight: 50,
  steps: 5,
  seconds: 50,
  reason: '',
  ...over,
});

const FAILED_ERRORS =
  'regression detected with conclusive evidence, rolling back at once: request-success-rate (vs primary, %): canary errors 6% vs primary 1%';
const FAILED_LATENCY =
  'regression detected with conclusive evidence, rolling back at once: request-duration (vs primary, ms): canary p99 99ms vs primary 81ms';

describe('the decision-quality report', () => {
  it('tells the first weight step (held or not) from the first interval', () => {
    const results = [
      result({ kind: 'errors+5pp', decision: 'rolled back', weight: 10, steps: 1, reason: FAILED_ERRORS }),
      result({ kind: 'errors+5pp', decision: 'rolled back', weight: 10, steps: 4, reason: FAILED_ERRORS }),
      result({ kind: 'errors+5pp', decision: 'rolled back', weight: 20, steps: 12, reason: FAILED_ERRORS }),
      result({ kind: 'errors+5pp', decision: 'timed out', weight: 10, steps: 90 }),
      result({ kind: 'healthy', decision: 'rolled back', weight: 10, steps: 3 }),
      result({ kind: 'healthy' }),
      result({ kind: 'healthy', mode: 'absolute', decision: 'rolled back' }),
    ];
    const summary = summarise('relative', results);
    expect(summary.caught['errors+5pp']).toEqual({
      releases: 4,
      caughtPercent: 75,
      by20Percent: 75,
      atFirstStepPercent: 50,
      atFirstIntervalPercent: 25,
      otherCheckPercent: 0,
    });
    expect(summary.healthy).toEqual({ releases: 2, promotedPercent: 50, falseRollbacksPercent: 50 });
    // A timed-out release is no decision: medians over the decided ones only.
    expect(summary.decisions.medianSteps).toBe(4);
    const text = renderJudgement({ summary: [summary] } as unknown as Parameters<typeof renderJudgement>[0]);
    expect(text).toContain('errors+5pp caught 75% / 75% / 50% / 25%; other check 0% (n=4)');
  });

  it('a regression rolled back by the check that does not measure it is a false alarm, not a catch', () => {
    const summary = summarise('relative', [
      result({ kind: 'p99+20%', decision: 'rolled back', weight: 10, steps: 2, reason: FAILED_ERRORS }),
      result({ kind: 'p99+20%', decision: 'rolled back', weight: 20, steps: 40, reason: FAILED_LATENCY }),
    ]);
    expect(summary.caught['p99+20%']).toMatchObject({
      caughtPercent: 50,
      by20Percent: 50,
      otherCheckPercent: 50,
    });
  });

  it('counts intervals from the first traffic to the decision, held ones included', () => {
    // Seen at weight 10 up to a poll (1 s) late; decided at the first analysis, 10 s after the step.
    expect(intervalsBetween(1_000, 10_400, 10_000)).toBe(1);
    expect(intervalsBetween(1_000, 11_900, 10_000)).toBe(1);
    expect(intervalsBetween(1_000, 21_500, 10_000)).toBe(2);
    expect(intervalsBetween(1_000, 1_200, 10_000)).toBe(1);
    expect(intervalsBetween(undefined, 50_000, 10_000)).toBe(0);
  });

  it("the suite's Canaries are valid, and every version reports buckets 20% apart", () => {
    for (const mode of ['absolute', 'relative'] as const) {
      const parsed = canarySchema.safeParse({
        apiVersion: PETREL_API_VERSION,
        kind: 'Canary',
        metadata: { name: 'app', namespace: 'j' },
        spec: canarySpec(mode, { interval: '10s', speedup: 6 }),
      });
      expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    }
    for (let i = 1; i < SUITE_BUCKETS_MS.length; i++) {
      const step = SUITE_BUCKETS_MS[i]! / SUITE_BUCKETS_MS[i - 1]!;
      expect(step).toBeGreaterThan(1.1);
      expect(step).toBeLessThan(1.3);
    }
    expect(suite().length).toBeGreaterThanOrEqual(60);
  });
});
