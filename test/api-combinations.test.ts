import { describe, expect, it } from 'vitest';
import { validateCanary } from '../src/api/canary.ts';

function canary(spec: Record<string, unknown>, analysis: Record<string, unknown>) {
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: { targetRef: { kind: 'Deployment', name: 'podinfo' }, service: { port: 9898 }, ...spec, analysis },
  };
}

function problems(spec: Record<string, unknown>, analysis: Record<string, unknown>): string[] {
  const result = validateCanary(canary(spec, analysis));
  return result.ok ? [] : result.issues.map((i) => i.path);
}

describe('field combinations that mean nothing together are refused, naming the field', () => {
  const k8s = { provider: 'kubernetes' };
  it.each([
    ['kubernetes without iterations', k8s, {}, ['spec.analysis.iterations']],
    [
      'kubernetes with stepWeight',
      k8s,
      { stepWeight: 20 },
      ['spec.analysis.stepWeight', 'spec.analysis.iterations'],
    ],
    [
      'kubernetes with stepWeights',
      k8s,
      { stepWeights: [10, 20] },
      ['spec.analysis.stepWeights', 'spec.analysis.iterations'],
    ],
    ['kubernetes with mirror', k8s, { iterations: 3, mirror: true }, ['spec.analysis.mirror']],
    [
      'kubernetes with stepWeightPromotion',
      k8s,
      { iterations: 3, stepWeightPromotion: 10 },
      ['spec.analysis.stepWeightPromotion'],
    ],
    [
      'kubernetes with match',
      k8s,
      { iterations: 3, match: [{ headers: { x: { exact: 'y' } } }] },
      ['spec.analysis.match'],
    ],
    [
      'kubernetes with sessionAffinity',
      k8s,
      { iterations: 3, sessionAffinity: { cookieName: 'c' } },
      ['spec.analysis.sessionAffinity'],
    ],
    ['stepWeight above maxWeight', {}, { stepWeight: 60, maxWeight: 50 }, ['spec.analysis.stepWeight']],
    ['stepWeight above the default maxWeight', {}, { stepWeight: 60 }, ['spec.analysis.stepWeight']],
    [
      'stepWeightPromotion with iterations',
      {},
      { iterations: 3, stepWeightPromotion: 10 },
      ['spec.analysis.stepWeightPromotion'],
    ],
    [
      'mirror with A/B match',
      {},
      { iterations: 3, mirror: true, match: [{ headers: {} }] },
      ['spec.analysis.mirror'],
    ],
    [
      'sessionAffinity with iterations',
      {},
      { iterations: 3, sessionAffinity: { cookieName: 'c' } },
      ['spec.analysis.sessionAffinity'],
    ],
    ['mirrorWeight without mirror', {}, { mirrorWeight: 50 }, ['spec.analysis.mirrorWeight']],
    [
      'a cookie name with a space',
      {},
      { sessionAffinity: { cookieName: 'a b' } },
      ['spec.analysis.sessionAffinity.cookieName'],
    ],
  ])('%s', (_name, spec, analysis, paths) => {
    expect([...problems(spec, analysis)].sort()).toEqual([...paths].sort());
  });

  it.each([
    ['kubernetes blue/green', k8s, { iterations: 3 }],
    [
      'istio weights with everything',
      {},
      {
        stepWeight: 10,
        maxWeight: 50,
        mirror: true,
        mirrorWeight: 50,
        stepWeightPromotion: 20,
        sessionAffinity: { cookieName: 'canary', maxAge: 60 },
      },
    ],
    ['istio blue/green with mirror', {}, { iterations: 3, mirror: true }],
    ['stepWeight equal to maxWeight', {}, { stepWeight: 50, maxWeight: 50 }],
  ])('accepts %s', (_name, spec, analysis) => {
    expect(problems(spec, analysis)).toEqual([]);
  });

  it('the message says what to do', () => {
    const result = validateCanary(canary({ provider: 'kubernetes' }, { stepWeight: 20 }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const stepWeight = result.issues.find((i) => i.path === 'spec.analysis.stepWeight');
    expect(stepWeight?.message).toContain('analysis.iterations');
    expect(stepWeight?.message).toContain('provider istio');
  });

  it('defaults sessionAffinity.maxAge to a day', () => {
    const result = validateCanary(canary({}, { sessionAffinity: { cookieName: 'canary' } }));
    expect(result.ok && result.value.spec.analysis.sessionAffinity).toEqual({
      cookieName: 'canary',
      maxAge: 86_400,
    });
  });
});
