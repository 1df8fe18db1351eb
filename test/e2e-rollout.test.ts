import { describe, expect, it } from 'vitest';
import type { RunningController } from '../src/controller/controller.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import { useCleanups } from './support/cleanups.ts';
import {
  controllerRequests,
  createNamespace,
  getCanary,
  getDeployment,
  podinfoCanary,
  podinfoDeployment,
  rolloutFigures,
  runController,
  setImage,
  sleep,
  TrafficLoop,
  testLogger,
  useE2e,
  WeightRecorder,
  waitFor,
  waitForPhase,
} from './support/e2e.ts';

const env = useE2e({ deploymentReadyDelayMs: 300 });

describe('end to end: controller + sandbox API server + Prometheus', () => {
  const cleanups = useCleanups();

  async function prepare(namespace: string, canaryErrorRatio = 0) {
    await createNamespace(env.api, namespace);
    const traffic = new TrafficLoop(env.prometheusUrl, namespace);
    traffic.setErrorRatio('podinfo', canaryErrorRatio);
    traffic.start();
    cleanups.push(() => traffic.stop());
    const weights = new WeightRecorder(env, namespace);
    await weights.start();
    cleanups.push(() => weights.stop());
    await env.api.create(RESOURCES.deployment, podinfoDeployment(namespace, 'podinfo:1.0'));
    const log = testLogger();
    const controller: RunningController = runController(env, namespace, log.logger);
    cleanups.push(() => controller.stop());
    await controller.ready;
    return { traffic, weights, controller, log };
  }

  it('promotes a healthy revision through 10, 20, 30, 40, 50, reading nothing and writing little', async () => {
    const ns = 'e2e-healthy';
    const { weights, log } = await prepare(ns);
    await env.api.create(RESOURCES.canary, podinfoCanary(ns));
    await waitForPhase(env.api, ns, ['Initialized']);
    expect((await getDeployment(env.api, ns, 'podinfo')).spec?.replicas).toBe(0);

    const changedAt = Date.now();
    await setImage(env.api, ns, 'podinfo:2.0');
    await waitFor(
      'the canary to scale up',
      async () => ((await getDeployment(env.api, ns, 'podinfo')).spec?.replicas === 2 ? true : undefined),
      { intervalMs: 10 },
    );
    const scaleUpMs = Date.now() - changedAt;
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed']);
    expect(done.status?.phase).toBe('Succeeded');
    expect(weights.weights.filter((w) => w > 0)).toEqual([10, 20, 30, 40, 50]);
    // The decision's status is written first, its route just after: wait for the route, then check it.
    await waitFor('the route back at 0', () => (weights.weights.at(-1) === 0 ? true : undefined));
    const primary = await getDeployment(env.api, ns, 'podinfo-primary');
    expect(primary.spec?.template?.spec?.containers?.[0]?.image).toBe('podinfo:2.0');
    expect((await getDeployment(env.api, ns, 'podinfo')).spec?.replicas).toBe(0);
    expect(done.status?.conditions?.find((c) => c.type === 'Promoted')).toMatchObject({
      status: 'True',
      reason: 'Succeeded',
    });
    expect(done.status?.history?.map((h) => h.weight)).toEqual([10, 20, 30, 40, 50]);

    // Efficiency, from the sandbox's request log (the controller's requests only).
    const figures = rolloutFigures(env.sandbox, ns, changedAt, 5);
    const quietFrom = Date.now() + 500;
    await sleep(4500);
    const quiet = controllerRequests(env.sandbox, quietFrom).filter((e) => e.verb !== 'watch');
    console.log(
      `e2e figures: deployment change -> canary scale-up ${scaleUpMs} ms; reads during the rollout ${figures.reads}; ` +
        `writes per weight step ${figures.writesPerWeightStep} over ${figures.weightSteps} steps ` +
        `${JSON.stringify(figures.writesByKind)}; requests in 4 s once Succeeded ${quiet.length}`,
    );
    expect(scaleUpMs).toBeLessThan(1000);
    expect(figures.reads).toBe(0);
    expect(figures.weightSteps).toBe(4);
    expect(figures.writesPerWeightStep).toBeLessThanOrEqual(2);
    expect(quiet).toEqual([]);
    // Between the 10% and the 50% step nothing but the step timer should wake the canary: the watch
    // echoes of its own VirtualService and status writes are not changes to react to.
    const reconciles = log
      .lines()
      .filter((l) => l.canary === `${ns}/podinfo` && typeof l.reason === 'string')
      .map((l) => l.weight);
    const from = reconciles.indexOf(10);
    const to = reconciles.indexOf(50);
    expect(from).toBeGreaterThanOrEqual(0);
    expect(to - from).toBeLessThanOrEqual(5);
  }, 60_000);

  it('rolls back a revision with 5% errors after threshold failed checks', async () => {
    const ns = 'e2e-errors';
    const { weights } = await prepare(ns, 0.05);
    await env.api.create(RESOURCES.canary, podinfoCanary(ns));
    await waitForPhase(env.api, ns, ['Initialized']);
    await setImage(env.api, ns, 'podinfo:2.0-bad');
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed']);
    expect(done.status?.phase).toBe('Failed');
    expect(done.status?.failedChecks).toBe(2);
    const failures = done.status?.history?.filter((h) => h.verdict === 'fail') ?? [];
    expect(failures).toHaveLength(2);
    expect(failures[0]?.reason).toContain('request-success-rate 95');
    const primary = await getDeployment(env.api, ns, 'podinfo-primary');
    expect(primary.spec?.template?.spec?.containers?.[0]?.image).toBe('podinfo:1.0');
    expect((await getDeployment(env.api, ns, 'podinfo')).spec?.replicas).toBe(0);
    // The decision's status is written first, its route just after: wait for the route, then check it.
    await waitFor('the route back at 0', () => (weights.weights.at(-1) === 0 ? true : undefined));
    expect(Math.max(...weights.weights)).toBe(10);
    expect(done.status?.conditions?.find((c) => c.type === 'Promoted')).toMatchObject({
      status: 'False',
      reason: 'Failed',
    });
  }, 60_000);

  it('rolls back a revision that never becomes ready at its progress deadline', async () => {
    const ns = 'e2e-never-ready';
    await prepare(ns);
    await env.api.create(RESOURCES.canary, podinfoCanary(ns, {}, { progressDeadlineSeconds: 3 }));
    await waitForPhase(env.api, ns, ['Initialized']);
    const changedAt = Date.now();
    await setImage(env.api, ns, 'podinfo:2.0-stuck', { 'sandbox.petrel.dev/never-ready': 'true' });
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed']);
    const elapsed = Date.now() - changedAt;
    expect(done.status?.phase).toBe('Failed');
    expect(elapsed).toBeGreaterThanOrEqual(3000);
    expect(elapsed).toBeLessThan(8000);
    const condition = done.status?.conditions?.find((c) => c.type === 'Promoted');
    expect(condition).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });
    expect((await getDeployment(env.api, ns, 'podinfo')).spec?.replicas).toBe(0);
    const primary = await getDeployment(env.api, ns, 'podinfo-primary');
    expect(primary.spec?.template?.spec?.containers?.[0]?.image).toBe('podinfo:1.0');
  }, 60_000);

  it('isolates canaries: an invalid one and one without its target never hold up a healthy one', async () => {
    const ns = 'e2e-isolation';
    await prepare(ns);
    // Invalid in a way only the controller sees (the CRD and its CEL rules let it in): a misspelt Istio
    // match key, which the mesh would prune into "match everything".
    const invalid = podinfoCanary(ns, { match: [{ uri: { prefx: '/api' } }] });
    invalid.metadata.name = 'invalid';
    const orphan = podinfoCanary(ns);
    orphan.metadata.name = 'orphan';
    orphan.spec.targetRef.name = 'backend';
    await env.api.create(RESOURCES.canary, invalid);
    await env.api.create(RESOURCES.canary, orphan);
    await env.api.create(RESOURCES.canary, podinfoCanary(ns));
    await waitForPhase(env.api, ns, ['Initialized']);

    const invalidNow = await waitFor('the InvalidSpec condition', async () => {
      const c = await getCanary(env.api, ns, 'invalid');
      return c.status?.conditions?.find((x) => x.type === 'InvalidSpec');
    });
    expect(invalidNow.message).toContain('spec.analysis.match[0].uri.prefx');
    const events = await env.api.list<KubeObject & { reason?: string; involvedObject?: { name?: string } }>(
      RESOURCES.event,
      { namespace: ns },
    );
    const reasonsFor = (name: string) =>
      events.items.filter((e) => e.involvedObject?.name === name).map((e) => e.reason);
    expect(reasonsFor('invalid')).toContain('InvalidSpec');
    expect(reasonsFor('orphan')).toContain('TargetNotFound');
    expect((await getCanary(env.api, ns, 'orphan')).status?.phase).toBeUndefined();

    // The missing target appears: its canary starts at once, not at the end of a backoff.
    const backend = podinfoDeployment(ns, 'backend:1.0');
    backend.metadata = { name: 'backend', namespace: ns, labels: { app: 'backend' } };
    const spec = backend.spec as { selector: unknown; template: { metadata: { labels: unknown } } };
    spec.selector = { matchLabels: { app: 'backend' } };
    spec.template.metadata.labels = { app: 'backend' };
    await env.api.create(RESOURCES.deployment, backend);
    await waitFor(
      'the orphan canary to initialise',
      async () =>
        (await getCanary(env.api, ns, 'orphan')).status?.phase === 'Initialized' ? true : undefined,
      { timeoutMs: 5_000 },
    );
    expect((await getCanary(env.api, ns, 'invalid')).status?.phase).toBeUndefined();
  }, 60_000);

  it('completes a rollout through API errors and dropped watches, without skipping or repeating a weight', async () => {
    const ns = 'e2e-faults';
    const { weights, log } = await prepare(ns);
    await env.api.create(RESOURCES.canary, podinfoCanary(ns));
    await waitForPhase(env.api, ns, ['Initialized']);
    cleanups.push(async () => env.sandbox.faults.reset());
    await setImage(env.api, ns, 'podinfo:2.0');
    await waitFor('weight 10', async () => (weights.weights.includes(10) ? true : undefined), {
      intervalMs: 20,
    });
    env.sandbox.faults.injectError({ verb: 'patch', resource: 'virtualservices', status: 503, times: 2 });
    env.sandbox.faults.injectError({ verb: 'patch', resource: 'canaries/status', status: 500, times: 2 });
    await waitFor('weight 30', async () => (weights.weights.includes(30) ? true : undefined), {
      intervalMs: 20,
    });
    env.sandbox.faults.dropWatches();
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed']);
    expect(done.status?.phase).toBe('Succeeded');
    expect(weights.weights.filter((w) => w > 0)).toEqual([10, 20, 30, 40, 50]);
    const retried = log.lines().filter((l) => l.msg === 'reconcile failed; retrying');
    expect(retried.length).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
