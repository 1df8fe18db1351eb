import { describe, expect, it } from 'vitest';
import { type Canary, type CanaryInput, canarySchema } from '../src/api/canary.ts';
import { decide, type Observations } from '../src/rollout/index.ts';

const NOW = new Date('2026-12-03T10:00:00Z');

function failedCanary(
  status: Partial<NonNullable<Canary['status']>> = {},
  spec: Partial<CanaryInput['spec']> = {},
): Canary {
  return canarySchema.parse({
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: {
      name: 'podinfo',
      namespace: 'test',
      generation: 1,
      annotations: { 'petrel.dev/action': 'retry', 'petrel.dev/action-by': 'alice' },
    },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      analysis: {
        interval: '1m',
        threshold: 2,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
      },
      ...spec,
    },
    status: {
      phase: 'Failed',
      canaryWeight: 0,
      failedChecks: 2,
      iterations: 0,
      lastAppliedSpec: 'rev-b',
      lastPromotedSpec: 'rev-a',
      lastTransitionTime: '2026-12-03T09:00:00Z',
      lastStepTime: '2026-12-03T09:00:00Z',
      conditions: [{ type: 'Promoted', status: 'False', reason: 'Failed', message: 'rolled back' }],
      history: [
        {
          time: '2026-12-03T09:00:00Z',
          weight: 10,
          metric: 'request-success-rate',
          value: 95,
          verdict: 'fail',
          reason: 'request-success-rate 95 < min 99',
        },
      ],
      ...status,
    },
  });
}

function observations(extra: Partial<Observations> = {}): Observations {
  return {
    target: { revision: 'rev-b', replicas: 0, ready: true },
    primary: { revision: 'rev-a', replicas: 2, ready: true },
    routes: { primary: 100, canary: 0 },
    manual: { action: 'retry', by: 'alice' },
    ...extra,
  };
}

describe('petrel retry in the state machine', () => {
  it('starts a Failed rollout of the same revision again from weight 0, counters reset, history kept', () => {
    const canary = failedCanary();
    const decision = decide(canary, observations(), NOW);
    expect(decision.reason.code).toBe('Retried');
    expect(decision.reason.message).toContain('retry by alice');
    expect(decision.status).toMatchObject({
      phase: 'Progressing',
      canaryWeight: 0,
      failedChecks: 0,
      iterations: 0,
      lastAppliedSpec: 'rev-b',
      lastPromotedSpec: 'rev-a',
      lastStepTime: NOW.toISOString(),
      lastTransitionTime: NOW.toISOString(),
    });
    expect(decision.status.history).toEqual(canary.status?.history);
    expect(decision.status.conditions?.find((c) => c.type === 'Promoted')).toMatchObject({
      status: 'Unknown',
    });
    expect(decision.actions).toContainEqual({ type: 'scaleTarget', replicas: 2 });
    expect(decision.actions).toContainEqual({ type: 'clearManualAction' });
    expect(decision.actions).toContainEqual(expect.objectContaining({ type: 'event', reason: 'Retried' }));
    expect(decision.requeueAfterMs).toBeGreaterThan(0);
  });

  it('goes on as a normal rollout afterwards: the ready canary gets the first weight', () => {
    const first = decide(failedCanary(), observations(), NOW);
    const again = { ...failedCanary(), status: first.status };
    again.metadata = { ...again.metadata, annotations: {} };
    const next = decide(
      again,
      observations({ manual: undefined, target: { revision: 'rev-b', replicas: 2, ready: true } }),
      new Date(NOW.getTime() + 1000),
    );
    expect(next.status.phase).toBe('Progressing');
    expect(next.status.canaryWeight).toBe(10);
    expect(next.actions).toContainEqual({ type: 'setWeights', weights: { primary: 90, canary: 10 } });
  });

  it.each([
    [
      'Progressing',
      'only a Failed rollout can be retried, and the canary is Progressing (petrel abort ends it)',
    ],
    ['Succeeded', 'only a Failed rollout can be retried, and the canary is Succeeded'],
    ['Initialized', 'only a Failed rollout can be retried, and the canary is Initialized'],
  ] as const)('refuses a retry of a %s canary with the reason, clearing the annotation', (phase, why) => {
    const canary = failedCanary({ phase, canaryWeight: phase === 'Progressing' ? 20 : 0, failedChecks: 1 });
    const target = phase === 'Progressing' ? { revision: 'rev-b', replicas: 2, ready: true } : undefined;
    const decision = decide(canary, observations(target ? { target } : {}), NOW);
    expect(decision.reason).toMatchObject({ code: 'RetryRefused', severity: 'Warning' });
    expect(decision.reason.message).toBe(`retry by alice refused: ${why}`);
    expect(decision.status.phase).toBe(phase);
    expect(decision.status.failedChecks).toBe(1);
    expect(decision.actions).toEqual([
      { type: 'clearManualAction' },
      expect.objectContaining({ type: 'event', reason: 'RetryRefused' }),
    ]);
  });

  it('refuses when the target already runs a new revision (which starts its own rollout)', () => {
    const decision = decide(
      failedCanary(),
      observations({ target: { revision: 'rev-c', replicas: 0, ready: true } }),
      NOW,
    );
    expect(decision.reason.code).toBe('RetryRefused');
    expect(decision.reason.message).toContain('the target runs a new revision');
    expect(decision.status.phase).toBe('Failed');
  });

  it('refuses while a freeze holds new rollouts, naming it and when it ends', () => {
    const decision = decide(
      failedCanary(),
      observations({ freezes: [{ name: 'year-end', reason: 'holidays', end: '2026-12-04T00:00:00Z' }] }),
      NOW,
    );
    expect(decision.reason.code).toBe('RetryRefused');
    expect(decision.reason.message).toContain('ReleaseFreeze year-end (holidays)');
    expect(decision.reason.message).toContain('2026-12-04');
    expect(decision.status.phase).toBe('Failed');
  });

  it('finishes quietly when replayed after a crash: the rollout already restarted after the request', () => {
    const first = decide(failedCanary(), observations(), NOW);
    const replayed = { ...failedCanary(), status: first.status };
    const later = new Date(NOW.getTime() + 500);
    const decision = decide(
      replayed,
      observations({ manual: { action: 'retry', by: 'alice', at: '2026-12-03T09:59:59Z' } }),
      later,
    );
    expect(decision.actions).toEqual([{ type: 'clearManualAction' }]);
    expect(decision.status).toEqual({ ...first.status });
    // A request made after that transition is a new one, and is refused while the rollout runs.
    const fresh = decide(
      replayed,
      observations({ manual: { action: 'retry', by: 'alice', at: '2026-12-03T10:00:01Z' } }),
      later,
    );
    expect(fresh.reason.code).toBe('RetryRefused');
  });

  it('does nothing while spec.suspend holds the canary: the annotation stays for later', () => {
    const decision = decide(failedCanary({}, { suspend: true }), observations(), NOW);
    expect(decision.reason.code).toBe('Suspended');
    expect(decision.actions).toEqual([]);
  });
});
