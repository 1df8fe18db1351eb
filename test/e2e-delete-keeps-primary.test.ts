import { afterEach, describe, expect, it } from 'vitest';
import type { RunningController } from '../src/controller/controller.ts';
import { RESOURCES, type ResourceKind } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import { REVERT_FINALIZER } from '../src/rollout/deletion.ts';
import {
  controllerRequests,
  createNamespace,
  findObject,
  getCanary,
  getDeployment,
  podinfoCanary,
  podinfoDeployment,
  runController,
  setImage,
  testLogger,
  useE2e,
  waitFor,
  waitForPhase,
} from './support/e2e.ts';
import { simulateTraffic } from './support/simulated-mesh.ts';

// Deleting a Canary without revertOnDeletion keeps the primary, its Services and routes serving (as
// Flagger does): across a controller restart in the middle, and a Canary created again adopts them.
const env = useE2e({ deploymentReadyDelayMs: 300 });

/** The names of the Canaries an object's ownerReferences point at, with their uid. */
async function canaryOwners(resource: ResourceKind, ns: string, name: string): Promise<string[] | undefined> {
  const obj = await findObject(env.api, resource, ns, name);
  if (!obj) return undefined;
  return (obj.metadata?.ownerReferences ?? [])
    .filter((r) => r.kind === 'Canary')
    .map((r) => `${r.name}/${r.uid}`);
}

/** What a Canary named podinfo creates and a deletion keeps. */
const SERVING: [ResourceKind, string][] = [
  [RESOURCES.deployment, 'podinfo-primary'],
  [RESOURCES.service, 'podinfo'],
  [RESOURCES.service, 'podinfo-primary'],
  [RESOURCES.service, 'podinfo-canary'],
  [RESOURCES.virtualService, 'podinfo'],
  [RESOURCES.destinationRule, 'podinfo-primary'],
  [RESOURCES.destinationRule, 'podinfo-canary'],
];

