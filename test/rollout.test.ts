import { type Canary, type CanaryInput, canarySchema } from '../src/api/canary.ts';
import type { Action, Observations, Weights, WorkloadObservation } from '../src/rollout/index.ts';

function makeCanary(
  spec: Partial<CanaryInput['spec']> = {},
  status?: Canary['status'],
  generation = 1,
): Canary {
  return canarySchema.parse({
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', generation },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      ...spec,
      analysis: {
        interval: '1m',
        threshold: 3,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '1m' }],
        ...(spec.analysis ?? {}),
      },
    },
    ...(status ? { status } : {}),
  });
}

/** A tiny model of the cluster the executor would change: enough to replay decisions. */
interface World {
  target: WorkloadObservation & { neverReady?: boolean };
  primary?: WorkloadObservation;
  routes?: Weights;
  /** Replicas the user asked for in the target manifest (what the primary copies on creation). */
  userReplicas: number;
}

function observe(world: World): Observations {
  return {
    target: { ...world.target },
    ...(world.primary ? { primary: { ...world.primary } } : {}),
    ...(world.routes ? { routes: { ...world.routes } } : {}),
  };
}

function apply(world: World, actions: Action[]): void {
  for (const action of actions) {
    switch (action.type) {
      case 'ensurePrimary':
        world.primary ??= { revision: world.target.revision, replicas: world.userReplicas, ready: false };
        break;
      case 'ensureRoutes':
        world.routes ??= { primary: 100, canary: 0 };
        break;
      case 'setWeights':
        world.routes = { ...action.weights };
        break;
      case 'scaleTarget':
        if (world.target.replicas !== action.replicas) {
          world.target.replicas = action.replicas;
          world.target.ready = action.replicas === 0;
        }
        break;
      case 'promotePrimary':
        if (world.primary && world.primary.revision !== world.target.revision) {
          world.primary = { ...world.primary, revision: world.target.revision, ready: false };
        }
        break;
      case 'event':
        break;
    }
  }
}

/** Deployments finish rolling out between ticks unless told never to. */
function settle(world: World): void {
  if (world.primary) world.primary.ready = true;
  if (!world.target.neverReady || world.target.replicas === 0) world.target.ready = true;
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, HISTORY_LIMIT, planObservations } from '../src/rollout/index.ts';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const iso = (ms: number) => at(ms).toISOString();
const ready = (revision: string, replicas = 1): WorkloadObservation => ({ revision, replicas, ready: true });
const pass = {
  metric: 'request-success-rate',
  value: 100,
  passed: true,
  reason: 'request-success-rate 100 >= 99',
};
const fail = {
  metric: 'request-success-rate',
  value: 95,
  passed: false,
  reason: 'request-success-rate 95 < 99',
};

const progressing = (extra: Partial<NonNullable<Canary['status']>> = {}): NonNullable<Canary['status']> => ({
  phase: 'Progressing',
  canaryWeight: 0,
  failedChecks: 0,
  lastAppliedSpec: 'v2',
  lastPromotedSpec: 'v1',
  lastTransitionTime: iso(0),
  lastStepTime: iso(0),
  ...extra,
});

const types = (actions: Action[]) => actions.map((a) => a.type);

