import { describe, expect, it } from 'vitest';
import { isDeploymentReady } from '../src/kube/readiness.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import { cacheTransform } from '../src/kube/slim.ts';
import type { KubeObject } from '../src/kube/types.ts';
import type { Deployment } from '../src/kube/workloads.ts';

const COUNTERS = {
  observedGeneration: 3,
  replicas: 2,
  updatedReplicas: 2,
  availableReplicas: 2,
  readyReplicas: 2,
};

function apiDeployment(name: string, progressing: Record<string, string>): Deployment {
  return {
    metadata: {
      name,
      namespace: 'shop',
      uid: `uid-${name}`,
      resourceVersion: '42',
      generation: 3,
      creationTimestamp: '2026-01-01T00:00:00Z',
      labels: { app: name },
      annotations: {
        'kubectl.kubernetes.io/last-applied-configuration': '{"a very":"long copy of the object"}',
        'deployment.kubernetes.io/revision': '7',
      },
      managedFields: [{ manager: 'kubectl', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: {} }],
      ownerReferences: [
        { apiVersion: 'petrel.dev/v1alpha1', kind: 'Canary', name, uid: 'c1', controller: true },
      ],
    },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'app:1' }] },
      },
    },
    status: {
      ...COUNTERS,
      conditions: [
        {
          type: 'Available',
          status: 'True',
          reason: 'MinimumReplicasAvailable',
          message: 'Deployment has minimum availability.',
          lastUpdateTime: new Date(),
          lastTransitionTime: new Date(),
        },
        { type: 'Progressing', status: 'True', lastUpdateTime: new Date(), ...progressing },
      ],
    },
  };
}

describe('cacheTransform', () => {
  it('keeps what Petrel reads of a Deployment and drops what it never reads', () => {
    const slim = cacheTransform(RESOURCES.deployment);
    const original = apiDeployment('web', { reason: 'NewReplicaSetAvailable', message: 'done' });
    const kept = slim(structuredClone(original));
    expect(kept.apiVersion).toBe('apps/v1');
    expect(kept.kind).toBe('Deployment');
    expect(kept.metadata).toEqual({
      name: 'web',
      namespace: 'shop',
      uid: 'uid-web',
      resourceVersion: '42',
      generation: 3,
      labels: { app: 'web' },
      annotations: { 'deployment.kubernetes.io/revision': '7' },
      ownerReferences: original.metadata?.ownerReferences,
    });
    expect(kept.spec).toEqual(original.spec);
    expect(kept.status).toEqual({
      ...COUNTERS,
      conditions: [
        { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: 'done' },
      ],
    });
    expect(isDeploymentReady(kept)).toEqual(isDeploymentReady(original));
  });

  it('still shows a missed progress deadline with its message', () => {
    const slim = cacheTransform(RESOURCES.deployment);
    const stalled = apiDeployment('web', {
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
      message: 'ReplicaSet "web-1" has timed out progressing.',
    });
    expect(isDeploymentReady(slim(structuredClone(stalled)))).toEqual(isDeploymentReady(stalled));
    expect(isDeploymentReady(slim(structuredClone(stalled))).deadlineExceeded).toBe(true);
  });

  it("sets apiVersion and kind on list items, keeps namespace and owner references, and leaves other kinds' status alone", () => {
    const slim = cacheTransform(RESOURCES.service);
    const service = (name: string): KubeObject & { status?: unknown } => ({
      metadata: {
        name,
        namespace: ['sh', 'op'].join(''),
        ownerReferences: [
          { apiVersion: ['petrel.dev', 'v1alpha1'].join('/'), kind: 'Canary', name, uid: 'u' },
        ],
      },
      status: { loadBalancer: {}, conditions: [{ type: 'Whatever', lastTransitionTime: 't' }] },
    });
    const a = slim(service('a'));
    const b = slim(service('b'));
    expect(a.kind).toBe('Service');
    expect(a.apiVersion).toBe('v1');
    expect(a.metadata?.namespace).toBe('shop');
    expect(a.status).toEqual(service('a').status);
    expect(b.metadata?.ownerReferences?.[0]?.apiVersion).toBe('petrel.dev/v1alpha1');
    expect(a.metadata?.annotations).toBeUndefined();
  });

  it('drops an annotations map left empty', () => {
    const slim = cacheTransform(RESOURCES.canary);
    const canary = slim({
      metadata: { name: 'c', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
    });
    expect(canary.metadata).toEqual({ name: 'c' });
  });
});
