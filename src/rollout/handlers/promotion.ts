import type { CanaryStatus } from '../../api/canary.ts';
import type { Context } from '../context.ts';
import { allOnPrimary, event, PROMOTED, rollback, routeToPrimary, settle } from '../outcomes.ts';
import { reasons } from '../reasons.ts';
import { withCondition } from '../status.ts';
import { stepRemainingMs, timeOf } from '../step.ts';
import type { Action, Decision, Reason } from '../types.ts';
import { hasWeightSteps, nextPromotionWeight, sameWeights, weightsFor } from '../weights.ts';

/** Promoting: the target's template is copied to the primary; the canary keeps its traffic meanwhile. */
export function promote(ctx: Context, actions: Action[], skipped: boolean, why?: Reason): Decision {
  const reason = why ?? reasons.promoting(ctx.target, ctx.primary, skipped);
  const status: CanaryStatus = {
    ...ctx.status,
    phase: 'Promoting',
    lastTransitionTime: ctx.now.toISOString(),
    conditions: withCondition(
      ctx.status.conditions,
      PROMOTED,
      'Unknown',
      reason.code,
      reason.message,
      ctx.now,
    ),
  };
  return {
    status,
    actions: [...actions, { type: 'promotePrimary' }, event(reason)],
    reason,
    requeueAfterMs: Math.min(ctx.intervalMs, ctx.deadlineSeconds * 1000),
  };
}

/** Promotes, unless a confirm-promotion gate is closed: then WaitingPromotion, and the analysis goes on. */
export function promoteOrWait(ctx: Context, actions: Action[]): Decision {
  const gate = ctx.obs.webhooks?.['confirm-promotion'];
  if (!gate || gate.open) return promote(ctx, actions, false);
  const reason = reasons.waitingForPromotion(gate.detail);
  const status = ctx.status;
  if (status.phase !== 'WaitingPromotion') {
    status.phase = 'WaitingPromotion';
    status.lastTransitionTime = ctx.now.toISOString();
    actions.push(event(reason, gate.muted === true));
  }
  return { status, actions, reason, requeueAfterMs: ctx.intervalMs };
}

/**
 * Promoting: waits for the primary to run the promoted revision and be ready (then Finalising), or rolls
 * back once progressDeadlineSeconds have passed since the promotion began.
 */
export function awaitPrimary(ctx: Context): Decision {
  const { obs, status } = ctx;
  const actions: Action[] = [{ type: 'ensureRoutes' }];
  const desired = weightsFor(status.canaryWeight ?? 0);
  if (!sameWeights(obs.routes, desired)) actions.push({ type: 'setWeights', weights: desired });
  const promoted = obs.primary?.revision === status.lastAppliedSpec;
  if (promoted && obs.primary?.ready) {
    const stepped = promotionStep(ctx, actions);
    if (stepped) return stepped;
    const reason = reasons.finalising(ctx.primary);
    const next: CanaryStatus = {
      ...status,
      phase: 'Finalising',
      canaryWeight: 0,
      lastTransitionTime: ctx.now.toISOString(),
      conditions: withCondition(status.conditions, PROMOTED, 'Unknown', reason.code, reason.message, ctx.now),
    };
    const routeActions: Action[] = actions.filter((a) => a.type !== 'setWeights');
    routeActions.push(...routeToPrimary(ctx));
    return { status: next, actions: [...routeActions, event(reason)], reason, requeueAfterMs: 0 };
  }
  if (!promoted) actions.push({ type: 'promotePrimary' });
  const deadlineMs = ctx.deadlineSeconds * 1000;
  const elapsed = ctx.nowMs - timeOf(status.lastTransitionTime, ctx.nowMs);
  if (elapsed >= deadlineMs) return rollback(ctx, reasons.primaryDeadline(ctx.primary, ctx.deadlineSeconds));
  const remaining = deadlineMs - elapsed;
  return {
    status,
    actions,
    reason: reasons.waitingForPrimary(ctx.primary, remaining),
    requeueAfterMs: remaining,
  };
}

/**
 * spec.analysis.stepWeightPromotion: once the primary runs the promoted revision, it takes the traffic back
 * in steps, one per interval (Flagger's semantics), instead of all at once; the step that would reach 0 is
 * Finalising's. E.g. canary 50, steps of 20: 30, then 10, then Finalising (0). Undefined: no step now.
 */
function promotionStep(ctx: Context, actions: Action[]): Decision | undefined {
  const { status } = ctx;
  const analysis = ctx.canary.spec.analysis ?? {};
  const weight = status.canaryWeight ?? 0;
  if (!analysis.stepWeightPromotion || !hasWeightSteps(analysis) || weight === 0) return undefined;
  const remaining = stepRemainingMs(ctx.canary, status, ctx.nowMs);
  if (remaining > 0) {
    return { status, actions, reason: reasons.waitingForStep(weight, remaining), requeueAfterMs: remaining };
  }
  const next = nextPromotionWeight(weight, analysis.stepWeightPromotion);
  if (next === 0) return undefined;
  const reason = reasons.promotionStep(next, weight);
  return {
    status: { ...status, canaryWeight: next, lastStepTime: ctx.now.toISOString() },
    actions: [
      ...actions.filter((a) => a.type !== 'setWeights'),
      { type: 'setWeights', weights: weightsFor(next) },
      event(reason),
    ],
    reason,
    requeueAfterMs: ctx.intervalMs,
  };
}

/** Finalising: all traffic is on the primary again and the canary scales to zero: Succeeded. */
export function finalise(ctx: Context): Decision {
  return settle(ctx, 'Succeeded', 'True', reasons.succeeded(ctx.target), allOnPrimary(ctx), {
    lastPromotedSpec: ctx.status.lastAppliedSpec,
  });
}
