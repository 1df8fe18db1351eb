import { describe, expect, it } from 'vitest';
import { type Canary, type CanaryInput, canarySchema } from '../src/api/canary.ts';
import type { ReleaseWindowsInput } from '../src/api/release-windows.ts';
import {
  type Action,
  type Decision,
  decide,
  type Observations,
  planObservations,
  type Weights,
  type WorkloadObservation,
} from '../src/rollout/index.ts';
import { HELD_CONDITION } from '../src/rollout/release-gate.ts';
import type { FreezeObservation } from '../src/rollout/windows.ts';

const HOUR = 3_600_000;
const MINUTE = 60_000;

/** Weekdays 09:00-17:00 in Berlin, for starting and advancing. */
const OFFICE_HOURS: ReleaseWindowsInput = {
  windows: [{ schedule: '0 9 * * 1-5', duration: '8h', timeZone: 'Europe/Berlin' }],
};

function makeCanary(spec: Partial<CanaryInput['spec']>, status: Canary['status']): Canary {
  return canarySchema.parse({
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', generation: 1 },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      analysis: {
        interval: '30m',
        threshold: 3,
        stepWeight: 20,
        maxWeight: 80,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
      },
      ...spec,
    },
    status,
  });
}

/** The cluster as the executor would leave it: enough to replay decisions on a fake clock. */
interface World {
  target: WorkloadObservation;
  primary: WorkloadObservation;
  routes: Weights;
}

function steadyWorld(primaryRevision: string, targetRevision: string): World {
  return {
    target: { revision: targetRevision, replicas: 0, ready: true },
    primary: { revision: primaryRevision, replicas: 2, ready: true },
    routes: { primary: 100, canary: 0 },
  };
}

function apply(world: World, actions: Action[]): void {
  for (const action of actions) {
    if (action.type === 'setWeights') world.routes = { ...action.weights };
    if (action.type === 'scaleTarget' && world.target.replicas !== action.replicas) {
      world.target = { ...world.target, replicas: action.replicas, ready: action.replicas === 0 };
    }
    if (action.type === 'promotePrimary' && world.primary.revision !== world.target.revision) {
      world.primary = { ...world.primary, revision: world.target.revision, ready: false };
    }
  }
}

/** Deployments finish rolling out between ticks. */
function settle(world: World): void {
  world.primary.ready = true;
  world.target.ready = true;
}

interface Tick {
  at: string;
  phase: string | undefined;
  weight: number | undefined;
  reason: string;
  message: string;
  events: string[];
  requeueAfterMs: number | undefined;
  routes: Weights;
}

/**
 * Runs the controller's loop on a fake clock: decide, carry out the actions, write the status, and come
 * back when the decision asked to (a freeze list may change on the way, as the informer would report).
 */
function run(
  canary: Canary,
  world: World,
  from: string,
  until: string,
  freezesAt: (now: Date) => FreezeObservation[] = () => [],
): { ticks: Tick[]; canary: Canary } {
  const ticks: Tick[] = [];
  let now = Date.parse(from);
  const end = Date.parse(until);
  let current = canary;
  for (let i = 0; i < 200 && now <= end; i++) {
    const at = new Date(now);
    const obs: Observations = {
      target: { ...world.target },
      primary: { ...world.primary },
      routes: { ...world.routes },
      freezes: freezesAt(at),
    };
    if (planObservations(current, at, obs.target.revision).checks) {
      obs.checks = [{ metric: 'request-success-rate', value: 100, passed: true, reason: 'ok' }];
    }
    const decision: Decision = decide(current, obs, at);
    apply(world, decision.actions);
    current = { ...current, status: decision.status };
    settle(world);
    ticks.push({
      at: at.toISOString(),
      phase: decision.status.phase,
      weight: decision.status.canaryWeight,
      reason: decision.reason.code,
      message: decision.reason.message,
      events: decision.actions.flatMap((a) => (a.type === 'event' ? [a.reason] : [])),
      requeueAfterMs: decision.requeueAfterMs,
      routes: { ...world.routes },
    });
    if (decision.requeueAfterMs === undefined) break;
    now += decision.requeueAfterMs;
  }
  return { ticks, canary: current };
}

const allEvents = (ticks: Tick[]) => ticks.flatMap((t) => t.events);
const tickAt = (ticks: Tick[], iso: string) => ticks.filter((t) => t.at === iso);

