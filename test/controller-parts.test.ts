import { describe, expect, it } from 'vitest';
import { canarySchema } from '../src/api/canary.ts';
import { splitKey } from '../src/controller/keys.ts';
import { observePrimary, observeTarget } from '../src/controller/observe.ts';
import { statusPatch } from '../src/controller/status-patch.ts';
import { TargetIndex } from '../src/controller/target-index.ts';
import { buildPrimaryDeployment } from '../src/kube/primary-builders.ts';
import type { Deployment } from '../src/kube/workloads.ts';

describe('statusPatch', () => {
  it('is undefined when nothing changed, whatever the key order', () => {
    const status = {
      phase: 'Progressing' as const,
      conditions: [{ type: 'Promoted', status: 'Unknown' as const, reason: 'x' }],
    };
    const same = {
      conditions: [{ reason: 'x', status: 'Unknown' as const, type: 'Promoted' }],
      phase: 'Progressing' as const,
    };
    expect(statusPatch(status, same)).toBeUndefined();
  });

  it('sends only the changed fields, null for removed ones, arrays whole', () => {
    const before = { phase: 'Progressing' as const, canaryWeight: 10, failedChecks: 0, lastStepTime: 'a' };
    const after = { phase: 'Progressing' as const, canaryWeight: 20, lastStepTime: 'b', history: [] };
    expect(statusPatch(before, after)).toEqual({
      canaryWeight: 20,
      failedChecks: null,
      lastStepTime: 'b',
      history: [],
    });
  });
});

describe('TargetIndex', () => {
  it('maps a target and its primary to the canaries that use them, and follows changes', () => {
    const index = new TargetIndex();
    index.set('ns', 'a', 'podinfo');
    index.set('ns', 'b', 'podinfo');
    index.set('other', 'c', 'podinfo');
    expect(index.canariesFor('ns', 'podinfo').sort()).toEqual(['ns/a', 'ns/b']);
    expect(index.canariesFor('ns', 'podinfo-primary').sort()).toEqual(['ns/a', 'ns/b']);
    index.set('ns', 'b', 'backend');
    expect(index.canariesFor('ns', 'podinfo')).toEqual(['ns/a']);
    expect(index.canariesFor('ns', 'backend')).toEqual(['ns/b']);
    index.remove('ns', 'a');
    expect(index.canariesFor('ns', 'podinfo')).toEqual([]);
    expect(index.canariesFor('other', 'podinfo')).toEqual(['other/c']);
  });

  it('splits keys at the first slash', () => {
    expect(splitKey('ns/name')).toEqual({ namespace: 'ns', name: 'name' });
  });
});

describe('observe', () => {
  const target = (image: string): Deployment => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'podinfo', namespace: 'test', generation: 2 },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'podinfo' } },
      template: { metadata: { labels: { app: 'podinfo' } }, spec: { containers: [{ name: 'c', image }] } },
    },
    status: { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3 },
  });
  const canary = canarySchema.parse({
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', uid: 'u1' },
    spec: { targetRef: { kind: 'Deployment', name: 'podinfo' }, service: { port: 80 } },
  });

  it('the primary built from a target runs that target revision; another template does not', () => {
    const v1 = target('podinfo:1');
    const primary = buildPrimaryDeployment(canary, v1);
    expect(observePrimary(primary, v1).revision).toBe(observeTarget(v1).revision);
    expect(observePrimary(primary, target('podinfo:2')).revision).not.toBe(
      observeTarget(target('podinfo:2')).revision,
    );
  });

  it('works a revision out once per cached object, and again for the object that replaces it', () => {
    const v1 = target('podinfo:1');
    const primary = buildPrimaryDeployment(canary, v1);
    const first = observeTarget(v1).revision;
    expect(observeTarget(v1).revision).toBe(first);
    expect(observeTarget(v1, { 'configmap/cfg': 'h1' }).revision).not.toBe(first);
    expect(observeTarget(v1).revision).toBe(first);
    expect(observePrimary(primary, v1).revision).toBe(first);
    // An update replaces the cached object: the new object gets its own revision.
    const v2 = target('podinfo:2');
    expect(observeTarget(v2).revision).not.toBe(first);
    expect(observePrimary(primary, v2).revision).toMatch(/^primary:/);
    const promoted = buildPrimaryDeployment(canary, v2);
    expect(observePrimary(promoted, v2).revision).toBe(observeTarget(v2).revision);
    expect(observePrimary(primary, v1).revision).toBe(first);
  });

  it('a target is ready only once its latest generation is rolled out', () => {
    expect(observeTarget(target('x'))).toMatchObject({ replicas: 3, ready: true });
    const rolling = target('x');
    rolling.status = { observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 3 };
    expect(observeTarget(rolling).ready).toBe(false);
  });
});
