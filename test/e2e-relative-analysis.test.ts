/**
 * End to end: relative checks (compare: against the primary) through the controller, the sandbox API
 * server and a real Prometheus, promoting an equal canary, rolling back a worse one at once, never
 * acting on a dry run, and refusing a template that cannot be split by workload.
 */
import { describe, expect, it } from 'vitest';
import { PETREL_API_VERSION } from '../src/api/index.ts';
import type { RunningController } from '../src/controller/controller.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import { useCleanups } from './support/cleanups.ts';
import {
  createNamespace,
  getCanary,
  podinfoCanary,
  podinfoDeployment,
  runController,
  setImage,
  TrafficLoop,
  testLogger,
  useE2e,
  waitFor,
  waitForPhase,
} from './support/e2e.ts';

const env = useE2e({ deploymentReadyDelayMs: 300 });

interface AnalysisView {
  revision?: string;
  metrics?: {
    metric: string;
    batches?: number[][];
    history?: { intervals: number; overdispersion: number };
  }[];
  steps?: {
    weight: number;
    score?: number;
    checks: {
      metric: string;
      verdict: string;
      canary?: number;
      primary?: number;
      interval?: number[];
      dryRun?: boolean;
    }[];
  }[];
}

const relativeErrors = (extra: Record<string, unknown> = {}) => ({
  name: 'request-success-rate',
  interval: '10s',
  compare: { tolerance: '+0.5pp' },
  ...extra,
});

