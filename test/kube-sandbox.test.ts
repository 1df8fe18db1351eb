import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxApiServer, startApiServer } from '../dev/sandbox/apiserver/index.ts';
import { type Canary, canarySchema } from '../src/api/canary.ts';
import { createKubeApi, type HttpKubeApi } from '../src/kube/client.ts';
import { ensurePrimary, scaleTarget } from '../src/kube/deployments.ts';
import type { KubeApiError } from '../src/kube/errors.ts';
import { EventRecorder } from '../src/kube/events.ts';
import { ResilientInformer } from '../src/kube/informer.ts';
import { RESOURCES, type ResourceKind } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import type { Deployment } from '../src/kube/workloads.ts';
import { type DestinationRule, IstioRouter, type VirtualService } from '../src/routers/istio.ts';
import type { Service } from '../src/routers/services.ts';

const NS = 'default';
const canaryCrd = fileURLToPath(new URL('../crds/petrel.dev_canaries.yaml', import.meta.url));

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let sandbox: SandboxApiServer;
let api: HttpKubeApi;
const informers: ResilientInformer<KubeObject>[] = [];
let deployments: ResilientInformer<Deployment>;
let services: ResilientInformer<Service>;
let virtualServices: ResilientInformer<VirtualService>;
let destinationRules: ResilientInformer<DestinationRule>;
let restarts = 0;

function informer<T extends KubeObject>(resource: ResourceKind): ResilientInformer<T> {
  const inf = new ResilientInformer<T>({
    kubeConfig: sandbox.kubeConfig(),
    api,
    resource,
    namespace: NS,
    backoff: { initialMs: 20, maxMs: 200 },
    minWatchIntervalMs: 50,
  });
  inf.on('restart', () => restarts++);
  informers.push(inf as unknown as ResilientInformer<KubeObject>);
  return inf;
}

beforeAll(async () => {
  sandbox = await startApiServer({ deploymentReadyDelayMs: 50, crdFiles: [canaryCrd] });
  api = createKubeApi({ kubeConfig: sandbox.kubeConfig(), timeoutMs: 5000 });
  deployments = informer(RESOURCES.deployment);
  services = informer(RESOURCES.service);
  virtualServices = informer(RESOURCES.virtualService);
  destinationRules = informer(RESOURCES.destinationRule);
  for (const inf of informers) await inf.start();
  await Promise.all(informers.map((inf) => inf.waitForSync(AbortSignal.timeout(10_000))));
});

afterAll(async () => {
  for (const inf of informers) await inf.stop();
  api?.close();
  await sandbox?.stop();
});

function targetDeployment(name: string): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'podinfo:6.0.0' }] },
      },
    },
  };
}

