/** Relative checks (compare: against the primary) through runChecks against a real Prometheus. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IstioMetricsWriter } from '../dev/sandbox/istio-metrics.ts';
import type { Canary, CanaryMetricInput } from '../src/api/index.ts';
import { runChecks } from '../src/metrics/checks.ts';
import { createMetricsProvider } from '../src/metrics/factory.ts';
import type { MetricsProvider } from '../src/metrics/provider.ts';
import { usePrometheus } from './support/prometheus.ts';
import {
  istioErrorsTemplate,
  progressingCanary,
  prometheusProvider,
  templateStore,
} from './support/relative-checks.ts';

const prom = usePrometheus();
const NS = 'rel';

const canary = (target: string, metrics: CanaryMetricInput[], status: Canary['status'] = {}) =>
  progressingCanary(NS, target, metrics, status);

/** One minute of traffic ending at `endAt`, one flush every 5 s, `perFlush` requests per flush. */
async function writeTraffic(
  workload: string,
  perFlush: number,
  errorsPerFlush: number,
  slowPerFlush: number,
  endAt: number,
  histogram: { slowMs?: number; durationBucketsMs?: number[] } = {},
): Promise<void> {
  const writer = new IstioMetricsWriter({ url: prom.url });
  const slowMs = histogram.slowMs ?? 800;
  const latencies = Array.from({ length: perFlush }, (_, i) => (i < slowPerFlush ? slowMs : 10));
  const buckets = histogram.durationBucketsMs ? { durationBucketsMs: histogram.durationBucketsMs } : {};
  for (let t = endAt - 60_000; t <= endAt; t += 5_000) {
    writer.record(NS, workload, {
      requests: perFlush,
      errors: errorsPerFlush,
      latenciesMs: latencies,
      ...buckets,
    });
    await writer.flush(t);
  }
}

const providerFor = (): MetricsProvider => prometheusProvider(prom.url);
const { templates, lookup } = templateStore();
const relative = (
  name: string,
  tolerance: string,
  extra: Partial<CanaryMetricInput> = {},
): CanaryMetricInput => ({
  name,
  interval: '1m',
  compare: { tolerance },
  ...extra,
});

