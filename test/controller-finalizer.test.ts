import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CanaryFinalizer, REVERT_FINALIZER } from '../src/controller/finalizer.ts';
import { TerminalError } from '../src/controller/queue.ts';
import { KubeApiError } from '../src/kube/errors.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject, OwnerReference } from '../src/kube/types.ts';
import type { Deployment } from '../src/kube/workloads.ts';
import { WriteThroughCache } from '../src/kube/write-through.ts';
import type { DestinationRule, VirtualService } from '../src/routers/istio.ts';
import { IstioRouter } from '../src/routers/istio.ts';
import type { Service } from '../src/routers/services.ts';
import { InMemoryKubeApi } from './support/fake-kube.ts';

const NOW = new Date('2026-12-03T10:00:00Z');

function deployment(name: string, replicas: number, ready: boolean, app = name): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'test', generation: 1 },
    spec: {
      replicas,
      selector: { matchLabels: { app } },
      template: { metadata: { labels: { app } }, spec: { containers: [{ name: 'app', image: 'app:1' }] } },
    },
    status: {
      observedGeneration: 1,
      replicas: ready ? replicas : 0,
      updatedReplicas: ready ? replicas : 0,
      availableReplicas: ready ? replicas : 0,
      readyReplicas: ready ? replicas : 0,
    },
  };
}

function canaryObject(
  extra: { deleting?: boolean; finalizers?: string[]; spec?: Record<string, unknown> } = {},
) {
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: {
      name: 'podinfo',
      namespace: 'test',
      uid: 'uid-1',
      ...(extra.finalizers ? { finalizers: extra.finalizers } : {}),
      ...(extra.deleting ? { deletionTimestamp: NOW.toISOString() } : {}),
    },
    spec: {
      targetRef: { kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      revertOnDeletion: true,
      ...extra.spec,
    },
    status: { phase: 'Succeeded' },
  } as KubeObject;
}

const OWNED_KINDS = [
  RESOURCES.deployment,
  RESOURCES.horizontalPodAutoscaler,
  RESOURCES.service,
  RESOURCES.virtualService,
  RESOURCES.destinationRule,
  RESOURCES.configMap,
];

function setup(canary: KubeObject, target: Deployment | null = deployment('podinfo', 0, true)) {
  const api = new InMemoryKubeApi();
  if (target) api.seed(RESOURCES.deployment, target);
  api.seed(RESOURCES.deployment, deployment('podinfo-primary', 3, true));
  const seeded = api.seed(RESOURCES.canary, canary);
  const router = new IstioRouter({
    api,
    deployments: api.cache<Deployment>(RESOURCES.deployment),
    services: api.cache<Service>(RESOURCES.service),
    virtualServices: api.cache<VirtualService>(RESOURCES.virtualService),
    destinationRules: api.cache<DestinationRule>(RESOURCES.destinationRule),
  });
  const events: string[] = [];
  const canaries = new WriteThroughCache(api.cache<KubeObject>(RESOURCES.canary));
  const finalizer = new CanaryFinalizer({
    api,
    canaries,
    deployments: { api, deployments: api.cache<Deployment>(RESOURCES.deployment) },
    routerFor: () => router,
    ownedKinds: OWNED_KINDS.map((resource) => ({ resource, cache: api.cache<KubeObject>(resource) })),
    events: { record: async (_c, type, reason) => events.push(`${type} ${reason}`) },
    clock: { now: () => NOW, setTimeout: () => 0, clearTimeout: () => {} } as never,
    logger: pino({ level: 'silent' }),
  });
  const current = () =>
    api.cache<KubeObject & { status?: { phase?: string } }>(RESOURCES.canary).get('test', 'podinfo');
  const replicas = (name: string) =>
    api.cache<Deployment>(RESOURCES.deployment).get('test', name)?.spec?.replicas;
  return { api, finalizer, events, seeded, current, replicas };
}

