import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Canary, validateCanary } from '../src/api/canary.ts';
import { decide, type Observations, planObservations } from '../src/rollout/index.ts';
import { HookObserver } from '../src/webhooks/gates.ts';
import { WebhookRunner } from '../src/webhooks/runner.ts';
import { HookReceiver } from './webhooks-receiver.ts';

// Each webhook type's effect on the rollout, through the same chain the reconciler runs: the plan says
// which hooks are due, the runner calls a real HTTP server, the observer hands the answers to decide.

const receiver = new HookReceiver();
const silent = pino({ level: 'silent' });
const runner = new WebhookRunner({ logger: silent });
const observer = new HookObserver(runner, silent);

beforeAll(async () => {
  await receiver.start();
  receiver.handler = (req, res) => {
    const status = /^\/s\/(\d+)/.exec(req.url ?? '');
    res.writeHead(status ? Number(status[1]) : 200).end();
  };
});
afterAll(async () => {
  await runner.stop();
  await receiver.stop();
});

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0 + ms);
let keys = 0;

function canary(
  hooks: { type: string; status: number }[],
  status: NonNullable<Canary['status']>,
  annotations?: Record<string, string>,
): Canary {
  const result = validateCanary({
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: `c${keys++}`, namespace: 'ns', ...(annotations ? { annotations } : {}) },
    spec: {
      targetRef: { kind: 'Deployment', name: 'podinfo' },
      service: { port: 80 },
      analysis: {
        interval: '10s',
        threshold: 2,
        maxWeight: 30,
        stepWeight: 10,
        webhooks: hooks.map((h, i) => ({
          name: `${h.type}-${i}`,
          type: h.type,
          url: `${receiver.url}/s/${h.status}/${h.type}`,
          retries: 0,
        })),
      },
    },
    status,
  });
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.value;
}

const progressing = (extra: NonNullable<Canary['status']> = {}): NonNullable<Canary['status']> => ({
  phase: 'Progressing',
  canaryWeight: 10,
  failedChecks: 0,
  iterations: 0,
  lastAppliedSpec: 'v2',
  lastPromotedSpec: 'v1',
  lastTransitionTime: at(0).toISOString(),
  lastStepTime: at(0).toISOString(),
  ...extra,
});

const world = (weight: number, targetRevision = 'v2', targetReplicas = 1): Observations => ({
  target: { revision: targetRevision, replicas: targetReplicas, ready: true },
  primary: { revision: 'v1', replicas: 1, ready: true },
  routes: { primary: 100 - weight, canary: weight },
});

/** One reconcile: first pass finds the answers missing and holds; the second, once they came, decides. */
async function tick(c: Canary, obs: Observations, now: Date) {
  const key = `ns/${c.metadata.name}`;
  const plan = planObservations(c, now, obs.target.revision);
  const hookPlan = { webhooks: plan.webhooks ?? [], checks: plan.checks };
  let hooks = observer.observe(key, c, hookPlan, now, obs.target.revision);
  let held: string | undefined;
  if (hooks.pending) {
    const first = decide(c, { ...obs, ...(hooks.webhooks ? { webhooks: hooks.webhooks } : {}) }, now);
    held = first.reason.code;
    expect(first.status).toEqual({ ...c.status, observedGeneration: first.status.observedGeneration });
    await runner.idle();
    hooks = observer.observe(key, c, hookPlan, now, obs.target.revision);
  }
  const full: Observations = { ...obs };
  if (hooks.webhooks) full.webhooks = hooks.webhooks;
  if (hooks.manual) full.manual = hooks.manual;
  if (plan.checks) full.checks = hooks.rolloutChecks ?? [];
  return { decision: decide(c, full, now), plan, held };
}

