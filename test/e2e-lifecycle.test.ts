import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/run.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import type { Deployment } from '../src/kube/workloads.ts';
import type { Notification } from '../src/notifiers/notification.ts';
import { REVERT_FINALIZER } from '../src/rollout/deletion.ts';
import { useCleanups } from './support/cleanups.ts';
import {
  controllerRequests,
  createNamespace,
  getCanary,
  podinfoCanary,
  podinfoDeployment,
  runController,
  setImage,
  sleep,
  testLogger,
  useE2e,
  WeightRecorder,
  waitFor,
  waitForPhase,
} from './support/e2e.ts';
import { useHookReceiver } from './webhooks-receiver.ts';

const env = useE2e({ deploymentReadyDelayMs: 300 });
const receiver = useHookReceiver();

const OWNED = new Set(['deployments', 'services', 'virtualservices', 'destinationrules']);
/** How long a deleted Canary is watched for writes: longer than the write-through cache keeps an object (5 s). */
const QUIET_AFTER_DELETE_MS = 6000;

describe('end to end: pause and resume, deletion during a rollout (the primary keeps serving)', () => {
  const cleanups = useCleanups();

  async function prepare(
    ns: string,
    analysis: Record<string, unknown>,
    metadata: Record<string, unknown> = {},
  ) {
    await createNamespace(env.api, ns);
    await env.api.create(RESOURCES.secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'receiver-url', namespace: ns },
      data: { address: Buffer.from(`${receiver.url}/alerts/${ns}`).toString('base64') },
    } as KubeObject);
    await env.api.create(RESOURCES.alertProvider, {
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'AlertProvider',
      metadata: { name: 'receiver', namespace: ns },
      spec: { type: 'webhook', secretRef: { name: 'receiver-url' } },
    } as KubeObject);
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const log = testLogger();
    const controller = runController(env, ns, log.logger);
    cleanups.push(() => controller.stop());
    await controller.ready;
    const weights = new WeightRecorder(env, ns);
    await weights.start();
    cleanups.push(() => weights.stop());
    const canary = podinfoCanary(ns, {
      metrics: [],
      alerts: [{ name: 'all', severity: 'info', providerRef: { name: 'receiver' } }],
      ...analysis,
    });
    Object.assign(canary.metadata, metadata);
    await env.api.create(RESOURCES.canary, canary as unknown as KubeObject);
    await waitForPhase(env.api, ns, ['Initialized']);
    // The status is written before the alerts of its transition are sent: wait for that alert too.
    await waitFor('the Initialized alert', async () =>
      receiver.received.some(
        (r) => r.path === `/alerts/${ns}` && (r.body as Notification).reason === 'Initialized',
      )
        ? true
        : undefined,
    );
    return { weights, log };
  }

  async function cli(args: string[]): Promise<number> {
    const out = new PassThrough();
    return runCli([...args, '--kubeconfig', env.sandbox.kubeconfigPath], {
      stdout: out,
      stderr: out,
      stdin: new PassThrough(),
      env: {},
    });
  }

  const weightIs = (ns: string, weight: number) => async () =>
    (await getCanary(env.api, ns)).status?.canaryWeight === weight ? true : undefined;

  it('after petrel pause then resume, the next step comes within one interval of the resume', async () => {
    const ns = 'e2e-resume';
    const intervalMs = 2000;
    const { weights } = await prepare(ns, { interval: '2s', maxWeight: 50, stepWeight: 10 });
    await setImage(env.api, ns, 'podinfo:2.0');
    await waitFor('weight 10', weightIs(ns, 10), { timeoutMs: 20_000, intervalMs: 20 });
    expect(await cli(['pause', 'podinfo', '-n', ns, '--by', 'e2e'])).toBe(0);
    await waitFor('the Paused condition', async () =>
      (await getCanary(env.api, ns)).status?.conditions?.some((c) => c.type === 'Paused') ? true : undefined,
    );
    const heldAt = weights.weights.at(-1);
    // Paused for longer than two intervals: no step is taken.
    await sleep(2 * intervalMs + 500);
    expect(weights.weights.at(-1)).toBe(heldAt);

    const resumedAt = Date.now();
    expect(await cli(['resume', 'podinfo', '-n', ns, '--by', 'e2e'])).toBe(0);
    await waitFor(
      `a step past weight ${heldAt} after the resume`,
      async () => ((weights.weights.at(-1) ?? 0) > (heldAt ?? 0) ? true : undefined),
      { timeoutMs: 3 * intervalMs, intervalMs: 20 },
    );
    const stepMs = weights.times.at(-1)! - resumedAt;
    console.log(`e2e figures: petrel resume -> next step in ${stepMs} ms (interval ${intervalMs} ms)`);
    expect(stepMs).toBeLessThan(intervalMs);
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 30_000);
    expect(done.status?.phase).toBe('Succeeded');
    expect(done.status?.conditions?.some((c) => c.type === 'Paused')).toBe(false);
  }, 60_000);

  const alertsFor = (ns: string, since: number) =>
    receiver.received
      .filter((r) => r.path === `/alerts/${ns}` && r.time >= since)
      .map((r) => (r.body as Notification).reason);

  async function canaryExists(ns: string): Promise<boolean> {
    const list = await env.api.list<KubeObject>(RESOURCES.canary, { namespace: ns });
    return list.items.length > 0;
  }

  const canaryOwners = (obj: KubeObject) =>
    (obj.metadata?.ownerReferences ?? []).filter((r) => r.kind === 'Canary').map((r) => r.name);

  /**
   * After the delete: the Canary goes, and what serves stays with no ownerReference to it (the primary
   * Deployment, the Services, the VirtualService, the DestinationRules); nothing is created, nothing is
   * written once it is gone, no rollout alert (only Terminating/Terminated), no Canary write after a 404.
   */
  async function expectKeptServing(ns: string, deletedAt: number): Promise<void> {
    await waitFor('the Canary to be gone', async () => ((await canaryExists(ns)) ? undefined : true), {
      timeoutMs: 20_000,
    });
    const goneAt = Date.now();
    await sleep(QUIET_AFTER_DELETE_MS);
    const after = controllerRequests(env.sandbox, deletedAt).filter((e) => e.namespace === ns);
    const created = after.filter((e) => e.verb === 'create' && OWNED.has(e.resource ?? ''));
    expect(created.map((e) => e.resource)).toEqual([]);
    const writesOnceGone = after.filter(
      (e) =>
        e.time.getTime() > goneAt &&
        OWNED.has(e.resource ?? '') &&
        e.verb !== 'get' &&
        e.verb !== 'list' &&
        e.verb !== 'watch',
    );
    expect(writesOnceGone.map((e) => `${e.verb} ${e.resource} ${e.name}`)).toEqual([]);
    const canaryWrites = after.filter(
      (e) =>
        e.verb !== 'get' && e.verb !== 'list' && e.verb !== 'watch' && e.resource?.startsWith('canaries'),
    );
    const first404 = canaryWrites.findIndex((e) => e.code === 404);
    if (first404 >= 0)
      expect(canaryWrites.slice(first404 + 1).map((e) => `${e.verb} ${e.resource}`)).toEqual([]);
    expect(canaryWrites.filter((e) => e.code === 404).length).toBeLessThanOrEqual(1);
    const alerts = alertsFor(ns, deletedAt);
    expect(alerts.filter((r) => r === 'Initializing' || r === 'Initialized')).toEqual([]);
    expect(alerts.filter((r) => r === 'Terminated').length).toBeLessThanOrEqual(1);
    // An alert of a step taken just before the delete may still be on its way; nothing comes later but
    // the deletion's own.
    const late = alertsFor(ns, deletedAt + 2000);
    expect(late.filter((r) => r !== 'Terminating' && r !== 'Terminated')).toEqual([]);

    const deployments = await env.api.list<Deployment>(RESOURCES.deployment, { namespace: ns });
    expect(deployments.items.map((d) => d.metadata?.name).sort()).toEqual(['podinfo', 'podinfo-primary']);
    const primary = deployments.items.find((d) => d.metadata?.name === 'podinfo-primary');
    expect(primary?.spec?.replicas).toBeGreaterThan(0);
    expect(primary?.metadata?.labels?.['petrel.dev/managed-by']).toBe('petrel');
    const kept: Record<string, string[]> = {};
    for (const resource of [
      RESOURCES.deployment,
      RESOURCES.service,
      RESOURCES.virtualService,
      RESOURCES.destinationRule,
    ]) {
      const items = (await env.api.list<KubeObject>(resource, { namespace: ns })).items;
      for (const item of items)
        expect(canaryOwners(item), `${resource.kind} ${item.metadata?.name}`).toEqual([]);
      kept[resource.plural] = items.map((i) => i.metadata?.name ?? '').sort();
    }
    expect(kept.services).toEqual(expect.arrayContaining(['podinfo', 'podinfo-primary']));
    expect(kept.virtualservices).toEqual(['podinfo']);
    expect(kept.destinationrules).toEqual(['podinfo-canary', 'podinfo-primary']);
  }

  async function deleteCanary(ns: string): Promise<number> {
    const at = Date.now();
    await env.api.delete({ resource: RESOURCES.canary, namespace: ns, name: 'podinfo' });
    return at;
  }

  it('deleted right after the Deployment change: the primary keeps serving, nothing re-created, no retried status patch', async () => {
    const ns = 'e2e-delete-early';
    await prepare(ns, { interval: '1s' });
    await setImage(env.api, ns, 'podinfo:2.0');
    const deletedAt = await deleteCanary(ns);
    await expectKeptServing(ns, deletedAt);
  }, 60_000);

  it('deleted as the rollout starts: the primary keeps serving, nothing re-created, no retried status patch', async () => {
    const ns = 'e2e-delete-start';
    await prepare(ns, { interval: '1s' });
    await setImage(env.api, ns, 'podinfo:2.0');
    await waitFor(
      'Progressing',
      async () => ((await getCanary(env.api, ns)).status?.phase === 'Progressing' ? true : undefined),
      { timeoutMs: 20_000, intervalMs: 10 },
    );
    const deletedAt = await deleteCanary(ns);
    await expectKeptServing(ns, deletedAt);
  }, 60_000);

  it('deleted mid-step: the primary keeps serving, nothing re-created, no retried status patch', async () => {
    const ns = 'e2e-delete-mid';
    await prepare(ns, { interval: '1s' });
    await setImage(env.api, ns, 'podinfo:2.0');
    await waitFor('weight 20', weightIs(ns, 20), { timeoutMs: 20_000, intervalMs: 10 });
    const deletedAt = await deleteCanary(ns);
    await expectKeptServing(ns, deletedAt);
  }, 60_000);

  it('being deleted (held by another finalizer): no rollout step, only the deletion steps; then it stays held', async () => {
    const ns = 'e2e-delete-held';
    const { weights } = await prepare(ns, { interval: '1s' }, { finalizers: ['example.com/hold'] });
    await setImage(env.api, ns, 'podinfo:2.0');
    await waitFor('weight 10', weightIs(ns, 10), { timeoutMs: 20_000, intervalMs: 10 });
    const deletedAt = await deleteCanary(ns);
    const heldAt = weights.weights.at(-1);
    expect((await getCanary(env.api, ns)).metadata?.deletionTimestamp).toBeDefined();
    await waitFor('Petrel to let it go', async () => {
      const canary = await getCanary(env.api, ns);
      return canary.status?.phase === 'Terminated' && !canary.metadata?.finalizers?.includes(REVERT_FINALIZER)
        ? canary
        : undefined;
    });
    await sleep(3000);
    const canary = await getCanary(env.api, ns);
    expect(canary.metadata?.finalizers).toEqual(['example.com/hold']);
    const writes = controllerRequests(env.sandbox, deletedAt).filter(
      (e) => e.namespace === ns && e.verb !== 'get' && e.verb !== 'list' && e.verb !== 'watch',
    );
    // Terminating, the ownerReferences removed (patches), Terminated, the finalizer removed: nothing else.
    expect(writes.filter((e) => e.verb !== 'patch' && e.resource !== 'events')).toEqual([]);
    expect(new Set(writes.filter((e) => e.resource !== 'events').map((e) => e.resource))).toEqual(
      new Set([
        'canaries/status',
        'canaries',
        'deployments',
        'services',
        'virtualservices',
        'destinationrules',
      ]),
    );
    expect(weights.weights.at(-1)).toBe(heldAt);
    const rolloutAlerts = alertsFor(ns, deletedAt + 500).filter(
      (r) => r !== 'Terminating' && r !== 'Terminated',
    );
    expect(rolloutAlerts).toEqual([]);
    await env.api.mergePatch(
      { resource: RESOURCES.canary, namespace: ns, name: 'podinfo' },
      { metadata: { finalizers: null } },
    );
    await expectKeptServing(ns, deletedAt);
  }, 60_000);
});
