/** The simulator's knobs for relative checks: shared and own noise, and regressions only under load. */
import { describe, expect, it } from 'vitest';
import {
  parseBehaviour,
  SIM_ANNOTATIONS,
  seededRandom,
  simulateTick,
  type WorkloadTarget,
} from '../dev/sandbox/traffic.ts';

const SERVICE = 'podinfo.test.svc.cluster.local';
const target = (workload: string, share: number, annotations: Record<string, string>): WorkloadTarget => ({
  namespace: 'test',
  workload,
  service: SERVICE,
  share,
  annotations,
});

function correlation(xs: number[], ys: number[]): number {
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  xs.forEach((x, i) => {
    sxy += (x - mx) * (ys[i]! - my);
    sxx += (x - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  });
  return sxy / Math.sqrt(sxx * syy);
}

describe('shared and own noise', () => {
  function rates(annotations: Record<string, string>) {
    const random = seededRandom(11);
    const canary: number[] = [];
    const primary: number[] = [];
    for (let tick = 0; tick < 400; tick++) {
      const out = simulateTick({
        targets: [target('podinfo-primary', 0.5, annotations), target('podinfo', 0.5, annotations)],
        rps: 4000,
        elapsedMs: 1000,
        random,
      });
      const of = (w: string) => out.find((t) => t.workload === w)!;
      canary.push(of('podinfo').errors / of('podinfo').requests);
      primary.push(of('podinfo-primary').errors / of('podinfo-primary').requests);
    }
    return correlation(canary, primary);
  }

  it('shared noise moves canary and primary together; own noise alone does not', () => {
    const base = { [SIM_ANNOTATIONS.errorRatio]: '0.05' };
    expect(rates({ ...base, [SIM_ANNOTATIONS.sharedNoise]: '0.5' })).toBeGreaterThan(0.6);
    expect(Math.abs(rates({ ...base, [SIM_ANNOTATIONS.noise]: '0.5' }))).toBeLessThan(0.2);
  });

  it('refuses a shared noise out of range, keeping the default', () => {
    const { behaviour, problems } = parseBehaviour({ [SIM_ANNOTATIONS.sharedNoise]: '2' });
    expect(behaviour.sharedNoise).toBeUndefined();
    expect(problems[0]).toContain('sim.petrel.dev/shared-noise="2" ignored');
  });
});

describe('a regression that appears only under load', () => {
  const annotations = {
    [SIM_ANNOTATIONS.errorRatio]: '0.02',
    [SIM_ANNOTATIONS.loadShare]: '0.3',
    [SIM_ANNOTATIONS.loadErrorRatio]: '0.2',
    [SIM_ANNOTATIONS.loadLatencyFactor]: '3',
  };

  it('keeps the normal behaviour below the load share and degrades from it on', () => {
    const random = seededRandom(5);
    const errorsAt = (share: number) => {
      let errors = 0;
      let requests = 0;
      for (let tick = 0; tick < 50; tick++) {
        const [t] = simulateTick({
          targets: [target('podinfo', share, annotations)],
          rps: 1000,
          elapsedMs: 1000,
          random,
        });
        errors += t!.errors;
        requests += t!.requests;
      }
      return errors / requests;
    };
    expect(errorsAt(0.2)).toBeCloseTo(0.02, 2);
    expect(errorsAt(0.3)).toBeCloseTo(0.2, 1);
  });

  it('parses the load annotations, defaulting what is not given', () => {
    expect(parseBehaviour(annotations).behaviour.load).toEqual({
      share: 0.3,
      errorRatio: 0.2,
      latencyFactor: 3,
    });
    expect(parseBehaviour({ [SIM_ANNOTATIONS.loadShare]: '0.5' }).behaviour.load).toEqual({
      share: 0.5,
      errorRatio: 0,
      latencyFactor: 1,
    });
  });
});
