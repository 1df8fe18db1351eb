import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Canary, type CanaryStatus, canarySchema } from '../src/api/canary.ts';
import { MAX_NOTICES } from '../src/api/constants.ts';
import {
  type Action,
  type Decision,
  decide,
  endsRollout,
  noticeKey,
  type Observations,
  pendingNotices,
  planObservations,
  withDeliveries,
  withNotices,
} from '../src/rollout/index.ts';

const T0 = new Date('2026-01-01T00:00:00Z');
/** How long a crashed controller takes to be running and reconciling again. */
const RESTART_MS = 5_000;

function makeCanary(status?: CanaryStatus): Canary {
  return canarySchema.parse({
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', uid: 'uid-1', generation: 1 },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      analysis: {
        interval: '1m',
        threshold: 2,
        stepWeight: 10,
        maxWeight: 30,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '1m' }],
      },
    },
    ...(status ? { status } : {}),
  });
}

const rolledBack: Decision = {
  status: { phase: 'Failed', canaryWeight: 0, lastAppliedSpec: 'rev-2' },
  actions: [
    { type: 'ensureRoutes' },
    { type: 'setWeights', weights: { primary: 100, canary: 0 } },
    { type: 'scaleTarget', replicas: 0 },
    { type: 'event', severity: 'Warning', reason: 'Failed', message: 'rolled back' },
  ],
  reason: { code: 'Failed', message: 'rolled back', severity: 'Warning' },
};

describe('notices: a decision’s events recorded with it', () => {
  it('moves every event into status.notices with a key, leaving the effects that follow from the status', () => {
    const canary = makeCanary();
    const decision = withNotices(canary, rolledBack, T0);
    expect(decision.actions.map((a) => a.type)).toEqual(['ensureRoutes', 'setWeights', 'scaleTarget']);
    expect(decision.status.notices).toEqual([
      {
        key: 'uid-1/rev-2/Failed/2026-01-01T00:00:00.000Z',
        type: 'Warning',
        reason: 'Failed',
        message: 'rolled back',
        time: '2026-01-01T00:00:00.000Z',
        phase: 'Failed',
        weight: 0,
      },
    ]);
    expect(pendingNotices(decision.status).map((n) => n.key)).toEqual([
      noticeKey(canary, 'rev-2', 'Failed', T0),
    ]);
    expect(endsRollout(decision.status.notices![0]!)).toBe(false); // no phase before: nothing ended
    const ended = withNotices(makeCanary({ phase: 'Progressing', canaryWeight: 10 }), rolledBack, T0);
    expect(ended.status.notices?.[0]).toMatchObject({ from: 'Progressing', phase: 'Failed' });
    expect(endsRollout(ended.status.notices![0]!)).toBe(true);
    // Pure: the same inputs, the same keys.
    expect(withNotices(canary, rolledBack, T0)).toEqual(decision);
    // A decision without events is returned as it is.
    const hold: Decision = { ...rolledBack, actions: [{ type: 'ensureRoutes' }] };
    expect(withNotices(canary, hold, T0)).toBe(hold);
  });

  it('keys two events of one decision apart, and bounds a long message', () => {
    const twice: Decision = {
      ...rolledBack,
      actions: [
        { type: 'event', severity: 'Normal', reason: 'Resumed', message: 'x'.repeat(5000) },
        { type: 'event', severity: 'Normal', reason: 'Resumed', message: 'again' },
      ],
    };
    const notices = withNotices(makeCanary(), twice, T0).status.notices ?? [];
    expect(new Set(notices.map((n) => n.key)).size).toBe(2);
    expect(notices[0]?.message.length).toBe(1024);
  });

  it('writes delivery progress in: receivers as they finish, delivered once all are done', () => {
    const status = withNotices(makeCanary(), rolledBack, T0).status;
    const key = status.notices?.[0]?.key ?? '';
    expect(withDeliveries(status, () => undefined)).toBe(status);
    const partly = withDeliveries(status, (k) =>
      k === key ? { sent: ['alert:chat'], settled: false } : undefined,
    );
    expect(partly.notices?.[0]).toMatchObject({ sent: ['alert:chat'] });
    expect(partly.notices?.[0]?.delivered).toBeUndefined();
    expect(pendingNotices(partly)).toHaveLength(1);
    // Nothing new: the same object, so no write.
    expect(withDeliveries(partly, () => ({ sent: ['alert:chat'], settled: false }))).toBe(partly);
    const done = withDeliveries(partly, () => ({ sent: ['webhook:audit'], settled: true }));
    expect(done.notices?.[0]).toMatchObject({ sent: ['alert:chat', 'webhook:audit'], delivered: true });
    expect(pendingNotices(done)).toEqual([]);
  });

  it('stays bounded, keeping every notice still owed before the delivered ones', () => {
    let status: CanaryStatus = {};
    for (let i = 0; i < 20; i++) {
      const now = new Date(T0.getTime() + i * 1000);
      const decision = withNotices(makeCanary({ ...status }), { ...rolledBack, status }, now);
      const added = decision.status.notices?.at(-1)?.key;
      // The first 14 notices are delivered at once; the last 6 are still owed.
      status =
        i < 14
          ? withDeliveries(decision.status, (k) => (k === added ? { sent: [], settled: true } : undefined))
          : decision.status;
    }
    const notices = status.notices ?? [];
    expect(notices.length).toBe(MAX_NOTICES);
    expect(pendingNotices(status).length).toBe(6);
    expect(notices.filter((n) => n.delivered).map((n) => n.time)).toEqual([
      new Date(T0.getTime() + 12_000).toISOString(),
      new Date(T0.getTime() + 13_000).toISOString(),
    ]);
    expect(notices.at(-1)?.time).toBe(new Date(T0.getTime() + 19_000).toISOString());
  });
});

