import { describe, expect, it } from 'vitest';
import { type Canary, type CanaryInput, canarySchema } from '../src/api/canary.ts';
import { decide, type Observations } from '../src/rollout/index.ts';

function makeCanary(spec: Partial<CanaryInput['spec']>, status?: Canary['status']): Canary {
  return canarySchema.parse({
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', generation: 1 },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      analysis: { interval: '1m', threshold: 3, maxWeight: 50, stepWeight: 10 },
      ...spec,
    },
    ...(status ? { status } : {}),
  });
}

const withHpa = {
  autoscalerRef: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: 'podinfo' },
} as const;
const target = { revision: 'r1', replicas: 0, ready: true };
const now = new Date('2026-12-01T00:00:00Z');
const types = (canary: Canary, obs: Observations) => decide(canary, obs, now).actions.map((a) => a.type);

describe('syncPrimaryAutoscaler is emitted wherever the primary must exist', () => {
  it('comes last when the primary is being created', () => {
    const actions = types(makeCanary(withHpa), { target });
    expect(actions[0]).toBe('ensurePrimary');
    expect(actions.at(-1)).toBe('syncPrimaryAutoscaler');
    expect(actions.filter((t) => t === 'syncPrimaryAutoscaler')).toHaveLength(1);
  });

  it('comes on every tick once the primary exists, whatever the phase', () => {
    const primary = { revision: 'r1', replicas: 2, ready: true };
    const settled = { lastAppliedSpec: 'r1', lastPromotedSpec: 'r1', canaryWeight: 0 };
    for (const phase of ['Initialized', 'Succeeded', 'Progressing', 'Terminating'] as const) {
      const actions = types(makeCanary(withHpa, { phase, ...settled }), { target, primary });
      expect(actions.at(-1), phase).toBe('syncPrimaryAutoscaler');
    }
    expect(
      types(makeCanary({ ...withHpa, suspend: true }, { phase: 'Succeeded' }), { target, primary }),
    ).toEqual(['syncPrimaryAutoscaler']);
  });

  it('is not emitted without an autoscalerRef, nor while nothing asks for the primary', () => {
    expect(types(makeCanary({}), { target })).not.toContain('syncPrimaryAutoscaler');
    expect(types(makeCanary({ ...withHpa, suspend: true }), { target })).toEqual([]);
  });
});
