import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IstioMetricsWriter } from '../dev/sandbox/istio-metrics.ts';
import { type Canary, type CanaryMetricInput, canarySchema, type MetricTemplate } from '../src/api/index.ts';
import { runChecks } from '../src/metrics/checks.ts';
import { createMetricsProvider } from '../src/metrics/factory.ts';
import { PrometheusProvider } from '../src/metrics/prometheus.ts';
import {
  type MetricsProvider,
  MultipleSeriesError,
  NotANumberError,
  NoValuesFoundError,
  QueryTimeoutError,
} from '../src/metrics/provider.ts';
import { usePrometheus } from './support/prometheus.ts';
import { waitFor } from './support/wait.ts';

const prom = usePrometheus();
const NS = 'shop';

function canary(target: string, metrics: CanaryMetricInput[]): Canary {
  return canarySchema.parse({
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: target, namespace: NS },
    spec: {
      targetRef: { kind: 'Deployment', name: target },
      service: { port: 9898 },
      analysis: { metrics },
    },
  });
}

function template(name: string, query: string): MetricTemplate {
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'MetricTemplate',
    metadata: { name, namespace: NS },
    spec: { provider: { type: 'prometheus' }, query },
  };
}

/**
 * Writes one minute of traffic ending now, one flush every 5 s: per flush 100 requests with
 * `errors` failures; latencies: 98 at 10 ms, 2 at 800 ms (so p99 lies in the 500..1000 bucket).
 */
async function writeTraffic(workload: string, errorsPer100: number, endAt = Date.now()): Promise<void> {
  const writer = new IstioMetricsWriter({ url: prom.url });
  const latencies = Array.from({ length: 100 }, (_, i) => (i < 2 ? 800 : 10));
  for (let t = endAt - 60_000; t <= endAt; t += 5_000) {
    writer.record(NS, workload, { requests: 100, errors: errorsPer100, latenciesMs: latencies });
    await writer.flush(t);
  }
}

function providerFor(): MetricsProvider {
  return createMetricsProvider(undefined, { defaultAddress: prom.url, timeoutMs: 5_000 });
}

const templates = new Map<string, MetricTemplate>();
const lookup = ({ name, namespace }: { name: string; namespace: string }) =>
  templates.get(`${namespace}/${name}`);

