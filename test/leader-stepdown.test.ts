import { describe, expect, it } from 'vitest';
import { type RunningController, startController } from '../src/controller/controller.ts';
import { type Lease, microTime } from '../src/controller/leader.ts';
import { ControllerMetrics } from '../src/controller/metrics.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import { userAgent } from '../src/kube/user-agent.ts';
import { readWeights, type VirtualService } from '../src/routers/istio.ts';
import { useCleanups } from './support/cleanups.ts';
import {
  createNamespace,
  podinfoCanary,
  podinfoDeployment,
  setImage,
  TrafficLoop,
  testLogger,
  useE2e,
  WeightRecorder,
  waitFor,
  waitForPhase,
} from './support/e2e.ts';

const env = useE2e({ deploymentReadyDelayMs: 300 });
const LEASE_NS = 'petrel-system';
const TIMINGS = { leaseDurationMs: 2000, renewDeadlineMs: 1200, retryPeriodMs: 300 };
const WRITES = new Set(['create', 'update', 'patch', 'delete']);

function start(namespace: string, leaseName: string, userAgent: string): RunningController {
  return startController({
    kubeConfig: env.sandbox.kubeConfig(),
    logger: testLogger().logger,
    prometheusAddress: env.prometheusUrl,
    namespaces: [namespace],
    userAgent,
    metrics: new ControllerMetrics({ defaultMetrics: false }),
    leaderElection: { namespace: LEASE_NS, name: leaseName, identity: userAgent, ...TIMINGS },
  });
}

async function vsWeight(namespace: string): Promise<number | undefined> {
  const vs = await env.api.get<VirtualService>({
    resource: RESOURCES.virtualService,
    namespace,
    name: 'podinfo',
  });
  return readWeights(vs, 'podinfo')?.canary;
}