describe('release windows in the state machine', () => {
  it('a rollout started inside a window holds at the close and resumes at the next opening', () => {
    const canary = makeCanary(
      { releaseWindows: OFFICE_HOURS },
      { phase: 'Succeeded', canaryWeight: 0, lastAppliedSpec: 'v1', lastPromotedSpec: 'v1' },
    );
    // Friday 2026-03-27 15:40 CET: v2 appears.
    const { ticks, canary: after } = run(
      canary,
      steadyWorld('v1', 'v2'),
      '2026-03-27T14:40:00Z',
      '2026-03-31T00:00:00Z',
    );
    expect(ticks.map((t) => [t.at, t.phase, t.weight, t.reason])).toEqual([
      ['2026-03-27T14:40:00.000Z', 'Progressing', 0, 'NewRevision'],
      ['2026-03-27T14:50:00.000Z', 'Progressing', 20, 'AdvanceWeight'],
      ['2026-03-27T15:20:00.000Z', 'Progressing', 40, 'AdvanceWeight'],
      ['2026-03-27T15:50:00.000Z', 'Progressing', 60, 'AdvanceWeight'],
      // The window closes at 17:00 CET: the controller wakes then, not at the next step.
      ['2026-03-27T16:00:00.000Z', 'Waiting', 60, 'OutsideReleaseWindow'],
      // Monday 09:00 CEST (the clocks changed on Sunday): one tick to resume, then the step that was due.
      ['2026-03-30T07:00:00.000Z', 'Progressing', 60, 'ReleaseResumed'],
      ['2026-03-30T07:00:00.000Z', 'Progressing', 80, 'AdvanceWeight'],
      ['2026-03-30T07:30:00.000Z', 'Promoting', 80, 'Promoting'],
      ['2026-03-30T07:40:00.000Z', 'Finalising', 0, 'Finalising'],
      ['2026-03-30T07:40:00.000Z', 'Succeeded', 0, 'Succeeded'],
    ]);
    const hold = tickAt(ticks, '2026-03-27T16:00:00.000Z')[0]!;
    expect(hold.requeueAfterMs).toBe(Date.parse('2026-03-30T07:00:00Z') - Date.parse('2026-03-27T16:00:00Z'));
    expect(hold.routes).toEqual({ primary: 40, canary: 60 }); // Hold keeps the weight
    expect(after.status?.conditions?.some((c) => c.type === HELD_CONDITION)).toBe(false);
  });

  it('while held, its status says why and until when', () => {
    const canary = makeCanary(
      { releaseWindows: OFFICE_HOURS },
      { phase: 'Succeeded', canaryWeight: 0, lastAppliedSpec: 'v1', lastPromotedSpec: 'v1' },
    );
    const { canary: held } = run(
      canary,
      steadyWorld('v1', 'v2'),
      '2026-03-27T14:40:00Z',
      '2026-03-27T16:00:00Z',
    );
    expect(held.status?.phase).toBe('Waiting');
    expect(held.status?.conditions?.find((c) => c.type === HELD_CONDITION)).toMatchObject({
      status: 'True',
      reason: 'OutsideReleaseWindow',
      message:
        'outside every release window that allows a rollout to advance: next opening 2026-03-30 09:00 Europe/Berlin (2026-03-30T07:00:00Z); the canary stays at weight 60 until then',
    });
  });

  it('outside: Rollback routes all traffic back to the primary at the close and starts again from zero', () => {
    const canary = makeCanary(
      { releaseWindows: { ...OFFICE_HOURS, outside: 'Rollback' } },
      { phase: 'Succeeded', canaryWeight: 0, lastAppliedSpec: 'v1', lastPromotedSpec: 'v1' },
    );
    const world = steadyWorld('v1', 'v2');
    const { ticks } = run(canary, world, '2026-03-27T14:40:00Z', '2026-03-31T00:00:00Z');
    const hold = tickAt(ticks, '2026-03-27T16:00:00.000Z')[0]!;
    expect(hold).toMatchObject({ phase: 'Waiting', weight: 0, routes: { primary: 100, canary: 0 } });
    expect(hold.message).toMatch(
      /next opening 2026-03-30 09:00 Europe\/Berlin .*; all traffic is back on the primary and the rollout starts again from weight 0 then$/,
    );
    const monday = ticks.filter((t) => t.at.startsWith('2026-03-30'));
    expect(monday.map((t) => [t.phase, t.weight, t.reason])).toEqual([
      ['Progressing', 0, 'ReleaseResumed'],
      ['Progressing', 0, 'WaitingForCanary'], // the canary scales up again
      ['Progressing', 20, 'AdvanceWeight'],
      ['Progressing', 40, 'AdvanceWeight'],
      ['Progressing', 60, 'AdvanceWeight'],
      ['Progressing', 80, 'AdvanceWeight'],
      ['Promoting', 80, 'Promoting'],
      ['Finalising', 0, 'Finalising'],
      ['Succeeded', 0, 'Succeeded'],
    ]);
  });

  it('a new revision outside every Start window waits at zero and starts at the opening', () => {
    const canary = makeCanary(
      { releaseWindows: OFFICE_HOURS },
      { phase: 'Succeeded', canaryWeight: 0, lastAppliedSpec: 'v1', lastPromotedSpec: 'v1' },
    );
    // Saturday 03:00 CET.
    const { ticks } = run(canary, steadyWorld('v1', 'v2'), '2026-03-28T02:00:00Z', '2026-03-30T07:00:00Z');
    expect(ticks.map((t) => [t.at, t.phase, t.reason, t.events])).toEqual([
      ['2026-03-28T02:00:00.000Z', 'Waiting', 'WaitingForReleaseWindow', ['WaitingForReleaseWindow']],
      ['2026-03-30T07:00:00.000Z', 'Waiting', 'ReleaseResumed', ['ReleaseResumed']],
      ['2026-03-30T07:00:00.000Z', 'Progressing', 'NewRevision', ['NewRevision']],
    ]);
    expect(ticks[0]!.routes).toEqual({ primary: 100, canary: 0 });
  });
});

