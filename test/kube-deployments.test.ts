import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { Deployment as K8sDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { describe, expect, it } from 'vitest';
import { applyMergePatch } from '../dev/sandbox/apiserver/patch.ts';
import { type Canary, canarySchema } from '../src/api/canary.ts';
import { AutoscalerNotFoundError, ensurePrimaryAutoscaler } from '../src/kube/autoscaler.ts';
import { canonicalJson, mergePatchDiff } from '../src/kube/canonical.ts';
import { ensurePrimary, promotePrimary, scaleTarget, TargetNotFoundError } from '../src/kube/deployments.ts';
import { KubeConfigError, loadKubeConfig } from '../src/kube/kubeconfig.ts';
import { SelectorLabelError } from '../src/kube/names.ts';
import { ObjectNotOwnedError } from '../src/kube/ownership.ts';
import { buildPrimaryDeployment } from '../src/kube/primary-builders.ts';
import { isDeploymentReady } from '../src/kube/readiness.ts';
import { RESOURCES, resourceFor, resourcePath } from '../src/kube/resources.ts';
import { computeRevision } from '../src/kube/revision.ts';
import type { Deployment, HorizontalPodAutoscaler } from '../src/kube/workloads.ts';
import { InMemoryKubeApi } from './support/fake-kube.ts';

const canary: Canary = canarySchema.parse({
  apiVersion: 'petrel.dev/v1alpha1',
  kind: 'Canary',
  metadata: { name: 'podinfo', namespace: 'test', uid: 'uid-1' },
  spec: {
    targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
    service: { port: 9898 },
    analysis: { interval: '1m', threshold: 5, maxWeight: 50, stepWeight: 10 },
  },
});

function target(image = 'podinfo:6.0.0', replicas = 3): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'podinfo',
      namespace: 'test',
      labels: { app: 'podinfo', team: 'web' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', note: 'keep' },
    },
    spec: {
      replicas,
      progressDeadlineSeconds: 120,
      strategy: { type: 'RollingUpdate' },
      selector: { matchLabels: { app: 'podinfo' } },
      template: {
        metadata: {
          labels: { app: 'podinfo', version: 'v1' },
          annotations: { 'prometheus.io/scrape': 'true' },
        },
        spec: { containers: [{ name: 'podinfo', image, ports: [{ name: 'http', containerPort: 9898 }] }] },
      },
    },
  };
}

function deps(api: InMemoryKubeApi) {
  return {
    api,
    deployments: api.cache<Deployment>(RESOURCES.deployment),
    hpas: api.cache<HorizontalPodAutoscaler>(RESOURCES.horizontalPodAutoscaler),
  };
}

