import type { CanaryStatus } from '../../api/canary.ts';
import type { Context } from '../context.ts';
import type { ManualAction } from '../manual.ts';
import { assertNever, canaryReady, event, PAUSED, rollback } from '../outcomes.ts';
import { isInRollout } from '../phases.ts';
import { reasons } from '../reasons.ts';
import { withCondition } from '../status.ts';
import type { Action, Decision } from '../types.ts';
import { promote } from './promotion.ts';
import { retry } from './retry.ts';

const CLEAR: Action = { type: 'clearManualAction' };

/**
 * petrel promote|abort|pause|resume|retry, read from the Canary's annotations. Undefined lets the tick go on
 * as usual. One-shot actions (promote, abort, resume, retry) remove their annotation once carried out.
 */
export function manualControl(ctx: Context): Decision | undefined {
  const manual = ctx.obs.manual;
  if (!manual) return undefined;
  const phase = ctx.status.phase ?? 'Initialized';
  switch (manual.action) {
    case 'pause': {
      const reason = reasons.paused(manual.by);
      const conditions = withCondition(
        ctx.status.conditions,
        PAUSED,
        'True',
        reason.code,
        reason.message,
        ctx.now,
      );
      const actions: Action[] = conditions === ctx.status.conditions ? [] : [event(reason)];
      return { status: { ...ctx.status, conditions }, actions, reason };
    }
    case 'resume': {
      const reason = reasons.resumed(manual.by);
      const conditions = ctx.status.conditions?.filter((c) => c.type !== PAUSED);
      const status: CanaryStatus = { ...ctx.status };
      if (conditions) status.conditions = conditions;
      // Removing the annotation changes the Canary, which wakes it again: no requeue needed.
      return { status, actions: [{ ...CLEAR }, event(reason)], reason };
    }
    case 'abort': {
      if (!isInRollout(phase)) return ignored(ctx, manual, phase);
      const decision = rollback(ctx, reasons.aborted(manual.by));
      decision.status.lastAppliedSpec = ctx.obs.target.revision;
      decision.actions.push({ ...CLEAR });
      return decision;
    }
    case 'promote': {
      const ready = canaryReady(ctx);
      const promotable =
        isInRollout(phase) &&
        phase !== 'Waiting' &&
        ready &&
        ctx.obs.target.revision === ctx.status.lastAppliedSpec;
      if (!promotable) {
        return ignored(ctx, manual, ready || !isInRollout(phase) ? phase : `${phase} (canary not ready)`);
      }
      const decision = promote(ctx, [{ type: 'ensureRoutes' }], false, reasons.promotedManually(manual.by));
      decision.actions.push({ ...CLEAR });
      return decision;
    }
    case 'retry':
      return retry(ctx, manual);
    default:
      return assertNever(manual.action);
  }
}

function ignored(ctx: Context, manual: ManualAction, phase: string): Decision {
  const reason = reasons.manualIgnored(manual.action, manual.by, phase);
  return { status: ctx.status, actions: [{ ...CLEAR }, event(reason)], reason };
}