describe('release freezes in the state machine', () => {
  const freeze: FreezeObservation = {
    name: 'year-end',
    reason: 'year-end change freeze',
    start: '2026-12-20T00:00:00+01:00',
    end: '2027-01-03T00:00:00+01:00',
  };

  it('a rollout that would start during a freeze waits and starts when the freeze ends', () => {
    const canary = makeCanary(
      {},
      { phase: 'Succeeded', canaryWeight: 0, lastAppliedSpec: 'v1', lastPromotedSpec: 'v1' },
    );
    const { ticks } = run(
      canary,
      steadyWorld('v1', 'v2'),
      '2026-12-24T10:00:00Z',
      '2027-01-02T23:00:00Z',
      () => [freeze],
    );
    expect(ticks.map((t) => [t.at, t.phase, t.reason, t.events])).toEqual([
      ['2026-12-24T10:00:00.000Z', 'Waiting', 'ReleaseFrozen', ['ReleaseFrozen']],
      // A week is the longest a hold sleeps; the second look finds nothing new to say.
      ['2026-12-31T10:00:00.000Z', 'Waiting', 'ReleaseFrozen', []],
      ['2027-01-02T23:00:00.000Z', 'Waiting', 'ReleaseResumed', ['ReleaseResumed']],
      ['2027-01-02T23:00:00.000Z', 'Progressing', 'NewRevision', ['NewRevision']],
    ]);
    expect(ticks[1]!.requeueAfterMs).toBe(
      Date.parse('2027-01-02T23:00:00Z') - Date.parse('2026-12-31T10:00:00Z'),
    );
  });

  it('a freeze without an end holds until it is deleted, with no timer; deleting it starts the rollout', () => {
    const canary = makeCanary(
      {},
      { phase: 'Failed', canaryWeight: 0, lastAppliedSpec: 'v1', lastPromotedSpec: 'v1' },
    );
    const world = steadyWorld('v1', 'v2');
    let freezes: FreezeObservation[] = [{ name: 'incident-42', reason: 'INC-42 open' }];
    const first = run(canary, world, '2026-05-05T09:00:00Z', '2026-05-05T09:00:00Z', () => freezes);
    expect(first.ticks).toMatchObject([
      { phase: 'Waiting', reason: 'ReleaseFrozen', events: ['ReleaseFrozen'], requeueAfterMs: undefined },
    ]);
    freezes = []; // the informer saw the deletion and woke the canary
    const second = run(first.canary, world, '2026-05-05T11:00:00Z', '2026-05-05T11:00:00Z', () => freezes);
    expect(second.ticks.map((t) => t.reason)).toEqual(['ReleaseResumed', 'NewRevision']);
  });

  it('a freeze does not hold a rollout already in flight', () => {
    const canary = makeCanary(
      {},
      {
        phase: 'Progressing',
        canaryWeight: 20,
        lastAppliedSpec: 'v2',
        lastPromotedSpec: 'v1',
        lastTransitionTime: '2026-12-24T09:00:00Z',
        lastStepTime: '2026-12-24T09:00:00Z',
      },
    );
    const world: World = {
      target: { revision: 'v2', replicas: 2, ready: true },
      primary: { revision: 'v1', replicas: 2, ready: true },
      routes: { primary: 80, canary: 20 },
    };
    const { ticks } = run(canary, world, '2026-12-24T09:30:00Z', '2026-12-24T09:30:00Z', () => [freeze]);
    expect(ticks[0]).toMatchObject({ phase: 'Progressing', weight: 40, reason: 'AdvanceWeight' });
  });
});

