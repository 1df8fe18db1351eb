import type { Context } from '../context.ts';
import { allOnPrimary, canaryReady, canaryReplicas, event, PROMOTED, rollback } from '../outcomes.ts';
import { checksDue } from '../plan.ts';
import { PROGRESSING_CONDITION_REASON, reasons } from '../reasons.ts';
import { releaseGate } from '../release-gate.ts';
import { withCondition, withHistory } from '../status.ts';
import {
  isFinalStep,
  isMirrorStep,
  isOpeningStep,
  mirrorsBeforeShifting,
  stepRemainingMs,
  timeOf,
} from '../step.ts';
import type { Action, Decision, Reason, Weights } from '../types.ts';
import { judge } from '../verdicts.ts';
import { hasWeightSteps, mirroredWeights, nextWeight, sameWeights, weightsFor } from '../weights.ts';
import { promote, promoteOrWait } from './promotion.ts';

/** What one condition of a step says when it has something to say. */
export type StepOutcome =
  | { kind: 'hold'; reason: Reason; requeueAfterMs: number; event?: boolean; muteAlert?: boolean }
  | { kind: 'rollback'; reason: Reason }
  /** skipAnalysis promotes at once; otherwise the confirm-promotion gate is asked first. */
  | { kind: 'promote'; skipAnalysis: boolean };

/** One condition of a step. Those that use up the step record it in `ctx.status` (lastStepTime, counters). */
export type StepRule = (ctx: Context) => StepOutcome | undefined;

/**
 * Waiting, Progressing, WaitingPromotion: the conditions of a rollout step, in the order they are looked
 * at. The first that says something decides; when none does, the canary advances to the next weight.
 */
export const STEP_RULES: readonly StepRule[] = [
  canaryNotReady, // hold; roll back once progressDeadlineSeconds have passed
  analysisSkipped, // spec.skipAnalysis: promote without checks or gates
  routesBehind, // a due step whose weight never reached the routes: set them, measure a full interval
  stepNotDue, // hold until an interval has passed since the last step
  gateAnswerPending, // hold until every due gate has answered
  rollbackAsked, // a rollback hook answered 2xx: roll back
  preRolloutFailed, // a failed check: hold, or roll back at the threshold
  checksNotGathered, // checks are due but were not run on this tick: hold
  checkResults, // recorded in history; a failed check: hold, or roll back at the threshold
  iterationPassed, // iterations without weight steps: hold, or promote after the last
  topOfSchedule, // a passed step at the top of the weight schedule: promote
  trafficIncreaseHeld, // confirm-traffic-increase closed: hold at this weight
];

export function progress(ctx: Context): Decision {
  const gated = releaseGate(ctx, 'advance', () => allOnPrimary(ctx));
  if (gated) return gated;
  const actions = stepActions(ctx);
  for (const rule of STEP_RULES) {
    const outcome = rule(ctx);
    if (outcome) return withNotes(ctx, settle(ctx, actions, outcome));
  }
  return withNotes(ctx, advance(ctx, actions));
}

/** Adds the tick's notes (dry-run checks that would have failed) as events of whatever was decided. */
function withNotes(ctx: Context, decision: Decision): Decision {
  if (!ctx.notes?.length) return decision;
  return { ...decision, actions: [...decision.actions, ...ctx.notes.map((note) => event(note))] };
}

/** The routes the recorded status asks for: the current weight, or all matching requests in A/B testing. */
function desiredWeights(ctx: Context): Weights {
  const analysis = ctx.canary.spec.analysis ?? {};
  // A/B testing: the requests matching spec.analysis.match all go to a ready canary; the rest stay on the primary.
  const abTesting = !hasWeightSteps(analysis) && (analysis.match?.length ?? 0) > 0;
  // Mirroring (spec.analysis.mirror): throughout an analysis by iterations, or for the first step of a
  // weight schedule; only to a ready canary.
  const mirroring =
    analysis.mirror === true &&
    !abTesting &&
    (!hasWeightSteps(analysis) || isMirrorStep(ctx.canary, ctx.status)) &&
    canaryReady(ctx);
  if (abTesting && canaryReady(ctx)) return { primary: 0, canary: 100 };
  return mirroring ? mirroredWeights(0) : weightsFor(ctx.status.canaryWeight ?? 0);
}

/** What every tick of a rollout keeps in place: the routes at the current weight, the canary scaled up. */
function stepActions(ctx: Context): Action[] {
  const { obs } = ctx;
  const actions: Action[] = [{ type: 'ensureRoutes' }];
  const desired = desiredWeights(ctx);
  if (!sameWeights(obs.routes, desired)) actions.push({ type: 'setWeights', weights: desired });
  if (obs.target.replicas === 0) actions.push({ type: 'scaleTarget', replicas: canaryReplicas(ctx) });
  return actions;
}

