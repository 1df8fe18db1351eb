import { describe, expect, it } from 'vitest';
import {
  canaryServiceNameOf,
  type DeletionObservations,
  nextDeletionStep,
  nextOrphanStep,
  objectsToOrphan,
  REVERT_FINALIZER,
  withoutPetrelFinalizer,
  withPetrelFinalizer,
} from '../src/rollout/deletion.ts';

const ready = { replicas: 3, ready: true, reason: 'ready' };

describe('nextDeletionStep', () => {
  const cases: [string, DeletionObservations, ReturnType<typeof nextDeletionStep>][] = [
    [
      'intent first',
      { phase: 'Progressing', target: ready, primaryReplicas: 3 },
      { kind: 'markTerminating' },
    ],
    ['no status yet', { phase: undefined, primaryReplicas: 3 }, { kind: 'markTerminating' }],
    [
      'target at zero: the primary replicas',
      { phase: 'Terminating', target: { replicas: 0, ready: true, reason: 'ready' }, primaryReplicas: 3 },
      { kind: 'scaleTarget', replicas: 3 },
    ],
    [
      'primary at zero: at least one',
      { phase: 'Terminating', target: { replicas: 0, ready: true, reason: 'ready' }, primaryReplicas: 0 },
      { kind: 'scaleTarget', replicas: 1 },
    ],
    [
      'scaled, not ready',
      { phase: 'Terminating', target: { replicas: 3, ready: false, reason: 'r' }, primaryReplicas: 3 },
      { kind: 'waitForTarget', reason: 'r' },
    ],
    ['ready: route', { phase: 'Terminating', target: ready, primaryReplicas: 3 }, { kind: 'routeToTarget' }],
    [
      'primary gone after a restart: the target keeps its replicas',
      { phase: 'Terminating', target: ready },
      { kind: 'routeToTarget' },
    ],
    [
      'no target',
      { phase: 'Terminating', primaryReplicas: 3 },
      { kind: 'markTerminated', targetMissing: true },
    ],
    ['terminated', { phase: 'Terminated', target: ready }, { kind: 'removeFinalizer' }],
  ];
  it.each(cases)('%s', (_name, obs, step) => {
    expect(nextDeletionStep(obs)).toEqual(step);
  });
});

describe('the finalizer lists', () => {
  it('adds Petrel finalizer once and keeps the others; removes only its own', () => {
    expect(withPetrelFinalizer(['other'])).toEqual(['other', REVERT_FINALIZER]);
    expect(withPetrelFinalizer([REVERT_FINALIZER, 'other'])).toEqual(['other', REVERT_FINALIZER]);
    expect(withPetrelFinalizer([])).toEqual([REVERT_FINALIZER]);
    expect(withoutPetrelFinalizer([REVERT_FINALIZER, 'other'])).toEqual(['other']);
    expect(withoutPetrelFinalizer(['other'])).toEqual(['other']);
  });
});

describe('nextOrphanStep (deletion without revertOnDeletion)', () => {
  const primary = { kind: 'Deployment', name: 'podinfo-primary' };
  const cases: [string, Parameters<typeof nextOrphanStep>[0], ReturnType<typeof nextOrphanStep>][] = [
    [
      'intent first, before any object is touched',
      { phase: 'Progressing', stillOwned: [primary] },
      { kind: 'markTerminating' },
    ],
    ['no status yet', { phase: undefined, stillOwned: [] }, { kind: 'markTerminating' }],
    ['a failed Canary too', { phase: 'Failed', stillOwned: [primary] }, { kind: 'markTerminating' }],
    [
      'terminating, still owned: orphan',
      { phase: 'Terminating', stillOwned: [primary] },
      { kind: 'orphan', objects: [primary] },
    ],
    [
      'terminating, nothing owned (restart after the orphaning)',
      { phase: 'Terminating', stillOwned: [] },
      { kind: 'markTerminated' },
    ],
    ['terminated: the finalizer goes', { phase: 'Terminated', stillOwned: [] }, { kind: 'removeFinalizer' }],
    [
      'terminated but owned again: orphan first',
      { phase: 'Terminated', stillOwned: [primary] },
      { kind: 'orphan', objects: [primary] },
    ],
  ];
  it.each(cases)('%s', (_name, obs, step) => {
    expect(nextOrphanStep(obs)).toEqual(step);
  });
});

describe('objectsToOrphan', () => {
  const owned = [
    { kind: 'ConfigMap', name: 'settings-primary' },
    { kind: 'DestinationRule', name: 'podinfo-canary' },
    { kind: 'DestinationRule', name: 'podinfo-primary' },
    { kind: 'Deployment', name: 'podinfo-primary' },
    { kind: 'HorizontalPodAutoscaler', name: 'podinfo-primary' },
    { kind: 'Service', name: 'podinfo' },
    { kind: 'Service', name: 'podinfo-canary' },
    { kind: 'Service', name: 'podinfo-primary' },
    { kind: 'VirtualService', name: 'podinfo' },
  ];

  it('keeps everything that serves; the canary Service is left to the garbage collector', () => {
    const kept = objectsToOrphan(owned, 'podinfo-canary');
    expect(kept).toEqual(owned.filter((o) => !(o.kind === 'Service' && o.name === 'podinfo-canary')));
    // The canary DestinationRule stays: the VirtualService still names its host (at weight 0).
    expect(kept).toContainEqual({ kind: 'DestinationRule', name: 'podinfo-canary' });
  });

  it('without a readable name (an invalid spec), keeps everything', () => {
    expect(objectsToOrphan(owned, undefined)).toEqual(owned);
  });
});

describe('canaryServiceNameOf', () => {
  it.each([
    ['the target', { targetRef: { name: 'podinfo' } }, 'podinfo-canary'],
    ['service.name first', { targetRef: { name: 'podinfo' }, service: { name: 'web' } }, 'web-canary'],
    [
      'a service.name that is not a string',
      { targetRef: { name: 'podinfo' }, service: { name: 3 } },
      'podinfo-canary',
    ],
    ['no names', { service: { port: 0 } }, undefined],
    ['no spec', undefined, undefined],
    ['a spec that is not an object', 'oops', undefined],
  ])('%s', (_name, spec, expected) => {
    expect(canaryServiceNameOf(spec)).toBe(expected);
  });
});
