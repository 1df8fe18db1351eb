import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxApiServer, startApiServer } from '../dev/sandbox/apiserver/index.ts';

const WIDGET_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.example.dev' },
  spec: {
    group: 'example.dev',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', shortNames: ['wd'] },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                required: ['size'],
                properties: {
                  size: { type: 'integer', minimum: 1, maximum: 10 },
                  color: { type: 'string', enum: ['red', 'blue'], default: 'red' },
                  tags: { type: 'array', items: { type: 'string' } },
                },
              },
              status: { type: 'object', properties: { phase: { type: 'string' } } },
            },
          },
        },
      },
    ],
  },
};

const GADGET_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'gadgets.example.dev' },
  spec: {
    group: 'example.dev',
    scope: 'Cluster',
    names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget' },
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

function statusOf(error: unknown): { code: number; body: Record<string, unknown> } {
  expect(error).toBeInstanceOf(ApiException);
  const e = error as ApiException<unknown>;
  const body = typeof e.body === 'string' ? JSON.parse(e.body) : (e.body as Record<string, unknown>);
  return { code: e.code, body };
}

async function failure(promise: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    return statusOf(error);
  }
  throw new Error('expected the call to fail');
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

let server: SandboxApiServer;
let kc: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;
let custom: CustomObjectsApi;

beforeAll(async () => {
  server = await startApiServer({ deploymentReadyDelayMs: 20, bookmarkIntervalMs: 50 });
  kc = server.kubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  // CRDs go through CustomObjectsApi: the typed serializer of client-node 1.3 drops `enum`, `default`
  // and `x-kubernetes-*` keys of a JSON schema.
  for (const body of [WIDGET_CRD, GADGET_CRD])
    await custom.createClusterCustomObject({
      group: 'apiextensions.k8s.io',
      version: 'v1',
      plural: 'customresourcedefinitions',
      body,
    });
  await core.createNamespace({ body: { metadata: { name: 'test' } } });
});

afterAll(async () => {
  await server?.stop();
});

describe('sandbox API server: core CRUD with client-node', () => {
  it('creates, reads, lists, updates and deletes a ConfigMap with server-set metadata', async () => {
    const created = await core.createNamespacedConfigMap({
      namespace: 'test',
      body: { metadata: { name: 'cfg', labels: { app: 'a' } }, data: { k: 'v' } },
    });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(Number(created.metadata?.resourceVersion)).toBeGreaterThan(0);
    const read = await core.readNamespacedConfigMap({ namespace: 'test', name: 'cfg' });
    expect(read.data).toEqual({ k: 'v' });
    read.data = { k: 'w' };
    const updated = await core.replaceNamespacedConfigMap({ namespace: 'test', name: 'cfg', body: read });
    expect(Number(updated.metadata?.resourceVersion)).toBeGreaterThan(
      Number(created.metadata?.resourceVersion),
    );
    const list = await core.listNamespacedConfigMap({ namespace: 'test', labelSelector: 'app=a' });
    expect(list.items.map((i) => i.metadata?.name)).toEqual(['cfg']);
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThanOrEqual(
      Number(updated.metadata?.resourceVersion),
    );
    await core.deleteNamespacedConfigMap({ namespace: 'test', name: 'cfg' });
    const gone = await failure(core.readNamespacedConfigMap({ namespace: 'test', name: 'cfg' }));
    expect(gone.code).toBe(404);
    expect(gone.body).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'NotFound',
      message: 'configmaps "cfg" not found',
      code: 404,
    });
  });

  it('answers 409 AlreadyExists and 409 Conflict on a stale resourceVersion', async () => {
    await core.createNamespacedConfigMap({ namespace: 'test', body: { metadata: { name: 'dup' } } });
    const exists = await failure(
      core.createNamespacedConfigMap({ namespace: 'test', body: { metadata: { name: 'dup' } } }),
    );
    expect(exists.code).toBe(409);
    expect(exists.body.reason).toBe('AlreadyExists');
    const first = await core.readNamespacedConfigMap({ namespace: 'test', name: 'dup' });
    await core.replaceNamespacedConfigMap({
      namespace: 'test',
      name: 'dup',
      body: { ...first, data: { a: '1' } },
    });
    const stale = await failure(
      core.replaceNamespacedConfigMap({
        namespace: 'test',
        name: 'dup',
        body: { ...first, data: { a: '2' } },
      }),
    );
    expect(stale.code).toBe(409);
    expect(stale.body.reason).toBe('Conflict');
    expect(String(stale.body.message)).toContain('the object has been modified');
  });

  it('rejects objects in a namespace that does not exist', async () => {
    const missing = await failure(
      core.createNamespacedConfigMap({ namespace: 'nowhere', body: { metadata: { name: 'x' } } }),
    );
    expect(missing.code).toBe(404);
    expect(missing.body.message).toBe('namespaces "nowhere" not found');
  });

  it('filters lists by label selector expressions and by metadata.name field selector', async () => {
    for (const [name, tier] of [
      ['s1', 'web'],
      ['s2', 'db'],
      ['s3', 'web'],
    ] as const)
      await core.createNamespacedSecret({
        namespace: 'test',
        body: { metadata: { name, labels: { tier } }, stringData: { x: 'y' } },
      });
    const web = await core.listNamespacedSecret({ namespace: 'test', labelSelector: 'tier in (web)' });
    expect(web.items.map((i) => i.metadata?.name)).toEqual(['s1', 's3']);
    const notWeb = await core.listNamespacedSecret({ namespace: 'test', labelSelector: 'tier!=web' });
    expect(notWeb.items.map((i) => i.metadata?.name)).toEqual(['s2']);
    const byName = await core.listNamespacedSecret({ namespace: 'test', fieldSelector: 'metadata.name=s3' });
    expect(byName.items.map((i) => i.metadata?.name)).toEqual(['s3']);
    const bad = await failure(
      core.listNamespacedSecret({ namespace: 'test', fieldSelector: 'spec.foo=bar' }),
    );
    expect(bad.code).toBe(400);
  });
});

