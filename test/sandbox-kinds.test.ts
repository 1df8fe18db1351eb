import {
  AppsV1Api,
  AutoscalingV2Api,
  CoordinationV1Api,
  CoreV1Api,
  EventsV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxApiServer, startApiServer } from '../dev/sandbox/apiserver/index.ts';
import { FakeClock } from './support/fake-clock.ts';

let clock: FakeClock;
let server: SandboxApiServer;
let kc: KubeConfig;

beforeAll(async () => {
  clock = new FakeClock();
  server = await startApiServer({ clock, deploymentReadyDelayMs: 60_000 });
  kc = server.kubeConfig();
});

afterAll(async () => {
  await server?.stop();
});

describe('the sandbox with an injected clock', () => {
  it('makes a Deployment ready exactly when the clock passes the delay, and clears timers on stop', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const created = await apps.createNamespacedDeployment({
      namespace: 'default',
      body: {
        metadata: { name: 'timed' },
        spec: {
          replicas: 3,
          selector: { matchLabels: { a: 'b' } },
          template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
        },
      },
    });
    expect(created.metadata?.creationTimestamp?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    const status = async () =>
      (await apps.readNamespacedDeploymentStatus({ namespace: 'default', name: 'timed' })).status;
    expect(await status()).toBeUndefined();
    clock.advance(0);
    expect(await status()).toMatchObject({ observedGeneration: 1, replicas: 3, updatedReplicas: 3 });
    expect((await status())?.readyReplicas ?? 0).toBe(0);
    clock.advance(59_999);
    expect((await status())?.readyReplicas ?? 0).toBe(0);
    clock.advance(1);
    expect(await status()).toMatchObject({ readyReplicas: 3, availableReplicas: 3, updatedReplicas: 3 });

    const other = new FakeClock();
    const short = await startApiServer({ clock: other, deploymentReadyDelayMs: 1000 });
    await short
      .kubeConfig()
      .makeApiClient(AppsV1Api)
      .createNamespacedDeployment({
        namespace: 'default',
        body: {
          metadata: { name: 'x' },
          spec: {
            selector: { matchLabels: { a: 'b' } },
            template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
          },
        },
      });
    expect(other.pending().length).toBeGreaterThan(0);
    await short.stop();
    expect(other.pending().length).toBe(0);
  });
});

describe('the other built-in kinds', () => {
  it('serves HorizontalPodAutoscalers (autoscaling/v2) with a status subresource', async () => {
    const hpa = kc.makeApiClient(AutoscalingV2Api);
    await hpa.createNamespacedHorizontalPodAutoscaler({
      namespace: 'default',
      body: {
        metadata: { name: 'web' },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
          minReplicas: 1,
          maxReplicas: 4,
        },
      },
    });
    const patched = await hpa.patchNamespacedHorizontalPodAutoscaler(
      { namespace: 'default', name: 'web', body: { spec: { scaleTargetRef: { name: 'web-primary' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(patched.spec?.scaleTargetRef.name).toBe('web-primary');
    expect(patched.metadata?.generation).toBe(2);
  });

  it('serves Leases with optimistic concurrency, as leader election needs', async () => {
    const leases = kc.makeApiClient(CoordinationV1Api);
    const lease = await leases.createNamespacedLease({
      namespace: 'default',
      body: { metadata: { name: 'petrel-leader' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } },
    });
    const renewed = await leases.replaceNamespacedLease({
      namespace: 'default',
      name: 'petrel-leader',
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'a', renewTime: new Date() } },
    });
    expect(Date.parse(String(renewed.spec?.renewTime))).toBeGreaterThan(0);
    await expect(
      leases.replaceNamespacedLease({
        namespace: 'default',
        name: 'petrel-leader',
        body: { ...lease, spec: { holderIdentity: 'b' } },
      }),
    ).rejects.toMatchObject({ code: 409 });
  });

  it('serves core and events.k8s.io Events, with involvedObject field selectors', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { name: 'podinfo.1' },
        involvedObject: { kind: 'Canary', name: 'podinfo', namespace: 'default' },
        reason: 'Synced',
        message: 'ok',
        type: 'Normal',
        count: 1,
      },
    });
    await core.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { name: 'other.1' },
        involvedObject: { kind: 'Canary', name: 'other' },
        reason: 'Synced',
        type: 'Normal',
      },
    });
    const events = await core.listNamespacedEvent({
      namespace: 'default',
      fieldSelector: 'involvedObject.name=podinfo,involvedObject.kind=Canary',
    });
    expect(events.items.map((e) => e.metadata?.name)).toEqual(['podinfo.1']);

    const v1 = kc.makeApiClient(EventsV1Api);
    await v1.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { name: 'podinfo.2' },
        eventTime: new Date(),
        reportingController: 'petrel.dev/controller',
        reportingInstance: 'petrel-0',
        action: 'Promote',
        reason: 'Promoted',
        regarding: { kind: 'Canary', name: 'podinfo', namespace: 'default' },
        type: 'Normal',
      },
    });
    const list = await v1.listNamespacedEvent({
      namespace: 'default',
      fieldSelector: 'regarding.name=podinfo',
    });
    expect(list.items.map((e) => e.reason)).toEqual(['Promoted']);
  });
});

describe('startApiServer options', () => {
  it('rejects invalid options with a message naming the option', async () => {
    await expect(startApiServer({ watchHistorySize: 0 })).rejects.toThrow(
      'watchHistorySize must be a whole number',
    );
    await expect(startApiServer({ port: 70_000 })).rejects.toThrow(
      'port must be a whole number from 0 to 65535',
    );
    await expect(startApiServer({ token: 'has space' })).rejects.toThrow('token must be printable ASCII');
  });
});