describe('buildPrimaryDeployment', () => {
  it('copies the pod template with the selector label rewritten to <value>-primary, owned by the Canary', () => {
    const primary = buildPrimaryDeployment(canary, target());
    expect(primary.metadata?.name).toBe('podinfo-primary');
    expect(primary.metadata?.labels).toEqual({
      app: 'podinfo-primary',
      team: 'web',
      'petrel.dev/managed-by': 'petrel',
    });
    expect(primary.metadata?.annotations).toEqual({ note: 'keep' });
    expect(primary.metadata?.ownerReferences).toEqual([
      {
        apiVersion: 'petrel.dev/v1alpha1',
        kind: 'Canary',
        name: 'podinfo',
        uid: 'uid-1',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(primary.spec?.selector).toEqual({ matchLabels: { app: 'podinfo-primary' } });
    expect(primary.spec?.template?.metadata?.labels).toEqual({ app: 'podinfo-primary', version: 'v1' });
    expect(primary.spec?.template?.spec).toEqual(target().spec?.template?.spec);
    expect(primary.spec?.replicas).toBe(3);
    expect(primary.spec?.progressDeadlineSeconds).toBe(120);
    expect(() => new K8sDeployment(primary as never).validate()).not.toThrow();
  });

  it('uses one replica when the target is scaled to zero, and falls back to other selector labels', () => {
    const t = target('x', 0);
    t.spec!.selector = { matchLabels: { 'app.kubernetes.io/name': 'web' } };
    t.spec!.template!.metadata!.labels = { 'app.kubernetes.io/name': 'web' };
    const primary = buildPrimaryDeployment(canary, t);
    expect(primary.spec?.replicas).toBe(1);
    expect(primary.spec?.selector?.matchLabels).toEqual({ 'app.kubernetes.io/name': 'web-primary' });
  });

  it('explains which selector labels are needed', () => {
    const t = target();
    t.spec!.selector = { matchLabels: { tier: 'web' } };
    expect(() => buildPrimaryDeployment(canary, t)).toThrow(SelectorLabelError);
  });
});

describe('ensurePrimary / promotePrimary / scaleTarget', () => {
  it('creates the primary once, then makes no writes', async () => {
    const api = new InMemoryKubeApi();
    api.seed(RESOURCES.deployment, target());
    const d = deps(api);
    expect((await ensurePrimary(d, canary)).action).toBe('created');
    expect((await ensurePrimary(d, canary)).action).toBe('unchanged');
    expect(api.writes()).toHaveLength(1);
    expect(api.requests.filter((r) => r.verb === 'get')).toEqual([]);
  });

  it('does not touch a primary-named Deployment Petrel does not own', async () => {
    const api = new InMemoryKubeApi();
    api.seed(RESOURCES.deployment, target());
    api.seed(RESOURCES.deployment, { ...target(), metadata: { name: 'podinfo-primary', namespace: 'test' } });
    await expect(ensurePrimary(deps(api), canary)).rejects.toBeInstanceOf(ObjectNotOwnedError);
    expect(api.writes()).toEqual([]);
  });

  it('reports a missing target', async () => {
    const api = new InMemoryKubeApi();
    await expect(ensurePrimary(deps(api), canary)).rejects.toBeInstanceOf(TargetNotFoundError);
  });

  it('promotes a new template with one patch (removed keys removed) and is idempotent', async () => {
    const api = new InMemoryKubeApi();
    api.seed(RESOURCES.deployment, target());
    const d = deps(api);
    await ensurePrimary(d, canary);
    const next = target('podinfo:6.1.0').spec!.template!;
    delete next.metadata!.annotations;
    const res = await promotePrimary(d, canary, next);
    expect(res.action).toBe('patched');
    const primary = d.deployments.get('test', 'podinfo-primary');
    expect(primary?.spec?.template?.spec?.containers?.[0]?.image).toBe('podinfo:6.1.0');
    expect(primary?.spec?.template?.metadata?.annotations).toBeUndefined();
    expect(primary?.spec?.template?.metadata?.labels?.app).toBe('podinfo-primary');
    expect((await promotePrimary(d, canary, next)).action).toBe('unchanged');
    expect(api.writes()).toHaveLength(2);
  });

  it('scales the target with a merge patch on spec.replicas only, and only when it differs', async () => {
    const api = new InMemoryKubeApi();
    api.seed(RESOURCES.deployment, target());
    const d = deps(api);
    expect((await scaleTarget(d, canary, 0)).action).toBe('patched');
    expect((await scaleTarget(d, canary, 0)).action).toBe('unchanged');
    expect(d.deployments.get('test', 'podinfo')?.spec?.replicas).toBe(0);
    expect(api.writes()).toHaveLength(1);
    await expect(scaleTarget(d, canary, -1)).rejects.toThrow(RangeError);
  });

  it('leaves replicas of a running target to its HPA, but still scales it to zero', async () => {
    const api = new InMemoryKubeApi();
    api.seed(RESOURCES.deployment, target('x', 2));
    api.seed(RESOURCES.horizontalPodAutoscaler, {
      metadata: { name: 'podinfo', namespace: 'test' },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
        maxReplicas: 5,
      },
    } as HorizontalPodAutoscaler);
    const d = deps(api);
    const held = await scaleTarget(d, canary, 1);
    expect(held.action).toBe('unchanged');
    expect(held.reason).toContain('HorizontalPodAutoscaler podinfo');
    expect((await scaleTarget(d, canary, 0)).action).toBe('patched');
    // From zero, Petrel scales it up; the HPA takes over from there.
    expect((await scaleTarget(d, canary, 1)).action).toBe('patched');
    expect(d.deployments.get('test', 'podinfo')?.spec?.replicas).toBe(1);
  });
});

describe('primary autoscaler', () => {
  const withHpa: Canary = {
    ...canary,
    spec: { ...canary.spec, autoscalerRef: { kind: 'HorizontalPodAutoscaler', name: 'podinfo' } },
  };
  const hpa = (max: number): HorizontalPodAutoscaler => ({
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      minReplicas: 2,
      maxReplicas: max,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } },
        },
      ],
    },
  });

  it('keeps <autoscaler>-primary aimed at the primary, in line with the target HPA', async () => {
    const api = new InMemoryKubeApi();
    api.seed(RESOURCES.deployment, target());
    api.seed(RESOURCES.horizontalPodAutoscaler, hpa(4));
    const d = deps(api);
    await ensurePrimary(d, withHpa);
    // The primary's HPA has its own action; ensurePrimary leaves it alone.
    expect(d.hpas.get('test', 'podinfo-primary')).toBeUndefined();
    expect(await ensurePrimaryAutoscaler({ api, hpas: d.hpas }, withHpa)).toBe('created');
    const primaryHpa = d.hpas.get('test', 'podinfo-primary');
    expect(primaryHpa?.spec?.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'podinfo-primary',
    });
    expect(primaryHpa?.spec?.maxReplicas).toBe(4);
    expect(primaryHpa?.metadata?.ownerReferences?.[0]?.uid).toBe('uid-1');
    const writes = api.writes().length;
    expect(await ensurePrimaryAutoscaler({ api, hpas: d.hpas }, withHpa)).toBe('unchanged');
    await api.mergePatch(
      { resource: RESOURCES.horizontalPodAutoscaler, namespace: 'test', name: 'podinfo' },
      { spec: { maxReplicas: 8 } },
    );
    expect(await ensurePrimaryAutoscaler({ api, hpas: d.hpas }, withHpa)).toBe('patched');
    expect(d.hpas.get('test', 'podinfo-primary')?.spec?.maxReplicas).toBe(8);
    expect(api.writes().length).toBe(writes + 2);
  });

  it('names a missing autoscaler', async () => {
    const api = new InMemoryKubeApi();
    api.seed(RESOURCES.deployment, target());
    await expect(ensurePrimaryAutoscaler(deps(api), withHpa)).rejects.toBeInstanceOf(AutoscalerNotFoundError);
  });
});

