import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type Informer,
  type KubeConfig,
  makeInformer,
  type ObjectCache,
  PatchStrategy,
  setHeaderOptions,
  type V1ConfigMap,
  type V1Deployment,
  Watch,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NEVER_READY_ANNOTATION,
  type SandboxApiServer,
  startApiServer,
} from '../dev/sandbox/apiserver/index.ts';
import { waitFor as waitForCondition } from './support/wait.ts';

/** The shared waitFor with this file's bound: the sandbox answers within milliseconds. */
function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 5000,
) {
  return waitForCondition(what, probe, { timeoutMs, intervalMs: 10 });
}

async function codeOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (error) {
    if (error instanceof ApiException) return error.code;
    throw error;
  }
}

interface RawEvent {
  type: string;
  object: { metadata?: { name?: string; resourceVersion?: string }; code?: number; reason?: string };
}

/** Collects raw watch events until the server closes the stream or `count` events arrived. */
async function collectWatch(
  kc: KubeConfig,
  path: string,
  query: Record<string, string>,
  count: number,
  timeoutMs = 3000,
) {
  const events: RawEvent[] = [];
  let closed = false;
  const watch = new Watch(kc);
  const request = await watch.watch(
    path,
    query,
    (type, object) => events.push({ type, object }),
    () => {
      closed = true;
    },
  );
  await waitFor('watch events', () => closed || events.length >= count, timeoutMs).catch(() => undefined);
  request.abort();
  return { events, closed };
}

let server: SandboxApiServer;
let kc: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;

beforeAll(async () => {
  server = await startApiServer({ deploymentReadyDelayMs: 30, bookmarkIntervalMs: 40 });
  kc = server.kubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
  for (const name of ['inf', 'gc', 'fin', 'dep', 'faults'])
    await core.createNamespace({ body: { metadata: { name } } });
});

afterAll(async () => {
  await server?.stop();
});

