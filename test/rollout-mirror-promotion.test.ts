import { describe, expect, it } from 'vitest';
import { type Canary, type CanaryInput, canarySchema } from '../src/api/canary.ts';
import { decide, type Observations } from '../src/rollout/index.ts';
import { nextPromotionWeight } from '../src/rollout/weights.ts';

const T0 = new Date('2026-12-03T10:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);

function canary(analysis: Record<string, unknown>, status: Canary['status']): Canary {
  return canarySchema.parse({
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', uid: 'u1' },
    spec: {
      targetRef: { kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      analysis: {
        interval: '1m',
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
        ...analysis,
      },
    } satisfies CanaryInput['spec'],
    status,
  });
}

const passed = [{ metric: 'request-success-rate', value: 100, passed: true, reason: 'ok' }];

function obs(extra: Partial<Observations> = {}): Observations {
  return {
    target: { revision: 'r2', replicas: 2, ready: true },
    primary: { revision: 'r1', replicas: 2, ready: true },
    routes: { primary: 100, canary: 0 },
    ...extra,
  };
}

const started = {
  phase: 'Progressing' as const,
  canaryWeight: 0,
  lastAppliedSpec: 'r2',
  lastPromotedSpec: 'r1',
  lastTransitionTime: T0.toISOString(),
  lastStepTime: T0.toISOString(),
};

const weightsOf = (actions: { type: string; weights?: unknown }[]) =>
  actions.filter((a) => a.type === 'setWeights').map((a) => a.weights);

describe('mirror with a weight schedule: one step of mirroring, then shifting', () => {
  const analysis = { stepWeight: 20, maxWeight: 40, mirror: true, mirrorWeight: 50 };

  it('the opening step mirrors at weight 0 instead of shifting', () => {
    const d = decide(canary(analysis, started), obs(), at(1));
    expect(weightsOf(d.actions)).toEqual([{ primary: 100, canary: 0, mirrored: true }]);
    expect(d.status.canaryWeight).toBe(0);
    expect(d.status.lastStepTime).toBe(at(1).toISOString());
    expect(d.requeueAfterMs).toBe(60_000);
  });

  it('keeps mirroring until the step is due, and asks for no checks meanwhile', () => {
    const mirroring = { ...started, lastStepTime: at(1).toISOString() };
    const routes = { primary: 100, canary: 0, mirrored: true };
    const d = decide(canary(analysis, mirroring), obs({ routes }), at(30));
    expect(weightsOf(d.actions)).toEqual([]);
    expect(d.reason.code).toBe('WaitingForStep');
    // A mirror removed by hand is put back.
    const healed = decide(canary(analysis, mirroring), obs(), at(30));
    expect(weightsOf(healed.actions)).toEqual([routes]);
  });

  it('a passed mirroring step shifts to the first weight without the mirror', () => {
    const mirroring = { ...started, lastStepTime: at(1).toISOString() };
    const routes = { primary: 100, canary: 0, mirrored: true };
    const d = decide(canary(analysis, mirroring), obs({ routes, checks: passed }), at(61));
    expect(weightsOf(d.actions)).toEqual([{ primary: 80, canary: 20 }]);
    expect(d.status.history?.[0]).toMatchObject({ weight: 0, verdict: 'pass' });
  });

  it('a rollback drops the mirror', () => {
    const mirroring = { ...started, lastStepTime: at(1).toISOString(), failedChecks: 0 };
    const routes = { primary: 100, canary: 0, mirrored: true };
    const failed = [{ metric: 'request-success-rate', value: 80, passed: false, reason: 'low' }];
    const d = decide(
      canary({ ...analysis, threshold: 1 }, mirroring),
      obs({ routes, checks: failed }),
      at(61),
    );
    expect(d.status.phase).toBe('Failed');
    expect(weightsOf(d.actions)).toEqual([{ primary: 100, canary: 0 }]);
  });
});

describe('mirror with iterations: mirrored throughout the analysis', () => {
  it('mirrors to a ready canary at every iteration', () => {
    const status = { ...started, iterations: 1, lastStepTime: at(1).toISOString() };
    const d = decide(canary({ iterations: 3, mirror: true }, status), obs(), at(30));
    expect(weightsOf(d.actions)).toEqual([{ primary: 100, canary: 0, mirrored: true }]);
  });

  it('does not mirror to a canary that is not ready', () => {
    const status = { ...started, iterations: 1 };
    const notReady = obs({ target: { revision: 'r2', replicas: 2, ready: false } });
    const d = decide(canary({ iterations: 3, mirror: true }, status), notReady, at(1));
    expect(weightsOf(d.actions)).toEqual([]);
  });
});

describe('stepWeightPromotion', () => {
  const promoting = {
    ...started,
    phase: 'Promoting' as const,
    canaryWeight: 50,
    lastStepTime: T0.toISOString(),
  };
  const promoted = obs({
    primary: { revision: 'r2', replicas: 2, ready: true },
    routes: { primary: 50, canary: 50 },
  });

  it('steps the canary weight down once an interval has passed since the last step', () => {
    const analysis = { stepWeight: 25, maxWeight: 50, stepWeightPromotion: 20 };
    const early = decide(canary(analysis, promoting), promoted, at(30));
    expect(early.status.canaryWeight).toBe(50);
    expect(early.requeueAfterMs).toBe(30_000);
    const d = decide(canary(analysis, promoting), promoted, at(60));
    expect(d.status.phase).toBe('Promoting');
    expect(d.status.canaryWeight).toBe(30);
    expect(weightsOf(d.actions)).toEqual([{ primary: 70, canary: 30 }]);
  });

  it('the step that would reach 0 is Finalising', () => {
    const analysis = { stepWeight: 25, maxWeight: 50, stepWeightPromotion: 20 };
    const last = { ...promoting, canaryWeight: 10 };
    const routes = { primary: 90, canary: 10 };
    const d = decide(canary(analysis, last), { ...promoted, routes }, at(60));
    expect(d.status.phase).toBe('Finalising');
    expect(weightsOf(d.actions)).toEqual([{ primary: 100, canary: 0 }]);
  });

  it('without the field, all traffic goes back at once', () => {
    const d = decide(canary({ stepWeight: 25, maxWeight: 50 }, promoting), promoted, at(1));
    expect(d.status.phase).toBe('Finalising');
  });

  it.each([
    [50, 20, 30],
    [30, 20, 10],
    [10, 20, 0],
    [40, 40, 0],
  ])('from %i in steps of %i: %i', (from, step, next) => {
    expect(nextPromotionWeight(from, step)).toBe(next);
  });
});