describe('Kubernetes edges against the sandbox API server', () => {
  let canary: Canary;

  it('creates and reads back a Canary, and patches its status through /status', async () => {
    await api.create(RESOURCES.deployment, targetDeployment('podinfo'));
    const created = await api.create(RESOURCES.canary, {
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'Canary',
      metadata: { name: 'podinfo', namespace: NS },
      spec: {
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
        service: { port: 9898, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } },
        analysis: { interval: '1m', threshold: 5, maxWeight: 50, stepWeight: 10 },
      },
    });
    canary = canarySchema.parse(created);
    expect(canary.metadata.uid).toBeTruthy();
    const patched = await api.patchStatus<Canary>(
      { resource: RESOURCES.canary, namespace: NS, name: 'podinfo' },
      { status: { phase: 'Initializing', canaryWeight: 0 } },
    );
    expect(patched.status?.phase).toBe('Initializing');
    // A merge patch on the main resource does not change status.
    const main = await api.mergePatch<Canary>(
      { resource: RESOURCES.canary, namespace: NS, name: 'podinfo' },
      { status: { phase: 'Failed' } },
    );
    expect(main.status?.phase).toBe('Initializing');
  });

  it('routes with zero writes and zero reads on a repeated reconcile once caches are synced', async () => {
    await until(() => deployments.get(NS, 'podinfo') !== undefined, 'target in cache');
    const router = new IstioRouter({ api, deployments, services, virtualServices, destinationRules });
    const deps = { api, deployments };
    expect((await ensurePrimary(deps, canary)).action).toBe('created');
    await router.reconcile(canary);
    await scaleTarget(deps, canary, 0);
    await until(
      () =>
        virtualServices.get(NS, 'podinfo') !== undefined &&
        services.list(NS).length === 3 &&
        destinationRules.list(NS).length === 2 &&
        deployments.get(NS, 'podinfo-primary') !== undefined &&
        deployments.get(NS, 'podinfo')?.spec?.replicas === 0,
      'owned objects in cache',
    );
    expect(destinationRules.get(NS, 'podinfo-canary')?.spec?.trafficPolicy).toEqual({
      tls: { mode: 'ISTIO_MUTUAL' },
    });
    sandbox.requestLog.reset();
    await ensurePrimary(deps, canary);
    await router.reconcile(canary);
    await scaleTarget(deps, canary, 0);
    expect(router.getRoutes(canary)).toEqual({ primary: 100, canary: 0 });
    expect(sandbox.requestLog.counts()).toEqual({});

    await router.setRoutes(canary, { primary: 90, canary: 10 });
    expect(sandbox.requestLog.counts()).toEqual({ 'patch virtualservices': 1 });
    await until(
      () => virtualServices.get(NS, 'podinfo')?.spec?.http?.[0]?.route?.[1]?.weight === 10,
      'weight in cache',
    );
    expect(router.getRoutes(canary)).toEqual({ primary: 90, canary: 10 });
  });

  it('keeps the caches current through injected watch failures and 410 Gone', async () => {
    const before = restarts;
    sandbox.faults.injectError({ verb: 'watch', resource: 'deployments', status: 500, times: 1 });
    sandbox.faults.dropWatches('deployments');
    await until(() => restarts > before, 'a restart');
    await api.create(RESOURCES.deployment, targetDeployment('after-fault'));
    await until(() => deployments.get(NS, 'after-fault') !== undefined, 'object created after the fault');

    sandbox.faults.forceGone();
    await api.create(RESOURCES.deployment, targetDeployment('after-gone'));
    await until(() => deployments.get(NS, 'after-gone') !== undefined, 'object created after 410');
    sandbox.faults.reset();
  });

  it('maps API errors from a real server', async () => {
    const missing = (await api
      .get({ resource: RESOURCES.deployment, namespace: NS, name: 'nope' })
      .catch((e: unknown) => e)) as KubeApiError;
    expect(missing.code).toBe('NOT_FOUND');
    const dup = (await api
      .create(RESOURCES.deployment, targetDeployment('podinfo'))
      .catch((e: unknown) => e)) as KubeApiError;
    expect(dup.code).toBe('ALREADY_EXISTS');
    const current = await api.get<Deployment>({
      resource: RESOURCES.deployment,
      namespace: NS,
      name: 'podinfo',
    });
    const stale = (await api
      .jsonPatch({ resource: RESOURCES.deployment, namespace: NS, name: 'podinfo' }, [
        { op: 'test', path: '/metadata/resourceVersion', value: 'stale' },
        { op: 'replace', path: '/spec/replicas', value: 2 },
      ])
      .catch((e: unknown) => e)) as KubeApiError;
    expect(['CONFLICT', 'INVALID']).toContain(stale.code);
    const ok = await api.jsonPatch<Deployment>(
      { resource: RESOURCES.deployment, namespace: NS, name: 'podinfo' },
      [
        { op: 'test', path: '/metadata/resourceVersion', value: current.metadata?.resourceVersion },
        { op: 'replace', path: '/spec/replicas', value: 0 },
      ],
    );
    expect(ok.spec?.replicas).toBe(0);
  });

  it('records and aggregates events', async () => {
    const recorder = new EventRecorder({ api, logger: pino({ level: 'silent' }) });
    await recorder.record(canary, 'Warning', 'Halted', 'canary not ready');
    await recorder.record(canary, 'Warning', 'Halted', 'canary not ready');
    expect(recorder.stats).toMatchObject({ created: 1, aggregated: 1, failed: 0 });
    const list = await api.list<KubeObject & { count?: number; reason?: string }>(RESOURCES.event, {
      namespace: NS,
    });
    expect(list.items.find((e) => e.reason === 'Halted')?.count).toBe(2);
  });
});
