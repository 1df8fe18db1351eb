import type { CanaryStatus } from '../api/canary.ts';
import { withCondition } from './status.ts';
import type { Action, Canary, Decision, Observations, Reason } from './types.ts';
import { advanceAnswer, type ScopeAnswer, startAnswer } from './windows.ts';

/** Condition set while release windows or freezes hold the canary; its reason and message say why and until when. */
export const HELD_CONDITION = 'Held';

/**
 * Holds come back at the next change, but never later than this: a Node timer cannot wait beyond about
 * 24.8 days, and a fresh look once a week costs nothing.
 */
export const MAX_HOLD_REQUEUE_MS = 7 * 24 * 60 * 60 * 1000;

export type ReleaseScope = 'start' | 'advance';

/** What the gate needs of the state machine's context for one tick. */
export interface GateContext {
  canary: Canary;
  obs: Observations;
  now: Date;
  status: CanaryStatus;
}

export const releaseReasons = {
  held: (answer: ScopeAnswer, consequence: string): Reason => ({
    code: answer.code || 'WaitingForReleaseWindow',
    message: `${answer.reason}; ${consequence}`,
    severity: 'Normal',
  }),
  withdrawn: (phase: string): Reason => ({
    code: 'ReleaseHoldEnded',
    message: `the new revision that was waiting to start is gone (the target is back at the last applied revision): the canary is ${phase} again`,
    severity: 'Normal',
  }),
  resumed: (scope: ReleaseScope): Reason => ({
    code: 'ReleaseResumed',
    message:
      scope === 'start'
        ? 'no release window or freeze holds the canary any more: the rollout of the new revision starts'
        : 'a release window is open: the rollout resumes',
    severity: 'Normal',
  }),
};

/**
 * Release windows and freezes at the two points where they matter: where a new revision would start its
 * rollout (`start`: windows that appliesTo Start, and freezes) and where a rollout in flight would take
 * a step (`advance`: windows that appliesTo Advance). Returns undefined to let the tick go on.
 *
 * Held: phase Waiting, condition Held naming the next opening, one event when the hold begins or its
 * reason changes (not at every tick), and a requeue at the instant the answer changes. A held start,
 * and an advance held with `outside: Rollback`, put all traffic on the primary with the canary at zero
 * (`toPrimary`); `outside: Hold` keeps the weight where it is.
 * Released: one tick clears the condition, says so once and comes straight back to go on.
 */
export function releaseGate(
  ctx: GateContext,
  scope: ReleaseScope,
  toPrimary: () => Action[],
): Decision | undefined {
  const windows = ctx.canary.spec.releaseWindows;
  const freezes = ctx.obs.freezes ?? [];
  const held = ctx.status.phase === 'Waiting' && hasHeld(ctx.status);
  if (!windows && freezes.length === 0 && !held) return undefined;
  // Past the revision check, a start hold means the waiting revision went away (a revert).
  if (held && scope === 'advance' && isStartHold(ctx.status)) return withdraw(ctx, toPrimary);
  const answer = scope === 'start' ? startAnswer(windows, freezes, ctx.now) : advanceAnswer(windows, ctx.now);
  if (answer.allowed) return held ? release(ctx, scope) : undefined;
  return hold(ctx, scope, answer, toPrimary);
}

function hold(
  ctx: GateContext,
  scope: ReleaseScope,
  answer: ScopeAnswer,
  toPrimary: () => Action[],
): Decision {
  const toZero = scope === 'start' || ctx.canary.spec.releaseWindows?.outside === 'Rollback';
  const reason = releaseReasons.held(answer, consequenceOf(scope, toZero, ctx.status.canaryWeight ?? 0));
  const status: CanaryStatus = { ...ctx.status };
  const conditions = withCondition(
    status.conditions,
    HELD_CONDITION,
    'True',
    reason.code,
    reason.message,
    ctx.now,
  );
  const changed = conditions !== status.conditions;
  status.conditions = conditions;
  if (status.phase !== 'Waiting') {
    status.phase = 'Waiting';
    status.lastTransitionTime = ctx.now.toISOString();
  }
  const actions: Action[] = toZero ? toPrimary() : [];
  if (toZero) {
    status.canaryWeight = 0;
    if (scope === 'advance') status.iterations = 0;
  }
  if (changed)
    actions.push({ type: 'event', severity: reason.severity, reason: reason.code, message: reason.message });
  const wait = answer.nextChangeAt ? answer.nextChangeAt.getTime() - ctx.now.getTime() : undefined;
  return {
    status,
    actions,
    reason,
    ...(wait === undefined ? {} : { requeueAfterMs: Math.min(Math.max(wait, 1), MAX_HOLD_REQUEUE_MS) }),
  };
}