describe('isDeploymentReady', () => {
  const base = (
    spec: Partial<Deployment['spec']>,
    status: Deployment['status'],
    generation = 2,
  ): Deployment => ({
    metadata: { name: 'podinfo', namespace: 'test', generation },
    spec: { selector: {}, template: {}, replicas: 2, ...spec },
    status,
  });
  const cases: [string, Deployment, boolean, string][] = [
    [
      'fully available',
      base({}, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }),
      true,
      'ready',
    ],
    [
      'spec not yet observed',
      base({}, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }),
      false,
      'observed',
    ],
    [
      'still updating',
      base({}, { observedGeneration: 2, replicas: 2, updatedReplicas: 1, availableReplicas: 2 }),
      false,
      '1 of 2 updated',
    ],
    [
      'old pods terminating',
      base({}, { observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2 }),
      false,
      '1 old replicas',
    ],
    [
      'not available',
      base({}, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 1 }),
      false,
      '1 of 2 replicas available',
    ],
    ['scaled to zero', base({ replicas: 0 }, { observedGeneration: 2 }), true, 'ready'],
    [
      'deadline exceeded',
      base(
        {},
        {
          observedGeneration: 2,
          conditions: [
            {
              type: 'Progressing',
              status: 'False',
              reason: 'ProgressDeadlineExceeded',
              message: 'ReplicaSet "x" has timed out progressing.',
            },
          ],
        },
      ),
      false,
      'exceeded its progress deadline',
    ],
  ];
  it.each(cases)('%s', (_name, d, ready, reason) => {
    const r = isDeploymentReady(d);
    expect(r.ready).toBe(ready);
    expect(r.reason).toContain(reason);
  });
});