function settle(ctx: Context, actions: Action[], outcome: StepOutcome): Decision {
  switch (outcome.kind) {
    case 'hold':
      if (outcome.event) actions.push(event(outcome.reason, outcome.muteAlert));
      return { status: ctx.status, actions, reason: outcome.reason, requeueAfterMs: outcome.requeueAfterMs };
    case 'rollback':
      return rollback(ctx, outcome.reason);
    case 'promote':
      return outcome.skipAnalysis ? promote(ctx, actions, true) : promoteOrWait(ctx, actions);
  }
}

const holdFor = (
  reason: Reason,
  requeueAfterMs: number,
  withEvent = false,
  muteAlert = false,
): StepOutcome => ({
  kind: 'hold',
  reason,
  requeueAfterMs,
  ...(withEvent ? { event: true } : {}),
  ...(withEvent && muteAlert ? { muteAlert: true } : {}),
});

/** Waits for the canary to be ready; rolls back once progressDeadlineSeconds have passed since the last step. */
function canaryNotReady(ctx: Context): StepOutcome | undefined {
  if (canaryReady(ctx)) return undefined;
  const { status } = ctx;
  const sinceStepMs = ctx.nowMs - timeOf(status.lastStepTime ?? status.lastTransitionTime, ctx.nowMs);
  const deadlineMs = ctx.deadlineSeconds * 1000;
  if (sinceStepMs >= deadlineMs) {
    return { kind: 'rollback', reason: reasons.canaryDeadline(ctx.target, ctx.deadlineSeconds) };
  }
  const remaining = deadlineMs - sinceStepMs;
  return holdFor(reasons.waitingForCanary(ctx.target, remaining), remaining);
}

function analysisSkipped(ctx: Context): StepOutcome | undefined {
  return ctx.canary.spec.skipAnalysis ? { kind: 'promote', skipAnalysis: true } : undefined;
}

/**
 * The step is due but the routes never got the recorded weight (the controller stopped between the status
 * write and the route write, and was down for an interval or more): the checks would judge the old weight.
 * The routes are set with this tick's actions and the step starts over from now.
 */
function routesBehind(ctx: Context): StepOutcome | undefined {
  const routes = ctx.obs.routes;
  if (!routes || sameWeights(routes, desiredWeights(ctx))) return undefined;
  if (stepRemainingMs(ctx.canary, ctx.status, ctx.nowMs) > 0 || isOpeningStep(ctx.canary, ctx.status))
    return undefined;
  stepTaken(ctx);
  return holdFor(reasons.waitingForStep(ctx.status.canaryWeight ?? 0, ctx.intervalMs), ctx.intervalMs);
}

function stepNotDue(ctx: Context): StepOutcome | undefined {
  const remaining = stepRemainingMs(ctx.canary, ctx.status, ctx.nowMs);
  if (remaining === 0) return undefined;
  return holdFor(reasons.waitingForStep(ctx.status.canaryWeight ?? 0, remaining), remaining);
}

function gateAnswerPending(ctx: Context): StepOutcome | undefined {
  const pending = Object.values(ctx.obs.webhooks ?? {}).some((g) => g?.pending);
  return pending ? holdFor(reasons.webhookPending(), 1000) : undefined;
}

function rollbackAsked(ctx: Context): StepOutcome | undefined {
  const gate = ctx.obs.webhooks?.rollback;
  return gate?.open ? { kind: 'rollback', reason: reasons.rollbackRequested(gate.detail) } : undefined;
}

function preRolloutFailed(ctx: Context): StepOutcome | undefined {
  const gate = ctx.obs.webhooks?.['pre-rollout'];
  if (!gate || gate.open) return undefined;
  return failedCheck(ctx, gate.detail, reasons.preRolloutFailed, gate.muted === true);
}

function checksNotGathered(ctx: Context): StepOutcome | undefined {
  if (!checksDue(ctx.canary, ctx.now) || ctx.obs.checks) return undefined;
  return holdFor(reasons.checksMissing(), 1000);
}

/** Records the checks of a due step in the history; a failed one counts towards the threshold. */
function checkResults(ctx: Context): StepOutcome | undefined {
  const checks = ctx.obs.checks;
  if (!checks || !checksDue(ctx.canary, ctx.now)) return undefined;
  const { status } = ctx;
  status.history = withHistory(status.history, checks, status.canaryWeight ?? 0, ctx.now);
  if (ctx.obs.analysis) status.analysis = ctx.obs.analysis;
  const verdict = judge(checks);
  if (verdict.wouldHaveFailed)
    ctx.notes = [...(ctx.notes ?? []), reasons.dryRunCheckFailed(verdict.wouldHaveFailed)];
  // Relative checks (issue 17): conclusive evidence rolls back at once; inconclusive or held checks keep the weight.
  if (verdict.conclusive) return { kind: 'rollback', reason: reasons.regressionDetected(verdict.conclusive) };
  // Only failures of webhooks with muteAlert: the hold is recorded, no alert sent.
  const muted = checks.every((c) => c.passed || c.muted === true);
  if (!verdict.passed) return failedCheck(ctx, verdict.failures, reasons.checkFailed, muted);
  stepTaken(ctx);
  if (verdict.held) {
    const weight = status.canaryWeight ?? 0;
    return holdFor(reasons.analysisHeld(weight, verdict.held, verdict.alert === true), ctx.intervalMs, true);
  }
  return undefined;
}