describe('sandbox API server: custom resources', () => {
  it('serves a registered CRD in discovery and validates objects against its schema', async () => {
    const resources = await custom.getAPIResources({ group: 'example.dev', version: 'v1' });
    const widget = resources.resources.find((r) => r.name === 'widgets');
    expect(widget).toMatchObject({ kind: 'Widget', namespaced: true, shortNames: ['wd'] });
    expect(resources.resources.some((r) => r.name === 'widgets/status')).toBe(true);
    const bad = await failure(
      custom.createNamespacedCustomObject({
        group: 'example.dev',
        version: 'v1',
        namespace: 'test',
        plural: 'widgets',
        body: {
          apiVersion: 'example.dev/v1',
          kind: 'Widget',
          metadata: { name: 'bad' },
          spec: { size: 'big', color: 'green' },
        },
      }),
    );
    expect(bad.code).toBe(422);
    expect(bad.body.reason).toBe('Invalid');
    const causes = (bad.body.details as { causes: { field: string; reason: string }[] }).causes;
    expect(causes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'spec.size', reason: 'FieldValueInvalid' }),
        expect.objectContaining({ field: 'spec.color', reason: 'FieldValueNotSupported' }),
      ]),
    );
    const missing = await failure(
      custom.createNamespacedCustomObject({
        group: 'example.dev',
        version: 'v1',
        namespace: 'test',
        plural: 'widgets',
        body: { apiVersion: 'example.dev/v1', kind: 'Widget', metadata: { name: 'bad' }, spec: { size: 11 } },
      }),
    );
    expect(missing.body.message).toContain(
      'spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10',
    );
  });

  it('defaults and prunes fields, bumps generation on spec changes only, and keeps status on its own endpoint', async () => {
    const ref = { group: 'example.dev', version: 'v1', namespace: 'test', plural: 'widgets', name: 'w1' };
    const created = (await custom.createNamespacedCustomObject({
      ...ref,
      body: {
        apiVersion: 'example.dev/v1',
        kind: 'Widget',
        metadata: { name: 'w1' },
        spec: { size: 2, junk: true },
        status: { phase: 'ignored' },
      },
    })) as {
      metadata: { generation: number; resourceVersion: string };
      spec: Record<string, unknown>;
      status?: unknown;
    };
    expect(created.spec).toEqual({ size: 2, color: 'red' });
    expect(created.status).toBeUndefined();
    expect(created.metadata.generation).toBe(1);

    const labelled = (await custom.patchNamespacedCustomObject(
      { ...ref, body: { metadata: { labels: { x: 'y' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as { metadata: { generation: number } };
    expect(labelled.metadata.generation).toBe(1);

    const withStatus = (await custom.patchNamespacedCustomObjectStatus(
      { ...ref, body: { status: { phase: 'Ready' }, spec: { size: 9 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as { metadata: { generation: number }; spec: { size: number }; status: { phase: string } };
    expect(withStatus.status.phase).toBe('Ready');
    expect(withStatus.spec.size).toBe(2);
    expect(withStatus.metadata.generation).toBe(1);

    const resized = (await custom.patchNamespacedCustomObject(
      { ...ref, body: { spec: { size: 3 }, status: { phase: 'ignored-here' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as { metadata: { generation: number }; status: { phase: string } };
    expect(resized.metadata.generation).toBe(2);
    expect(resized.status.phase).toBe('Ready');
  });

  it('applies JSON patches, refuses strategic merge on custom resources with 415, and 422 on a failed test op', async () => {
    const ref = { group: 'example.dev', version: 'v1', namespace: 'test', plural: 'widgets', name: 'w2' };
    await custom.createNamespacedCustomObject({
      ...ref,
      body: {
        apiVersion: 'example.dev/v1',
        kind: 'Widget',
        metadata: { name: 'w2' },
        spec: { size: 1, tags: ['a'] },
      },
    });
    const patched = (await custom.patchNamespacedCustomObject(
      {
        ...ref,
        body: [
          { op: 'add', path: '/spec/tags/-', value: 'b' },
          { op: 'replace', path: '/spec/size', value: 4 },
        ],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    )) as { spec: { size: number; tags: string[] } };
    expect(patched.spec).toMatchObject({ size: 4, tags: ['a', 'b'] });
    const smp = await failure(
      custom.patchNamespacedCustomObject(
        { ...ref, body: { spec: { size: 5 } } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      ),
    );
    expect(smp.code).toBe(415);
    const test = await failure(
      custom.patchNamespacedCustomObject(
        { ...ref, body: [{ op: 'test', path: '/spec/size', value: 99 }] },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      ),
    );
    expect(test.code).toBe(422);
  });

  it('serves cluster-scoped custom resources', async () => {
    await custom.createClusterCustomObject({
      group: 'example.dev',
      version: 'v1',
      plural: 'gadgets',
      body: { apiVersion: 'example.dev/v1', kind: 'Gadget', metadata: { name: 'g1' }, anything: { goes: 1 } },
    });
    const got = (await custom.getClusterCustomObject({
      group: 'example.dev',
      version: 'v1',
      plural: 'gadgets',
      name: 'g1',
    })) as { anything: unknown; metadata: { namespace?: string } };
    expect(got.anything).toEqual({ goes: 1 });
    expect(got.metadata.namespace).toBeUndefined();
  });

  it('starts with the Istio VirtualService and DestinationRule CRDs in v1 and v1beta1', async () => {
    for (const version of ['v1', 'v1beta1']) {
      const list = await custom.getAPIResources({ group: 'networking.istio.io', version });
      expect(list.resources.map((r) => r.name)).toEqual(
        expect.arrayContaining(['virtualservices', 'destinationrules']),
      );
    }
    const vs = {
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'VirtualService',
      metadata: { name: 'podinfo' },
      spec: {
        hosts: ['podinfo'],
        http: [
          {
            route: [
              { destination: { host: 'podinfo-primary' }, weight: 90 },
              { destination: { host: 'podinfo-canary' }, weight: 10 },
            ],
          },
        ],
      },
    };
    await custom.createNamespacedCustomObject({
      group: 'networking.istio.io',
      version: 'v1beta1',
      namespace: 'test',
      plural: 'virtualservices',
      body: vs,
    });
    const asV1 = (await custom.getNamespacedCustomObject({
      group: 'networking.istio.io',
      version: 'v1',
      namespace: 'test',
      plural: 'virtualservices',
      name: 'podinfo',
    })) as typeof vs;
    expect(asV1.apiVersion).toBe('networking.istio.io/v1');
    expect(asV1.spec.http[0]!.route[1]!.weight).toBe(10);
    const bad = await failure(
      custom.createNamespacedCustomObject({
        group: 'networking.istio.io',
        version: 'v1',
        namespace: 'test',
        plural: 'virtualservices',
        body: {
          ...vs,
          apiVersion: 'networking.istio.io/v1',
          metadata: { name: 'bad' },
          spec: { http: [{ route: [{ destination: {}, weight: 'ten' }] }] },
        },
      }),
    );
    expect(bad.code).toBe(422);
    expect(String(bad.body.message)).toContain('spec.http[0].route[0].destination.host: Required value');
  });
});

describe('sandbox API server: watches', () => {
  it('streams ADDED/MODIFIED/DELETED and replays from a resourceVersion', async () => {
    const start = await core.listNamespacedConfigMap({ namespace: 'test' });
    const rv = start.metadata?.resourceVersion ?? '';
    await core.createNamespacedConfigMap({
      namespace: 'test',
      body: { metadata: { name: 'w-a', labels: { watch: 'yes' } } },
    });
    await core.patchNamespacedConfigMap(
      { namespace: 'test', name: 'w-a', body: { data: { x: '1' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await core.deleteNamespacedConfigMap({ namespace: 'test', name: 'w-a' });
    const seen: string[] = [];
    const watch = new Watch(kc);
    const { promise: finished, resolve: done } = deferred();
    const req = await watch.watch(
      '/api/v1/namespaces/test/configmaps',
      { resourceVersion: rv, labelSelector: 'watch=yes' },
      (type, obj) => {
        seen.push(`${type} ${obj.metadata.name}`);
        if (seen.length === 3) done();
      },
      () => done(),
    );
    await finished;
    req.abort();
    expect(seen).toEqual(['ADDED w-a', 'MODIFIED w-a', 'DELETED w-a']);
  });
});

describe('sandbox API server: built-in kinds', () => {
  it('merges containers by name in a strategic merge patch and bumps generation', async () => {
    const created = await apps.createNamespacedDeployment({
      namespace: 'test',
      body: {
        metadata: { name: 'smp' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'smp' } },
          template: {
            metadata: { labels: { app: 'smp' } },
            spec: {
              containers: [
                { name: 'app', image: 'app:1', env: [{ name: 'A', value: '1' }] },
                { name: 'sidecar', image: 'side:1' },
              ],
            },
          },
        },
      },
    });
    expect(created.metadata?.generation).toBe(1);
    const patched = await apps.patchNamespacedDeployment(
      {
        namespace: 'test',
        name: 'smp',
        body: {
          spec: {
            template: {
              spec: { containers: [{ name: 'app', image: 'app:2', env: [{ name: 'B', value: '2' }] }] },
            },
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    const containers = patched.spec?.template.spec?.containers ?? [];
    expect(containers.map((c) => `${c.name}=${c.image}`)).toEqual(['app=app:2', 'sidecar=side:1']);
    expect(containers[0]?.env?.map((e) => e.name)).toEqual(['A', 'B']);
    expect(patched.metadata?.generation).toBe(2);
  });

  it('validates Deployments and Services like a real server, and rejects malformed metadata', async () => {
    const mismatch = await failure(
      apps.createNamespacedDeployment({
        namespace: 'test',
        body: {
          metadata: { name: 'bad' },
          spec: {
            replicas: -1,
            selector: { matchLabels: { app: 'x' } },
            template: {
              metadata: { labels: { app: 'y' } },
              spec: { containers: [{ name: 'c', image: '' }] },
            },
          },
        },
      }),
    );
    expect(mismatch.code).toBe(422);
    const fields = (mismatch.body.details as { causes: { field: string }[] }).causes.map((c) => c.field);
    expect(fields).toEqual([
      'spec.replicas',
      'spec.template.metadata.labels',
      'spec.template.spec.containers[0].image',
    ]);
    const noPorts = await failure(
      core.createNamespacedService({ namespace: 'test', body: { metadata: { name: 'svc' }, spec: {} } }),
    );
    expect(noPorts.body.message).toBe('Service "svc" is invalid: spec.ports: Required value');
    const raw = await fetch(`${server.url}/api/v1/namespaces/test/configmaps`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        metadata: { name: 'm', finalizers: 'not-a-list', ownerReferences: [{ kind: 'X' }] },
      }),
    });
    expect(raw.status).toBe(422);
    const status = (await raw.json()) as { details: { causes: { field: string }[] } };
    expect(status.details.causes.map((c) => c.field)).toEqual(
      expect.arrayContaining(['metadata.finalizers', 'metadata.ownerReferences[0].uid']),
    );
  });

  it('answers hostile or malformed requests with 4xx Status bodies and keeps serving', async () => {
    const base = `${server.url}/api/v1/namespaces/test/configmaps`;
    const json = { 'Content-Type': 'application/json' };
    const cases: [string, RequestInit, number][] = [
      [base, { method: 'POST', headers: json, body: '{not json' }, 400],
      [base, { method: 'POST', headers: json, body: '[]' }, 400],
      [
        base,
        {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ apiVersion: 'v2', kind: 'ConfigMap', metadata: { name: 'x' } }),
        },
        400,
      ],
      [
        base,
        { method: 'POST', headers: json, body: JSON.stringify({ kind: 'Secret', metadata: { name: 'x' } }) },
        400,
      ],
      [
        base,
        { method: 'POST', headers: json, body: JSON.stringify({ metadata: { name: 'Not_Valid' } }) },
        422,
      ],
      [
        base,
        {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ metadata: { labels: { 'bad key!': 'x' }, name: 'ok' } }),
        },
        422,
      ],
      [base, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'hello' }, 415],
      [`${base}?labelSelector=${encodeURIComponent('a in (b')}`, {}, 400],
      [`${base}?watch=true&resourceVersion=abc`, {}, 400],
      [
        `${base}?fieldValidation=Loose`,
        { method: 'POST', headers: json, body: JSON.stringify({ metadata: { name: 'fv' } }) },
        400,
      ],
      [
        `${base}/nope`,
        { method: 'PATCH', headers: { 'Content-Type': 'application/merge-patch+json' }, body: '{}' },
        404,
      ],
      [
        `${base}/nope`,
        { method: 'PATCH', headers: { 'Content-Type': 'application/apply-patch+yaml' }, body: '{}' },
        415,
      ],
      [`${server.url}/apis/nothing.example/v1/things`, {}, 404],
      [`${server.url}/api/v1/namespaces/test/configmaps/x/bogus`, {}, 404],
      [
        `${server.url}/api/v1/namespaces/test/configmaps?propagationPolicy=Sideways`,
        { method: 'DELETE' },
        400,
      ],
    ];
    for (const [url, init, code] of cases) {
      const response = await fetch(url, init);
      expect(response.status, `${init.method ?? 'GET'} ${url}`).toBe(code);
      const body = (await response.json()) as { kind: string; code: number };
      expect(body).toMatchObject({ kind: 'Status', code });
    }
    // Past 3 MiB the server answers 413 and closes the connection; a client still sending may see
    // the reset first, as with a real API server.
    const big = await fetch(base, { method: 'POST', headers: json, body: 'x'.repeat(4 * 1024 * 1024) }).then(
      (r) => r.status,
      (error: Error) => String((error.cause as { code?: string } | undefined)?.code),
    );
    expect([413, 'ECONNRESET', 'EPIPE']).toContain(big);
    await core.createNamespacedConfigMap({ namespace: 'test', body: { metadata: { name: 'survivor' } } });
    const patchCases: [string, unknown][] = [
      ['application/json-patch+json', { op: 'add' }],
      ['application/json-patch+json', [{ op: 'add', path: 'no-slash', value: 1 }]],
      ['application/merge-patch+json', [1, 2]],
      ['application/merge-patch+json', { metadata: { name: 'renamed' } }],
      ['application/strategic-merge-patch+json', 'string'],
    ];
    for (const [contentType, body] of patchCases) {
      const response = await fetch(`${base}/survivor`, {
        method: 'PATCH',
        headers: { 'Content-Type': contentType },
        body: JSON.stringify(body),
      });
      expect(response.status, `${contentType} ${JSON.stringify(body)}`).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
    }
    expect((await core.readNamespacedConfigMap({ namespace: 'test', name: 'survivor' })).metadata?.name).toBe(
      'survivor',
    );
  });
});