describe('a controller that loses or gives up its Lease', () => {
  const cleanups = useCleanups();

  async function prepare(namespace: string) {
    await createNamespace(env.api, namespace);
    await createNamespace(env.api, LEASE_NS).catch(() => {});
    const traffic = new TrafficLoop(env.prometheusUrl, namespace);
    traffic.start();
    cleanups.push(() => traffic.stop());
    const weights = new WeightRecorder(env, namespace);
    await weights.start();
    cleanups.push(() => weights.stop());
    await env.api.create(RESOURCES.deployment, podinfoDeployment(namespace, 'podinfo:1.0'));
    return weights;
  }

  it('stops writing at once when another holder takes the Lease, and resumes without repeating a step', async () => {
    const ns = 'stepdown';
    const weights = await prepare(ns);
    const controller = start(ns, 'stepdown-leader', 'petrel-stepdown');
    cleanups.push(() => controller.stop());
    await controller.ready;
    await waitFor('the controller to lead', async () => (controller.isLeader() ? true : undefined));
    await env.api.create(RESOURCES.canary, podinfoCanary(ns));
    await waitForPhase(env.api, ns, ['Initialized']);
    await setImage(env.api, ns, 'podinfo:2.0');
    await waitFor('weight 20', async () => (weights.weights.includes(20) ? true : undefined), {
      timeoutMs: 40_000,
      intervalMs: 20,
    });

    const lease = { resource: RESOURCES.lease, namespace: LEASE_NS, name: 'stepdown-leader' };
    await env.api.mergePatch(lease, {
      spec: { holderIdentity: 'intruder', renewTime: microTime(new Date()), leaseDurationSeconds: 4 },
    });
    const stolenAt = Date.now();
    const stoppedAt = await waitFor(
      'the controller to step down',
      async () => (controller.isLeader() ? undefined : Date.now()),
      { intervalMs: 10 },
    );
    expect(stoppedAt - stolenAt).toBeLessThanOrEqual(TIMINGS.retryPeriodMs * 1.2 + 250);
    const frozenWeight = await vsWeight(ns);
    // The intruder holds the Lease for 4 s: the controller must write nothing but Lease reads meanwhile,
    // over many of its attempts to take the Lease back (one read each, every retry period).
    const leaseReads = () =>
      env.sandbox.requestLog.entries.filter(
        (e) =>
          e.userAgent === userAgent('petrel-stepdown') &&
          e.time.getTime() > stoppedAt &&
          e.verb === 'get' &&
          e.resource === 'leases',
      ).length;
    await waitFor('six attempts to take the Lease back', () => leaseReads() >= 6, {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    const writes = env.sandbox.requestLog.entries.filter(
      (e) =>
        e.userAgent === userAgent('petrel-stepdown') &&
        e.time.getTime() > stoppedAt + 50 &&
        WRITES.has(e.verb) &&
        e.resource !== 'leases',
    );
    expect(writes.map((e) => `${e.verb} ${e.resource}`)).toEqual([]);
    expect(await vsWeight(ns)).toBe(frozenWeight);
    expect((await env.api.get<Lease>(lease)).spec?.holderIdentity).toBe('intruder');

    // The intruder's Lease expires: the controller takes it back and finishes, each step once.
    await waitFor('the controller to lead again', async () => (controller.isLeader() ? true : undefined), {
      timeoutMs: 10_000,
    });
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 60_000);
    expect(done.status?.phase).toBe('Succeeded');
    expect(weights.weights.filter((w) => w > 0)).toEqual([10, 20, 30, 40, 50]);
    expect(done.status?.history?.map((h) => h.weight)).toEqual([10, 20, 30, 40, 50]);
  }, 120_000);

  it('stop() lets the write in flight finish, then releases the Lease', async () => {
    const ns = 'graceful';
    const weights = await prepare(ns);
    const controller = start(ns, 'graceful-leader', 'petrel-graceful');
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await controller.stop();
    });
    await controller.ready;
    await waitFor('the controller to lead', async () => (controller.isLeader() ? true : undefined));
    await env.api.create(RESOURCES.canary, podinfoCanary(ns));
    await waitForPhase(env.api, ns, ['Initialized']);
    await setImage(env.api, ns, 'podinfo:2.0');
    await waitFor('weight 10', async () => (weights.weights.includes(10) ? true : undefined), {
      timeoutMs: 40_000,
      intervalMs: 20,
    });
    const fault = env.sandbox.faults.addLatency({ verb: 'patch', resource: 'virtualservices', ms: 1500 });
    cleanups.push(async () => {
      env.sandbox.faults.remove(fault);
    });
    const slowPatch = await waitFor(
      'the next weight patch to be in flight',
      async () =>
        env.sandbox.requestLog.entries.find(
          (e) =>
            e.userAgent === userAgent('petrel-graceful') &&
            e.verb === 'patch' &&
            e.resource === 'virtualservices' &&
            e.code === undefined,
        ),
      { timeoutMs: 20_000, intervalMs: 10 },
    );
    const stopAt = Date.now();
    await controller.stop();
    stopped = true;
    // stop() waited for the slow patch: it completed, and the weight it carried is live.
    expect(Date.now() - stopAt).toBeGreaterThanOrEqual(1000);
    expect(slowPatch.code).toBe(200);
    expect(await vsWeight(ns)).toBe(20);
    // Then the Lease was released, after that write.
    const lease = await env.api.get<Lease>({
      resource: RESOURCES.lease,
      namespace: LEASE_NS,
      name: 'graceful-leader',
    });
    expect(lease.spec?.holderIdentity ?? '').toBe('');
    const release = [...env.sandbox.requestLog.entries]
      .reverse()
      .find(
        (e) => e.userAgent === userAgent('petrel-graceful') && e.verb === 'patch' && e.resource === 'leases',
      );
    expect(release!.time.getTime()).toBeGreaterThanOrEqual(slowPatch.time.getTime() + 1500);
  }, 120_000);
});
