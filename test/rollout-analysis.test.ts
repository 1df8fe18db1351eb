/** How the rollout core acts on the verdicts of relative checks, holds and dry runs (issue 17). */
import { describe, expect, it } from 'vitest';
import { type Canary, canarySchema, PETREL_API_VERSION } from '../src/api/index.ts';
import { type CheckObservation, decide, type Observations } from '../src/rollout/index.ts';

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);

function canary(weight: number, failedChecks = 0): Canary {
  return canarySchema.parse({
    apiVersion: PETREL_API_VERSION,
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', generation: 1 },
    spec: {
      targetRef: { kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      analysis: {
        interval: '1m',
        threshold: 3,
        maxWeight: 50,
        stepWeight: 10,
        metrics: [{ name: 'request-success-rate', compare: { tolerance: '+0.5pp' } }],
      },
    },
    status: {
      phase: 'Progressing',
      canaryWeight: weight,
      failedChecks,
      lastAppliedSpec: 'v2',
      lastPromotedSpec: 'v1',
      lastTransitionTime: at(0).toISOString(),
      lastStepTime: at(0).toISOString(),
    },
  });
}

const ready = (revision: string) => ({ revision, replicas: 1, ready: true });
const obs = (
  weight: number,
  checks: CheckObservation[],
  extra: Partial<Observations> = {},
): Observations => ({
  target: ready('v2'),
  primary: ready('v1'),
  routes: { primary: 100 - weight, canary: weight },
  checks,
  ...extra,
});

const check = (extra: Partial<CheckObservation>): CheckObservation => ({
  metric: 'request-success-rate',
  passed: true,
  reason: 'request-success-rate (vs primary): within the tolerance',
  ...extra,
});

const events = (d: ReturnType<typeof decide>) =>
  d.actions.flatMap((a) => (a.type === 'event' ? [`${a.severity} ${a.reason}: ${a.message}`] : []));

describe('relative verdicts in the rollout core', () => {
  it('a conclusive failure rolls back at once, whatever the threshold', () => {
    const d = decide(
      canary(10),
      obs(10, [
        check({ passed: false, verdict: 'fail', conclusive: true, reason: 'canary errors 8% vs primary 2%' }),
      ]),
      at(60_000),
    );
    expect(d.status.phase).toBe('Failed');
    expect(d.status.canaryWeight).toBe(0);
    expect(events(d).join('\n')).toContain('regression detected with conclusive evidence');
    expect(events(d).join('\n')).toContain('canary errors 8% vs primary 2%');
  });

  it('inconclusive holds the weight, counts no failure, and uses up the step', () => {
    const d = decide(
      canary(20),
      obs(20, [check({ passed: false, verdict: 'inconclusive', reason: 'not enough evidence yet' })]),
      at(60_000),
    );
    expect(d.status.phase).toBe('Progressing');
    expect(d.status.canaryWeight).toBe(20);
    expect(d.status.failedChecks).toBe(0);
    expect(d.status.lastStepTime).toBe(at(60_000).toISOString());
    expect(d.reason.code).toBe('AnalysisHeld');
    expect(d.reason.severity).toBe('Normal');
    expect(d.requeueAfterMs).toBe(60_000);
    expect(d.status.history?.at(-1)?.verdict).toBe('inconclusive');
  });

  it('an inconclusive check at the top of the schedule never promotes', () => {
    const d = decide(canary(50), obs(50, [check({ passed: false, verdict: 'inconclusive' })]), at(60_000));
    expect(d.status.phase).toBe('Progressing');
    expect(d.actions.map((a) => a.type)).not.toContain('promotePrimary');
  });

  it('an unreachable backend holds with a warning that reaches the alerts', () => {
    const d = decide(
      canary(20),
      obs(20, [
        check({
          passed: false,
          verdict: 'hold',
          alert: true,
          code: 'UNREACHABLE',
          reason: 'metrics backend unreachable',
        }),
      ]),
      at(60_000),
    );
    expect(d.status.canaryWeight).toBe(20);
    expect(d.status.failedChecks).toBe(0);
    expect(d.reason.severity).toBe('Warning');
    expect(events(d)[0]).toContain(
      'Warning AnalysisHeld: weight stays 20, no failure counted: metrics backend unreachable',
    );
  });

  it('a failed absolute check next to an inconclusive one still counts towards the threshold', () => {
    const d = decide(
      canary(20),
      obs(20, [
        check({ passed: false, verdict: 'inconclusive' }),
        {
          metric: 'request-duration',
          value: 900,
          max: 500,
          passed: false,
          reason: 'request-duration 900ms > max 500ms',
        },
      ]),
      at(60_000),
    );
    expect(d.status.failedChecks).toBe(1);
    expect(d.reason.code).toBe('CheckFailed');
  });

  it('a dry-run check that fails never acts, but is recorded and alerted as "would have failed"', () => {
    const d = decide(
      canary(20),
      obs(20, [
        check({}),
        check({
          metric: 'latency',
          passed: false,
          verdict: 'fail',
          conclusive: true,
          dryRun: true,
          reason: '[dry run] latency: p99 doubled',
        }),
      ]),
      at(60_000),
    );
    expect(d.status.phase).toBe('Progressing');
    expect(d.status.canaryWeight).toBe(30);
    expect(d.status.failedChecks).toBe(0);
    expect(events(d)).toContain(
      'Warning DryRunCheckFailed: dry run, not acted on: would have failed: [dry run] latency: p99 doubled',
    );
    expect(d.status.history?.map((h) => h.verdict)).toEqual(['pass', 'fail']);
  });

  it('copies the relative checks state and evidence into status.analysis', () => {
    const analysis = {
      revision: 'v2',
      metrics: [{ metric: 'request-success-rate', batches: [[1, 100, 10, 1000]] }],
      steps: [
        {
          time: at(60_000).toISOString(),
          weight: 20,
          score: 80,
          checks: [{ metric: 'request-success-rate', verdict: 'pass' as const }],
        },
      ],
    };
    const d = decide(canary(20), obs(20, [check({})], { analysis }), at(60_000));
    expect(d.status.analysis).toEqual(analysis);
  });
});

describe('per-release history', () => {
  it('a new revision starts with an empty history, not the previous release checks', () => {
    const previous = canarySchema.parse({
      ...canary(0),
      status: {
        phase: 'Succeeded',
        canaryWeight: 0,
        lastAppliedSpec: 'v2',
        lastPromotedSpec: 'v2',
        history: [
          {
            time: at(0).toISOString(),
            weight: 50,
            metric: 'request-success-rate',
            verdict: 'pass',
            reason: 'ok',
          },
        ],
      },
    });
    const d = decide(
      previous,
      { target: ready('v3'), primary: ready('v2'), routes: { primary: 100, canary: 0 } },
      at(60_000),
    );
    expect(d.status.phase).toBe('Progressing');
    expect(d.status.lastAppliedSpec).toBe('v3');
    expect(d.status.history).toEqual([]);
  });
});
