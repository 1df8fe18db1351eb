import type { CanaryStatus } from '../../api/canary.ts';
import type { Context } from '../context.ts';
import { allOnPrimary, event, PROMOTED, rollback, routeToPrimary, settle } from '../outcomes.ts';
import { reasons } from '../reasons.ts';
import { withCondition } from '../status.ts';
import { timeOf } from '../step.ts';
import type { Action, Decision, Reason } from '../types.ts';
import { sameWeights, weightsFor } from '../weights.ts';

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
    actions.push(event(reason));
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

/** Finalising: all traffic is on the primary again and the canary scales to zero: Succeeded. */
export function finalise(ctx: Context): Decision {
  return settle(ctx, 'Succeeded', 'True', reasons.succeeded(ctx.target), allOnPrimary(ctx), {
    lastPromotedSpec: ctx.status.lastAppliedSpec,
  });
}