/** Without a weight schedule, a passed step is one of `iterations` analyses; the last one promotes. */
function iterationPassed(ctx: Context): StepOutcome | undefined {
  const analysis = ctx.canary.spec.analysis ?? {};
  if (hasWeightSteps(analysis)) return undefined;
  const final = isFinalStep(ctx.canary, ctx.status);
  const done = (ctx.status.iterations ?? 0) + 1;
  const total = analysis.iterations ?? 1;
  ctx.status.iterations = Math.min(done, total);
  stepTaken(ctx);
  return final
    ? { kind: 'promote', skipAnalysis: false }
    : holdFor(reasons.iteration(done, total), ctx.intervalMs);
}

/** A weight schedule promotes once a step passes at its top (the iterations rule has decided otherwise). */
function topOfSchedule(ctx: Context): StepOutcome | undefined {
  if (!isFinalStep(ctx.canary, ctx.status)) return undefined;
  stepTaken(ctx);
  return { kind: 'promote', skipAnalysis: false };
}

function trafficIncreaseHeld(ctx: Context): StepOutcome | undefined {
  const gate = ctx.obs.webhooks?.['confirm-traffic-increase'];
  if (!gate || gate.open) return undefined;
  stepTaken(ctx);
  return holdFor(
    reasons.trafficIncreaseHeld(ctx.status.canaryWeight ?? 0, gate.detail),
    ctx.intervalMs,
    true,
    gate.muted === true,
  );
}

/** Counts a failed check, using up the step: a hold with the reason, or a rollback at the threshold. */
function failedCheck(
  ctx: Context,
  detail: string,
  reasonOf: (failed: number, threshold: number, detail: string) => Reason,
  muteAlert = false,
): StepOutcome {
  const failed = (ctx.status.failedChecks ?? 0) + 1;
  ctx.status.failedChecks = failed;
  stepTaken(ctx);
  if (failed >= ctx.threshold)
    return { kind: 'rollback', reason: reasons.thresholdReached(ctx.threshold, detail) };
  // Reaching the threshold rolls back: that is alerted whatever the webhook's muteAlert says.
  return holdFor(reasonOf(failed, ctx.threshold, detail), ctx.intervalMs, true, muteAlert);
}

/** The step is used up: the next one is an interval away. */
function stepTaken(ctx: Context): void {
  ctx.status.lastStepTime = ctx.now.toISOString();
}

function advance(ctx: Context, actions: Action[]): Decision {
  const { status } = ctx;
  if (mirrorsBeforeShifting(ctx.canary) && isOpeningStep(ctx.canary, status))
    return startMirroring(ctx, actions);
  const weight = status.canaryWeight ?? 0;
  const next = nextWeight(ctx.canary.spec.analysis ?? {}, weight);
  const reason = reasons.advance(next, weight);
  status.phase = 'Progressing';
  status.canaryWeight = next;
  status.lastStepTime = ctx.now.toISOString();
  status.conditions = withCondition(
    status.conditions,
    PROMOTED,
    'Unknown',
    PROGRESSING_CONDITION_REASON,
    reason.message,
    ctx.now,
  );
  return {
    status,
    actions: [
      ...actions.filter((a) => a.type !== 'setWeights'),
      { type: 'setWeights', weights: weightsFor(next) },
    ],
    reason,
    requeueAfterMs: ctx.intervalMs,
  };
}

/** The opening step of a rollout with mirror: the canary gets a copy of the primary's traffic, no share of it. */
function startMirroring(ctx: Context, actions: Action[]): Decision {
  const { status } = ctx;
  const reason = reasons.mirroring(ctx.canary.spec.analysis?.mirrorWeight ?? 100);
  status.phase = 'Progressing';
  status.canaryWeight = 0;
  status.lastStepTime = ctx.now.toISOString();
  status.conditions = withCondition(
    status.conditions,
    PROMOTED,
    'Unknown',
    PROGRESSING_CONDITION_REASON,
    reason.message,
    ctx.now,
  );
  return {
    status,
    actions: [
      ...actions.filter((a) => a.type !== 'setWeights'),
      { type: 'setWeights', weights: mirroredWeights(0) },
    ],
    reason,
    requeueAfterMs: ctx.intervalMs,
  };
}
