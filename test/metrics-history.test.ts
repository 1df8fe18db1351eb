/**
 * The primary's history before a release, read from a real Prometheus at the release's first step: how
 * much its error counts vary from interval to interval decides how cautious the first steps are.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IstioMetricsWriter } from '../dev/sandbox/istio-metrics.ts';
import {
  type Canary,
  type CanaryMetricInput,
  type MetricTemplate,
  PETREL_API_VERSION,
} from '../src/api/index.ts';
import { runChecks } from '../src/metrics/checks.ts';
import { createMetricsProvider } from '../src/metrics/factory.ts';
import { HISTORY_INTERVALS, pairByTime, primaryHistory } from '../src/metrics/history-queries.ts';
import type { LabelledSeries, MetricsProvider } from '../src/metrics/provider.ts';
import { usePrometheus } from './support/prometheus.ts';
import {
  istioErrorsTemplate,
  progressingCanary,
  prometheusProvider,
  templateStore,
} from './support/relative-checks.ts';

const prom = usePrometheus();
const NS = 'hist';
const MINUTE = 60_000;

const canary = (target: string, metric: CanaryMetricInput, status: Canary['status'] = {}) =>
  progressingCanary(NS, target, [metric], status, 10);

/**
 * `minutes` minutes of traffic ending at `endAt`, flushed every 10 s: `requests` requests a minute, and
 * `errorsPerMinute(t)` errors a minute for the flush at time t (ms).
 */
async function writeMinutes(
  workload: string,
  minutes: number,
  requests: number,
  errorsPerMinute: (t: number) => number,
  endAt: number,
): Promise<void> {
  const writer = new IstioMetricsWriter({ url: prom.url });
  for (let t = endAt - minutes * MINUTE; t <= endAt; t += 10_000) {
    writer.record(NS, workload, { requests: requests / 6, errors: errorsPerMinute(t) / 6, latenciesMs: [] });
    await writer.flush(t);
  }
}

const providerFor = (): MetricsProvider => prometheusProvider(prom.url);
const { templates, lookup } = templateStore();
const errorsCheck: CanaryMetricInput = {
  name: 'request-success-rate',
  interval: '1m',
  compare: { tolerance: '+0.25pp' },
};

describe('the primary history of a relative error-rate check (real Prometheus)', () => {
  const now = Date.now();
  const HISTORY_MINUTES = HISTORY_INTERVALS + 3;
  beforeAll(async () => {
    // Three primaries with the same 1% error rate over 13 minutes: steady; bursty, 0% and 2% in turns
    // by clock minute (the history's subquery steps at whole minutes) and 1% in the last 90 s, which the
    // first step compares the canary with; and one created a minute ago. Each canary: its last minute
    // only, 240 requests, 5% errors.
    await writeMinutes('steady-primary', HISTORY_MINUTES, 6000, () => 60, now);
    const bursty = (t: number) => (t > now - 90_000 ? 60 : Math.floor(t / MINUTE) % 2 === 0 ? 0 : 120);
    await writeMinutes('bursty-primary', HISTORY_MINUTES, 6000, bursty, now);
    await writeMinutes('new-primary', 1, 5400, () => 54, now);
    for (const target of ['steady', 'bursty', 'new']) await writeMinutes(target, 1, 240, () => 12, now);
  });
  afterAll(() => templates.clear());

  const firstStep = (target: string, metric: CanaryMetricInput = errorsCheck) =>
    runChecks({ canary: canary(target, metric), templates: lookup, providerFor, now: new Date(now) });

  it('reads the history once, at the first step, and keeps it in the status', async () => {
    const steady = await firstStep('steady');
    const history = steady.analysis!.metrics![0]!.history!;
    expect(history.intervals).toBeGreaterThanOrEqual(HISTORY_INTERVALS - 1);
    expect(history.intervals).toBeLessThanOrEqual(HISTORY_INTERVALS);
    // A steady primary: its counts vary no more than independent requests would.
    expect(history.overdispersion).toBeLessThan(1e-4);

    // The second step reuses it, whatever the backend says now.
    const broken = createMetricsProvider(undefined, { defaultAddress: prom.url, timeoutMs: 5_000 });
    broken.runSeriesQuery = () => Promise.reject(new Error('must not be asked again'));
    const second = await runChecks({
      canary: canary('steady', errorsCheck, { analysis: steady.analysis }),
      templates: lookup,
      providerFor: () => broken,
      now: new Date(now + 1_000),
    });
    expect(second.analysis!.metrics![0]!.history).toEqual(history);
  });

  it('a steady primary lets a +4pp canary fail at the first interval; a bursty one holds it', async () => {
    const steady = await firstStep('steady');
    const bursty = await firstStep('bursty');
    expect(bursty.analysis!.metrics![0]!.history!.overdispersion).toBeGreaterThan(
      100 * Math.max(1e-6, steady.analysis!.metrics![0]!.history!.overdispersion),
    );
    expect(steady[0]).toMatchObject({ verdict: 'fail', conclusive: true });
    expect(bursty[0]).toMatchObject({ verdict: 'inconclusive' });
  });

  it('a primary without history: none recorded, and the cautious default holds the same canary', async () => {
    const fresh = await firstStep('new');
    expect(fresh.analysis!.metrics![0]!.history).toEqual({ intervals: 0, overdispersion: 0 });
    expect(fresh[0]).toMatchObject({ verdict: 'inconclusive' });
  });

  it("a new release reads its own history: the previous release's is never carried over", async () => {
    const previous = {
      revision: 'rev-0',
      metrics: [{ metric: 'request-success-rate', history: { intervals: 10, overdispersion: 0.5 } }],
    };
    const results = await runChecks({
      canary: canary('steady', errorsCheck, { analysis: previous }),
      templates: lookup,
      providerFor,
      now: new Date(now),
    });
    expect(results.analysis!.revision).toBe('rev-1');
    expect(results.analysis!.metrics![0]!.history!.overdispersion).toBeLessThan(1e-4);
    expect(results[0]).toMatchObject({ verdict: 'fail' });
  });

  it('a history query the backend refuses costs the check nothing: the default applies', async () => {
    const refusing = createMetricsProvider(undefined, { defaultAddress: prom.url, timeoutMs: 5_000 });
    refusing.runSeriesQuery = () => Promise.reject(new Error('subqueries are disabled here'));
    const results = await runChecks({
      canary: canary('steady', errorsCheck),
      templates: lookup,
      providerFor: () => refusing,
      now: new Date(now),
    });
    expect(results.analysis!.metrics![0]!.history).toEqual({ intervals: 0, overdispersion: 0 });
    expect(results[0]).toMatchObject({ verdict: 'inconclusive' });
  });

  it('a MetricTemplate with totalQuery reads its history through {{ workload }} as well', async () => {
    templates.set(`${NS}/errors`, istioErrorsTemplate(NS));
    const metric = {
      name: 'errors',
      templateRef: { name: 'errors' },
      interval: '1m',
      compare: { tolerance: '+0.25pp' },
    };
    const steady = await firstStep('steady', metric);
    const bursty = await firstStep('bursty', metric);
    expect(steady.analysis!.metrics![0]!.history!.intervals).toBeGreaterThanOrEqual(HISTORY_INTERVALS - 1);
    expect(bursty.analysis!.metrics![0]!.history!.overdispersion).toBeGreaterThan(
      steady.analysis!.metrics![0]!.history!.overdispersion,
    );
    expect(steady[0]).toMatchObject({ verdict: 'fail' });
    expect(bursty[0]).toMatchObject({ verdict: 'inconclusive' });
  });
});