describe('release windows across daylight-saving changes (Europe/Berlin)', () => {
  const nightly: ReleaseWindowsInput = {
    windows: [{ schedule: '30 2 * * *', duration: '1h', timeZone: 'Europe/Berlin' }],
  };
  const waitingFor = (status: Canary['status']) => makeCanary({ releaseWindows: nightly }, status);

  it('2026-03-29 (02:30 does not exist): the held start wakes at 03:00 CEST and the window lasts an hour', () => {
    const canary = waitingFor({
      phase: 'Succeeded',
      canaryWeight: 0,
      lastAppliedSpec: 'v1',
      lastPromotedSpec: 'v1',
    });
    const { ticks } = run(canary, steadyWorld('v1', 'v2'), '2026-03-28T12:00:00Z', '2026-03-29T01:00:00Z');
    expect(ticks.map((t) => [t.at, t.reason])).toEqual([
      ['2026-03-28T12:00:00.000Z', 'WaitingForReleaseWindow'],
      ['2026-03-29T01:00:00.000Z', 'ReleaseResumed'],
      ['2026-03-29T01:00:00.000Z', 'NewRevision'],
    ]);
    // In flight at 03:59 CEST, it holds at 04:00 CEST (02:00Z), one elapsed hour after the opening.
    const last = run(canary, steadyWorld('v1', 'v2'), '2026-03-29T01:00:00Z', '2026-03-29T02:00:00Z');
    expect(last.ticks.at(-1)).toMatchObject({
      at: '2026-03-29T02:00:00.000Z',
      reason: 'OutsideReleaseWindow',
    });
    expect(last.ticks.at(-1)!.requeueAfterMs).toBe(
      Date.parse('2026-03-30T00:30:00Z') - Date.parse('2026-03-29T02:00:00Z'),
    );
  });

  it('2026-10-25 (02:30 happens twice): the window opens once, at the first 02:30 (CEST)', () => {
    const canary = waitingFor({
      phase: 'Succeeded',
      canaryWeight: 0,
      lastAppliedSpec: 'v1',
      lastPromotedSpec: 'v1',
    });
    const { ticks } = run(canary, steadyWorld('v1', 'v2'), '2026-10-24T12:00:00Z', '2026-10-25T02:00:00Z');
    expect(ticks.slice(0, 3).map((t) => [t.at, t.reason])).toEqual([
      ['2026-10-24T12:00:00.000Z', 'WaitingForReleaseWindow'],
      ['2026-10-25T00:30:00.000Z', 'ReleaseResumed'],
      ['2026-10-25T00:30:00.000Z', 'NewRevision'],
    ]);
    // Closes one elapsed hour later, at 02:30 CET (01:30Z); the second 02:30 does not open it again.
    const hold = ticks.find((t) => t.at === '2026-10-25T01:30:00.000Z')!;
    expect(hold).toMatchObject({ phase: 'Waiting', reason: 'OutsideReleaseWindow' });
    expect(hold.requeueAfterMs).toBe(Date.parse('2026-10-26T01:30:00Z') - Date.parse('2026-10-25T01:30:00Z'));
  });
});

