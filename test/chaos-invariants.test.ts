import { describe, expect, it } from 'vitest';
import {
  checkAlerts,
  checkOutages,
  checkRollout,
  checkWeights,
  type RolloutRecord,
} from '../bench/chaos/invariants.ts';
import { writeKind } from '../bench/chaos/killer.ts';
import { makePlan, type RolloutPlan } from '../bench/chaos/plan.ts';

const plan = (over: Partial<RolloutPlan> = {}): RolloutPlan => ({
  index: 0,
  namespace: 'chaos-1-0',
  version: 'broken',
  prometheusOutage: false,
  flakyReceiver: false,
  mutants: 0,
  killAfter: [],
  expected: 'Failed',
  ...over,
});

const record = (over: Partial<RolloutRecord> = {}): RolloutRecord => ({
  plan: plan(),
  weights: [0, 10, 0],
  weightTimes: [0, 1000, 2000],
  phases: ['Progressing', 'Failed'],
  phaseTimes: [0, 2000],
  prometheusLost: false,
  finalPhase: 'Failed',
  recreated: [],
  invalidMessageBytes: [],
  timedOut: false,
  ...over,
});

describe('chaos invariants', () => {
  it.each([
    [[0, 10, 20, 30, 0], 'Succeeded', []],
    [[0, 10, 0], 'Failed', []],
    [[0], 'Failed', []],
    [[0, 10, 0, 10, 0], 'Failed', ['weight-raised-after-rollback']],
    [[0, 10, 20, 30, 0, 30, 0], 'Succeeded', ['weight-raised-after-promotion']],
    [[0, 10, 20, 10, 0], 'Failed', ['weight-not-monotonic']],
  ])('weights %j ending %s', (weights, phase, expected) => {
    expect(checkWeights(weights, phase).map((v) => v.invariant)).toEqual(expected);
  });

  it('tells a route reset before any decision from a rise after the promotion, by the time of Promoting', () => {
    const weights = [0, 10, 0, 10, 20, 30, 0];
    const weightTimes = [0, 1, 2, 3, 4, 5, 9];
    expect(checkWeights(weights, 'Succeeded', { weightTimes, promotedAt: 8 })[0]?.invariant).toBe(
      'weight-not-monotonic',
    );
    expect(
      checkWeights([0, 10, 20, 0, 20, 0], 'Succeeded', { weightTimes, promotedAt: 2 })[0]?.invariant,
    ).toBe('weight-raised-after-promotion');
  });

  it('reports the wrong terminal phase, a time-out, re-created objects and unbounded InvalidSpec messages', () => {
    const v = checkRollout(
      record({
        plan: plan({ version: 'healthy', expected: 'Succeeded' }),
        weights: [0, 10],
        finalPhase: 'Progressing',
        timedOut: true,
        recreated: ['virtualservices/podinfo'],
        invalidMessageBytes: [300, 0, 5000],
      }),
    );
    expect(v.map((x) => x.invariant)).toEqual([
      'terminal-phase',
      'recreated-after-deletion',
      'invalid-spec-message',
      'invalid-spec-message',
    ]);
    expect(v[0]?.detail).toContain('timed out');
  });

  it('a deleted canary has no terminal phase to check', () => {
    expect(checkRollout(record({ plan: plan({ expected: 'Deleted' }), finalPhase: undefined }))).toEqual([]);
  });

  it('lets a healthy version fail when Prometheus was lost during its analysis, and only then', () => {
    const healthy = plan({ version: 'healthy', expected: 'Succeeded' });
    expect(checkRollout(record({ plan: healthy, prometheusLost: true }))).toEqual([]);
    expect(checkRollout(record({ plan: healthy })).map((v) => v.invariant)).toEqual(['terminal-phase']);
  });

  it('sees a weight raised or a promotion while Prometheus was down, past the grace for answered checks', () => {
    const outage = { killedAt: 10_000, readyAt: 20_000 };
    const r = record({
      plan: plan({ version: 'healthy', expected: 'Succeeded' }),
      weights: [0, 10, 20, 30, 0, 10],
      weightTimes: [0, 5_000, 10_500, 14_000, 30_000, 12_000],
      phases: ['Progressing', 'Promoting', 'Succeeded'],
      phaseTimes: [0, 19_000, 30_000],
      finalPhase: 'Succeeded',
    });
    expect(checkOutages([r], [outage]).map((v) => v.detail)).toEqual([
      'weight raised to 30 4000 ms after Prometheus was killed',
      'promoted 9000 ms after Prometheus was killed',
    ]);
    expect(checkOutages([r], [{ killedAt: 40_000, readyAt: 50_000 }])).toEqual([]);
  });

  it('wants exactly one terminal alert per finished rollout', () => {
    const records = [
      record(),
      record({
        plan: plan({ index: 1, namespace: 'b', version: 'healthy', expected: 'Succeeded' }),
        finalPhase: 'Succeeded',
      }),
      record({ plan: plan({ index: 2, namespace: 'c' }) }),
    ];
    const v = checkAlerts(records, [
      { namespace: 'chaos-1-0', reason: 'Failed' },
      { namespace: 'chaos-1-0', reason: 'AdvanceWeight' },
      { namespace: 'b', reason: 'Succeeded' },
      { namespace: 'b', reason: 'Succeeded' },
    ]);
    expect(v.map((x) => `${x.invariant} ${x.namespace}`)).toEqual(['alert-duplicated b', 'alert-missing c']);
  });

  it('classifies controller writes by the request log entry', () => {
    expect(writeKind({ verb: 'patch', resource: 'virtualservices', name: 'podinfo' })).toBe('route-patch');
    expect(writeKind({ verb: 'patch', resource: 'canaries/status', name: 'podinfo' })).toBe('status-patch');
    expect(writeKind({ verb: 'patch', resource: 'deployments', name: 'podinfo' })).toBe('scale');
    expect(writeKind({ verb: 'patch', resource: 'deployments/scale', name: 'podinfo' })).toBe('scale');
    expect(writeKind({ verb: 'patch', resource: 'deployments', name: 'podinfo-primary' })).toBe(
      'promotion-copy',
    );
    expect(writeKind({ verb: 'create', resource: 'deployments', name: 'podinfo-primary' })).toBeUndefined();
    expect(writeKind({ verb: 'get', resource: 'virtualservices', name: 'podinfo' })).toBeUndefined();
  });

  it('draws the same plan from the same seed, and another from another', () => {
    const a = makePlan({ seed: 40, rollouts: 30 });
    expect(makePlan({ seed: 40, rollouts: 30 })).toEqual(a);
    expect(makePlan({ seed: 41, rollouts: 30 })).not.toEqual(a);
    expect(new Set(a.rollouts.map((r) => r.expected))).toEqual(new Set(['Succeeded', 'Failed', 'Deleted']));
    expect(a.rollouts.some((r) => r.prometheusOutage)).toBe(true);
    expect(a.rollouts.flatMap((r) => r.killAfter)).toEqual(
      expect.arrayContaining(['route-patch', 'status-patch', 'scale', 'promotion-copy', 'decision-route']),
    );
  });
});
