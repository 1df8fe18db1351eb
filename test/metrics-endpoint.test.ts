import { readFile } from 'node:fs/promises';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ControllerMetrics } from '../src/controller/metrics.ts';
import { type ControllerServer, type ProbeResult, startControllerServer } from '../src/server/http.ts';

const silent = pino({ level: 'silent' });
const packageVersion = (
  JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

function canary(status: Record<string, unknown>, name = 'podinfo') {
  return { metadata: { namespace: 'test', name }, status };
}

/** Parses the exposition text into `name{labels} value` lines for easy lookups. */
async function scrape(metrics: ControllerMetrics): Promise<Map<string, number>> {
  const series = new Map<string, number>();
  for (const line of (await metrics.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}

describe('ControllerMetrics', () => {
  it('mirrors a rollout: phase, weight, failed checks, last check values, outcome and duration', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const metrics = new ControllerMetrics({ defaultMetrics: false, now: () => now });
    metrics.observeCanary(canary({ phase: 'Initialized', canaryWeight: 0 }));
    metrics.observeCanary(
      canary({ phase: 'Progressing', canaryWeight: 0, lastTransitionTime: '2026-01-01T00:01:00Z' }),
    );
    for (const weight of [10, 20, 30]) {
      metrics.observeCanary(
        canary({
          phase: 'Progressing',
          canaryWeight: weight,
          failedChecks: weight === 20 ? 1 : 0,
          history: [
            {
              time: 't',
              weight,
              metric: 'request-success-rate',
              value: 99 + weight / 100,
              verdict: 'pass',
              reason: '',
            },
            { time: 't', weight, metric: 'request-duration', verdict: 'fail', reason: 'no values' },
          ],
        }),
      );
      const s = await scrape(metrics);
      expect(s.get('petrel_canary_weight{namespace="test",name="podinfo"}')).toBe(weight);
    }
    let s = await scrape(metrics);
    expect(s.get('petrel_canary_phase{namespace="test",name="podinfo",phase="Progressing"}')).toBe(1);
    // Only the current phase has a series (one per canary, not one per phase).
    expect([...s.keys()].filter((k) => k.startsWith('petrel_canary_phase{'))).toEqual([
      'petrel_canary_phase{namespace="test",name="podinfo",phase="Progressing"}',
    ]);
    expect(s.get('petrel_canary_status{namespace="test",name="podinfo"}')).toBe(0);
    expect(s.get('petrel_canary_failed_checks{namespace="test",name="podinfo"}')).toBe(0);
    expect(
      s.get('petrel_canary_metric_value{namespace="test",name="podinfo",metric="request-success-rate"}'),
    ).toBe(99.3);
    // A check without a value leaves no series rather than a fake zero.
    expect([...s.keys()].some((k) => k.includes('metric="request-duration"'))).toBe(false);
    now = Date.parse('2026-01-01T00:09:00Z');
    metrics.observeCanary(canary({ phase: 'Promoting', canaryWeight: 50 }));
    metrics.observeCanary(
      canary({ phase: 'Succeeded', canaryWeight: 0, lastTransitionTime: '2026-01-01T00:11:00Z' }),
    );
    // Seen again (a resync): counted once.
    metrics.observeCanary(
      canary({ phase: 'Succeeded', canaryWeight: 0, lastTransitionTime: '2026-01-01T00:11:00Z' }),
    );
    s = await scrape(metrics);
    expect(s.get('petrel_canary_rollouts_total{namespace="test",name="podinfo",outcome="succeeded"}')).toBe(
      1,
    );
    expect(s.get('petrel_canary_rollout_duration_seconds_count{namespace="test",name="podinfo"}')).toBe(1);
    expect(s.get('petrel_canary_rollout_duration_seconds_sum{namespace="test",name="podinfo"}')).toBe(600);
    expect(s.get('petrel_canary_status{namespace="test",name="podinfo"}')).toBe(1);
    expect([...s.keys()].filter((k) => k.startsWith('petrel_canary_phase{'))).toEqual([
      'petrel_canary_phase{namespace="test",name="podinfo",phase="Succeeded"}',
    ]);
  });

  it('counts a failure, but not a rollout it did not see start, nor on a replica that does not lead', async () => {
    let leading = true;
    const metrics = new ControllerMetrics({ defaultMetrics: false, countsOutcomes: () => leading });
    metrics.observeCanary(canary({ phase: 'Succeeded' }, 'old'));
    metrics.observeCanary(canary({ phase: 'Progressing' }, 'bad'));
    metrics.observeCanary(canary({ phase: 'Failed' }, 'bad'));
    leading = false;
    metrics.observeCanary(canary({ phase: 'Progressing' }, 'standby'));
    metrics.observeCanary(canary({ phase: 'Failed' }, 'standby'));
    const s = await scrape(metrics);
    expect(s.get('petrel_canary_rollouts_total{namespace="test",name="bad",outcome="failed"}')).toBe(1);
    expect(s.get('petrel_canary_status{namespace="test",name="bad"}')).toBe(2);
    expect([...s.keys()].filter((k) => k.startsWith('petrel_canary_rollouts_total'))).toHaveLength(1);
  });

  it('shrugs off hostile status values and forgets every series of a deleted Canary', async () => {
    const metrics = new ControllerMetrics({ defaultMetrics: false });
    metrics.observeCanary({ metadata: { namespace: 'test' }, status: { phase: 'Progressing' } });
    metrics.observeCanary(
      canary({
        phase: 'Exploding',
        canaryWeight: 'fifty',
        failedChecks: Number.NaN,
        history: [
          null,
          7,
          { metric: 'x'.repeat(500), value: 1 },
          { metric: 'ok', value: 'NaN' },
          { metric: 'ok', value: 2 },
        ],
      }),
    );
    let s = await scrape(metrics);
    expect(s.get('petrel_canary_weight{namespace="test",name="podinfo"}')).toBe(0);
    expect(s.get('petrel_canary_metric_value{namespace="test",name="podinfo",metric="ok"}')).toBe(2);
    expect([...s.keys()].some((k) => k.includes('Exploding') || k.includes('xxxx'))).toBe(false);
    metrics.observeCanary(canary({ phase: 'Progressing', canaryWeight: 10 }));
    metrics.forgetCanary('test', 'podinfo');
    s = await scrape(metrics);
    expect([...s.keys()].filter((k) => k.includes('name="podinfo"'))).toEqual([]);
  });

  it('counts API requests by verb, reconciles by result, and reads the queue depth at scrape time', async () => {
    const metrics = new ControllerMetrics({ defaultMetrics: false });
    metrics.onRequest({ verb: 'patch', resource: 'virtualservices', status: 200, durationMs: 4 });
    metrics.onRequest({ verb: 'patch', resource: 'virtualservices', status: 200, durationMs: 6 });
    metrics.onRequest({ verb: 'get', resource: 'leases', errorCode: 'NETWORK', durationMs: 10 });
    const ok = metrics.timeReconcile(async (key: string) => key.length);
    const bad = metrics.timeReconcile(async () => {
      throw new Error('boom');
    });
    expect(await ok('test/podinfo')).toBe(12);
    await expect(bad()).rejects.toThrow('boom');
    let depth = 3;
    metrics.queueDepthFrom(() => depth);
    metrics.setLeader(true);
    let s = await scrape(metrics);
    expect(s.get('petrel_kube_api_requests_total{verb="patch",resource="virtualservices",code="200"}')).toBe(
      2,
    );
    expect(s.get('petrel_kube_api_requests_total{verb="get",resource="leases",code="NETWORK"}')).toBe(1);
    expect(s.get('petrel_kube_api_request_duration_seconds_count{verb="patch"}')).toBe(2);
    expect(s.get('petrel_reconcile_total{result="success"}')).toBe(1);
    expect(s.get('petrel_reconcile_total{result="error"}')).toBe(1);
    expect(s.get('petrel_reconcile_duration_seconds_count{result="error"}')).toBe(1);
    expect(s.get('petrel_workqueue_depth')).toBe(3);
    expect(s.get('petrel_leader')).toBe(1);
    depth = 0;
    s = await scrape(metrics);
    expect(s.get('petrel_workqueue_depth')).toBe(0);
  });

  it("includes Node's default metrics", async () => {
    const s = await scrape(new ControllerMetrics());
    expect(s.has('process_resident_memory_bytes')).toBe(true);
    expect([...s.keys()].some((k) => k.startsWith('nodejs_eventloop_lag_seconds'))).toBe(true);
  });

  it('backs every series the Grafana dashboard queries', async () => {
    const dashboard = JSON.parse(
      await readFile(new URL('../charts/petrel/dashboards/petrel.json', import.meta.url), 'utf8'),
    ) as { panels: { targets: { expr: string }[] }[]; templating: { list: { query?: unknown }[] } };
    const metrics = new ControllerMetrics();
    const names = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
    const exprs = [
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)),
      ...dashboard.templating.list.map((v) => v.query).filter((q): q is string => typeof q === 'string'),
    ];
    const used = new Set(
      exprs.flatMap((e) => [...e.matchAll(/\b(petrel_[a-z_]+|process_[a-z_]+)/g)].map((m) => m[1]!)),
    );
    expect(used.size).toBeGreaterThan(8);
    for (const name of used) {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      expect(names.has(name) || names.has(base), `${name} is not exported`).toBe(true);
    }
  });
});