describe('a controller restart in the middle of a closed window', () => {
  it('decides from the status written before the restart: same hold, same wake-up, no new event', () => {
    const canary = makeCanary(
      { releaseWindows: OFFICE_HOURS },
      { phase: 'Succeeded', canaryWeight: 0, lastAppliedSpec: 'v1', lastPromotedSpec: 'v1' },
    );
    const world = steadyWorld('v1', 'v2');
    const before = run(canary, world, '2026-03-27T14:40:00Z', '2026-03-27T16:00:00Z');
    const hold = before.ticks.at(-1)!;
    expect(hold.reason).toBe('OutsideReleaseWindow');
    // The status went through the API server (JSON) and the controller came back on Saturday night.
    const restored = canarySchema.parse(JSON.parse(JSON.stringify(before.canary)));
    const restartAt = new Date('2026-03-28T23:17:00Z');
    const decision = decide(
      restored,
      {
        target: { ...world.target },
        primary: { ...world.primary },
        routes: { ...world.routes },
        freezes: [],
      },
      restartAt,
    );
    expect(decision.reason).toEqual({
      code: 'OutsideReleaseWindow',
      message:
        'outside every release window that allows a rollout to advance: next opening 2026-03-30 09:00 Europe/Berlin (2026-03-30T07:00:00Z); the canary stays at weight 60 until then',
      severity: 'Normal',
    });
    expect(decision.status).toEqual(restored.status);
    expect(decision.actions).toEqual([]);
    expect(decision.requeueAfterMs).toBe(Date.parse('2026-03-30T07:00:00Z') - restartAt.getTime());
  });
});

describe('one event per transition', () => {
  it('repeated ticks inside a hold (world changes, early wake-ups) emit nothing new', () => {
    const canary = makeCanary(
      { releaseWindows: OFFICE_HOURS },
      { phase: 'Succeeded', canaryWeight: 0, lastAppliedSpec: 'v1', lastPromotedSpec: 'v1' },
    );
    const world = steadyWorld('v1', 'v2');
    let current = canary;
    const events: string[] = [];
    for (
      let t = Date.parse('2026-03-28T02:00:00Z');
      t < Date.parse('2026-03-28T02:00:00Z') + 10 * HOUR;
      t += 17 * MINUTE
    ) {
      const decision = decide(
        current,
        {
          target: { ...world.target },
          primary: { ...world.primary },
          routes: { ...world.routes },
          freezes: [],
        },
        new Date(t),
      );
      apply(world, decision.actions);
      current = { ...current, status: decision.status };
      events.push(...decision.actions.flatMap((a) => (a.type === 'event' ? [a.reason] : [])));
    }
    expect(events).toEqual(['WaitingForReleaseWindow']);
  });

  it('over a week of office hours: one hold event per close, one resume event per opening', () => {
    const canary = makeCanary(
      {
        releaseWindows: OFFICE_HOURS,
        analysis: { interval: '1h', stepWeight: 2, maxWeight: 100, threshold: 3 },
      },
      { phase: 'Succeeded', canaryWeight: 0, lastAppliedSpec: 'v1', lastPromotedSpec: 'v1' },
    );
    // 50 one-hour steps take more than a working week: Monday 10:00 CEST to the next Tuesday.
    const { ticks } = run(canary, steadyWorld('v1', 'v2'), '2026-03-30T08:00:00Z', '2026-04-08T00:00:00Z');
    const events = allEvents(ticks).filter((e) => e === 'OutsideReleaseWindow' || e === 'ReleaseResumed');
    // Closes Mon..Fri and the next Monday (6), opens Tue..Fri and the next Monday and Tuesday (6).
    expect(events.filter((e) => e === 'OutsideReleaseWindow')).toHaveLength(6);
    expect(events.filter((e) => e === 'ReleaseResumed')).toHaveLength(6);
    for (let i = 0; i < events.length; i++)
      expect(events[i]).toBe(i % 2 === 0 ? 'OutsideReleaseWindow' : 'ReleaseResumed');
    const holds = ticks.filter((t) => t.reason === 'OutsideReleaseWindow');
    expect(holds.map((t) => t.at)).toEqual([
      '2026-03-30T15:00:00.000Z',
      '2026-03-31T15:00:00.000Z',
      '2026-04-01T15:00:00.000Z',
      '2026-04-02T15:00:00.000Z',
      '2026-04-03T15:00:00.000Z',
      '2026-04-06T15:00:00.000Z',
    ]);
    expect(ticks.at(-1)).toMatchObject({ at: '2026-04-07T10:10:00.000Z', phase: 'Succeeded' });
  });
});