describe('end to end: relative checks against the primary', () => {
  const cleanups = useCleanups();

  async function prepare(namespace: string, errorRatios: { canary: number; primary: number }) {
    await createNamespace(env.api, namespace);
    const traffic = new TrafficLoop(env.prometheusUrl, namespace);
    traffic.setErrorRatio('podinfo', errorRatios.canary);
    traffic.setErrorRatio('podinfo-primary', errorRatios.primary);
    traffic.start();
    cleanups.push(() => traffic.stop());
    await env.api.create(RESOURCES.deployment, podinfoDeployment(namespace, 'podinfo:1.0'));
    const log = testLogger();
    const controller: RunningController = runController(env, namespace, log.logger);
    cleanups.push(() => controller.stop());
    await controller.ready;
    return { log };
  }

  async function events(namespace: string): Promise<{ reason?: string; message?: string }[]> {
    return (
      await env.api.list<KubeObject & { reason?: string; message?: string }>(RESOURCES.event, { namespace })
    ).items;
  }

  it('promotes a canary with the same 2% errors as its primary, which a fixed min 99 would roll back', async () => {
    const ns = 'e2e-rel-promote';
    await prepare(ns, { canary: 0.02, primary: 0.02 });
    await env.api.create(RESOURCES.canary, podinfoCanary(ns, { metrics: [relativeErrors()] }));
    await waitForPhase(env.api, ns, ['Initialized']);
    await setImage(env.api, ns, 'podinfo:2.0');
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 120_000);
    expect(done.status?.phase).toBe('Succeeded');
    const analysis = (done.status as { analysis?: AnalysisView; lastAppliedSpec?: string }).analysis;
    expect(analysis?.revision).toBe((done.status as { lastAppliedSpec?: string }).lastAppliedSpec);
    const last = analysis?.steps?.at(-1);
    expect(last?.weight).toBe(50);
    expect(last?.checks[0]).toMatchObject({ metric: 'request-success-rate', verdict: 'pass' });
    expect(last?.checks[0]?.canary).toBeCloseTo(2, 0);
    expect(last?.checks[0]?.primary).toBeCloseTo(2, 0);
    expect(last?.score).toBeGreaterThan(50);
    expect(analysis?.metrics?.[0]?.batches?.length).toBeGreaterThanOrEqual(5);
    // The primary's history, read at the first step, survives every status write of the release.
    expect(analysis?.metrics?.[0]?.history).toEqual({
      intervals: expect.any(Number),
      overdispersion: expect.any(Number),
    });
  });

  it('rolls back a canary with 10% errors against a 1% primary at once, without waiting for the threshold', async () => {
    const ns = 'e2e-rel-rollback';
    await prepare(ns, { canary: 0.1, primary: 0.01 });
    await env.api.create(RESOURCES.canary, podinfoCanary(ns, { threshold: 5, metrics: [relativeErrors()] }));
    await waitForPhase(env.api, ns, ['Initialized']);
    await setImage(env.api, ns, 'podinfo:2.0');
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 60_000);
    expect(done.status?.phase).toBe('Failed');
    expect(done.status?.failedChecks ?? 0).toBe(0);
    const analysis = (done.status as { analysis?: AnalysisView }).analysis;
    // Decided at the first weight: inconclusive while the first few hundred requests came in, then failed.
    expect(analysis?.steps?.every((s) => s.weight === 10)).toBe(true);
    expect(analysis?.steps?.at(-1)?.checks[0]?.verdict).toBe('fail');
    expect(analysis?.steps?.length).toBeLessThanOrEqual(3);
    // Rounded for people and for the status: no float noise in the counts either.
    for (const batch of analysis?.metrics?.[0]?.batches ?? []) {
      for (const n of batch) expect(String(n)).toMatch(/^\d+(\.\d{1,2})?$/);
    }
    const failed = (await events(ns)).find((e) => e.message?.includes('regression detected'));
    expect(failed?.message).toMatch(
      /canary errors 10% vs primary 1% \(\+9pp, 99% interval \+[\d.]+\.\.\+[\d.]+pp\)/,
    );
  });

  it('a dry-run relative check that fails is recorded and reported as "would have failed", and never acts', async () => {
    const ns = 'e2e-rel-dryrun';
    await prepare(ns, { canary: 0.1, primary: 0.01 });
    await env.api.create(
      RESOURCES.canary,
      podinfoCanary(ns, {
        metrics: [
          relativeErrors({ dryRun: true }),
          { name: 'request-duration', thresholdRange: { max: 500 }, interval: '10s' },
        ],
      }),
    );
    await waitForPhase(env.api, ns, ['Initialized']);
    await setImage(env.api, ns, 'podinfo:2.0');
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 90_000);
    expect(done.status?.phase).toBe('Succeeded');
    const steps = (done.status as { analysis?: AnalysisView }).analysis?.steps ?? [];
    expect(steps.some((s) => s.checks.some((c) => c.dryRun && c.verdict === 'fail'))).toBe(true);
    const wouldHave = (await events(ns)).filter((e) => e.reason === 'DryRunCheckFailed');
    expect(wouldHave[0]?.message).toContain('would have failed: [dry run] request-success-rate');
  });

  it('a controller restart in the middle keeps counting from the status: no batch lost or counted twice', async () => {
    const ns = 'e2e-rel-restart';
    await createNamespace(env.api, ns);
    const traffic = new TrafficLoop(env.prometheusUrl, ns);
    traffic.setErrorRatio('podinfo', 0.02);
    traffic.setErrorRatio('podinfo-primary', 0.02);
    traffic.start();
    cleanups.push(() => traffic.stop());
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const first = runController(env, ns, testLogger().logger);
    await first.ready;
    await env.api.create(RESOURCES.canary, podinfoCanary(ns, { metrics: [relativeErrors()] }));
    await waitForPhase(env.api, ns, ['Initialized']);
    await setImage(env.api, ns, 'podinfo:2.0');
    const batchesOf = async () =>
      ((await getCanary(env.api, ns)).status as { analysis?: AnalysisView } | undefined)?.analysis
        ?.metrics?.[0]?.batches ?? [];
    const before = await waitFor(
      'two analysed intervals',
      async () => {
        const batches = await batchesOf();
        return batches.length >= 2 ? batches : undefined;
      },
      { timeoutMs: 60_000 },
    );
    await first.stop();
    const second = runController(env, ns, testLogger().logger);
    cleanups.push(() => second.stop());
    await second.ready;
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 120_000);
    expect(done.status?.phase).toBe('Succeeded');
    const after = await batchesOf();
    // The intervals analysed before the restart are still there, unchanged, and the next ones follow.
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.length).toBeGreaterThan(before.length);
    // Each interval covers the time since the previous one: about 2 s of 100 requests/s (the one spanning
    // the restart a little more), never the 10 s metric interval again, which would count requests twice.
    const later = after.slice(before.length).map((batch) => batch[1]!);
    expect(later.filter((requests) => requests >= 700).length).toBeLessThanOrEqual(1);
    for (const requests of later) expect(requests).toBeLessThan(100 * 30);
  });

  it('refuses a relative check on a template that cannot be split by workload with InvalidSpec, naming the field', async () => {
    const ns = 'e2e-rel-invalid';
    await prepare(ns, { canary: 0, primary: 0 });
    await env.api.create(RESOURCES.metricTemplate, {
      apiVersion: PETREL_API_VERSION,
      kind: 'MetricTemplate',
      metadata: { name: 'errors', namespace: ns },
      spec: { provider: { type: 'prometheus' }, query: 'sum(rate(istio_requests_total[1m]))' },
    });
    await env.api.create(
      RESOURCES.canary,
      podinfoCanary(ns, {
        metrics: [{ name: 'errors', templateRef: { name: 'errors' }, compare: { tolerance: '+1pp' } }],
      }),
    );
    const invalid = await waitFor(
      'the InvalidSpec condition',
      async () =>
        (await getCanary(env.api, ns)).status?.conditions?.find(
          (c) => c.type === 'InvalidSpec' && c.status === 'True',
        ),
      { timeoutMs: 30_000 },
    );
    expect(invalid.message).toContain(
      'spec.analysis.metrics[0].compare: MetricTemplate e2e-rel-invalid/errors cannot be split by workload',
    );
    // Fixing the template (not the Canary) clears the condition: a template change wakes its canaries.
    await env.api.mergePatch(
      { resource: RESOURCES.metricTemplate, namespace: ns, name: 'errors' },
      {
        spec: {
          query: `sum(increase(istio_requests_total{destination_workload="{{ workload }}", response_code=~"5.*"}[{{ interval }}]))`,
          totalQuery: `sum(increase(istio_requests_total{destination_workload="{{ workload }}"}[{{ interval }}]))`,
        },
      },
    );
    await waitFor(
      'the InvalidSpec condition to clear',
      async () => {
        const conditions = (await getCanary(env.api, ns)).status?.conditions ?? [];
        return conditions.some((c) => c.type === 'InvalidSpec' && c.status === 'True') ? undefined : true;
      },
      { timeoutMs: 30_000 },
    );
  });
});