describe('runChecks with the builtin Istio checks against a real Prometheus', () => {
  beforeAll(async () => {
    await writeTraffic('podinfo', 5);
    await writeTraffic('healthy', 0);
  });

  it('measures 5% errors as a 95% success rate and fails a 99% minimum', async () => {
    const results = await runChecks({
      canary: canary('podinfo', [
        { name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '1m' },
        { name: 'request-duration', thresholdRange: { max: 500 }, interval: '1m' },
      ]),
      templates: lookup,
      providerFor,
      now: new Date(),
    });
    expect(results).toHaveLength(2);
    const [success, duration] = results;
    expect(success?.metric).toBe('request-success-rate');
    expect(success?.value).toBeCloseTo(95, 6);
    expect(success?.passed).toBe(false);
    expect(success?.min).toBe(99);
    expect(success?.reason).toBe('request-success-rate 95% < min 99%');
    // histogram_quantile interpolates inside the 500..1000 bucket: 500 + (99-98)/2 * 500.
    expect(duration?.value).toBeCloseTo(750, 6);
    expect(duration?.passed).toBe(false);
    expect(duration?.reason).toBe('request-duration 750ms > max 500ms');
  });

  it('passes a healthy workload', async () => {
    const results = await runChecks({
      canary: canary('healthy', [
        { name: 'request-success-rate', thresholdRange: { min: 99 } },
        { name: 'request-duration', thresholdRange: { max: 1000 } },
      ]),
      templates: lookup,
      providerFor,
      now: new Date(),
    });
    expect(results.map((r) => r.passed)).toEqual([true, true]);
    expect(results[0]?.value).toBe(100);
    expect(results[0]?.reason).toBe('request-success-rate 100% >= min 99%');
    expect(results[1]?.reason).toBe('request-duration 750ms <= max 1000ms');
  });

  it('fails with NO_VALUES when no traffic reached the workload', async () => {
    const [result] = await runChecks({
      canary: canary('ghost', [{ name: 'request-success-rate', thresholdRange: { min: 99 } }]),
      templates: lookup,
      providerFor,
      now: new Date(),
    });
    expect(result).toMatchObject({
      metric: 'request-success-rate',
      passed: false,
      code: 'NO_VALUES',
      min: 99,
    });
    expect(result?.value).toBeUndefined();
    expect(result?.reason).toMatch(/^request-success-rate: no values found/);
  });

  it('fails with NAN when the workload had no requests in the interval (0/0)', async () => {
    const writer = new IstioMetricsWriter({ url: prom.url });
    const now = Date.now();
    writer.record(NS, 'idle', { requests: 10, errors: 0, latenciesMs: new Array(10).fill(5) });
    await writer.flush(now - 180_000);
    for (let t = now - 60_000; t <= now; t += 10_000) await writer.flush(t);

    const results = await runChecks({
      canary: canary('idle', [
        { name: 'request-success-rate', thresholdRange: { min: 99 } },
        { name: 'request-duration', thresholdRange: { max: 500 } },
      ]),
      templates: lookup,
      providerFor,
      now: new Date(),
    });
    expect(results.map((r) => r.code)).toEqual(['NAN', 'NAN']);
    expect(results[0]?.reason).toContain('NaN');
    expect(results.every((r) => !r.passed)).toBe(true);
  });

  it('fails with MULTIPLE_SERIES instead of picking one, naming the series', async () => {
    templates.set(
      `${NS}/by-code`,
      template(
        'by-code',
        'sum by (response_code) (rate(istio_requests_total{destination_workload_namespace="{{ namespace }}",destination_workload="{{ target }}"}[{{ interval }}]))',
      ),
    );
    const [result] = await runChecks({
      canary: canary('podinfo', [
        { name: 'rps', templateRef: { name: 'by-code' }, thresholdRange: { min: 1 } },
      ]),
      templates: lookup,
      providerFor,
      now: new Date(),
    });
    expect(result?.code).toBe('MULTIPLE_SERIES');
    expect(result?.reason).toContain('2 series');
    expect(result?.reason).toContain('response_code="500"');
  });

  it('renders MetricTemplates with variables and evaluates them against the threshold', async () => {
    templates.set(
      `${NS}/errors-of-code`,
      template(
        'errors-of-code',
        'sum(rate(istio_requests_total{destination_workload_namespace="{{ namespace }}",destination_workload="{{ target }}",response_code="{{ variables.code }}"}[{{ interval }}]))',
      ),
    );
    const [result] = await runChecks({
      canary: canary('podinfo', [
        {
          name: 'error-rps',
          templateRef: { name: 'errors-of-code' },
          thresholdRange: { max: 0.5 },
          templateVariables: { code: '500' },
        },
      ]),
      templates: lookup,
      providerFor,
      now: new Date(),
    });
    // 5 errors every 5 s.
    expect(result?.value).toBeCloseTo(1, 6);
    expect(result?.passed).toBe(false);
    expect(result?.reason).toBe('error-rps 1 > max 0.5');
  });

  it('turns a missing template, an unknown variable and an unknown provider into failed checks', async () => {
    templates.set(`${NS}/typo`, template('typo', 'sum(up{job="{{ targt }}"})'));
    templates.set(`${NS}/other`, {
      ...template('other', 'vector(1)'),
      spec: { provider: { type: 'graphite' as 'prometheus' }, query: 'vector(1)' },
    });
    const results = await runChecks({
      canary: canary('podinfo', [
        { name: 'missing', templateRef: { name: 'nope' } },
        { name: 'typo', templateRef: { name: 'typo' } },
        { name: 'other', templateRef: { name: 'other' } },
      ]),
      templates: lookup,
      providerFor: (spec) => createMetricsProvider(spec, { defaultAddress: prom.url }),
      now: new Date(),
    });
    expect(results.map((r) => r.code)).toEqual([
      'TEMPLATE_NOT_FOUND',
      'INVALID_TEMPLATE',
      'INVALID_PROVIDER',
    ]);
    expect(results[0]?.reason).toBe(`missing: MetricTemplate ${NS}/nope not found`);
    expect(results[1]?.reason).toContain('unknown template variable "targt"');
    expect(results[2]?.reason).toContain('unknown metrics provider type "graphite"');
    expect(results.every((r) => !r.passed)).toBe(true);
  });
});

