import { describe, expect, it } from 'vitest';
import { type Canary, type CanaryMetricInput, canarySchema } from '../src/api/index.ts';
import { formatNumber, runChecks } from '../src/metrics/checks.ts';
import { type MetricsProvider, NoValuesFoundError } from '../src/metrics/provider.ts';

function canary(metrics: CanaryMetricInput[], provider: 'istio' | 'kubernetes' = 'istio'): Canary {
  return canarySchema.parse({
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: {
      targetRef: { kind: 'Deployment', name: 'podinfo' },
      service: { port: 80 },
      // provider kubernetes is blue/green: it needs iterations.
      analysis: { metrics, ...(provider === 'kubernetes' ? { iterations: 1 } : {}) },
      provider,
    },
  });
}

/** Answers each query with the value the test assigns to its metric template. */
function fixedProvider(answer: (query: string) => number | Error, delayMs = 0) {
  let inFlight = 0;
  let maxInFlight = 0;
  const queries: string[] = [];
  const provider: MetricsProvider = {
    async runQuery(query) {
      queries.push(query);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, delayMs));
      inFlight--;
      const value = answer(query);
      if (value instanceof Error) throw value;
      return value;
    },
    async isOnline() {
      return true;
    },
  };
  return { provider, queries, maxInFlight: () => maxInFlight };
}

const template = (name: string) => ({
  apiVersion: 'petrel.dev/v1alpha1' as const,
  kind: 'MetricTemplate' as const,
  metadata: { name, namespace: 'test' },
  spec: { provider: { type: 'prometheus' as const }, query: `metric_${name}` },
});

describe('runChecks verdicts', () => {
  const cases: Array<[string, { min?: number; max?: number } | undefined, number, boolean, string]> = [
    ['below min', { min: 99 }, 94.8712, false, 'm 94.87 < min 99'],
    ['at min', { min: 99 }, 99, true, 'm 99 >= min 99'],
    ['above max', { max: 500 }, 612.5, false, 'm 612.5 > max 500'],
    ['at max', { max: 500 }, 500, true, 'm 500 <= max 500'],
    ['inside range', { min: 1, max: 10 }, 5, true, 'm 5 within 1..10'],
    ['below range', { min: 1, max: 10 }, 0.5, false, 'm 0.5 < min 1'],
    ['no threshold', undefined, 3, true, 'm 3 (no thresholdRange: recorded only)'],
  ];
  for (const [title, range, value, passed, reason] of cases) {
    it(title, async () => {
      const { provider } = fixedProvider(() => value);
      const [result] = await runChecks({
        canary: canary([
          { name: 'm', templateRef: { name: 'm' }, ...(range ? { thresholdRange: range } : {}) },
        ]),
        templates: () => template('m'),
        providerFor: () => provider,
        now: new Date(),
      });
      // Recorded with at most three decimals (judged on the exact value).
      expect(result).toMatchObject({ metric: 'm', value: Math.round(value * 1000) / 1000, passed, reason });
    });
  }

  it('records values rounded for people, judging the exact value', async () => {
    const { provider } = fixedProvider(() => 98.99999999999999);
    const [result] = await runChecks({
      canary: canary([{ name: 'm', templateRef: { name: 'm' }, thresholdRange: { min: 99 } }]),
      templates: () => template('m'),
      providerFor: () => provider,
      now: new Date(),
    });
    expect(result).toMatchObject({ value: 99, passed: false });
  });

  it('adds units to the builtin checks', async () => {
    const { provider } = fixedProvider((q) => (q.includes('histogram_quantile') ? 612.345 : 94.87));
    const results = await runChecks({
      canary: canary([
        { name: 'request-success-rate', thresholdRange: { min: 99 } },
        { name: 'request-duration', thresholdRange: { max: 500 } },
      ]),
      templates: () => undefined,
      providerFor: () => provider,
      now: new Date(),
    });
    expect(results.map((r) => r.reason)).toEqual([
      'request-success-rate 94.87% < min 99%',
      'request-duration 612.35ms > max 500ms',
    ]);
  });

  it('keeps the spec order and runs at most `concurrency` queries at once', async () => {
    const names = Array.from({ length: 9 }, (_, i) => `m${i}`);
    const fake = fixedProvider((q) => Number(q.replace('metric_m', '')), 20);
    const results = await runChecks({
      canary: canary(names.map((name) => ({ name, templateRef: { name } }))),
      templates: ({ name }) => template(name),
      providerFor: () => fake.provider,
      now: new Date(),
      concurrency: 3,
    });
    expect(results.map((r) => r.metric)).toEqual(names);
    expect(results.map((r) => r.value)).toEqual(names.map((_, i) => i));
    expect(fake.maxInFlight()).toBe(3);
  });

  it('resolves templateRef namespaces, defaulting to the canary namespace', async () => {
    const seen: string[] = [];
    const { provider } = fixedProvider(() => 1);
    await runChecks({
      canary: canary([
        { name: 'a', templateRef: { name: 'shared', namespace: 'petrel-system' } },
        { name: 'b', templateRef: { name: 'local' } },
      ]),
      templates: ({ name, namespace }) => {
        seen.push(`${namespace}/${name}`);
        return template(name);
      },
      providerFor: () => provider,
      now: new Date(),
    });
    expect(seen).toEqual(['petrel-system/shared', 'test/local']);
  });

  it('reports provider errors with their code, and builtins the router cannot serve', async () => {
    const { provider } = fixedProvider((q) => new NoValuesFoundError(q));
    const results = await runChecks({
      canary: canary([{ name: 'request-duration', thresholdRange: { max: 1 } }], 'kubernetes'),
      templates: () => undefined,
      providerFor: () => provider,
      now: new Date(),
    });
    expect(results[0]).toMatchObject({ passed: false, code: 'UNSUPPORTED_BUILTIN', max: 1 });
    const failing = await runChecks({
      canary: canary([{ name: 'request-duration', thresholdRange: { max: 1 } }]),
      templates: () => undefined,
      providerFor: () => provider,
      now: new Date(),
    });
    expect(failing[0]).toMatchObject({ passed: false, code: 'NO_VALUES' });
  });

  it('returns no results for a canary without metrics', async () => {
    const { provider } = fixedProvider(() => 1);
    expect(
      await runChecks({
        canary: canary([]),
        templates: () => undefined,
        providerFor: () => provider,
        now: new Date(),
      }),
    ).toEqual([]);
  });
});

describe('formatNumber', () => {
  it('keeps at most two decimals', () => {
    expect(formatNumber(94.8712)).toBe('94.87');
    expect(formatNumber(99)).toBe('99');
    expect(formatNumber(0.005)).toBe('0.01');
  });
});
