import { describe, expect, it } from 'vitest';
import {
  type DeletionObservations,
  nextDeletionStep,
  nextOrphanStep,
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