describe('each webhook type against a real HTTP server', () => {
  it('confirm-rollout: not 2xx keeps the new revision Waiting at zero; 2xx starts it', async () => {
    const idle = {
      phase: 'Succeeded' as const,
      canaryWeight: 0,
      lastAppliedSpec: 'v1',
      lastPromotedSpec: 'v1',
    };
    const closed = await tick(
      canary([{ type: 'confirm-rollout', status: 403 }], idle),
      world(0, 'v2', 0),
      at(0),
    );
    expect(closed.plan.webhooks).toEqual(['confirm-rollout']);
    expect(closed.held).toBe('WebhookPending');
    expect(closed.decision.status).toMatchObject({
      phase: 'Waiting',
      canaryWeight: 0,
      lastAppliedSpec: 'v1',
    });
    expect(closed.decision.reason.code).toBe('WaitingForConfirmation');
    expect(closed.decision.actions.filter((a) => a.type === 'scaleTarget')).toEqual([]);

    const open = await tick(
      canary([{ type: 'confirm-rollout', status: 204 }], idle),
      world(0, 'v2', 0),
      at(0),
    );
    expect(open.decision.status).toMatchObject({ phase: 'Progressing', lastAppliedSpec: 'v2' });
    expect(open.decision.actions).toContainEqual({ type: 'scaleTarget', replicas: 1 });
  });

  it('pre-rollout: not 2xx is a failed check at weight 0; 2xx lets the first step go', async () => {
    const start = progressing({ canaryWeight: 0 });
    const failed = await tick(canary([{ type: 'pre-rollout', status: 500 }], start), world(0), at(0));
    expect(failed.plan.webhooks).toEqual(['pre-rollout']);
    expect(failed.decision.status).toMatchObject({ canaryWeight: 0, failedChecks: 1 });
    expect(failed.decision.reason.message).toContain('HTTP 500');
    const passed = await tick(canary([{ type: 'pre-rollout', status: 200 }], start), world(0), at(0));
    expect(passed.decision.status).toMatchObject({ canaryWeight: 10, failedChecks: 0 });
  });

  it('rollout: not 2xx is a failed check recorded in the history; threshold failures roll back', async () => {
    const failed = await tick(
      canary([{ type: 'rollout', status: 503 }], progressing()),
      world(10),
      at(10_000),
    );
    expect(failed.plan.checks).toBe(true);
    expect(failed.decision.status.failedChecks).toBe(1);
    expect(failed.decision.status.history?.at(-1)).toMatchObject({
      metric: 'webhook rollout-0',
      verdict: 'fail',
    });
    const last = await tick(
      canary([{ type: 'rollout', status: 503 }], progressing({ failedChecks: 1 })),
      world(10),
      at(10_000),
    );
    expect(last.decision.status.phase).toBe('Failed');
    const ok = await tick(canary([{ type: 'rollout', status: 202 }], progressing()), world(10), at(10_000));
    expect(ok.decision.status).toMatchObject({ canaryWeight: 20, failedChecks: 0 });
  });

  it('confirm-traffic-increase: not 2xx holds the weight without a failed check', async () => {
    const held = await tick(
      canary([{ type: 'confirm-traffic-increase', status: 409 }], progressing()),
      world(10),
      at(10_000),
    );
    expect(held.plan.webhooks).toEqual(['confirm-traffic-increase']);
    expect(held.decision.status).toMatchObject({ phase: 'Progressing', canaryWeight: 10, failedChecks: 0 });
    expect(held.decision.reason.code).toBe('TrafficIncreaseHeld');
    expect(held.decision.actions.filter((a) => a.type === 'setWeights')).toEqual([]);
    const opened = await tick(
      canary([{ type: 'confirm-traffic-increase', status: 204 }], progressing()),
      world(10),
      at(10_000),
    );
    expect(opened.decision.status.canaryWeight).toBe(20);
  });

  it('confirm-promotion: not 2xx waits at WaitingPromotion with the analysis running; 2xx promotes', async () => {
    const atMax = progressing({ canaryWeight: 30 });
    const waiting = await tick(
      canary([{ type: 'confirm-promotion', status: 403 }], atMax),
      world(30),
      at(10_000),
    );
    expect(waiting.decision.status).toMatchObject({ phase: 'WaitingPromotion', canaryWeight: 30 });
    expect(waiting.decision.actions).toContainEqual(
      expect.objectContaining({ type: 'event', reason: 'WaitingPromotion' }),
    );
    const stillWaiting = canary([{ type: 'confirm-promotion', status: 403 }], waiting.decision.status);
    expect(planObservations(stillWaiting, at(20_000))).toEqual({
      checks: false,
      webhooks: ['confirm-promotion'],
    });
    const promoted = await tick(
      canary([{ type: 'confirm-promotion', status: 200 }], waiting.decision.status),
      world(30),
      at(20_000),
    );
    expect(promoted.decision.status.phase).toBe('Promoting');
    expect(promoted.decision.actions).toContainEqual({ type: 'promotePrimary' });
  });

  it('rollback: a 2xx rolls back at once; anything else lets the rollout go on', async () => {
    const asked = await tick(
      canary([{ type: 'rollback', status: 200 }], progressing()),
      world(10),
      at(10_000),
    );
    expect(asked.decision.status).toMatchObject({ phase: 'Failed', canaryWeight: 0 });
    expect(asked.decision.reason.code).toBe('RolledBack');
    const quiet = await tick(
      canary([{ type: 'rollback', status: 404 }], progressing()),
      world(10),
      at(10_000),
    );
    expect(quiet.decision.status).toMatchObject({ phase: 'Progressing', canaryWeight: 20 });
  });

  it('post-rollout: called once the rollout ends, with the final phase', async () => {
    const c = canary([{ type: 'post-rollout', status: 500 }], {
      ...progressing({ canaryWeight: 0 }),
      phase: 'Finalising',
    });
    const done = decide(
      c,
      { ...world(0, 'v2', 1), primary: { revision: 'v2', replicas: 1, ready: true } },
      at(1000),
    );
    expect(done.status.phase).toBe('Succeeded');
    const before = receiver.on('/s/500/post-rollout').length;
    observer.afterDecision(`ns/${c.metadata.name}`, c, done.status);
    await runner.idle();
    expect(receiver.on('/s/500/post-rollout').length).toBe(before + 1);
    expect(receiver.on('/s/500/post-rollout').at(-1)?.body).toMatchObject({ phase: 'Succeeded' });
  });
});

