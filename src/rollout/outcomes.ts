import type { CanaryStatus } from '../api/canary.ts';
import type { Context } from './context.ts';
import { withCondition } from './status.ts';
import type { Action, Decision, Reason } from './types.ts';
import { sameWeights, weightsFor } from './weights.ts';

// The building blocks every handler shares: events, holds, routing back to the primary, rolling back.

/** The condition that says whether the revision the target runs is promoted. */
export const PROMOTED = 'Promoted';
/** Set while a person paused the canary (petrel pause). */
export const PAUSED = 'Paused';

export function event(reason: Reason, muteAlert = false): Action {
  const action: Action = {
    type: 'event',
    severity: reason.severity,
    reason: reason.code,
    message: reason.message,
  };
  return muteAlert ? { ...action, muteAlert: true } : action;
}

/** Nothing moves and nothing is written but the reason; only a change in the world wakes the canary. */
export function hold(ctx: Context, reason: Reason): Decision {
  return { status: ctx.status, actions: [], reason };
}

/** The canary Deployment has replicas and they are all ready. */
export function canaryReady(ctx: Context): boolean {
  return ctx.obs.target.replicas > 0 && ctx.obs.target.ready;
}

/** The canary runs as many replicas as the primary (at least one). */
export function canaryReplicas(ctx: Context): number {
  return Math.max(1, ctx.obs.primary?.replicas ?? 1);
}

/** The weights that put all traffic on the primary, unless the live routes already do. */
export function routeToPrimary(ctx: Context): Action[] {
  return sameWeights(ctx.obs.routes, weightsFor(0)) ? [] : [{ type: 'setWeights', weights: weightsFor(0) }];
}

/** Where every rollout ends and every idle tick stays: routes in place, all traffic on the primary, canary at zero. */
export function allOnPrimary(ctx: Context): Action[] {
  const actions: Action[] = [{ type: 'ensureRoutes' }, ...routeToPrimary(ctx)];
  if (ctx.obs.target.replicas !== 0) actions.push({ type: 'scaleTarget', replicas: 0 });
  return actions;
}

/**
 * A rollout ends in `phase` with no traffic on the canary: the reason becomes an event after `actions`
 * and the Promoted condition (`promoted`), and `fields` set what else the status records.
 */
export function settle(
  ctx: Context,
  phase: CanaryStatus['phase'],
  promoted: 'True' | 'False',
  reason: Reason,
  actions: Action[],
  fields: Partial<CanaryStatus> = {},
): Decision {
  actions.push(event(reason));
  const status: CanaryStatus = {
    ...ctx.status,
    phase,
    canaryWeight: 0,
    ...fields,
    lastTransitionTime: ctx.now.toISOString(),
    conditions: withCondition(
      ctx.status.conditions,
      PROMOTED,
      promoted,
      reason.code,
      reason.message,
      ctx.now,
    ),
  };
  return { status, actions, reason };
}

/** Failed: all traffic back on the primary, the canary scaled to zero, the reason in the Promoted condition. */
export function rollback(ctx: Context, reason: Reason): Decision {
  return settle(ctx, 'Failed', 'False', reason, allOnPrimary(ctx));
}

export function assertNever(value: never): never {
  throw new Error(`unknown canary phase or action ${String(value)}`);
}
