import { describe, expect, it } from 'vitest';
import { applyJsonPatch } from '../dev/sandbox/apiserver/patch.ts';
import type { Canary } from '../src/api/canary.ts';
import {
  canaryOwnerReference,
  isOwnedBy,
  MANAGED_BY_LABEL,
  managedLabels,
  ownerReferenceRemoval,
  ownershipPatch,
} from '../src/kube/ownership.ts';
import type { KubeObject } from '../src/kube/types.ts';

function canary(uid: string): Canary {
  return { metadata: { name: 'podinfo', namespace: 'test', uid } } as Canary;
}

const gone = canary('uid-old');
const recreated = canary('uid-new');
const argo = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', name: 'app', uid: 'uid-argo' };

function owned(refs = [argo, canaryOwnerReference(gone)]): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'podinfo-primary',
      namespace: 'test',
      labels: { ...managedLabels(), team: 'a' },
      ownerReferences: refs,
    },
  };
}

describe('orphaning an object a deleted Canary owned', () => {
  it('removes only that ownerReference, guarded by a test of it', () => {
    const obj = owned();
    const ops = ownerReferenceRemoval(obj, 'uid-old');
    expect(ops).toEqual([
      { op: 'test', path: '/metadata/ownerReferences/1/uid', value: 'uid-old' },
      { op: 'remove', path: '/metadata/ownerReferences/1' },
    ]);
    const after = applyJsonPatch(obj, ops!) as KubeObject;
    expect(after.metadata?.ownerReferences).toEqual([argo]);
    expect(after.metadata?.labels).toEqual({ [MANAGED_BY_LABEL]: 'petrel', team: 'a' });
  });

  it('nothing to do when the object is not owned by that Canary', () => {
    expect(ownerReferenceRemoval(owned([argo]), 'uid-old')).toBeUndefined();
    expect(ownerReferenceRemoval({ metadata: { name: 'x' } }, 'uid-old')).toBeUndefined();
  });

  it('a list changed since it was read fails the test instead of removing another entry', () => {
    const ops = ownerReferenceRemoval(owned(), 'uid-old')!;
    expect(() => applyJsonPatch(owned([argo, { ...argo, uid: 'uid-other' }]), ops)).toThrow();
  });

  it('a re-created Canary of the same name adopts the orphan: allowed to write, ownerReference added', () => {
    const orphan = applyJsonPatch(owned(), ownerReferenceRemoval(owned(), 'uid-old')!) as KubeObject;
    expect(isOwnedBy(orphan, recreated)).toBe(true);
    expect(ownershipPatch(orphan, recreated)).toEqual({
      ownerReferences: [argo, canaryOwnerReference(recreated)],
    });
  });

  it('the old Canary still owning it (not orphaned yet) keeps another Canary out', () => {
    expect(isOwnedBy(owned(), recreated)).toBe(false);
  });
});