describe('CanaryFinalizer: the finalizer on live Canaries', () => {
  it('adds it when revertOnDeletion is on, once', async () => {
    const { finalizer, seeded, current, api } = setup(canaryObject());
    expect(await finalizer.reconcile(seeded)).toBeUndefined();
    expect(current()?.metadata?.finalizers).toEqual([REVERT_FINALIZER]);
    const writes = api.writes().length;
    expect(await finalizer.reconcile(current()!)).toBeUndefined();
    expect(api.writes().length).toBe(writes);
  });

  it('adds it to every Canary, with or without revertOnDeletion, beside the others', async () => {
    const off = canaryObject({ finalizers: ['other.io/keep'], spec: { revertOnDeletion: false } });
    const { finalizer, seeded, current } = setup(off);
    await finalizer.reconcile(seeded);
    expect(current()?.metadata?.finalizers).toEqual(['other.io/keep', REVERT_FINALIZER]);
  });

  it('keeps it when the field is turned off', async () => {
    const off = canaryObject({ finalizers: [REVERT_FINALIZER], spec: { revertOnDeletion: false } });
    const { finalizer, seeded, current, api } = setup(off);
    await finalizer.reconcile(seeded);
    expect(current()?.metadata?.finalizers).toEqual([REVERT_FINALIZER]);
    expect(api.writes()).toEqual([]);
  });

  it('adds it to an invalid Canary too (its deletion must still be let go)', async () => {
    const bad = canaryObject({ spec: { service: { port: 0 }, revertOnDeletion: false } });
    const { finalizer, seeded, current } = setup(bad);
    expect(await finalizer.reconcile(seeded)).toBeUndefined();
    expect(current()?.metadata?.finalizers).toEqual([REVERT_FINALIZER]);
  });
});

describe('CanaryFinalizer: reverting a deleted Canary', () => {
  it('leaves a deleted Canary without its finalizer to the garbage collector', async () => {
    const { finalizer, seeded, api } = setup(canaryObject({ deleting: true, finalizers: ['other.io/keep'] }));
    expect(await finalizer.reconcile(seeded)).toEqual({ result: undefined });
    expect(api.writes()).toEqual([]);
  });

  it('writes Terminating first, scales the target to the primary replicas, and holds while it is not ready', async () => {
    const { finalizer, seeded, current, replicas, events, api } = setup(
      canaryObject({ deleting: true, finalizers: [REVERT_FINALIZER] }),
    );
    const outcome = await finalizer.reconcile(seeded);
    expect(outcome?.result).toEqual({ requeueAfterMs: 1000 });
    expect(current()?.status?.phase).toBe('Terminating');
    expect(replicas('podinfo')).toBe(3);
    expect(events).toEqual(['Normal Terminating']);
    const order = api.writes().map((w) => `${w.verb} ${w.resource}`);
    expect(order[0]).toBe('patch canaries/status');
    // Not ready yet (the fake API has no Deployment controller): nothing else moves, however often it is asked.
    await finalizer.reconcile(current()!);
    expect(current()?.status?.phase).toBe('Terminating');
    expect(current()?.metadata?.finalizers).toEqual([REVERT_FINALIZER]);
  });

  it('once the target is ready: routes to it, Terminated, finalizer removed', async () => {
    const deleting = canaryObject({ deleting: true, finalizers: [REVERT_FINALIZER] });
    (deleting as { status?: unknown }).status = { phase: 'Terminating' };
    const { finalizer, seeded, current, events } = setup(deleting, deployment('podinfo', 3, true));
    expect(await finalizer.reconcile(seeded)).toEqual({ result: {} });
    expect(current()?.status?.phase).toBe('Terminated');
    expect(current()?.metadata?.finalizers ?? []).toEqual([]);
    expect(events).toEqual(['Normal Terminated']);
  });

  it('a target that no longer exists: Terminated at once', async () => {
    const { finalizer, seeded, current } = setup(
      canaryObject({ deleting: true, finalizers: [REVERT_FINALIZER] }),
      null,
    );
    await finalizer.reconcile(seeded);
    expect(current()?.status?.phase).toBe('Terminated');
    expect(current()?.metadata?.finalizers ?? []).toEqual([]);
  });

  it('an invalid Canary is not reverted: a warning naming the fix, the finalizer stays', async () => {
    const bad = canaryObject({
      deleting: true,
      finalizers: [REVERT_FINALIZER],
      spec: { service: { port: 0 } },
    });
    const { finalizer, seeded, current, events } = setup(bad);
    await expect(finalizer.reconcile(seeded)).rejects.toBeInstanceOf(TerminalError);
    expect(events).toEqual(['Warning InvalidSpec']);
    expect(current()?.metadata?.finalizers).toEqual([REVERT_FINALIZER]);
  });
});

const OWNER = {
  apiVersion: 'petrel.dev/v1alpha1',
  kind: 'Canary',
  name: 'podinfo',
  uid: 'uid-1',
  controller: true,
  blockOwnerDeletion: true,
};
const OTHER = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', name: 'app', uid: 'uid-argo' };