describe('PrometheusProvider against a real Prometheus', () => {
  it('returns exactly one sample, from a vector or a scalar', async () => {
    const provider = new PrometheusProvider({ address: prom.url });
    expect(await provider.runQuery('vector(42.5)')).toBe(42.5);
    expect(await provider.runQuery('scalar(vector(7))')).toBe(7);
    expect(await provider.isOnline()).toBe(true);
  });

  it('names NaN and +Inf exactly as Prometheus returned them', async () => {
    const provider = new PrometheusProvider({ address: prom.url });
    const nan = await provider.runQuery('vector(0) / 0').catch((e: unknown) => e);
    expect(nan).toBeInstanceOf(NotANumberError);
    expect((nan as NotANumberError).raw).toBe('NaN');
    const inf = await provider.runQuery('vector(1) / 0').catch((e: unknown) => e);
    expect(inf).toBeInstanceOf(NotANumberError);
    expect((inf as NotANumberError).raw).toBe('+Inf');
  });

  it('rejects empty and multi-series results and range vectors', async () => {
    const provider = new PrometheusProvider({ address: prom.url });
    await expect(provider.runQuery('absent_metric_petrel')).rejects.toBeInstanceOf(NoValuesFoundError);
    const multi = await provider
      .runQuery('label_replace(vector(1), "a", "x", "", "") or label_replace(vector(2), "a", "y", "", "")')
      .catch((e: unknown) => e);
    expect(multi).toBeInstanceOf(MultipleSeriesError);
    expect((multi as MultipleSeriesError).series).toEqual([{ a: 'x' }, { a: 'y' }]);
    await expect(provider.runQuery('istio_requests_total[1m]')).rejects.toMatchObject({
      code: 'PROVIDER_ERROR',
    });
    await expect(provider.runQuery('sum(')).rejects.toMatchObject({ code: 'PROVIDER_ERROR', status: 400 });
  });

  it('is offline, without throwing, when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const provider = new PrometheusProvider({ address: `http://127.0.0.1:${port}` });
    expect(await provider.isOnline()).toBe(false);
    await expect(provider.runQuery('vector(1)')).rejects.toMatchObject({ code: 'PROVIDER_ERROR' });
  });
});

describe('query timeouts', () => {
  let silent: Server;
  let silentUrl: string;
  let received = 0;
  beforeAll(async () => {
    silent = createServer(() => {
      // Accepts the request and never answers.
      received++;
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    silent.closeAllConnections();
    await new Promise((r) => silent.close(r));
  });

  it('gives up after the per-query timeout with QUERY_TIMEOUT', async () => {
    const provider = new PrometheusProvider({ address: silentUrl, timeoutMs: 300 });
    const started = Date.now();
    const err = await provider.runQuery('vector(1)').catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(QueryTimeoutError);
    expect((err as QueryTimeoutError).timeoutMs).toBe(300);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3_000);
    expect(await provider.isOnline()).toBe(false);
  });

  it('a timed-out check holds the weight (the backend did not answer, not the canary), and the others still run', async () => {
    const slow = new PrometheusProvider({ address: silentUrl, timeoutMs: 300 });
    const results = await runChecks({
      canary: canary('podinfo', [
        { name: 'request-success-rate', thresholdRange: { min: 99 } },
        { name: 'request-duration', thresholdRange: { max: 500 } },
      ]),
      templates: lookup,
      providerFor: () => slow,
      now: new Date(),
    });
    expect(results.map((r) => r.code)).toEqual(['QUERY_TIMEOUT', 'QUERY_TIMEOUT']);
    expect(results.map((r) => r.verdict)).toEqual(['hold', 'hold']);
    expect(results[0]?.reason).toMatch(
      /^request-success-rate: metrics backend unreachable: the query did not answer within 300 ms; holding \(up to maxHold 10m, since /,
    );
  });

  it('stops at once when the caller aborts, with the caller reason', async () => {
    const provider = new PrometheusProvider({ address: silentUrl, timeoutMs: 10_000 });
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const before = received;
    const started = Date.now();
    const answer = provider.runQuery('vector(1)', { signal: controller.signal });
    // Aborted while Prometheus holds the request, not before it was sent.
    await waitFor('the query to reach Prometheus', () => received > before, { intervalMs: 5 });
    controller.abort(reason);
    await expect(answer).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