describe('controller HTTP server', () => {
  let server: ControllerServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('serves /metrics, /healthz and /readyz, and nothing else', async () => {
    const metrics = new ControllerMetrics({ defaultMetrics: false });
    metrics.observeCanary(canary({ phase: 'Progressing', canaryWeight: 20 }));
    let ready: ProbeResult = { ok: false, reason: 'caches not synced' };
    server = await startControllerServer({
      host: '127.0.0.1',
      port: 0,
      metrics: () => metrics.text(),
      metricsContentType: metrics.registry.contentType,
      live: () => ({ ok: true }),
      ready: () => ready,
      logger: silent,
    });
    const m = await fetch(`${server.url}/metrics`);
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toContain('text/plain');
    const text = await m.text();
    expect(text).toContain('petrel_canary_weight{namespace="test",name="podinfo"} 20');
    expect(text).toContain(`petrel_info{version="${packageVersion}"} 1`);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${server.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toBe('not ok: caches not synced\n');
    ready = { ok: true };
    expect((await fetch(`${server.url}/readyz?verbose`)).status).toBe(200);
    const head = await fetch(`${server.url}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    const post = await fetch(`${server.url}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${server.url}/debug/pprof`)).status).toBe(404);
  });

  it('answers 500, not a crash, when collecting metrics fails', async () => {
    server = await startControllerServer({
      host: '127.0.0.1',
      port: 0,
      metrics: async () => {
        throw new Error('collector broke');
      },
      metricsContentType: 'text/plain',
      live: () => ({ ok: true }),
      ready: () => ({ ok: true }),
      logger: silent,
    });
    expect((await fetch(`${server.url}/metrics`)).status).toBe(500);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