/** The cluster a run changes: the target, the primary and the routes. */
interface World {
  target: { revision: string; replicas: number; ready: boolean };
  primary: { revision: string; replicas: number; ready: boolean };
  canaryWeight: number;
}

function apply(world: World, actions: readonly Action[], weights: number[]): void {
  for (const action of actions) {
    if (action.type === 'setWeights') {
      world.canaryWeight = action.weights.canary;
      weights.push(action.weights.canary);
    } else if (action.type === 'scaleTarget') {
      world.target = { ...world.target, replicas: action.replicas, ready: true };
    } else if (action.type === 'promotePrimary') {
      world.primary = { ...world.primary, revision: world.target.revision, ready: true };
    }
  }
}

describe('intent first: a crash after the status write replays the recorded decision', () => {
  it('never repeats or skips a step, never re-exposes a rolled-back canary, and owes each transition once', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        (healthy, crashes) => {
          const world: World = {
            target: { revision: 'rev-2', replicas: 1, ready: true },
            primary: { revision: 'rev-1', replicas: 1, ready: true },
            canaryWeight: 0,
          };
          let status: CanaryStatus = {
            phase: 'Succeeded',
            canaryWeight: 0,
            lastAppliedSpec: 'rev-1',
            lastPromotedSpec: 'rev-1',
          };
          const weights: number[] = [];
          const transitions: string[] = [];
          let nowMs = T0.getTime();
          for (let tick = 0; tick < 40; tick++) {
            const canary = makeCanary(status);
            const now = new Date(nowMs);
            const obs: Observations = {
              target: { ...world.target },
              primary: { ...world.primary },
              routes: { primary: 100 - world.canaryWeight, canary: world.canaryWeight },
            };
            if (planObservations(canary, now, world.target.revision).checks) {
              obs.checks = [
                { metric: 'request-success-rate', value: healthy ? 100 : 90, passed: healthy, reason: 'x' },
              ];
            }
            const decision = withNotices(canary, decide(canary, obs, now), now);
            const before = status;
            // The intent is recorded; the process may die before any effect.
            status = withDeliveries(decision.status, () => ({ sent: [], settled: true }));
            for (const n of pendingNotices(decision.status)) {
              if (!before.notices?.some((b) => b.key === n.key)) transitions.push(n.reason);
            }
            if (!crashes[tick]) apply(world, decision.actions, weights);
            // A crashed controller is restarted and reconciles again within seconds. Charging a whole
            // requeue to every crash would let ten crashes in a row outlast progressDeadlineSeconds, and a
            // promotion stalled that long rightly fails.
            nowMs += crashes[tick]
              ? RESTART_MS
              : Math.max(1000, Math.min(decision.requeueAfterMs ?? 60_000, 60_000));
            if (status.phase === 'Failed' || (status.phase === 'Succeeded' && before.phase !== 'Succeeded'))
              if (world.canaryWeight === 0 && world.target.replicas === 0) break;
          }
          expect(status.phase).toBe(healthy ? 'Succeeded' : 'Failed');
          const raised = weights.filter((w) => w > 0);
          if (healthy) {
            // Every step of the schedule, in order, each once: none repeated, none skipped.
            expect([...new Set(raised)]).toEqual([10, 20, 30]);
            expect(raised).toEqual([...raised].sort((a, b) => a - b));
          } else {
            // Rolled back at the first weight, and never raised again.
            const firstZeroAfterRaise = weights.findIndex((w, i) => w === 0 && i > weights.indexOf(10));
            expect(weights.slice(firstZeroAfterRaise).every((w) => w === 0)).toBe(true);
          }
          // One notice per transition, whatever the crashes.
          const ends = transitions.filter((t) => t === 'Failed' || t === 'Succeeded');
          expect(ends).toEqual([healthy ? 'Succeeded' : 'Failed']);
          expect(world.canaryWeight).toBe(0);
          expect(world.target.replicas).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
