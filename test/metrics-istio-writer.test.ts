import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  InvalidTrafficError,
  ISTIO_DURATION_BUCKETS_MS,
  IstioMetricsWriter,
  OutOfOrderFlushError,
  RemoteWriteError,
} from '../dev/sandbox/istio-metrics.ts';
import { usePrometheus } from './support/prometheus.ts';

const prom = usePrometheus();

interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

async function instant(query: string, at: number): Promise<VectorSample[]> {
  const url = `${prom.url}/api/v1/query?query=${encodeURIComponent(query)}&time=${at / 1000}`;
  const body = (await (await fetch(url)).json()) as { status: string; data: { result: VectorSample[] } };
  expect(body.status).toBe('success');
  return body.data.result;
}

describe('IstioMetricsWriter', () => {
  it('writes monotonically increasing istio_requests_total per response code with Istio labels', async () => {
    const writer = new IstioMetricsWriter({ url: prom.url });
    const t0 = Date.now() - 60_000;
    writer.record('shop', 'cart', { requests: 100, errors: 5, latenciesMs: [] });
    await writer.flush(t0);
    writer.record('shop', 'cart', { requests: 50, errors: 0, latenciesMs: [] });
    await writer.flush(t0 + 10_000);

    const ok = await instant(
      'istio_requests_total{destination_workload="cart",response_code="200"}',
      t0 + 10_000,
    );
    expect(ok).toHaveLength(1);
    expect(ok[0]?.value[1]).toBe('145');
    expect(ok[0]?.metric).toMatchObject({
      reporter: 'destination',
      destination_workload: 'cart',
      destination_workload_namespace: 'shop',
      destination_service: 'cart.shop.svc.cluster.local',
      source_workload: 'istio-ingressgateway',
      response_code: '200',
    });
    const errors = await instant(
      'istio_requests_total{destination_workload="cart",response_code="500"}',
      t0 + 10_000,
    );
    expect(errors[0]?.value[1]).toBe('5');
    // The zero written just before the first sample lets increase() see the first requests.
    const increase = await instant(
      'sum(increase(istio_requests_total{destination_workload="cart"}[1m]))',
      t0 + 10_000,
    );
    expect(Number(increase[0]?.value[1])).toBeGreaterThanOrEqual(150);
  });

  it('writes a cumulative duration histogram with Istio buckets, _sum and _count', async () => {
    const writer = new IstioMetricsWriter({ url: prom.url });
    const at = Date.now() - 30_000;
    const latencies = [3, 3, 40, 40, 40, 700, 700, 700, 700, 12_000];
    writer.record('shop', 'checkout', { requests: 10, errors: 0, latenciesMs: latencies });
    await writer.flush(at);

    const buckets = await instant(
      'istio_request_duration_milliseconds_bucket{destination_workload="checkout",response_code="200"}',
      at,
    );
    const byLe = new Map(buckets.map((s) => [s.metric.le, Number(s.value[1])]));
    expect(byLe.size).toBe(ISTIO_DURATION_BUCKETS_MS.length + 1);
    expect(byLe.get('1')).toBe(0);
    expect(byLe.get('5')).toBe(2);
    expect(byLe.get('50')).toBe(5);
    expect(byLe.get('1000')).toBe(9);
    expect(byLe.get('10000')).toBe(9);
    expect(byLe.get('30000')).toBe(10);
    expect(byLe.get('+Inf')).toBe(10);
    const sum = await instant('istio_request_duration_milliseconds_sum{destination_workload="checkout"}', at);
    expect(Number(sum[0]?.value[1])).toBe(latencies.reduce((a, b) => a + b, 0));
    const count = await instant(
      'istio_request_duration_milliseconds_count{destination_workload="checkout"}',
      at,
    );
    expect(Number(count[0]?.value[1])).toBe(10);
  });

  it('attributes the first `errors` latencies to the error series', async () => {
    const writer = new IstioMetricsWriter({ url: prom.url });
    const at = Date.now() - 20_000;
    writer.record('shop', 'search', {
      requests: 4,
      errors: 1,
      latenciesMs: [5000, 10, 10, 10],
      errorCode: 503,
    });
    await writer.flush(at);
    const errCount = await instant(
      'istio_request_duration_milliseconds_sum{destination_workload="search",response_code="503"}',
      at,
    );
    expect(Number(errCount[0]?.value[1])).toBe(5000);
  });

  it('refuses to flush at or before the previous flush, since Prometheus would reject it', async () => {
    const writer = new IstioMetricsWriter({ url: prom.url });
    const at = Date.now() - 10_000;
    writer.record('shop', 'orders', { requests: 1, errors: 0, latenciesMs: [] });
    await writer.flush(at);
    const err = await writer.flush(at).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutOfOrderFlushError);
    expect((err as OutOfOrderFlushError).code).toBe('OUT_OF_ORDER');
    // The writer stays usable with a later time.
    await writer.flush(at + 1_000);
    expect(writer.lastFlushTime).toBe(at + 1_000);
  });

  it('rejects impossible traffic with the field and the fix', () => {
    const writer = new IstioMetricsWriter({ url: prom.url });
    expect(() => writer.record('ns', 'w', { requests: 1, errors: 2, latenciesMs: [] })).toThrow(
      InvalidTrafficError,
    );
    expect(() => writer.record('ns', 'w', { requests: 2, errors: 0, latenciesMs: [1] })).toThrow(
      /one entry per request/,
    );
    expect(() => writer.record('ns', 'w', { requests: -1, errors: 0, latenciesMs: [] })).toThrow(/requests/);
    expect(() => writer.record('ns', 'w', { requests: 1, errors: 0, latenciesMs: [Number.NaN] })).toThrow(
      /finite/,
    );
  });

  it('turns a refused write into a RemoteWriteError with the status, and a hung one into a timeout', async () => {
    const server = createServer((req, res) => {
      if (req.url?.startsWith('/hang')) return; // never answers
      res.writeHead(500).end('tsdb is read-only');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const writer = new IstioMetricsWriter({ url: `http://127.0.0.1:${port}` });
      writer.record('ns', 'w', { requests: 1, errors: 0, latenciesMs: [] });
      const err = await writer.flush(Date.now()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteWriteError);
      expect((err as RemoteWriteError).status).toBe(500);
      expect((err as Error).message).toContain('tsdb is read-only');

      const hung = new IstioMetricsWriter({ url: `http://127.0.0.1:${port}/hang`, timeoutMs: 300 });
      hung.record('ns', 'w', { requests: 1, errors: 0, latenciesMs: [] });
      const started = Date.now();
      const timeout = await hung.flush(Date.now()).catch((e: unknown) => e);
      expect(timeout).toBeInstanceOf(RemoteWriteError);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
