import { describe, expect, it } from 'vitest';
import type { CanaryStatus } from '../src/api/canary.ts';
import { PHASES, type Phase, withCondition, withKstatusConditions } from '../src/rollout/index.ts';

type Condition = NonNullable<CanaryStatus['conditions']>[number];

const T0 = new Date('2026-01-01T00:00:00Z');
const T1 = new Date('2026-01-01T00:01:00Z');

const kstatusOf = (conditions: Condition[] | undefined) =>
  Object.fromEntries(
    (conditions ?? [])
      .filter((c) => ['Ready', 'Reconciling', 'Stalled'].includes(c.type))
      .map((c) => [c.type, { status: c.status, reason: c.reason }]),
  );

describe('withKstatusConditions: the Ready, Reconciling and Stalled conditions kstatus reads', () => {
  const cases: [Phase, 'True' | 'False', 'True' | 'False', 'True' | 'False'][] = [
    // phase, Ready, Reconciling, Stalled
    ['Initializing', 'False', 'True', 'False'],
    ['Initialized', 'True', 'False', 'False'],
    ['Waiting', 'False', 'True', 'False'],
    ['Progressing', 'False', 'True', 'False'],
    ['WaitingPromotion', 'False', 'True', 'False'],
    ['Promoting', 'False', 'True', 'False'],
    ['Finalising', 'False', 'True', 'False'],
    ['Succeeded', 'True', 'False', 'False'],
    ['Failed', 'False', 'False', 'True'],
    ['Terminating', 'False', 'False', 'False'],
    ['Terminated', 'True', 'False', 'False'],
  ];

  it('covers every phase', () => {
    expect(cases.map(([phase]) => phase).sort()).toEqual([...PHASES].sort());
  });

  it.each(cases)(
    '%s: Ready %s, Reconciling %s, Stalled %s, with the phase as reason',
    (phase, ready, reconciling, stalled) => {
      expect(kstatusOf(withKstatusConditions(undefined, phase, T0))).toEqual({
        Ready: { status: ready, reason: phase },
        Reconciling: { status: reconciling, reason: phase },
        Stalled: { status: stalled, reason: phase },
      });
    },
  );

  it('keeps the Promoted condition as it is, and gives Failed its message', () => {
    const promoted = withCondition(undefined, 'Promoted', 'False', 'Rollback', 'error rate 7% above 1%', T0);
    const next = withKstatusConditions(promoted, 'Failed', T1);
    expect(next?.find((c) => c.type === 'Promoted')).toEqual(promoted[0]);
    expect(next?.find((c) => c.type === 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'Failed',
      message: 'error rate 7% above 1%',
      lastTransitionTime: T1.toISOString(),
    });
  });

  it('an InvalidSpec condition that is True stalls the Canary whatever its phase', () => {
    const invalid = withCondition(
      undefined,
      'InvalidSpec',
      'True',
      'InvalidSpec',
      'spec.analysis: required',
      T0,
    );
    const next = withKstatusConditions(invalid, 'Succeeded', T0);
    expect(kstatusOf(next)).toEqual({
      Ready: { status: 'False', reason: 'InvalidSpec' },
      Reconciling: { status: 'False', reason: 'InvalidSpec' },
      Stalled: { status: 'True', reason: 'InvalidSpec' },
    });
    expect(next?.find((c) => c.type === 'Stalled')?.message).toBe('spec.analysis: required');
  });

  it('returns the same array when nothing changed, so an unchanged status needs no write', () => {
    const first = withKstatusConditions(undefined, 'Progressing', T0);
    expect(withKstatusConditions(first, 'Progressing', T1)).toBe(first);
  });

  it('keeps lastTransitionTime of a condition whose status did not change', () => {
    const progressing = withKstatusConditions(undefined, 'Progressing', T0);
    const promoting = withKstatusConditions(progressing, 'Promoting', T1);
    const reconciling = promoting?.find((c) => c.type === 'Reconciling');
    expect(reconciling).toMatchObject({
      status: 'True',
      reason: 'Promoting',
      lastTransitionTime: T0.toISOString(),
    });
    const succeeded = withKstatusConditions(promoting, 'Succeeded', T1);
    expect(succeeded?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'True',
      lastTransitionTime: T1.toISOString(),
    });
  });

  it('sets nothing before there is a phase', () => {
    expect(withKstatusConditions(undefined, undefined, T0)).toBeUndefined();
    expect(withKstatusConditions([], undefined, T0)).toEqual([]);
  });
});
