import { describe, expect, it } from 'vitest';
import {
  type DeletionObservations,
  nextDeletionStep,
  REVERT_FINALIZER,
  wantedFinalizers,
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

describe('wantedFinalizers', () => {
  it('adds Petrel finalizer once and keeps the others', () => {
    expect(wantedFinalizers(['other'], true)).toEqual(['other', REVERT_FINALIZER]);
    expect(wantedFinalizers([REVERT_FINALIZER, 'other'], true)).toEqual(['other', REVERT_FINALIZER]);
    expect(wantedFinalizers([REVERT_FINALIZER, 'other'], false)).toEqual(['other']);
  });
});
