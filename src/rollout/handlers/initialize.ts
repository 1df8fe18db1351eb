import type { CanaryStatus } from '../../api/canary.ts';
import type { Context } from '../context.ts';
import { event, settle } from '../outcomes.ts';
import { reasons } from '../reasons.ts';
import type { Action, Decision } from '../types.ts';
import { sameWeights, weightsFor } from '../weights.ts';

/**
 * Creates the primary and the routes, waits for the primary to be ready, then scales the target to zero:
 * Initialized, with the target's revision recorded as the promoted one.
 */
export function initialize(ctx: Context): Decision {
  const { obs } = ctx;
  const actions: Action[] = [{ type: 'ensurePrimary' }, { type: 'ensureRoutes' }];
  if (obs.routes && !sameWeights(obs.routes, weightsFor(0))) {
    actions.push({ type: 'setWeights', weights: weightsFor(0) });
  }
  if (!obs.primary?.ready) {
    const reason = reasons.initializing(
      obs.primary ? `waiting for ${ctx.primary} to become ready` : `creating ${ctx.primary}`,
    );
    const status: CanaryStatus = { ...ctx.status, phase: 'Initializing' };
    if (ctx.status.phase !== 'Initializing') {
      status.lastTransitionTime = ctx.now.toISOString();
      actions.push(event(reason));
    }
    return { status, actions, reason, requeueAfterMs: ctx.intervalMs };
  }
  if (obs.target.replicas !== 0) actions.push({ type: 'scaleTarget', replicas: 0 });
  return settle(ctx, 'Initialized', 'True', reasons.initialized(ctx.target), actions, {
    failedChecks: 0,
    iterations: 0,
    lastAppliedSpec: obs.target.revision,
    lastPromotedSpec: obs.target.revision,
  });
}