describe('end to end: deleting a Canary without revertOnDeletion keeps the primary serving', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    env.sandbox.faults.reset();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  }, 60_000);

  function startController(ns: string): RunningController {
    const controller = runController(env, ns, testLogger().logger);
    cleanups.push(() => controller.stop());
    return controller;
  }

  it('keeps serving every moment across a controller restart in the middle; re-created, the Canary adopts it all and rolls out', async () => {
    const ns = 'e2e-orphan';
    await createNamespace(env.api, ns);
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const first = startController(ns);
    await first.ready;
    await env.api.create(RESOURCES.canary, podinfoCanary(ns, { metrics: [] }));
    await waitForPhase(env.api, ns, ['Initialized']);
    const created = await getCanary(env.api, ns);
    expect(created.metadata?.finalizers).toEqual([REVERT_FINALIZER]);
    const oldOwner = `podinfo/${created.metadata?.uid}`;
    for (const [resource, name] of SERVING)
      expect(await canaryOwners(resource, ns, name), `${resource.kind} ${name}`).toEqual([oldOwner]);

    const sim = await simulateTraffic(env, ns, { tickMs: 100, seed: 11 });
    const { simulator, ticks, problems } = sim;
    cleanups.push(() => simulator.stop());
    await waitFor('traffic on the primary', async () =>
      ticks.filter((t) => sim.requests('podinfo-primary', [t]).total > 0).length >= 3 ? true : undefined,
    );

    // The VirtualService cannot be patched: the first controller stops half-way through the orphaning.
    const fault = env.sandbox.faults.injectError({ verb: 'patch', resource: 'virtualservices', status: 503 });
    const deletedAt = Date.now();
    await env.api.delete({ resource: RESOURCES.canary, namespace: ns, name: 'podinfo' });
    await waitFor(
      'Terminating, the primary orphaned, the VirtualService not yet',
      async () => {
        const canary = await getCanary(env.api, ns);
        const primary = await canaryOwners(RESOURCES.deployment, ns, 'podinfo-primary');
        return canary.status?.phase === 'Terminating' && primary?.length === 0 ? true : undefined;
      },
      { timeoutMs: 10_000 },
    );
    await first.stop();
    expect(await canaryOwners(RESOURCES.virtualService, ns, 'podinfo')).toEqual([oldOwner]);
    const held = await getCanary(env.api, ns);
    expect(held.metadata?.finalizers).toEqual([REVERT_FINALIZER]);
    expect(env.sandbox.faults.remove(fault)).toBe(true);

    const stoppedAt = Date.now();
    const second = startController(ns);
    await second.ready;
    await waitFor(
      'the Canary to be gone',
      async () => ((await findObject(env.api, RESOURCES.canary, ns, 'podinfo')) ? undefined : true),
      {
        timeoutMs: 20_000,
      },
    );
    const goneAfterMs = Date.now() - deletedAt;
    for (const [resource, name] of SERVING)
      expect(await canaryOwners(resource, ns, name), `${resource.kind} ${name}`).toEqual([]);
    // The second controller took up where the first stopped: only the VirtualService was left to orphan.
    const orphanedBySecond = controllerRequests(env.sandbox, stoppedAt).filter(
      (e) =>
        e.namespace === ns &&
        e.verb === 'patch' &&
        !e.resource?.startsWith('canaries') &&
        e.resource !== 'events',
    );
    expect(orphanedBySecond.map((e) => `${e.resource} ${e.name}`)).toEqual(['virtualservices podinfo']);
    expect((await getDeployment(env.api, ns, 'podinfo')).spec?.replicas).toBe(0);

    // Served every tick since the delete, all by the primary, no route without a backend.
    await waitFor('fifteen ticks since the delete', async () =>
      ticks.filter((t) => t.at >= deletedAt).length >= 15 ? true : undefined,
    );
    const since = ticks.filter((t) => t.at >= deletedAt);
    expect(since.length).toBeGreaterThan(10);
    expect(since.filter((t) => sim.requests('podinfo-primary', [t]).total === 0)).toEqual([]);
    expect(problems.filter((p) => p.at >= deletedAt)).toEqual([]);
    console.log(
      `e2e figures: deletion without revertOnDeletion, controller restarted half-way: delete -> Canary gone ` +
        `${goneAfterMs} ms; ${since.length} traffic ticks since the delete, every one served by the primary`,
    );
    const events = await env.api.list<KubeObject & { reason?: string }>(RESOURCES.event, { namespace: ns });
    const reasons = events.items.map((e) => e.reason);
    expect(reasons).toContain('Terminating');
    expect(reasons).toContain('Terminated');

    // Created again (a new uid): the managed-by label lets it adopt every object, then a rollout works.
    await env.api.create(RESOURCES.canary, podinfoCanary(ns, { metrics: [] }));
    await waitForPhase(env.api, ns, ['Initialized']);
    const again = await getCanary(env.api, ns);
    expect(again.metadata?.uid).not.toBe(created.metadata?.uid);
    const newOwner = `podinfo/${again.metadata?.uid}`;
    await waitFor('every object adopted', async () => {
      for (const [resource, name] of SERVING) {
        const owners = await canaryOwners(resource, ns, name);
        if (owners?.length !== 1 || owners[0] !== newOwner) return undefined;
      }
      return true;
    });
    await setImage(env.api, ns, 'podinfo:2.0');
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 40_000);
    expect(done.status?.phase).toBe('Succeeded');
    const primary = await getDeployment(env.api, ns, 'podinfo-primary');
    expect(primary.spec?.template?.spec?.containers?.[0]?.image).toBe('podinfo:2.0');
    expect(problems.filter((p) => p.at >= deletedAt)).toEqual([]);
  }, 120_000);

  it('an invalid Canary is let go all the same, its primary kept', async () => {
    const ns = 'e2e-orphan-invalid';
    await createNamespace(env.api, ns);
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const controller = startController(ns);
    await controller.ready;
    await env.api.create(RESOURCES.canary, podinfoCanary(ns, { metrics: [] }));
    await waitForPhase(env.api, ns, ['Initialized']);
    // A change only the controller refuses (the CRD and its CEL rules let it in): a misspelt match key.
    await env.api.mergePatch(
      { resource: RESOURCES.canary, namespace: ns, name: 'podinfo' },
      { spec: { analysis: { match: [{ uri: { prefx: '/api' } }] } } },
    );
    await waitFor('InvalidSpec', async () =>
      (await getCanary(env.api, ns)).status?.conditions?.some((c) => c.type === 'InvalidSpec')
        ? true
        : undefined,
    );
    await env.api.delete({ resource: RESOURCES.canary, namespace: ns, name: 'podinfo' });
    await waitFor(
      'the Canary to be gone',
      async () => ((await findObject(env.api, RESOURCES.canary, ns, 'podinfo')) ? undefined : true),
      {
        timeoutMs: 20_000,
      },
    );
    for (const [resource, name] of SERVING)
      expect(await canaryOwners(resource, ns, name), `${resource.kind} ${name}`).toEqual([]);
  }, 60_000);

  it('deleted while no controller runs: it stays, held by the finalizer, and the next controller keeps the primary', async () => {
    const ns = 'e2e-orphan-no-controller';
    await createNamespace(env.api, ns);
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const first = startController(ns);
    await first.ready;
    await env.api.create(RESOURCES.canary, podinfoCanary(ns, { metrics: [] }));
    await waitForPhase(env.api, ns, ['Initialized']);
    await first.stop();
    await env.api.delete({ resource: RESOURCES.canary, namespace: ns, name: 'podinfo' });
    const held = await getCanary(env.api, ns);
    expect(held.metadata?.deletionTimestamp).toBeDefined();
    expect(held.metadata?.finalizers).toEqual([REVERT_FINALIZER]);
    expect(await canaryOwners(RESOURCES.deployment, ns, 'podinfo-primary')).toEqual([
      `podinfo/${held.metadata?.uid}`,
    ]);

    const second = startController(ns);
    await second.ready;
    await waitFor(
      'the Canary to be gone',
      async () => ((await findObject(env.api, RESOURCES.canary, ns, 'podinfo')) ? undefined : true),
      {
        timeoutMs: 20_000,
      },
    );
    for (const [resource, name] of SERVING)
      expect(await canaryOwners(resource, ns, name), `${resource.kind} ${name}`).toEqual([]);
  }, 60_000);
});