describe('decide, phase by phase', () => {
  interface Case {
    name: string;
    canary: Canary;
    obs: Observations;
    now: number;
    phase: string;
    reason: string;
    actions?: string[];
    weight?: number;
    requeue?: number | undefined;
  }
  const cases: Case[] = [
    {
      name: 'new canary: creates the primary and routes',
      canary: makeCanary(),
      obs: { target: ready('v1', 2) },
      now: 0,
      phase: 'Initializing',
      reason: 'Initializing',
      actions: ['ensurePrimary', 'ensureRoutes', 'event'],
      requeue: 60_000,
    },
    {
      name: 'Initializing: waits for the primary without a new event',
      canary: makeCanary({}, { phase: 'Initializing' }),
      obs: {
        target: ready('v1', 2),
        primary: { revision: 'v1', replicas: 2, ready: false },
        routes: { primary: 100, canary: 0 },
      },
      now: 0,
      phase: 'Initializing',
      reason: 'Initializing',
      actions: ['ensurePrimary', 'ensureRoutes'],
    },
    {
      name: 'Initializing: primary ready scales the target to zero',
      canary: makeCanary({}, { phase: 'Initializing' }),
      obs: { target: ready('v1', 2), primary: ready('v1', 2), routes: { primary: 100, canary: 0 } },
      now: 0,
      phase: 'Initialized',
      reason: 'Initialized',
      actions: ['ensurePrimary', 'ensureRoutes', 'scaleTarget', 'event'],
      requeue: undefined,
    },
    {
      name: 'Initialized with no change: nothing but a cached route check, no timer',
      canary: makeCanary({}, { phase: 'Initialized', lastAppliedSpec: 'v1', canaryWeight: 0 }),
      obs: { target: ready('v1', 0), primary: ready('v1'), routes: { primary: 100, canary: 0 } },
      now: 0,
      phase: 'Initialized',
      reason: 'Idle',
      actions: ['ensureRoutes'],
      requeue: undefined,
    },
    {
      name: 'Initialized + new revision: scale the canary up to the primary replicas',
      canary: makeCanary({}, { phase: 'Initialized', lastAppliedSpec: 'v1' }),
      obs: { target: ready('v2', 0), primary: ready('v1', 3), routes: { primary: 100, canary: 0 } },
      now: 0,
      phase: 'Progressing',
      reason: 'NewRevision',
      actions: ['ensureRoutes', 'scaleTarget', 'event'],
      weight: 0,
    },
    {
      name: 'Progressing: canary not ready yet waits until the deadline',
      canary: makeCanary({ progressDeadlineSeconds: 60 }, progressing()),
      obs: {
        target: { revision: 'v2', replicas: 1, ready: false },
        primary: ready('v1'),
        routes: { primary: 100, canary: 0 },
      },
      now: 20_000,
      phase: 'Progressing',
      reason: 'WaitingForCanary',
      requeue: 40_000,
    },
    {
      name: 'Progressing: canary not ready at the deadline rolls back',
      canary: makeCanary({ progressDeadlineSeconds: 60 }, progressing()),
      obs: {
        target: { revision: 'v2', replicas: 1, ready: false },
        primary: ready('v1'),
        routes: { primary: 100, canary: 0 },
      },
      now: 60_000,
      phase: 'Failed',
      reason: 'ProgressDeadlineExceeded',
      actions: ['ensureRoutes', 'scaleTarget', 'event'],
    },
    {
      name: 'Progressing: ready canary takes the first step at once',
      canary: makeCanary({}, progressing()),
      obs: { target: ready('v2'), primary: ready('v1'), routes: { primary: 100, canary: 0 } },
      now: 1_000,
      phase: 'Progressing',
      reason: 'AdvanceWeight',
      actions: ['ensureRoutes', 'setWeights'],
      weight: 10,
      requeue: 60_000,
    },
    {
      name: 'Progressing: next step not due yet',
      canary: makeCanary({}, progressing({ canaryWeight: 10, lastStepTime: iso(0) })),
      obs: { target: ready('v2'), primary: ready('v1'), routes: { primary: 90, canary: 10 } },
      now: 45_000,
      phase: 'Progressing',
      reason: 'WaitingForStep',
      actions: ['ensureRoutes'],
      weight: 10,
      requeue: 15_000,
    },
    {
      name: 'Progressing: passing checks advance one step',
      canary: makeCanary({}, progressing({ canaryWeight: 10 })),
      obs: { target: ready('v2'), primary: ready('v1'), routes: { primary: 90, canary: 10 }, checks: [pass] },
      now: 60_000,
      phase: 'Progressing',
      reason: 'AdvanceWeight',
      weight: 20,
    },
    {
      name: 'Progressing: a failed check halts the weight and counts',
      canary: makeCanary({}, progressing({ canaryWeight: 20 })),
      obs: { target: ready('v2'), primary: ready('v1'), routes: { primary: 80, canary: 20 }, checks: [fail] },
      now: 60_000,
      phase: 'Progressing',
      reason: 'CheckFailed',
      actions: ['ensureRoutes', 'event'],
      weight: 20,
    },
    {
      name: 'Progressing: the threshold-th failed check rolls back',
      canary: makeCanary({}, progressing({ canaryWeight: 20, failedChecks: 2 })),
      obs: { target: ready('v2'), primary: ready('v1'), routes: { primary: 80, canary: 20 }, checks: [fail] },
      now: 60_000,
      phase: 'Failed',
      reason: 'Failed',
      actions: ['ensureRoutes', 'setWeights', 'scaleTarget', 'event'],
      weight: 0,
    },
    {
      name: 'Progressing: checks pass at maxWeight -> promote',
      canary: makeCanary({}, progressing({ canaryWeight: 50 })),
      obs: { target: ready('v2'), primary: ready('v1'), routes: { primary: 50, canary: 50 }, checks: [pass] },
      now: 60_000,
      phase: 'Promoting',
      reason: 'Promoting',
      actions: ['ensureRoutes', 'promotePrimary', 'event'],
      weight: 50,
    },
    {
      name: 'Progressing: routes edited by hand are put back to the status weight',
      canary: makeCanary({}, progressing({ canaryWeight: 30 })),
      obs: { target: ready('v2'), primary: ready('v1'), routes: { primary: 100, canary: 0 } },
      now: 10_000,
      phase: 'Progressing',
      reason: 'WaitingForStep',
      actions: ['ensureRoutes', 'setWeights'],
    },
    {
      name: 'Progressing + another new revision restarts the analysis at 100/0',
      canary: makeCanary({}, progressing({ canaryWeight: 30, failedChecks: 1 })),
      obs: { target: ready('v3'), primary: ready('v1'), routes: { primary: 70, canary: 30 } },
      now: 10_000,
      phase: 'Progressing',
      reason: 'RevisionChanged',
      actions: ['ensureRoutes', 'setWeights', 'event'],
      weight: 0,
    },
    {
      name: 'Waiting behaves as Progressing',
      canary: makeCanary({}, progressing({ phase: 'Waiting' })),
      obs: { target: ready('v2'), primary: ready('v1'), routes: { primary: 100, canary: 0 } },
      now: 1_000,
      phase: 'Progressing',
      reason: 'AdvanceWeight',
      weight: 10,
    },
    {
      name: 'skipAnalysis promotes a ready canary without checks',
      canary: makeCanary({ skipAnalysis: true }, progressing()),
      obs: { target: ready('v2'), primary: ready('v1'), routes: { primary: 100, canary: 0 } },
      now: 1_000,
      phase: 'Promoting',
      reason: 'Promoting',
      actions: ['ensureRoutes', 'promotePrimary', 'event'],
    },
    {
      name: 'Promoting: primary not yet updated gets the template copied',
      canary: makeCanary({}, progressing({ phase: 'Promoting', canaryWeight: 50 })),
      obs: { target: ready('v2'), primary: ready('v1'), routes: { primary: 50, canary: 50 } },
      now: 1_000,
      phase: 'Promoting',
      reason: 'WaitingForPrimary',
      actions: ['ensureRoutes', 'promotePrimary'],
    },
    {
      name: 'WaitingPromotion (confirm-promotion closed) keeps analysing at its weight',
      canary: makeCanary({}, progressing({ phase: 'WaitingPromotion', canaryWeight: 50 })),
      obs: {
        target: ready('v2'),
        primary: { revision: 'v1', replicas: 1, ready: true },
        routes: { primary: 50, canary: 50 },
      },
      now: 1_000,
      phase: 'WaitingPromotion',
      reason: 'WaitingForStep',
      actions: ['ensureRoutes'],
    },
    {
      name: 'Promoting: primary not ready by the deadline rolls back',
      canary: makeCanary(
        { progressDeadlineSeconds: 30 },
        progressing({ phase: 'Promoting', canaryWeight: 50 }),
      ),
      obs: {
        target: ready('v2'),
        primary: { revision: 'v2', replicas: 1, ready: false },
        routes: { primary: 50, canary: 50 },
      },
      now: 30_000,
      phase: 'Failed',
      reason: 'ProgressDeadlineExceeded',
      actions: ['ensureRoutes', 'setWeights', 'scaleTarget', 'event'],
    },
    {
      name: 'Promoting: primary ready with the new revision -> Finalising at 100/0',
      canary: makeCanary({}, progressing({ phase: 'Promoting', canaryWeight: 50 })),
      obs: { target: ready('v2'), primary: ready('v2'), routes: { primary: 50, canary: 50 } },
      now: 1_000,
      phase: 'Finalising',
      reason: 'Finalising',
      actions: ['ensureRoutes', 'setWeights', 'event'],
      weight: 0,
      requeue: 0,
    },
    {
      name: 'Finalising: scale the canary to zero -> Succeeded',
      canary: makeCanary({}, progressing({ phase: 'Finalising' })),
      obs: { target: ready('v2'), primary: ready('v2'), routes: { primary: 100, canary: 0 } },
      now: 1_000,
      phase: 'Succeeded',
      reason: 'Succeeded',
      actions: ['ensureRoutes', 'scaleTarget', 'event'],
      requeue: undefined,
    },
    {
      name: 'Succeeded with nothing changing does nothing',
      canary: makeCanary({}, { phase: 'Succeeded', lastAppliedSpec: 'v2', canaryWeight: 0 }),
      obs: { target: ready('v2', 0), primary: ready('v2'), routes: { primary: 100, canary: 0 } },
      now: 1_000,
      phase: 'Succeeded',
      reason: 'Idle',
      actions: ['ensureRoutes'],
      requeue: undefined,
    },
    {
      name: 'Failed keeps the failed revision scaled to zero',
      canary: makeCanary({}, { phase: 'Failed', lastAppliedSpec: 'v2', canaryWeight: 0 }),
      obs: { target: ready('v2', 1), primary: ready('v1'), routes: { primary: 100, canary: 0 } },
      now: 1_000,
      phase: 'Failed',
      reason: 'Idle',
      actions: ['ensureRoutes', 'scaleTarget'],
    },
    {
      name: 'Failed + a newer revision starts again',
      canary: makeCanary({}, { phase: 'Failed', lastAppliedSpec: 'v2', canaryWeight: 0, failedChecks: 3 }),
      obs: { target: ready('v3', 0), primary: ready('v1'), routes: { primary: 100, canary: 0 } },
      now: 1_000,
      phase: 'Progressing',
      reason: 'NewRevision',
      weight: 0,
    },
    {
      name: 'Failed + the target reverted to the promoted revision: back to Succeeded without analysis',
      canary: makeCanary(
        {},
        { phase: 'Failed', lastAppliedSpec: 'v2', lastPromotedSpec: 'v1', canaryWeight: 0 },
      ),
      obs: { target: ready('v1', 0), primary: ready('v1'), routes: { primary: 100, canary: 0 } },
      now: 1_000,
      phase: 'Succeeded',
      reason: 'RevisionAlreadyPromoted',
      actions: ['ensureRoutes', 'event'],
    },
    {
      name: 'Progressing + the target reverted to the promoted revision: the rollout stops at 100/0',
      canary: makeCanary({}, progressing({ canaryWeight: 30 })),
      obs: { target: ready('v1'), primary: ready('v1'), routes: { primary: 70, canary: 30 } },
      now: 1_000,
      phase: 'Succeeded',
      reason: 'RevisionAlreadyPromoted',
      actions: ['ensureRoutes', 'setWeights', 'scaleTarget', 'event'],
      weight: 0,
    },
    {
      name: 'suspend holds whatever the phase',
      canary: makeCanary({ suspend: true }, progressing({ canaryWeight: 10 })),
      obs: { target: ready('v3'), primary: ready('v1'), routes: { primary: 90, canary: 10 } },
      now: 600_000,
      phase: 'Progressing',
      reason: 'Suspended',
      actions: [],
      weight: 10,
      requeue: undefined,
    },
    {
      name: 'Terminating holds',
      canary: makeCanary({}, { phase: 'Terminating' }),
      obs: { target: ready('v3'), primary: ready('v1') },
      now: 0,
      phase: 'Terminating',
      reason: 'Terminating',
      actions: [],
    },
    {
      name: 'Terminated holds',
      canary: makeCanary({}, { phase: 'Terminated' }),
      obs: { target: ready('v3'), primary: ready('v1') },
      now: 0,
      phase: 'Terminated',
      reason: 'Terminating',
      actions: [],
    },
    {
      name: 'a deleted primary is re-initialized',
      canary: makeCanary({}, { phase: 'Succeeded', lastAppliedSpec: 'v1' }),
      obs: { target: ready('v1', 0), routes: { primary: 100, canary: 0 } },
      now: 0,
      phase: 'Initializing',
      reason: 'Initializing',
    },
  ];

  it.each(cases)('$name', (c) => {
    const decision = decide(c.canary, c.obs, at(c.now));
    expect(decision.status.phase).toBe(c.phase);
    expect(decision.reason.code).toBe(c.reason);
    expect(decision.reason.message.length).toBeGreaterThan(10);
    if (c.actions) expect(types(decision.actions)).toEqual(c.actions);
    if (c.weight !== undefined) expect(decision.status.canaryWeight).toBe(c.weight);
    if ('requeue' in c) expect(decision.requeueAfterMs).toBe(c.requeue);
    for (const action of decision.actions) {
      if (action.type === 'event') expect(action.reason).toBe(decision.reason.code);
    }
  });

  it('records the reason of every transition in the Promoted condition', () => {
    const failed = decide(
      makeCanary({}, progressing({ canaryWeight: 20, failedChecks: 2 })),
      { target: ready('v2'), primary: ready('v1'), routes: { primary: 80, canary: 20 }, checks: [fail] },
      at(60_000),
    );
    const condition = failed.status.conditions?.find((c) => c.type === 'Promoted');
    expect(condition).toMatchObject({ status: 'False', reason: 'Failed' });
    expect(condition?.message).toContain('request-success-rate 95 < 99');
    const warning = failed.actions.find((a) => a.type === 'event');
    expect(warning).toMatchObject({ severity: 'Warning', reason: 'Failed' });
  });

  it('walks an explicit stepWeights schedule', () => {
    const spec = { analysis: { stepWeights: [5, 25, 60], metrics: [] } };
    const seen: number[] = [];
    let canary = makeCanary(spec, progressing());
    for (let i = 0; i < 5; i++) {
      const weight = canary.status?.canaryWeight ?? 0;
      const d = decide(
        canary,
        { target: ready('v2'), primary: ready('v1'), routes: { primary: 100 - weight, canary: weight } },
        at(i * 60_000 + 60_000),
      );
      if (d.status.phase !== 'Progressing') break;
      seen.push(d.status.canaryWeight ?? -1);
      canary = { ...canary, status: d.status };
    }
    expect(seen).toEqual([5, 25, 60]);
  });

  it('promotes after `iterations` passing analyses when no weight step is configured', () => {
    const canary = makeCanary({ analysis: { iterations: 2 } }, progressing());
    const withoutSteps: Canary = {
      ...canary,
      spec: { ...canary.spec, analysis: { ...canary.spec.analysis, stepWeight: undefined } },
    };
    const obs = {
      target: ready('v2'),
      primary: ready('v1'),
      routes: { primary: 100, canary: 0 },
      checks: [pass],
    };
    const first = decide(withoutSteps, obs, at(60_000));
    expect(first.status).toMatchObject({ phase: 'Progressing', iterations: 1, canaryWeight: 0 });
    const second = decide({ ...withoutSteps, status: first.status }, obs, at(120_000));
    expect(second.status.phase).toBe('Promoting');
  });

  it('A/B testing sends the matching requests to the ready canary for `iterations` analyses', () => {
    const canary = makeCanary(
      { analysis: { iterations: 2, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] } },
      progressing(),
    );
    const waiting = decide(
      canary,
      {
        target: { revision: 'v2', replicas: 1, ready: false },
        primary: ready('v1'),
        routes: { primary: 100, canary: 0 },
      },
      at(1_000),
    );
    expect(waiting.actions.some((a) => a.type === 'setWeights')).toBe(false);
    const obs = {
      target: ready('v2'),
      primary: ready('v1'),
      routes: { primary: 100, canary: 0 },
      checks: [pass],
    };
    const routed = decide(canary, obs, at(1_000));
    expect(routed.actions).toContainEqual({ type: 'setWeights', weights: { primary: 0, canary: 100 } });
    expect(routed.reason.code).toBe('WaitingForStep');
    const first = decide(canary, { ...obs, routes: { primary: 0, canary: 100 } }, at(60_000));
    expect(first.status).toMatchObject({ phase: 'Progressing', iterations: 1 });
    const second = decide(
      { ...canary, status: first.status },
      { ...obs, routes: { primary: 0, canary: 100 } },
      at(120_000),
    );
    expect(second.status.phase).toBe('Promoting');
  });

  it('keeps at most 20 checks in history', () => {
    const history = Array.from({ length: HISTORY_LIMIT }, (_, i) => ({
      time: iso(i),
      weight: 10,
      metric: 'old',
      verdict: 'pass' as const,
      reason: 'ok',
    }));
    const d = decide(
      makeCanary({}, progressing({ canaryWeight: 10, history })),
      {
        target: ready('v2'),
        primary: ready('v1'),
        routes: { primary: 90, canary: 10 },
        checks: [pass, fail],
      },
      at(60_000),
    );
    expect(d.status.history).toHaveLength(HISTORY_LIMIT);
    expect(d.status.history?.slice(-2).map((h) => h.verdict)).toEqual(['pass', 'fail']);
  });

  it('a restarted controller resumes from lastStepTime: no step repeated, none skipped', () => {
    const canary = makeCanary({}, progressing({ canaryWeight: 20, lastStepTime: iso(0) }));
    const obs = {
      target: ready('v2'),
      primary: ready('v1'),
      routes: { primary: 80, canary: 20 },
      checks: [pass],
    };
    expect(decide(canary, obs, at(30_000)).status.canaryWeight).toBe(20);
    // Long after the interval (controller down for five intervals) only one step is taken.
    expect(decide(canary, obs, at(300_000)).status.canaryWeight).toBe(30);
  });

  it('asks for checks only when a step is due', () => {
    expect(planObservations(makeCanary({}, progressing()), at(0)).checks).toBe(false);
    const at10 = makeCanary({}, progressing({ canaryWeight: 10 }));
    expect(planObservations(at10, at(59_000)).checks).toBe(false);
    expect(planObservations(at10, at(60_000)).checks).toBe(true);
    expect(
      planObservations(makeCanary({ skipAnalysis: true }, progressing({ canaryWeight: 10 })), at(60_000))
        .checks,
    ).toBe(false);
    expect(planObservations(makeCanary({}, { phase: 'Succeeded' }), at(60_000)).checks).toBe(false);
    expect(
      planObservations(
        makeCanary({ analysis: { metrics: [] } }, progressing({ canaryWeight: 10 })),
        at(60_000),
      ).checks,
    ).toBe(false);
  });

  it('holds when checks are due but were not gathered', () => {
    const d = decide(
      makeCanary({}, progressing({ canaryWeight: 10 })),
      { target: ready('v2'), primary: ready('v1'), routes: { primary: 90, canary: 10 } },
      at(60_000),
    );
    expect(d.reason.code).toBe('ChecksPending');
    expect(d.status.canaryWeight).toBe(10);
  });
});