describe('relative checks against a real Prometheus', () => {
  const now = Date.now();
  beforeAll(async () => {
    await writeTraffic('worse', 200, 20, 1, now);
    await writeTraffic('worse-primary', 1000, 20, 1, now);
    await writeTraffic('same', 1000, 20, 1, now);
    await writeTraffic('same-primary', 1000, 20, 1, now);
    await writeTraffic('slow', 1000, 0, 40, now);
    await writeTraffic('slow-primary', 1000, 0, 2, now);
    // p99 80 → 96ms: inside Istio's default 50..100 bucket, visible with buckets 5ms apart.
    const fine = [10, 50, 75, 80, 85, 90, 95, 100, 250, 500, 1000];
    await writeTraffic('fine', 1000, 0, 20, now, { slowMs: 96, durationBucketsMs: fine });
    await writeTraffic('fine-primary', 1000, 0, 20, now, { slowMs: 80, durationBucketsMs: fine });
    await writeTraffic('coarse', 1000, 0, 20, now, { slowMs: 96 });
    await writeTraffic('coarse-primary', 1000, 0, 20, now, { slowMs: 80 });
    // A release that changes the sidecar's buckets: the canary reports others than the primary.
    await writeTraffic('rebucketed', 1000, 0, 20, now, { slowMs: 96, durationBucketsMs: fine });
    await writeTraffic('rebucketed-primary', 1000, 0, 20, now, { slowMs: 80 });
  });
  afterAll(() => templates.clear());
  const latencyChecks = (target: string) =>
    runChecks({
      canary: canary(target, [relative('request-duration', '10%')]),
      templates: lookup,
      providerFor,
      now: new Date(now),
    });

  it('rolls back a canary with 10% errors against a primary with 2%, with the evidence', async () => {
    const results = await runChecks({
      canary: canary('worse', [relative('request-success-rate', '+0.5pp')]),
      templates: lookup,
      providerFor,
      now: new Date(now),
    });
    const [check] = results;
    expect(check).toMatchObject({
      metric: 'request-success-rate',
      passed: false,
      verdict: 'fail',
      conclusive: true,
    });
    expect(check?.evidence?.canary).toBeCloseTo(10, 1);
    expect(check?.evidence?.primary).toBeCloseTo(2, 1);
    expect(check?.reason).toMatch(
      /canary errors 10% vs primary 2% \(\+8pp, 99% interval \+[\d.]+\.\.\+[\d.]+pp\)/,
    );
    const analysis = results.analysis!;
    expect(analysis.revision).toBe('rev-1');
    expect(analysis.metrics?.[0]?.batches).toHaveLength(1);
    expect(analysis.metrics?.[0]?.end).toBe(new Date(now).toISOString());
    expect(analysis.steps?.[0]).toMatchObject({
      weight: 20,
      checks: [{ metric: 'request-success-rate', verdict: 'fail' }],
    });
    // Rounded for people: no float noise in the status.
    for (const n of [check!.evidence!.canary!, check!.evidence!.difference!, ...check!.evidence!.interval!]) {
      expect(String(n)).toMatch(/^-?\d+(\.\d{1,3})?$/);
    }
  });

  it('passes an equal canary, and keeps counting from where the last step ended', async () => {
    const first = await runChecks({
      canary: canary('same', [relative('request-success-rate', '+0.5pp')]),
      templates: lookup,
      providerFor,
      now: new Date(now - 30_000),
    });
    const second = await runChecks({
      canary: canary('same', [relative('request-success-rate', '+0.5pp')], { analysis: first.analysis }),
      templates: lookup,
      providerFor,
      now: new Date(now),
    });
    expect(second[0]).toMatchObject({ passed: true, verdict: 'pass' });
    const batches = second.analysis!.metrics![0]!.batches!;
    expect(batches).toHaveLength(2);
    // The second batch covers only the 30 s since the first ended: about half the requests.
    expect(batches[1]![1]!).toBeLessThan(batches[0]![1]! * 0.8);
    expect(second.analysis!.steps).toHaveLength(2);
  });

  it('an inconclusive check holds up to compare.maxInconclusive steps, then follows compare.onInconclusive', async () => {
    // Equal error rates and a tolerance far inside the interval: the evidence cannot decide either way.
    const tight = (onInconclusive: 'fail' | 'advance') =>
      relative('request-success-rate', '+0.01pp', {
        compare: { tolerance: '+0.01pp', maxInconclusive: 1, onInconclusive },
      });
    for (const policy of ['fail', 'advance'] as const) {
      const first = await runChecks({
        canary: canary('same', [tight(policy)]),
        templates: lookup,
        providerFor,
        now: new Date(now - 30_000),
      });
      expect(first[0], policy).toMatchObject({ passed: false, verdict: 'inconclusive' });
      const second = await runChecks({
        canary: canary('same', [tight(policy)], { analysis: first.analysis }),
        templates: lookup,
        providerFor,
        now: new Date(now),
      });
      expect(second[0], policy).toMatchObject(
        policy === 'fail' ? { passed: false, verdict: 'fail' } : { passed: true, verdict: 'pass' },
      );
      expect(second[0]!.reason).toContain(`inconclusive for 1 steps`);
    }
  });

  it('a new release starts from nothing: no counts of the previous one', async () => {
    const previous = await runChecks({
      canary: canary('same', [relative('request-success-rate', '+0.5pp')]),
      templates: lookup,
      providerFor,
      now: new Date(now),
    });
    const next = await runChecks({
      canary: canary('same', [relative('request-success-rate', '+0.5pp')], {
        lastAppliedSpec: 'rev-2',
        analysis: previous.analysis,
      }),
      templates: lookup,
      providerFor,
      now: new Date(now),
    });
    expect(next.analysis!.revision).toBe('rev-2');
    expect(next.analysis!.metrics![0]!.batches).toHaveLength(1);
    expect(next.analysis!.steps).toHaveLength(1);
  });

  it('compares p99 from the duration buckets of both workloads', async () => {
    const results = await runChecks({
      canary: canary('slow', [
        relative('request-duration', '20%'),
        relative('request-success-rate', '+0.5pp'),
      ]),
      templates: lookup,
      providerFor,
      now: new Date(now),
    });
    expect(results[0]).toMatchObject({ metric: 'request-duration', verdict: 'fail', conclusive: true });
    expect(results[0]?.evidence?.canary).toBeGreaterThan(results[0]!.evidence!.primary! * 1.2);
    expect(results[0]?.reason).toMatch(/canary p99 [\d.]+ms vs primary [\d.]+ms/);
    expect(results.analysis!.metrics!.find((m) => m.metric === 'request-duration')?.bounds).toContain(500);
  });

  it('sees a p99 move inside one default bucket when the sidecar reports finer buckets (80 → 96ms)', async () => {
    const judge = async (target: string) => (await latencyChecks(target))[0]!;
    const fine = await judge('fine');
    expect(fine).toMatchObject({ verdict: 'fail', conclusive: true });
    expect(fine.evidence?.canary).toBeGreaterThan(90);
    expect(fine.evidence?.primary).toBeLessThanOrEqual(81);
    const coarse = await judge('coarse');
    expect(coarse.verdict).not.toBe('fail');
  });

  it('compares canary and primary on the bounds both report when a release changes the buckets', async () => {
    const results = await latencyChecks('rebucketed');
    const bounds = results.analysis!.metrics!.find((m) => m.metric === 'request-duration')?.bounds;
    expect(bounds).toEqual([10, 50, 100, 250, 500, 1000]);
    // 96 and 80 share the 50..100 bucket of the bounds both have: no conclusive regression.
    expect(results[0]?.verdict).not.toBe('fail');
  });

  it('a MetricTemplate with totalQuery and {{ workload }} compares the two workloads', async () => {
    templates.set(`${NS}/errors`, istioErrorsTemplate(NS));
    const results = await runChecks({
      canary: canary('worse', [
        { name: 'errors', templateRef: { name: 'errors' }, compare: { tolerance: '+0.5pp' } },
      ]),
      templates: lookup,
      providerFor: () => providerFor(),
      now: new Date(now),
    });
    expect(results[0]).toMatchObject({ metric: 'errors', verdict: 'fail', conclusive: true });
  });

  it('no requests at all follows onNoData: fail by default, hold or pass when asked', async () => {
    const run = (extra: Partial<CanaryMetricInput>) =>
      runChecks({
        canary: canary('ghost', [relative('request-success-rate', '+0.5pp', extra)]),
        templates: lookup,
        providerFor,
        now: new Date(now),
      });
    expect((await run({}))[0]).toMatchObject({ passed: false, verdict: 'fail', code: 'NO_VALUES' });
    expect((await run({ onNoData: 'hold' }))[0]).toMatchObject({ passed: false, verdict: 'hold' });
    expect((await run({ onNoData: 'pass' }))[0]).toMatchObject({ passed: true, verdict: 'pass' });
  });

  it('an unreachable Prometheus holds with an alert, then counts as failed after maxHold; dry runs are marked', async () => {
    const closed = createMetricsProvider(undefined, {
      defaultAddress: 'http://127.0.0.1:9',
      timeoutMs: 1_000,
    });
    const metric = relative('request-success-rate', '+0.5pp', { maxHold: '2m' });
    const first = await runChecks({
      canary: canary('same', [metric]),
      templates: lookup,
      providerFor: () => closed,
      now: new Date(now),
    });
    expect(first[0]).toMatchObject({ passed: false, verdict: 'hold', alert: true });
    const later = await runChecks({
      canary: canary('same', [metric], { analysis: first.analysis }),
      templates: lookup,
      providerFor: () => closed,
      now: new Date(now + 3 * 60_000),
    });
    expect(later[0]).toMatchObject({ passed: false, verdict: 'fail' });
    expect(later[0]?.reason).toContain('longer than maxHold 2m');

    const dry = await runChecks({
      canary: canary('worse', [relative('request-success-rate', '+0.5pp', { dryRun: true })]),
      templates: lookup,
      providerFor,
      now: new Date(now),
    });
    expect(dry[0]).toMatchObject({ dryRun: true, verdict: 'fail' });
    expect(dry.analysis!.steps![0]!.checks[0]!.dryRun).toBe(true);
  });
});