describe('reading a history answer', () => {
  const series = (points: Array<[number, number]>, labels: Record<string, string> = {}): LabelledSeries => ({
    labels,
    points: points.map(([time, value]) => ({ time, value })),
  });

  it('pairs errors with requests by time; missing, NaN or impossible error counts never poison it', () => {
    const requests = series([
      [60, 1000],
      [120, 1000],
      [180, Number.NaN],
      [240, 0],
      [300, 1000],
      [360, 1000],
    ]);
    const errors = series([
      [60, 10],
      [120, Number.NaN],
      [300, 5000],
      [360, -3],
    ]);
    expect(pairByTime(errors, requests)).toEqual([
      { requests: 1000, errors: 10 },
      { requests: 1000, errors: 0 },
      { requests: 1000, errors: 1000 },
      { requests: 1000, errors: 0 },
    ]);
    expect(pairByTime(undefined, requests)).toHaveLength(4);
    expect(pairByTime(errors, undefined)).toEqual([]);
  });

  const fake = (answers: LabelledSeries[][]): MetricsProvider => {
    let call = 0;
    return {
      runQuery: () => Promise.reject(new Error('not used')),
      isOnline: () => Promise.resolve(true),
      runSeriesQuery: () => Promise.resolve(answers[call++ % answers.length]!),
    };
  };
  const model = { name: 'app', namespace: NS, target: 'app', interval: '1m', variables: {} };
  const steady = series(Array.from({ length: 10 }, (_, i) => [60 * i, 1000] as [number, number]));

  it('a query of one workload that yields several series gives no history, never a guess', async () => {
    const two = [steady, { ...steady, labels: { pod: 'b' } }];
    expect(
      await primaryHistory(fake([two, two]), { kind: 'istio-rates' }, model, 'app-primary', 60),
    ).toBeUndefined();
  });

  it('asks for the last HISTORY_INTERVALS intervals of the primary only, stepped by the interval', async () => {
    const queries: string[] = [];
    const provider: MetricsProvider = {
      runQuery: () => Promise.reject(new Error('not used')),
      isOnline: () => Promise.resolve(true),
      runSeriesQuery: (query) => {
        queries.push(query);
        return Promise.resolve([steady]);
      },
    };
    const history = await primaryHistory(provider, { kind: 'istio-rates' }, model, 'my.app-primary', 60);
    expect(history?.intervals).toBe(10);
    expect(queries).toHaveLength(2);
    for (const query of queries) {
      expect(query).toMatch(/\[600s:60s\]$/);
      expect(query).toContain('destination_workload=~"my\\\\.app-primary"');
      expect(query).not.toContain('|');
    }
  });

  it('a provider that cannot read ranges, or a template without totalQuery, gives no history', async () => {
    const noRanges: MetricsProvider = {
      runQuery: () => Promise.resolve(1),
      isOnline: () => Promise.resolve(true),
    };
    expect(await primaryHistory(noRanges, { kind: 'istio-rates' }, model, 'app-primary', 60)).toBeUndefined();
    const template = {
      apiVersion: PETREL_API_VERSION,
      kind: 'MetricTemplate',
      metadata: { name: 't', namespace: NS },
      spec: { provider: { type: 'prometheus' }, query: 'sum(x{w="{{ workload }}"})' },
    } as MetricTemplate;
    expect(
      await primaryHistory(fake([[steady]]), { kind: 'template', template }, model, 'app-primary', 60),
    ).toBeUndefined();
  });
});