describe('manual actions from the annotation', () => {
  const annotated = (action: string, status = progressing()) =>
    canary([], status, { 'petrel.dev/action': action, 'petrel.dev/action-by': 'alice' });

  it('abort rolls back at once with who asked, and removes the annotation', async () => {
    const { decision } = await tick(annotated('abort'), world(10), at(1000));
    expect(decision.status.phase).toBe('Failed');
    expect(decision.reason).toMatchObject({
      code: 'Aborted',
      message: expect.stringContaining('aborted by alice'),
    });
    expect(decision.actions).toContainEqual({ type: 'clearManualAction' });
    expect(decision.actions).toContainEqual({ type: 'setWeights', weights: { primary: 100, canary: 0 } });
  });

  it('promote promotes a rollout in progress now', async () => {
    const { decision } = await tick(annotated('promote'), world(10), at(1000));
    expect(decision.status.phase).toBe('Promoting');
    expect(decision.reason.message).toContain('promoted by alice');
    expect(decision.actions).toContainEqual({ type: 'promotePrimary' });
  });

  it('pause holds with a Paused condition until resume', async () => {
    const paused = await tick(annotated('pause'), world(10), at(60_000));
    expect(paused.decision.status.canaryWeight).toBe(10);
    expect(paused.decision.status.conditions?.find((c) => c.type === 'Paused')).toMatchObject({
      status: 'True',
    });
    expect(paused.decision.actions.map((a) => a.type)).toEqual(['event']);
    const again = await tick(annotated('pause', paused.decision.status), world(10), at(70_000));
    expect(again.decision.actions).toEqual([]);
    const resumed = await tick(annotated('resume', paused.decision.status), world(10), at(70_000));
    expect(resumed.decision.status.conditions?.find((c) => c.type === 'Paused')).toBeUndefined();
    expect(resumed.decision.actions).toContainEqual({ type: 'clearManualAction' });
  });

  it('an action with nothing to act on is cleared with an event saying so', async () => {
    const idle = {
      phase: 'Succeeded' as const,
      canaryWeight: 0,
      lastAppliedSpec: 'v2',
      lastPromotedSpec: 'v2',
    };
    const { decision } = await tick(annotated('abort', idle), world(0, 'v2', 0), at(0));
    expect(decision.status.phase).toBe('Succeeded');
    expect(decision.reason.code).toBe('ManualActionIgnored');
    expect(decision.actions.map((a) => a.type)).toEqual(['clearManualAction', 'event']);
  });

  it('spec.suspend wins over every action', async () => {
    const c = annotated('abort');
    c.spec.suspend = true;
    const { decision } = await tick(c, world(10), at(1000));
    expect(decision.reason.code).toBe('Suspended');
    expect(decision.actions).toEqual([]);
  });
});
