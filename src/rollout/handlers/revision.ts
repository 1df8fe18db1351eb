import type { CanaryStatus } from '../../api/canary.ts';
import type { Context } from '../context.ts';
import { allOnPrimary, canaryReplicas, event, PROMOTED, routeToPrimary, settle } from '../outcomes.ts';
import { isSteady } from '../phases.ts';
import { PROGRESSING_CONDITION_REASON, reasons } from '../reasons.ts';
import { releaseGate } from '../release-gate.ts';
import { withCondition } from '../status.ts';
import type { Action, Decision } from '../types.ts';

/**
 * The target runs a revision other than the one last applied: a new rollout starts (a restart when one
 * was under way), unless the target went back to the revision the primary already runs.
 */
export function newRevision(ctx: Context): Decision | undefined {
  const { obs } = ctx;
  if (obs.target.revision === ctx.status.lastAppliedSpec) return undefined;
  if (obs.target.revision === ctx.status.lastPromotedSpec && obs.primary?.revision === obs.target.revision) {
    return backToPromoted(ctx);
  }
  return startRollout(ctx, isSteady(ctx.status.phase));
}

/**
 * The target went back to the revision the primary already runs (a revert in Git): there is nothing to
 * analyse, so any rollout in flight stops and traffic stays on the primary.
 */
function backToPromoted(ctx: Context): Decision {
  return settle(ctx, 'Succeeded', 'True', reasons.backToPromoted(ctx.target), allOnPrimary(ctx), {
    failedChecks: 0,
    iterations: 0,
    lastAppliedSpec: ctx.obs.target.revision,
  });
}

/** From a steady phase the confirm-rollout gate is asked first; a rollout in flight restarts at once. */
function startRollout(ctx: Context, fromSteadyState: boolean): Decision {
  const gated = releaseGate(ctx, 'start', () => allOnPrimary(ctx));
  if (gated) return gated;
  const confirm = fromSteadyState ? ctx.obs.webhooks?.['confirm-rollout'] : undefined;
  if (confirm?.pending)
    return { status: ctx.status, actions: [], reason: reasons.webhookPending(), requeueAfterMs: 1000 };
  if (confirm && !confirm.open) return waitForConfirmation(ctx, confirm.detail, confirm.muted === true);
  const replicas = canaryReplicas(ctx);
  const reason = fromSteadyState ? reasons.newRevision(ctx.target, replicas) : reasons.restarted(ctx.target);
  const actions: Action[] = [{ type: 'ensureRoutes' }];
  actions.push(...routeToPrimary(ctx));
  if (ctx.obs.target.replicas !== replicas) actions.push({ type: 'scaleTarget', replicas });
  actions.push(event(reason));
  const at = ctx.now.toISOString();
  const status: CanaryStatus = {
    ...ctx.status,
    phase: 'Progressing',
    canaryWeight: 0,
    failedChecks: 0,
    iterations: 0,
    lastAppliedSpec: ctx.obs.target.revision,
    lastTransitionTime: at,
    lastStepTime: at,
    // The checks of a release are its own: its history starts empty (status.analysis is keyed by revision).
    history: [],
    conditions: withCondition(
      ctx.status.conditions,
      PROMOTED,
      'Unknown',
      PROGRESSING_CONDITION_REASON,
      reason.message,
      ctx.now,
    ),
  };
  return { status, actions, reason, requeueAfterMs: Math.min(ctx.intervalMs, ctx.deadlineSeconds * 1000) };
}

function waitForConfirmation(ctx: Context, detail: string, muteAlert: boolean): Decision {
  const reason = reasons.waitingForConfirmation(detail);
  const actions = allOnPrimary(ctx);
  const status: CanaryStatus = { ...ctx.status, canaryWeight: 0 };
  if (status.phase !== 'Waiting') {
    status.phase = 'Waiting';
    status.lastTransitionTime = ctx.now.toISOString();
    actions.push(event(reason, muteAlert));
  }
  return { status, actions, reason, requeueAfterMs: ctx.intervalMs };
}