function ownedObject(
  resource: (typeof OWNED_KINDS)[number],
  name: string,
  owners: OwnerReference[] = [OWNER],
): KubeObject {
  return {
    apiVersion: resource.group ? `${resource.group}/${resource.version}` : resource.version,
    kind: resource.kind,
    metadata: {
      name,
      namespace: 'test',
      labels: { 'petrel.dev/managed-by': 'petrel' },
      ownerReferences: owners,
    },
  };
}

/** What Petrel created for Canary podinfo (uid-1), plus an unrelated object owned by another Canary. */
function seedOwned(api: InMemoryKubeApi): void {
  api.seed(RESOURCES.deployment, {
    ...deployment('podinfo-primary', 3, true),
    metadata: ownedObject(RESOURCES.deployment, 'podinfo-primary').metadata,
  } as Deployment);
  api.seed(
    RESOURCES.horizontalPodAutoscaler,
    ownedObject(RESOURCES.horizontalPodAutoscaler, 'podinfo-primary'),
  );
  for (const name of ['podinfo', 'podinfo-primary', 'podinfo-canary'])
    api.seed(RESOURCES.service, ownedObject(RESOURCES.service, name));
  api.seed(RESOURCES.virtualService, ownedObject(RESOURCES.virtualService, 'podinfo', [OTHER, OWNER]));
  for (const name of ['podinfo-primary', 'podinfo-canary'])
    api.seed(RESOURCES.destinationRule, ownedObject(RESOURCES.destinationRule, name));
  api.seed(RESOURCES.configMap, ownedObject(RESOURCES.configMap, 'settings-primary'));
  api.seed(
    RESOURCES.service,
    ownedObject(RESOURCES.service, 'other', [{ ...OWNER, name: 'other', uid: 'uid-2' }]),
  );
}

function ownersOf(api: InMemoryKubeApi, resource: (typeof OWNED_KINDS)[number], name: string) {
  return api
    .cache<KubeObject>(resource)
    .get('test', name)
    ?.metadata?.ownerReferences?.map((r) => r.uid);
}