describe('watch semantics', () => {
  it('sends bookmarks carrying the current resourceVersion when allowed', async () => {
    const { events } = await collectWatch(
      kc,
      '/api/v1/namespaces/inf/configmaps',
      { allowWatchBookmarks: 'true' },
      1,
    );
    expect(events[0]?.type).toBe('BOOKMARK');
    expect(Number(events[0]?.object.metadata?.resourceVersion)).toBeGreaterThan(0);
  });

  it('answers a resume from a version older than the retained window with a 410 ERROR event', async () => {
    const small = await startApiServer({ watchHistorySize: 3 });
    try {
      const kc2 = small.kubeConfig();
      const core2 = kc2.makeApiClient(CoreV1Api);
      const start =
        (await core2.listNamespacedConfigMap({ namespace: 'default' })).metadata?.resourceVersion ?? '';
      for (let i = 0; i < 5; i++)
        await core2.createNamespacedConfigMap({
          namespace: 'default',
          body: { metadata: { name: `c${i}` } },
        });
      const { events, closed } = await collectWatch(
        kc2,
        '/api/v1/namespaces/default/configmaps',
        { resourceVersion: start },
        1,
      );
      expect(closed).toBe(true);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'ERROR', object: { code: 410, reason: 'Expired' } });
      const recent =
        (await core2.listNamespacedConfigMap({ namespace: 'default' })).metadata?.resourceVersion ?? '';
      await core2.deleteNamespacedConfigMap({ namespace: 'default', name: 'c0' });
      const resumed = await collectWatch(
        kc2,
        '/api/v1/namespaces/default/configmaps',
        { resourceVersion: recent },
        1,
      );
      expect(resumed.events.map((e) => `${e.type} ${e.object.metadata?.name}`)).toEqual(['DELETED c0']);
    } finally {
      await small.stop();
    }
  });

  it("keeps client-node's informer in sync: resume after dropped watches, relist after a forced 410", async () => {
    let lists = 0;
    // makeInformer returns a ListWatch, which is also the cache.
    const informer = makeInformer<V1ConfigMap>(kc, '/api/v1/namespaces/inf/configmaps', () => {
      lists += 1;
      return core.listNamespacedConfigMap({ namespace: 'inf' });
    }) as Informer<V1ConfigMap> & ObjectCache<V1ConfigMap>;
    const added: string[] = [];
    const errors: unknown[] = [];
    informer.on('add', (o) => added.push(o.metadata?.name ?? ''));
    informer.on('error', (e) => errors.push(e));
    await core.createNamespacedConfigMap({ namespace: 'inf', body: { metadata: { name: 'before' } } });
    await informer.start();
    try {
      await waitFor('initial list', () => added.includes('before'));
      expect(lists).toBe(1);

      expect(server.faults.dropWatches('configmaps')).toBeGreaterThanOrEqual(1);
      await core.createNamespacedConfigMap({ namespace: 'inf', body: { metadata: { name: 'after-drop' } } });
      await waitFor('event after a dropped watch', () => added.includes('after-drop'));
      expect(lists).toBe(1);

      server.faults.forceGone();
      await waitFor('relist after 410', () => lists >= 2);
      await core.createNamespacedConfigMap({ namespace: 'inf', body: { metadata: { name: 'after-gone' } } });
      await waitFor('event after relist', () => added.includes('after-gone'));
      expect(
        informer
          .list('inf')
          .map((o) => o.metadata?.name)
          .sort(),
      ).toEqual(['after-drop', 'after-gone', 'before']);
      expect(errors).toEqual([]);
    } finally {
      await informer.stop();
    }
  });

  it('turns label changes into ADDED/DELETED for a selector watch', async () => {
    const rv = (await core.listNamespacedConfigMap({ namespace: 'inf' })).metadata?.resourceVersion ?? '';
    await core.createNamespacedConfigMap({
      namespace: 'inf',
      body: { metadata: { name: 'sel', labels: { pick: 'no' } } },
    });
    const patch = (pick: string) =>
      core.patchNamespacedConfigMap(
        { namespace: 'inf', name: 'sel', body: { metadata: { labels: { pick } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    await patch('yes');
    await patch('no');
    const { events } = await collectWatch(
      kc,
      '/api/v1/namespaces/inf/configmaps',
      { resourceVersion: rv, labelSelector: 'pick=yes' },
      2,
    );
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'DELETED']);
  });
  it('ends open watches on a custom resource when its CRD is deleted, and stops serving it', async () => {
    const crds = kc.makeApiClient(CustomObjectsApi);
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'things.example.dev' },
      spec: {
        group: 'example.dev',
        scope: 'Namespaced',
        names: { plural: 'things', kind: 'Thing' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        ],
      },
    };
    const ref = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' };
    await crds.createClusterCustomObject({ ...ref, body: crd });
    const watching = collectWatch(kc, '/apis/example.dev/v1/namespaces/inf/things', {}, 99, 3000);
    await waitFor('the watch to be open', () =>
      server.requestLog.entries.some((e) => e.verb === 'watch' && e.path.endsWith('/inf/things')),
    );
    await crds.deleteClusterCustomObject({ ...ref, name: 'things.example.dev' });
    expect((await watching).closed).toBe(true);
    const gone = await codeOf(
      crds.listNamespacedCustomObject({
        group: 'example.dev',
        version: 'v1',
        namespace: 'inf',
        plural: 'things',
      }),
    );
    expect(gone).toBe(404);
  });
});