describe('decide, properties over random histories', () => {
  type Step =
    | { kind: 'wait'; ms: number }
    | { kind: 'revision' }
    | { kind: 'revert' }
    | { kind: 'checks'; pass: boolean }
    | { kind: 'neverReady'; value: boolean };

  const step: fc.Arbitrary<Step> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 90_000 }) }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('revision' as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('revert' as const) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('checks' as const), pass: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('neverReady' as const), value: fc.boolean() }) },
  );
  const schedule = fc.oneof(
    fc
      .record({ stepWeight: fc.integer({ min: 1, max: 60 }), maxWeight: fc.integer({ min: 1, max: 100 }) })
      // A stepWeight above maxWeight is refused by the schema.
      .map(({ stepWeight, maxWeight }) => ({ stepWeight: Math.min(stepWeight, maxWeight), maxWeight })),
    fc.uniqueArray(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 6 }).map((w) => ({
      stepWeights: [...w].sort((a, b) => a - b),
    })),
  );

  it('weights stay within maxWeight, only drop on rollback/restart/promotion, rollbacks end at 100/0 with the canary at 0', () => {
    fc.assert(
      fc.property(
        schedule,
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        fc.array(step, { minLength: 1, maxLength: 80 }),
        (weights, threshold, skipAnalysis, steps) => {
          const base = makeCanary({
            skipAnalysis,
            progressDeadlineSeconds: 120,
            analysis: { interval: '30s', threshold, ...weights },
          });
          const max = 'stepWeights' in weights ? (weights.stepWeights.at(-1) as number) : weights.maxWeight;
          const world: World = { target: { revision: 'r0', replicas: 2, ready: true }, userReplicas: 2 };
          let canary = base;
          let now = 0;
          let revision = 0;
          let checksPass = true;
          for (const s of steps) {
            if (s.kind === 'wait') now += s.ms;
            if (s.kind === 'revision') {
              world.target.revision = `r${++revision}`;
              world.target.ready = world.target.replicas === 0;
            }
            if (s.kind === 'revert' && world.primary && world.primary.revision !== world.target.revision) {
              world.target.revision = world.primary.revision;
              world.target.ready = world.target.replicas === 0;
            }
            if (s.kind === 'checks') checksPass = s.pass;
            if (s.kind === 'neverReady') world.target.neverReady = s.value;

            const obs = observe(world);
            if (planObservations(canary, at(now)).checks) obs.checks = [checksPass ? pass : fail];
            const before = canary.status;
            const d = decide(canary, obs, at(now));
            apply(world, d.actions);

            const weight = d.status.canaryWeight ?? 0;
            expect(weight).toBeLessThanOrEqual(max);
            if (world.routes) expect(world.routes.canary).toBeLessThanOrEqual(max);
            expect(d.status.failedChecks ?? 0).toBeLessThanOrEqual(threshold);
            if (d.status.phase !== 'Failed') expect(d.status.failedChecks ?? 0).toBeLessThan(threshold);
            if (weight < (before?.canaryWeight ?? 0)) {
              expect(['Failed', 'Finalising', 'RevisionChanged', 'RevisionAlreadyPromoted']).toContain(
                d.status.phase === 'Failed' || d.status.phase === 'Finalising'
                  ? d.status.phase
                  : d.reason.code,
              );
            }
            if (d.status.phase === 'Failed' && before?.phase !== 'Failed') {
              expect(world.routes).toEqual({ primary: 100, canary: 0 });
              expect(world.target.replicas).toBe(0);
            }
            if (d.status.phase === 'Succeeded' && before?.phase !== 'Succeeded') {
              expect(world.primary?.revision).toBe(world.target.revision);
              expect(world.routes).toEqual({ primary: 100, canary: 0 });
              expect(world.target.replicas).toBe(0);
            }
            canary = { ...canary, status: d.status };
            settle(world);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a healthy revision walks every step of the schedule once, in order, then is promoted', () => {
    fc.assert(
      fc.property(schedule, fc.integer({ min: 1, max: 40 }), (weights, jitterSeconds) => {
        const canary0 = makeCanary({ analysis: { interval: '1m', ...weights } });
        const world: World = { target: { revision: 'r0', replicas: 1, ready: true }, userReplicas: 1 };
        let canary = canary0;
        let now = 0;
        const seen: number[] = [];
        for (let i = 0; i < 20_000 && canary.status?.phase !== 'Succeeded'; i++) {
          if (i === 3) world.target.revision = 'r1';
          const obs = observe(world);
          if (planObservations(canary, at(now)).checks) obs.checks = [pass];
          const d = decide(canary, obs, at(now));
          apply(world, d.actions);
          for (const a of d.actions)
            if (a.type === 'setWeights' && a.weights.canary > 0) seen.push(a.weights.canary);
          canary = { ...canary, status: d.status };
          settle(world);
          now += jitterSeconds * 1000;
        }
        expect(canary.status?.phase).toBe('Succeeded');
        const max = 'stepWeights' in weights ? (weights.stepWeights.at(-1) as number) : weights.maxWeight;
        const expected: number[] = [];
        for (let w = 0; w < max; ) {
          w =
            'stepWeights' in weights
              ? (weights.stepWeights.find((s) => s > w) as number)
              : Math.min(w + weights.stepWeight, max);
          expected.push(w);
        }
        expect(seen).toEqual(expected);
        expect(world.primary?.revision).toBe('r1');
      }),
      { numRuns: 200 },
    );
  });
});