const START_HOLD_CODES = new Set(['ReleaseFrozen', 'WaitingForReleaseWindow']);

function isStartHold(status: CanaryStatus): boolean {
  return (
    status.conditions?.some((c) => c.type === HELD_CONDITION && START_HOLD_CODES.has(c.reason ?? '')) ?? false
  );
}

/**
 * Back to the steady phase a start hold came from: the last applied revision was promoted (Succeeded)
 * or it was not (Failed), as before the new revision appeared.
 */
function withdraw(ctx: GateContext, toPrimary: () => Action[]): Decision {
  const phase = ctx.status.lastAppliedSpec === ctx.status.lastPromotedSpec ? 'Succeeded' : 'Failed';
  const reason = releaseReasons.withdrawn(phase);
  const status: CanaryStatus = {
    ...ctx.status,
    phase,
    canaryWeight: 0,
    lastTransitionTime: ctx.now.toISOString(),
    conditions: withoutHeld(ctx.status),
  };
  const actions = toPrimary();
  actions.push({ type: 'event', severity: reason.severity, reason: reason.code, message: reason.message });
  return { status, actions, reason };
}

function hasHeld(status: CanaryStatus): boolean {
  return status.conditions?.some((c) => c.type === HELD_CONDITION) ?? false;
}

function withoutHeld(status: CanaryStatus): NonNullable<CanaryStatus['conditions']> {
  return (status.conditions ?? []).filter((c) => c.type !== HELD_CONDITION);
}

/**
 * A hold ends with its phase: a canary that left Waiting another way (a revert to the promoted
 * revision, petrel abort) keeps no Held condition. Applied to every decision.
 */
export function withoutStaleHold(decision: Decision): Decision {
  if (decision.status.phase === 'Waiting' || !hasHeld(decision.status)) return decision;
  return { ...decision, status: { ...decision.status, conditions: withoutHeld(decision.status) } };
}

function consequenceOf(scope: ReleaseScope, toZero: boolean, weight: number): string {
  if (scope === 'start') return 'the new revision waits with all traffic on the primary';
  return toZero
    ? 'all traffic is back on the primary and the rollout starts again from weight 0 then'
    : `the canary stays at weight ${weight} until then`;
}

function release(ctx: GateContext, scope: ReleaseScope): Decision {
  const reason = releaseReasons.resumed(scope);
  const status: CanaryStatus = {
    ...ctx.status,
    conditions: withoutHeld(ctx.status),
  };
  if (scope === 'advance') {
    status.phase = 'Progressing';
    status.lastTransitionTime = ctx.now.toISOString();
    // A canary scaled down by `outside: Rollback` (or not ready) gets a whole progress deadline from now.
    const target = ctx.obs.target;
    if (target.replicas === 0 || !target.ready) status.lastStepTime = ctx.now.toISOString();
  }
  return {
    status,
    actions: [{ type: 'event', severity: reason.severity, reason: reason.code, message: reason.message }],
    reason,
    requeueAfterMs: 0,
  };
}

/**
 * A rollout in flight comes back no later than the moment its Advance windows open or close, so an
 * `outside` action happens at the close itself, not at the next step. Decisions without a requeue
 * (the rollout ended) are left alone.
 */
export function wakeAtWindowChange(ctx: GateContext, decision: Decision): Decision {
  const windows = ctx.canary.spec.releaseWindows;
  if (!windows || decision.requeueAfterMs === undefined) return decision;
  const change = advanceAnswer(windows, ctx.now).nextChangeAt;
  if (!change) return decision;
  const untilChange = Math.max(change.getTime() - ctx.now.getTime(), 1);
  return untilChange < decision.requeueAfterMs ? { ...decision, requeueAfterMs: untilChange } : decision;
}

/**
 * True while the Advance windows are closed: no step is taken, so no metric check, rollout hook or
 * in-flight gate is due either (a load test at 3 a.m. is what the windows are there to prevent).
 */
export function stepsHeldByWindows(canary: Canary, now: Date): boolean {
  const windows = canary.spec.releaseWindows;
  return windows !== undefined && !advanceAnswer(windows, now).allowed;
}