describe('CanaryFinalizer: a deleted Canary without revertOnDeletion keeps the primary serving', () => {
  const deleted = (spec: Record<string, unknown> = {}) =>
    canaryObject({
      deleting: true,
      finalizers: [REVERT_FINALIZER],
      spec: { revertOnDeletion: false, ...spec },
    });

  it('Terminating first, then every serving object orphaned with one patch each, Terminated, finalizer removed', async () => {
    const { finalizer, seeded, current, events, api, replicas } = setup(deleted());
    seedOwned(api);
    expect(await finalizer.reconcile(seeded)).toEqual({ result: {} });
    const writes = api.writes().map((w) => `${w.verb} ${w.resource} ${w.name ?? ''}`.trim());
    expect(writes[0]).toMatch(/^patch canaries\/status/);
    expect(writes.slice(1, -2).sort()).toEqual(
      [
        'patch configmaps settings-primary',
        'patch deployments podinfo-primary',
        'patch destinationrules podinfo-canary',
        'patch destinationrules podinfo-primary',
        'patch horizontalpodautoscalers podinfo-primary',
        'patch services podinfo',
        'patch services podinfo-canary',
        'patch services podinfo-primary',
        'patch virtualservices podinfo',
      ].sort(),
    );
    expect(writes.at(-2)).toMatch(/^patch canaries\/status/);
    expect(writes.at(-1)).toMatch(/^patch canaries podinfo/);
    expect(current()?.status?.phase).toBe('Terminated');
    expect(current()?.metadata?.finalizers ?? []).toEqual([]);
    expect(events).toEqual(['Normal Terminating', 'Normal Terminated']);
    expect(ownersOf(api, RESOURCES.deployment, 'podinfo-primary')).toEqual([]);
    expect(ownersOf(api, RESOURCES.virtualService, 'podinfo')).toEqual(['uid-argo']);
    // The canary Service too: a route may still send it a share (deleted mid-rollout).
    expect(ownersOf(api, RESOURCES.service, 'podinfo-canary')).toEqual([]);
    expect(ownersOf(api, RESOURCES.service, 'other')).toEqual(['uid-2']);
    // Labels stay (a re-created Canary adopts them); the target is not touched.
    expect(api.cache<KubeObject>(RESOURCES.service).get('test', 'podinfo')?.metadata?.labels).toEqual({
      'petrel.dev/managed-by': 'petrel',
    });
    expect(replicas('podinfo')).toBe(0);
  });

  it('resumes after a restart between Terminating and the end: orphans only what is still owned', async () => {
    const mid = deleted();
    (mid as { status?: unknown }).status = { phase: 'Terminating' };
    const { finalizer, seeded, current, api } = setup(mid);
    seedOwned(api);
    // The first controller orphaned the primary before it stopped.
    api.seed(RESOURCES.deployment, {
      ...deployment('podinfo-primary', 3, true),
      metadata: ownedObject(RESOURCES.deployment, 'podinfo-primary', []).metadata,
    } as Deployment);
    await finalizer.reconcile(seeded);
    const patched = api.writes().filter((w) => w.resource === 'deployments');
    expect(patched).toEqual([]);
    expect(ownersOf(api, RESOURCES.service, 'podinfo')).toEqual([]);
    expect(current()?.metadata?.finalizers ?? []).toEqual([]);
  });

  it('Terminated already (restart before the finalizer went): only the finalizer is removed', async () => {
    const late = deleted();
    (late as { status?: unknown }).status = { phase: 'Terminated' };
    const { finalizer, seeded, current, api, events } = setup(late);
    await finalizer.reconcile(seeded);
    expect(api.writes().map((w) => `${w.verb} ${w.resource}`)).toEqual(['patch canaries']);
    expect(current()?.metadata?.finalizers ?? []).toEqual([]);
    expect(events).toEqual([]);
  });

  it('an invalid spec is let go too: its uid is enough, nothing is stranded', async () => {
    const { finalizer, seeded, current, api } = setup(deleted({ service: { port: 0 } }));
    seedOwned(api);
    expect(await finalizer.reconcile(seeded)).toEqual({ result: {} });
    expect(ownersOf(api, RESOURCES.deployment, 'podinfo-primary')).toEqual([]);
    expect(current()?.metadata?.finalizers ?? []).toEqual([]);
  });

  it('a spec without names: everything it owns is kept all the same', async () => {
    const raw = deleted();
    (raw as { spec?: unknown }).spec = { revertOnDeletion: 'no' };
    const { finalizer, seeded, current, api } = setup(raw);
    seedOwned(api);
    await finalizer.reconcile(seeded);
    expect(ownersOf(api, RESOURCES.service, 'podinfo-canary')).toEqual([]);
    expect(current()?.metadata?.finalizers ?? []).toEqual([]);
  });

  it('an object changed since the cache read it (the test op fails): looked at again shortly, no finalizer removed', async () => {
    const { finalizer, seeded, current, api } = setup(deleted());
    seedOwned(api);
    api.failNext = (info) =>
      info.resource === 'services' && info.verb === 'patch'
        ? new KubeApiError('json patch: test operation failed', { code: 'INVALID', status: 422 })
        : undefined;
    expect(await finalizer.reconcile(seeded)).toEqual({ result: { requeueAfterMs: 500 } });
    expect(current()?.status?.phase).toBe('Terminating');
    expect(current()?.metadata?.finalizers).toEqual([REVERT_FINALIZER]);
    api.failNext = undefined;
    expect(await finalizer.reconcile(current()!)).toEqual({ result: {} });
    expect(ownersOf(api, RESOURCES.service, 'podinfo')).toEqual([]);
  });

  it('a patch refused (no permission): a warning naming the fix, retried, the finalizer stays', async () => {
    const { finalizer, seeded, current, api, events } = setup(deleted());
    seedOwned(api);
    api.failNext = (info) =>
      info.resource === 'virtualservices' && info.verb === 'patch'
        ? new KubeApiError('virtualservices is forbidden', { code: 'FORBIDDEN', status: 403 })
        : undefined;
    await expect(finalizer.reconcile(seeded)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(events).toEqual(['Normal Terminating', 'Warning OrphaningFailed']);
    expect(current()?.status?.phase).toBe('Terminating');
    expect(current()?.metadata?.finalizers).toEqual([REVERT_FINALIZER]);
    expect(ownersOf(api, RESOURCES.virtualService, 'podinfo')).toEqual(['uid-argo', 'uid-1']);
  });

  it('never acts on a Canary that is gone', async () => {
    const { finalizer, seeded, api } = setup(deleted());
    seedOwned(api);
    api.unseed(RESOURCES.canary, seeded);
    expect(await finalizer.reconcile(seeded)).toEqual({ result: undefined });
    expect(api.writes()).toEqual([]);
  });

  it('a Canary deleted before it got the finalizer is left to the garbage collector', async () => {
    const raw = canaryObject({ deleting: true, spec: { revertOnDeletion: false } });
    const { finalizer, seeded, api } = setup(raw);
    seedOwned(api);
    expect(await finalizer.reconcile(seeded)).toEqual({ result: undefined });
    expect(api.writes()).toEqual([]);
  });
});