describe('planObservations while the windows are closed', () => {
  it('asks for no metric checks, rollout hooks or in-flight gates, but still for confirm-rollout on a new revision', () => {
    const canary = makeCanary(
      {
        releaseWindows: OFFICE_HOURS,
        analysis: {
          interval: '30m',
          stepWeight: 20,
          maxWeight: 80,
          threshold: 3,
          metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
          webhooks: [
            { name: 'load', type: 'rollout', url: 'http://load.test/' },
            { name: 'more', type: 'confirm-traffic-increase', url: 'http://gate.test/' },
            { name: 'go', type: 'confirm-rollout', url: 'http://gate.test/' },
          ],
        },
      },
      {
        phase: 'Waiting',
        canaryWeight: 40,
        lastAppliedSpec: 'v2',
        lastPromotedSpec: 'v1',
        lastStepTime: '2026-03-27T15:20:00Z',
      },
    );
    const saturday = new Date('2026-03-28T12:00:00Z');
    expect(planObservations(canary, saturday, 'v2')).toEqual({ checks: false });
    expect(planObservations(canary, saturday, 'v3')).toEqual({
      checks: false,
      webhooks: ['confirm-rollout'],
    });
    const monday = new Date('2026-03-30T07:00:00Z');
    expect(planObservations(canary, monday, 'v2')).toEqual({
      checks: true,
      webhooks: ['confirm-traffic-increase'],
    });
  });
});

describe('a hold that ends another way', () => {
  const heldStatus = (extra: Partial<NonNullable<Canary['status']>>): NonNullable<Canary['status']> => ({
    phase: 'Waiting',
    canaryWeight: 40,
    lastAppliedSpec: 'v2',
    lastPromotedSpec: 'v1',
    conditions: [
      {
        type: HELD_CONDITION,
        status: 'True',
        reason: 'OutsideReleaseWindow',
        message: 'outside every release window',
        lastTransitionTime: '2026-03-27T16:00:00Z',
      },
    ],
    ...extra,
  });
  const saturday = new Date('2026-03-28T12:00:00Z');

  it('petrel abort during a hold ends Failed without the Held condition', () => {
    const canary = makeCanary({ releaseWindows: OFFICE_HOURS }, heldStatus({}));
    const decision = decide(
      canary,
      {
        target: { revision: 'v2', replicas: 2, ready: true },
        primary: { revision: 'v1', replicas: 2, ready: true },
        routes: { primary: 60, canary: 40 },
        manual: { action: 'abort', by: 'alice' },
      },
      saturday,
    );
    expect(decision.status.phase).toBe('Failed');
    expect(decision.status.conditions?.map((c) => c.type)).toEqual(['Promoted']);
  });

  it.each([
    ['promoted', 'v1', 'Succeeded'],
    ['failed', 'v2', 'Failed'],
  ])(
    'a revert during a held start, to the %s revision, ends the hold and goes back to %s',
    (_, lastApplied, phase) => {
      const canary = makeCanary(
        {},
        heldStatus({
          canaryWeight: 0,
          lastAppliedSpec: lastApplied,
          conditions: [
            {
              type: HELD_CONDITION,
              status: 'True',
              reason: 'ReleaseFrozen',
              message: 'new rollouts are frozen',
              lastTransitionTime: '2026-03-27T16:00:00Z',
            },
          ],
        }),
      );
      const decision = decide(
        canary,
        {
          target: { revision: lastApplied, replicas: 0, ready: true },
          primary: { revision: 'v1', replicas: 2, ready: true },
          routes: { primary: 100, canary: 0 },
          freezes: [{ name: 'year-end' }],
        },
        saturday,
      );
      expect(decision.reason.code).toBe('ReleaseHoldEnded');
      expect(decision.status).toMatchObject({ phase, canaryWeight: 0, lastAppliedSpec: lastApplied });
      expect(decision.status.conditions).toEqual([]);
      expect(decision.requeueAfterMs).toBeUndefined();
      // The next tick is an ordinary idle one.
      const next = decide(
        { ...canary, status: decision.status },
        {
          target: { revision: lastApplied, replicas: 0, ready: true },
          primary: { revision: 'v1', replicas: 2, ready: true },
          routes: { primary: 100, canary: 0 },
          freezes: [{ name: 'year-end' }],
        },
        saturday,
      );
      expect(next.reason.code).toBe('Idle');
    },
  );
});
