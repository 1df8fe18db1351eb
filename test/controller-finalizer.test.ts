import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CanaryFinalizer, REVERT_FINALIZER } from '../src/controller/finalizer.ts';
import { TerminalError } from '../src/controller/queue.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
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

  it('removes only its own when the field is turned off', async () => {
    const off = canaryObject({
      finalizers: ['other.io/keep', REVERT_FINALIZER],
      spec: { revertOnDeletion: false },
    });
    const { finalizer, seeded, current } = setup(off);
    await finalizer.reconcile(seeded);
    expect(current()?.metadata?.finalizers).toEqual(['other.io/keep']);
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