describe('deletion semantics', () => {
  it('refuses a patch or delete that carries a stale resourceVersion or uid precondition', async () => {
    const cm = await core.createNamespacedConfigMap({
      namespace: 'fin',
      body: { metadata: { name: 'guarded' } },
    });
    await core.patchNamespacedConfigMap(
      { namespace: 'fin', name: 'guarded', body: { data: { a: '1' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const stalePatch = core.patchNamespacedConfigMap(
      {
        namespace: 'fin',
        name: 'guarded',
        body: { metadata: { resourceVersion: cm.metadata?.resourceVersion }, data: { a: '2' } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(await codeOf(stalePatch)).toBe(409);
    const staleDelete = core.deleteNamespacedConfigMap({
      namespace: 'fin',
      name: 'guarded',
      body: { preconditions: { resourceVersion: cm.metadata?.resourceVersion } },
    });
    expect(await codeOf(staleDelete)).toBe(409);
    const dryRun = await core.deleteNamespacedConfigMap({ namespace: 'fin', name: 'guarded', dryRun: 'All' });
    expect(dryRun).toBeTruthy();
    expect((await core.readNamespacedConfigMap({ namespace: 'fin', name: 'guarded' })).data).toEqual({
      a: '1',
    });
  });

  it('holds an object with finalizers until the last one is removed', async () => {
    await core.createNamespacedConfigMap({
      namespace: 'fin',
      body: { metadata: { name: 'held', finalizers: ['example.dev/hold'] } },
    });
    await core.deleteNamespacedConfigMap({ namespace: 'fin', name: 'held' });
    const marked = await core.readNamespacedConfigMap({ namespace: 'fin', name: 'held' });
    expect(marked.metadata?.deletionTimestamp).toBeInstanceOf(Date);
    const addFinalizer = await codeOf(
      core.patchNamespacedConfigMap(
        {
          namespace: 'fin',
          name: 'held',
          body: [{ op: 'add', path: '/metadata/finalizers/-', value: 'example.dev/more' }],
        },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      ),
    );
    expect(addFinalizer).toBe(422);
    await core.patchNamespacedConfigMap(
      { namespace: 'fin', name: 'held', body: { metadata: { finalizers: null } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(await codeOf(core.readNamespacedConfigMap({ namespace: 'fin', name: 'held' }))).toBe(404);
  });

  it('garbage-collects dependents of a deleted owner, and orphans them on request', async () => {
    const owner = await apps.createNamespacedDeployment({
      namespace: 'gc',
      body: {
        metadata: { name: 'owner' },
        spec: {
          selector: { matchLabels: { a: 'b' } },
          template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
        },
      },
    });
    const ref = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'owner',
      uid: owner.metadata!.uid!,
      controller: true,
    };
    await core.createNamespacedConfigMap({
      namespace: 'gc',
      body: { metadata: { name: 'child', ownerReferences: [ref] } },
    });
    await core.createNamespacedService({
      namespace: 'gc',
      body: { metadata: { name: 'child-svc', ownerReferences: [ref] }, spec: { ports: [{ port: 80 }] } },
    });
    await apps.deleteNamespacedDeployment({ namespace: 'gc', name: 'owner' });
    await waitFor(
      'dependents collected',
      async () => (await core.listNamespacedConfigMap({ namespace: 'gc' })).items.length === 0,
    );
    await waitFor(
      'service collected',
      async () => (await core.listNamespacedService({ namespace: 'gc' })).items.length === 0,
    );

    const owner2 = await core.createNamespacedSecret({
      namespace: 'gc',
      body: { metadata: { name: 'owner2' } },
    });
    await core.createNamespacedConfigMap({
      namespace: 'gc',
      body: {
        metadata: {
          name: 'orphan',
          ownerReferences: [{ apiVersion: 'v1', kind: 'Secret', name: 'owner2', uid: owner2.metadata!.uid! }],
        },
      },
    });
    await core.deleteNamespacedSecret({ namespace: 'gc', name: 'owner2', propagationPolicy: 'Orphan' });
    // Kept, not collected: the dependent stays readable and loses its ownerReference.
    const orphan = await waitFor('the dependent to be orphaned', async () => {
      const read = await core.readNamespacedConfigMap({ namespace: 'gc', name: 'orphan' });
      return read.metadata?.ownerReferences === undefined ? read : undefined;
    });
    expect(orphan.metadata?.name).toBe('orphan');
  });
});

describe('the Deployment controller', () => {
  const deployment = (name: string, annotations: Record<string, string> = {}): V1Deployment => ({
    metadata: { name },
    spec: {
      replicas: 2,
      progressDeadlineSeconds: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations },
        spec: { containers: [{ name: 'app', image: 'app:1' }] },
      },
    },
  });

  it('reports the new generation at once and ready replicas after the delay', async () => {
    await apps.createNamespacedDeployment({ namespace: 'dep', body: deployment('ready') });
    const ready = await waitFor('ready', async () => {
      const d = await apps.readNamespacedDeploymentStatus({ namespace: 'dep', name: 'ready' });
      return d.status?.readyReplicas === 2 ? d : undefined;
    });
    expect(ready.status).toMatchObject({
      observedGeneration: 1,
      replicas: 2,
      updatedReplicas: 2,
      availableReplicas: 2,
    });
    expect(ready.status?.conditions?.find((c) => c.type === 'Available')?.status).toBe('True');
    expect(ready.status?.conditions?.find((c) => c.type === 'Progressing')?.reason).toBe(
      'NewReplicaSetAvailable',
    );

    await apps.patchNamespacedDeployment(
      { namespace: 'dep', name: 'ready', body: { spec: { replicas: 0 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const scaled = await waitFor('scaled to zero', async () => {
      const d = await apps.readNamespacedDeployment({ namespace: 'dep', name: 'ready' });
      return d.status?.observedGeneration === 2 ? d : undefined;
    });
    expect(scaled.status?.replicas ?? 0).toBe(0);
    expect(scaled.status?.availableReplicas ?? 0).toBe(0);
  });

  it('keeps a version annotated never-ready unready until its progress deadline is exceeded', async () => {
    await apps.createNamespacedDeployment({
      namespace: 'dep',
      body: deployment('stuck', { [NEVER_READY_ANNOTATION]: 'true' }),
    });
    const stuck = await waitFor(
      'progress deadline',
      async () => {
        const d = await apps.readNamespacedDeployment({ namespace: 'dep', name: 'stuck' });
        const progressing = d.status?.conditions?.find((c) => c.type === 'Progressing');
        return progressing?.reason === 'ProgressDeadlineExceeded' ? d : undefined;
      },
      4000,
    );
    expect(stuck.status?.readyReplicas ?? 0).toBe(0);
    expect(stuck.status?.conditions?.find((c) => c.type === 'Available')?.status).toBe('False');
  });

  it('keeps the old pods serving while a never-ready template surges, like a rolling update', async () => {
    const body = deployment('rolling');
    body.spec!.replicas = 4;
    await apps.createNamespacedDeployment({ namespace: 'dep', body });
    await waitFor('first rollout', async () => {
      const d = await apps.readNamespacedDeployment({ namespace: 'dep', name: 'rolling' });
      return d.status?.readyReplicas === 4 ? d : undefined;
    });
    await apps.patchNamespacedDeployment(
      {
        namespace: 'dep',
        name: 'rolling',
        body: { spec: { template: { metadata: { annotations: { [NEVER_READY_ANNOTATION]: 'true' } } } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    const rolling = await waitFor('surge', async () => {
      const d = await apps.readNamespacedDeployment({ namespace: 'dep', name: 'rolling' });
      return d.status?.observedGeneration === 2 ? d : undefined;
    });
    expect(rolling.status).toMatchObject({
      replicas: 5,
      updatedReplicas: 1,
      readyReplicas: 4,
      availableReplicas: 4,
    });
    expect(rolling.status?.conditions?.find((c) => c.type === 'Available')?.status).toBe('True');
    const stalled = await waitFor(
      'deadline',
      async () => {
        const d = await apps.readNamespacedDeployment({ namespace: 'dep', name: 'rolling' });
        return d.status?.conditions?.find((c) => c.type === 'Progressing')?.status === 'False'
          ? d
          : undefined;
      },
      4000,
    );
    expect(stalled.status?.updatedReplicas).toBe(1);
  });

  it('serves the scale subresource', async () => {
    await apps.createNamespacedDeployment({ namespace: 'dep', body: deployment('scaled') });
    await apps.patchNamespacedDeploymentScale(
      { namespace: 'dep', name: 'scaled', body: { spec: { replicas: 5 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const scale = await apps.readNamespacedDeploymentScale({ namespace: 'dep', name: 'scaled' });
    expect(scale.spec?.replicas).toBe(5);
    expect(scale.status?.selector).toBe('app=scaled');
  });
});

describe('fault injection and the request log', () => {
  it('fails requests with 500, 429 + Retry-After and 409, a given number of times', async () => {
    await core.createNamespacedConfigMap({ namespace: 'faults', body: { metadata: { name: 'f' } } });
    const id = server.faults.injectError({ verb: 'get', resource: 'configmaps', status: 500, times: 1 });
    expect(await codeOf(core.readNamespacedConfigMap({ namespace: 'faults', name: 'f' }))).toBe(500);
    expect(await codeOf(core.readNamespacedConfigMap({ namespace: 'faults', name: 'f' }))).toBe(200);
    server.faults.remove(id);

    server.faults.injectError({
      verb: 'list',
      resource: 'configmaps',
      status: 429,
      retryAfterSeconds: 7,
      times: 1,
    });
    const limited = await fetch(`${server.url}/api/v1/namespaces/faults/configmaps`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(await limited.json()).toMatchObject({
      kind: 'Status',
      reason: 'TooManyRequests',
      details: { retryAfterSeconds: 7 },
    });

    server.faults.injectError({ verb: 'patch', resource: 'configmaps', status: 409, times: 1 });
    const patch = () =>
      core.patchNamespacedConfigMap(
        { namespace: 'faults', name: 'f', body: { data: { a: 'b' } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    expect(await codeOf(patch())).toBe(409);
    expect(await codeOf(patch())).toBe(200);
  });

  it('adds latency and closes watches after N events', async () => {
    const latency = server.faults.addLatency({ verb: 'get', resource: 'configmaps', ms: 150 });
    const started = Date.now();
    await core.readNamespacedConfigMap({ namespace: 'faults', name: 'f' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    server.faults.remove(latency);

    for (const name of ['w1', 'w2', 'w3'])
      await core.createNamespacedConfigMap({ namespace: 'faults', body: { metadata: { name } } });
    const limit = server.faults.limitWatches({ resource: 'configmaps', closeAfterEvents: 2 });
    const { events, closed } = await collectWatch(kc, '/api/v1/namespaces/faults/configmaps', {}, 10, 2000);
    expect(closed).toBe(true);
    expect(events).toHaveLength(2);
    server.faults.remove(limit);

    const timed = server.faults.limitWatches({ resource: 'configmaps', closeAfterSeconds: 0.2 });
    const rv = (await core.listNamespacedConfigMap({ namespace: 'faults' })).metadata?.resourceVersion ?? '';
    const opened = Date.now();
    const quiet = await collectWatch(
      kc,
      '/api/v1/namespaces/faults/configmaps',
      { resourceVersion: rv },
      99,
      3000,
    );
    expect(quiet.closed).toBe(true);
    expect(quiet.events).toEqual([]);
    expect(Date.now() - opened).toBeGreaterThanOrEqual(180);
    server.faults.remove(timed);
  });

  it('switches faults through the admin endpoint, with clear errors for bad input', async () => {
    const created = await fetch(`${server.url}/_sandbox/faults/errors`, {
      method: 'POST',
      body: JSON.stringify({ verb: 'create', resource: 'secrets', status: 500 }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect(
      await codeOf(core.createNamespacedSecret({ namespace: 'faults', body: { metadata: { name: 's' } } })),
    ).toBe(500);
    const listed = (await (await fetch(`${server.url}/_sandbox/faults`)).json()) as {
      errors: { id: string }[];
    };
    expect(listed.errors.map((e) => e.id)).toContain(id);
    expect((await fetch(`${server.url}/_sandbox/faults/${id}`, { method: 'DELETE' })).status).toBe(200);
    expect(
      await codeOf(core.createNamespacedSecret({ namespace: 'faults', body: { metadata: { name: 's' } } })),
    ).toBe(200);

    const bad = await fetch(`${server.url}/_sandbox/faults/errors`, {
      method: 'POST',
      body: JSON.stringify({ status: 418 }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toContain('status');
  });

  it('counts requests per verb and resource, without the admin endpoint', async () => {
    server.requestLog.reset();
    await core.listNamespacedConfigMap({ namespace: 'faults' });
    await core.readNamespacedConfigMap({ namespace: 'faults', name: 'f' });
    await core.readNamespacedConfigMap({ namespace: 'faults', name: 'f' });
    await apps.readNamespacedDeploymentStatus({ namespace: 'dep', name: 'ready' });
    await fetch(`${server.url}/_sandbox/requests`);
    expect(server.requestLog.counts()).toEqual({
      'get configmaps': 2,
      'get deployments/status': 1,
      'list configmaps': 1,
    });
    expect(server.requestLog.count({ verb: 'get' })).toBe(3);
    const entry = server.requestLog.entries.find((e) => e.resource === 'deployments/status');
    expect(entry).toMatchObject({ verb: 'get', namespace: 'dep', name: 'ready', code: 200 });
    expect(entry?.userAgent).toBeTruthy();
    const viaHttp = (await (await fetch(`${server.url}/_sandbox/requests`)).json()) as {
      counts: Record<string, number>;
    };
    expect(viaHttp.counts['list configmaps']).toBe(1);
  });
});

describe('auth and snapshots', () => {
  it('requires the bearer token when one is set', async () => {
    const guarded = await startApiServer({ token: 's3cret' });
    try {
      expect((await fetch(`${guarded.url}/api/v1/namespaces`)).status).toBe(401);
      const wrong = await fetch(`${guarded.url}/api/v1/namespaces`, {
        headers: { Authorization: 'Bearer nope' },
      });
      expect(wrong.status).toBe(401);
      const list = await guarded.kubeConfig().makeApiClient(CoreV1Api).listNamespace();
      expect(list.items.map((n) => n.metadata?.name)).toContain('default');
      expect(await readFile(guarded.kubeconfigPath, 'utf8')).toContain('token: s3cret');
    } finally {
      await guarded.stop();
    }
  });

  it('writes state to a snapshot on stop and serves it again on the next start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'petrel-snapshot-'));
    const snapshotFile = join(dir, 'state.json');
    try {
      const first = await startApiServer({ snapshotFile });
      const c1 = first.kubeConfig().makeApiClient(CustomObjectsApi);
      await c1.createNamespacedCustomObject({
        group: 'networking.istio.io',
        version: 'v1',
        namespace: 'default',
        plural: 'destinationrules',
        body: {
          apiVersion: 'networking.istio.io/v1',
          kind: 'DestinationRule',
          metadata: { name: 'dr' },
          spec: { host: 'x' },
        },
      });
      await first.stop();
      const second = await startApiServer({ snapshotFile });
      try {
        const c2 = second.kubeConfig().makeApiClient(CustomObjectsApi);
        const dr = (await c2.getNamespacedCustomObject({
          group: 'networking.istio.io',
          version: 'v1',
          namespace: 'default',
          plural: 'destinationrules',
          name: 'dr',
        })) as { spec: { host: string }; metadata: { resourceVersion: string } };
        expect(dr.spec.host).toBe('x');
        const core2 = second.kubeConfig().makeApiClient(CoreV1Api);
        const cm = await core2.createNamespacedConfigMap({
          namespace: 'default',
          body: { metadata: { name: 'later' } },
        });
        expect(Number(cm.metadata?.resourceVersion)).toBeGreaterThan(Number(dr.metadata.resourceVersion));
      } finally {
        await second.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
