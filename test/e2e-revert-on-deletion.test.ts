import { describe, expect, it } from 'vitest';
import type { RunningController } from '../src/controller/controller.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import { REVERT_FINALIZER } from '../src/rollout/deletion.ts';
import type { VirtualService } from '../src/routers/istio.ts';
import { useCleanups } from './support/cleanups.ts';
import {
  createNamespace,
  findObject,
  getCanary,
  getDeployment,
  podinfoCanary,
  podinfoDeployment,
  runController,
  testLogger,
  useE2e,
  waitFor,
  waitForPhase,
} from './support/e2e.ts';
import { type SimulatedTick, simulateTraffic } from './support/simulated-mesh.ts';

// The target takes this long to become ready once scaled up: long enough to stop the controller between
// the Terminating phase and the end of the revert.
const env = useE2e({ deploymentReadyDelayMs: 1500 });

/** Requests served by every workload in one tick. */
const servedIn = (tick: SimulatedTick) => tick.traffic.reduce((sum, t) => sum + t.requests, 0);

describe('end to end: revertOnDeletion', () => {
  const cleanups = useCleanups();

  function startController(ns: string): RunningController {
    const controller = runController(env, ns, testLogger().logger);
    cleanups.push(() => controller.stop());
    return controller;
  }

  it('hands the app back to the target across a controller restart, serving every moment', async () => {
    const ns = 'e2e-revert';
    await createNamespace(env.api, ns);
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const first = startController(ns);
    await first.ready;
    await env.api.create(RESOURCES.canary, podinfoCanary(ns, { metrics: [] }, { revertOnDeletion: true }));
    await waitForPhase(env.api, ns, ['Initialized']);
    const canary = await getCanary(env.api, ns);
    expect(canary.metadata?.finalizers).toEqual([REVERT_FINALIZER]);
    expect((await getDeployment(env.api, ns, 'podinfo')).spec?.replicas).toBe(0);

    const sim = await simulateTraffic(env, ns, { tickMs: 100, seed: 7 });
    const { simulator, ticks, problems } = sim;
    cleanups.push(() => simulator.stop());
    await waitFor('traffic on the primary', async () =>
      ticks.filter((t) => sim.requests('podinfo-primary', [t]).total > 0).length >= 3 ? true : undefined,
    );

    const deletedAt = Date.now();
    await env.api.delete({ resource: RESOURCES.canary, namespace: ns, name: 'podinfo' });
    const terminating = await waitForPhase(env.api, ns, ['Terminating', 'Terminated'], 10_000);
    expect(terminating.status?.phase).toBe('Terminating');
    expect(terminating.metadata?.deletionTimestamp).toBeDefined();
    // The controller dies in the middle of the revert; a new one must carry it to its end.
    await first.stop();
    expect(await findObject(env.api, RESOURCES.canary, ns, 'podinfo')).toBeDefined();
    const second = startController(ns);
    await second.ready;

    await waitFor(
      'the Canary to be gone',
      async () => ((await findObject(env.api, RESOURCES.canary, ns, 'podinfo')) ? undefined : true),
      { timeoutMs: 20_000 },
    );
    const goneAfterMs = Date.now() - deletedAt;
    await waitFor(
      'the primary and the generated objects to be gone',
      async () => {
        const left = await Promise.all([
          findObject(env.api, RESOURCES.deployment, ns, 'podinfo-primary'),
          findObject(env.api, RESOURCES.service, ns, 'podinfo-primary'),
          findObject(env.api, RESOURCES.service, ns, 'podinfo-canary'),
          findObject(env.api, RESOURCES.destinationRule, ns, 'podinfo-primary'),
          findObject(env.api, RESOURCES.destinationRule, ns, 'podinfo-canary'),
        ]);
        return left.some(Boolean) ? undefined : true;
      },
      { timeoutMs: 10_000 },
    );

    // The target runs the primary's replicas, and the apex routes point at it, no longer owned.
    const reverted = await getDeployment(env.api, ns, 'podinfo');
    expect(reverted.spec?.replicas).toBe(2);
    const apex = await env.api.get<KubeObject & { spec?: { selector?: Record<string, string> } }>({
      resource: RESOURCES.service,
      namespace: ns,
      name: 'podinfo',
    });
    expect(apex.spec?.selector).toEqual({ app: 'podinfo' });
    expect(apex.metadata?.ownerReferences ?? []).toEqual([]);
    const vs = await env.api.get<VirtualService>({
      resource: RESOURCES.virtualService,
      namespace: ns,
      name: 'podinfo',
    });
    expect(vs.metadata?.ownerReferences ?? []).toEqual([]);
    expect(vs.spec?.http?.[0]?.route).toEqual([
      { destination: { host: 'podinfo', port: { number: 9898 } }, weight: 100 },
    ]);

    // Every tick since the delete served requests, none was sent to a Service without ready pods, and
    // the last ones all went to the target.
    const until = Date.now();
    await waitFor('three more ticks', async () =>
      ticks.filter((t) => t.at > until).length >= 3 ? true : undefined,
    );
    const since = ticks.filter((t) => t.at >= deletedAt);
    expect(since.length).toBeGreaterThan(10);
    const idle = since.filter((t) => servedIn(t) === 0);
    expect(idle).toEqual([]);
    expect(problems.filter((p) => p.at >= deletedAt)).toEqual([]);
    const served = since.reduce((a, t) => a + servedIn(t), 0);
    console.log(
      `e2e figures: revertOnDeletion with a controller restart: delete -> Canary gone ${goneAfterMs} ms; ` +
        `${since.length} traffic ticks since the delete, ${served} requests served, none without a backend`,
    );
    const last = ticks.at(-1);
    expect(last?.traffic.map((t) => t.workload)).toEqual(['podinfo']);

    const events = await env.api.list<KubeObject & { reason?: string; involvedObject?: { name?: string } }>(
      RESOURCES.event,
      { namespace: ns },
    );
    const reasons = events.items.map((e) => e.reason);
    expect(reasons).toContain('Terminating');
    expect(reasons).toContain('Terminated');
  }, 90_000);

  it('the finalizer stays when the field is turned off, and the deletion then keeps the primary serving', async () => {
    const ns = 'e2e-revert-toggle';
    await createNamespace(env.api, ns);
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const controller = startController(ns);
    await controller.ready;
    await env.api.create(RESOURCES.canary, podinfoCanary(ns, { metrics: [] }, { revertOnDeletion: true }));
    await waitFor('the finalizer', async () =>
      (await getCanary(env.api, ns)).metadata?.finalizers?.includes(REVERT_FINALIZER) ? true : undefined,
    );
    await waitForPhase(env.api, ns, ['Initialized']);
    await env.api.mergePatch(
      { resource: RESOURCES.canary, namespace: ns, name: 'podinfo' },
      { spec: { revertOnDeletion: false } },
    );
    expect((await getCanary(env.api, ns)).metadata?.finalizers).toEqual([REVERT_FINALIZER]);
    // Without the field: no revert, the target stays at zero and the primary keeps serving, unowned.
    await env.api.delete({ resource: RESOURCES.canary, namespace: ns, name: 'podinfo' });
    await waitFor(
      'the Canary to be gone',
      async () => ((await findObject(env.api, RESOURCES.canary, ns, 'podinfo')) ? undefined : true),
      { timeoutMs: 20_000 },
    );
    const primary = await getDeployment(env.api, ns, 'podinfo-primary');
    expect(primary.metadata?.ownerReferences ?? []).toEqual([]);
    expect((await getDeployment(env.api, ns, 'podinfo')).spec?.replicas).toBe(0);
    const vs = await env.api.get<VirtualService>({
      resource: RESOURCES.virtualService,
      namespace: ns,
      name: 'podinfo',
    });
    expect(vs.metadata?.ownerReferences ?? []).toEqual([]);
    expect(vs.spec?.http?.[0]?.route?.find((r) => r.weight === 100)?.destination?.host).toBe(
      'podinfo-primary',
    );
  }, 60_000);
});
