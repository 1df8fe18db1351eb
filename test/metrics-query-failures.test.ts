import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControllerMetrics } from '../src/controller/metrics.ts';
import { createMetricsProvider } from '../src/metrics/factory.ts';

/** A Prometheus whose answer is named by the query. */
const ANSWERS: Record<string, { status: number; body: string }> = {
  'vector(1)': {
    status: 200,
    body: '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}}',
  },
  'sum(rate(bad[': { status: 400, body: '{"status":"error","errorType":"bad_data","error":"parse error"}' },
  absent_metric: { status: 200, body: '{"status":"success","data":{"resultType":"vector","result":[]}}' },
  behind_proxy: { status: 502, body: '<html>Bad Gateway</html>' },
};

let server: http.Server;
let address: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const query = new URL(req.url ?? '/', 'http://x').searchParams.get('query') ?? '';
    const answer = ANSWERS[query] ?? { status: 404, body: 'not found' };
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function failedQueries(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^petrel_metric_queries_failed_total\{reason="([A-Z_]+)"\} (\d+)$/gm))
    counts[match[1]!] = Number(match[2]);
  return counts;
}

describe('petrel_metric_queries_failed_total', () => {
  it('counts the failed queries of a provider by reason, with no address or query text in its labels', async () => {
    const metrics = new ControllerMetrics({ defaultMetrics: false });
    const provider = createMetricsProvider(undefined, {
      defaultAddress: address,
      onQuery: metrics.onMetricsQuery,
    });
    for (const query of ['vector(1)', 'sum(rate(bad[', 'sum(rate(bad[', 'absent_metric', 'behind_proxy'])
      await provider.runQuery(query).catch(() => undefined);

    const text = await metrics.text();
    expect(failedQueries(text)).toEqual({ QUERY_ERROR: 2, NO_VALUES: 1, HTTP_STATUS: 1 });
    const series = text.split('\n').filter((line) => line.startsWith('petrel_metric_queries_failed_total'));
    expect(series).toHaveLength(3);
    for (const line of series) {
      expect(line).not.toContain('127.0.0.1');
      expect(line).not.toContain('bad');
    }
  });

  it('counts nothing while every query answers', async () => {
    const metrics = new ControllerMetrics({ defaultMetrics: false });
    const provider = createMetricsProvider(undefined, {
      defaultAddress: address,
      onQuery: metrics.onMetricsQuery,
    });
    expect(await provider.runQuery('vector(1)')).toBe(1);
    expect(failedQueries(await metrics.text())).toEqual({});
  });
});
