import type { CanaryStatus } from '../../api/canary.ts';
import type { Context } from '../context.ts';
import type { ManualAction } from '../manual.ts';
import { canaryReplicas, event, PROMOTED, routeToPrimary } from '../outcomes.ts';
import { isInRollout } from '../phases.ts';
import { PROGRESSING_CONDITION_REASON, reasons } from '../reasons.ts';
import { withCondition } from '../status.ts';
import type { Action, Decision } from '../types.ts';
import { startAnswer } from '../windows.ts';

const CLEAR: Action = { type: 'clearManualAction' };

/**
 * petrel retry: a Failed rollout of the revision the target still runs starts again from weight 0, as if
 * the revision were new, with failedChecks and iterations reset; the history of the failed attempt is
 * kept. confirm-rollout is not asked again (a person asked for this run), but release windows and freezes
 * are: a retry they hold is refused with the next opening, rather than queued. Anything but a Failed
 * canary of an unchanged revision refuses the retry with the reason, in an event.
 */
export function retry(ctx: Context, manual: ManualAction): Decision {
  if (carriedOut(ctx, manual)) {
    // A replay after a crash between the status write and the annotation's removal: just finish it.
    return {
      status: ctx.status,
      actions: [{ ...CLEAR }],
      reason: reasons.retried(manual.by, ctx.obs.target.revision),
    };
  }
  const why = refusal(ctx);
  if (why) {
    const reason = reasons.retryRefused(manual.by, why);
    return { status: ctx.status, actions: [{ ...CLEAR }, event(reason)], reason };
  }
  const revision = ctx.obs.target.revision;
  const reason = reasons.retried(manual.by, revision);
  const replicas = canaryReplicas(ctx);
  const actions: Action[] = [{ type: 'ensureRoutes' }, ...routeToPrimary(ctx)];
  if (ctx.obs.target.replicas !== replicas) actions.push({ type: 'scaleTarget', replicas });
  actions.push({ ...CLEAR }, event(reason));
  const at = ctx.now.toISOString();
  const status: CanaryStatus = {
    ...ctx.status,
    phase: 'Progressing',
    canaryWeight: 0,
    failedChecks: 0,
    iterations: 0,
    lastTransitionTime: at,
    lastStepTime: at,
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

/** The rollout is in flight again since the retry was asked for: this retry already happened. */
function carriedOut(ctx: Context, manual: ManualAction): boolean {
  const asked = manual.at ? Date.parse(manual.at) : Number.NaN;
  const moved = ctx.status.lastTransitionTime ? Date.parse(ctx.status.lastTransitionTime) : Number.NaN;
  return (
    isInRollout(ctx.status.phase) &&
    ctx.status.lastAppliedSpec === ctx.obs.target.revision &&
    Number.isFinite(asked) &&
    Number.isFinite(moved) &&
    moved >= asked
  );
}

/** Why this canary cannot be retried now; undefined when it can. */
function refusal(ctx: Context): string | undefined {
  const phase = ctx.status.phase ?? 'Initialized';
  if (phase !== 'Failed') {
    return `only a Failed rollout can be retried, and the canary is ${phase}${phase === 'Progressing' || phase === 'Waiting' || phase === 'WaitingPromotion' ? ' (petrel abort ends it)' : ''}`;
  }
  if (ctx.obs.target.revision !== ctx.status.lastAppliedSpec) {
    return 'the target runs a new revision, which starts a rollout of its own';
  }
  if (ctx.status.lastAppliedSpec === ctx.status.lastPromotedSpec) {
    return 'the primary already runs this revision: there is nothing to roll out';
  }
  const answer = startAnswer(ctx.canary.spec.releaseWindows, ctx.obs.freezes ?? [], ctx.now);
  if (!answer.allowed) return `${answer.reason}; run petrel retry again then`;
  return undefined;
}
