import { describe, expect, it } from 'vitest';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import { useCleanups } from './support/cleanups.ts';
import {
  createNamespace,
  getDeployment,
  podinfoCanary,
  podinfoDeployment,
  runController,
  setImage,
  testLogger,
  useE2e,
  waitForPhase,
} from './support/e2e.ts';
import { RouteRecorder, simulateTraffic } from './support/simulated-mesh.ts';

const env = useE2e({ deploymentReadyDelayMs: 300 });

describe('end to end: analysis.stepWeightPromotion', () => {
  const cleanups = useCleanups();

  it('after the analysis passes, the promoted primary takes the traffic back in steps, one per interval', async () => {
    const ns = 'e2e-step-promotion';
    await createNamespace(env.api, ns);
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const routes = new RouteRecorder(env, ns);
    await routes.start();
    cleanups.push(() => routes.stop());
    const sim = await simulateTraffic(env, ns);
    cleanups.push(() => sim.simulator.stop());
    const controller = runController(env, ns, testLogger().logger);
    cleanups.push(() => controller.stop());
    await controller.ready;
    await env.api.create(
      RESOURCES.canary,
      podinfoCanary(ns, {
        interval: '2s',
        stepWeight: 25,
        maxWeight: 50,
        stepWeightPromotion: 20,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '5s' }],
      }),
    );
    await waitForPhase(env.api, ns, ['Initialized']);
    const startedAt = Date.now();
    await setImage(env.api, ns, 'podinfo:2.0');
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 60_000);
    expect(done.status?.phase).toBe('Succeeded');

    const after = routes.states.filter((s) => s.at >= startedAt);
    // 25, 50 by the analysis; then 30, 10 by steps of 20 once the primary runs 2.0; 0 at Finalising.
    expect(after.map((s) => s.canary)).toEqual([25, 50, 30, 10, 0]);
    // One interval (2 s) apart, give or take a tick.
    const [, top, thirty, ten] = after.map((s) => s.at);
    expect(thirty! - top!).toBeGreaterThanOrEqual(1900);
    expect(ten! - thirty!).toBeGreaterThanOrEqual(1900);
    // The primary served 2.0 while it took traffic back: the promotion came first.
    expect(
      (await getDeployment(env.api, ns, 'podinfo-primary')).spec?.template?.spec?.containers?.[0]?.image,
    ).toBe('podinfo:2.0');
    const events = await env.api.list<KubeObject & { message?: string }>(RESOURCES.event, {
      namespace: ns,
    });
    const messages = events.items.map((e) => e.message ?? '');
    const promoting = messages.findIndex((m) => m.includes('copying'));
    expect(promoting).toBeGreaterThanOrEqual(0);
    expect(messages.some((m) => m.includes('canary weight 50 -> 30'))).toBe(true);
    expect(messages.some((m) => m.includes('canary weight 30 -> 10'))).toBe(true);
    // And the app served all along: no tick without requests, no route to a backend without ready pods.
    const since = sim.ticks.filter((t) => t.at >= startedAt);
    expect(since.filter((t) => t.traffic.reduce((a, w) => a + w.requests, 0) === 0)).toEqual([]);
    expect(sim.problems.filter((p) => p.at >= startedAt)).toEqual([]);
  }, 90_000);
});