describe('computeRevision', () => {
  const template = target().spec!.template!;

  it('is sha256 of canonical JSON: key order and undefined members do not matter', () => {
    const reordered = JSON.parse(JSON.stringify({ spec: template.spec, metadata: template.metadata }));
    reordered.metadata.extra = undefined;
    expect(computeRevision(reordered)).toBe(computeRevision(template));
    expect(computeRevision(template)).toMatch(/^[0-9a-f]{64}$/);
    expect(computeRevision(target('podinfo:6.1.0').spec!.template)).not.toBe(computeRevision(template));
    expect(computeRevision(template, { 'configmap/app': 'abc' })).not.toBe(computeRevision(template));
    expect(computeRevision(template, {})).toBe(computeRevision(template));
  });

  it('stays the same across versions (golden value: changing it re-triggers every rollout)', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: undefined }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[1,{"z":1}]},"b":1}',
    );
    // = sha256sum of the text {"spec":{"containers":[{"image":"nginx:1","name":"a"}]}}
    expect(computeRevision({ spec: { containers: [{ name: 'a', image: 'nginx:1' }] } })).toBe(
      '77f6185abaea3e820b52334cd43289f6439f3960095f7fa8f5fa8e52e4ed07b7',
    );
  });

  it('mergePatchDiff turns one object into the other (property)', () => {
    const json = fc.dictionary(
      fc.constantFrom('a', 'b', 'c'),
      fc.oneof(fc.integer(), fc.string(), fc.dictionary(fc.constantFrom('x', 'y'), fc.integer())),
    );
    fc.assert(
      fc.property(json, json, (from, to) => {
        const patch = mergePatchDiff(from, to);
        const result = patch === undefined ? from : applyMergePatch(from, patch);
        expect(canonicalJson(result)).toBe(canonicalJson(to));
      }),
    );
  });
});

describe('resources and kubeconfig', () => {
  it('builds REST paths from the resource table', () => {
    expect(resourcePath(RESOURCES.canary, 'test', 'podinfo', 'status')).toBe(
      '/apis/petrel.dev/v1alpha1/namespaces/test/canaries/podinfo/status',
    );
    expect(resourcePath(RESOURCES.event, 'test')).toBe('/api/v1/namespaces/test/events');
    expect(resourcePath(RESOURCES.virtualService)).toBe('/apis/networking.istio.io/v1beta1/virtualservices');
    expect(resourcePath(RESOURCES.horizontalPodAutoscaler, 'a', 'b')).toBe(
      '/apis/autoscaling/v2/namespaces/a/horizontalpodautoscalers/b',
    );
    expect(resourcePath(RESOURCES.lease, 'petrel', 'leader')).toBe(
      '/apis/coordination.k8s.io/v1/namespaces/petrel/leases/leader',
    );
    expect(resourceFor('networking.istio.io/v1beta1', 'DestinationRule')).toBe(RESOURCES.destinationRule);
    expect(resourceFor('v1', 'Pod')).toBeUndefined();
  });

  it('loads a kubeconfig file and names the problem when it cannot', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'petrel-kc-'));
    try {
      const file = path.join(dir, 'config');
      await writeFile(
        file,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters: [{name: c, cluster: {server: "http://127.0.0.1:1", insecure-skip-tls-verify: true}}]',
          'users: [{name: u, user: {token: t}}]',
          'contexts: [{name: x, context: {cluster: c, user: u}}]',
          'current-context: x',
        ].join('\n'),
      );
      expect(loadKubeConfig({ kubeconfig: file }).getCurrentCluster()?.server).toBe('http://127.0.0.1:1');
      expect(() => loadKubeConfig({ kubeconfig: path.join(dir, 'missing') })).toThrow(/does not exist/);
      expect(() => loadKubeConfig({ kubeconfig: file, context: 'nope' })).toThrow(KubeConfigError);
      expect(() => loadKubeConfig({ kubeconfig: file, inCluster: true })).toThrow(/not both/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
