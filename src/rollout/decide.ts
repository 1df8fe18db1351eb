import type { Canary, CanaryStatus } from '../api/canary.ts';
import { parseDuration } from '../api/duration.ts';
import type { GateType } from '../webhooks/gates.ts';
import type { ManualAction } from '../webhooks/manual.ts';
import { reasons } from './reasons.ts';
import { releaseGate, stepsHeldByWindows, wakeAtWindowChange, withoutStaleHold } from './release-gate.ts';
import { withCondition, withHistory } from './status.ts';
import type { Action, Decision, ObservationPlan, Observations, Reason } from './types.ts';
import { judge } from './verdicts.ts';
import { hasWeightSteps, maxWeightOf, nextWeight, sameWeights, weightsFor } from './weights.ts';

const PROMOTED = 'Promoted';
const PAUSED = 'Paused';
const DEFAULT_INTERVAL_MS = 60_000;
const DEFAULT_THRESHOLD = 5;
const DEFAULT_DEADLINE_SECONDS = 600;

interface Context {
  canary: Canary;
  obs: Observations;
  now: Date;
  nowMs: number;
  status: CanaryStatus;
  target: string;
  primary: string;
  intervalMs: number;
  threshold: number;
  deadlineSeconds: number;
}

/**
 * Says which observations the controller must gather for this tick: Prometheus is queried, and rollout
 * hooks called, only when a step is due; gates only when their moment has come. `targetRevision` (the
 * target's current revision) lets the plan see a new revision waiting for confirm-rollout.
 */
export function planObservations(canary: Canary, now: Date, targetRevision?: string): ObservationPlan {
  const checks = checksDue(canary, now);
  const webhooks = gatesDue(canary, now, targetRevision);
  return webhooks.length > 0 ? { checks, webhooks } : { checks };
}

function checksDue(canary: Canary, now: Date): boolean {
  const status = canary.status;
  if (canary.spec.suspend || !status || !isProgressing(status.phase) || canary.spec.skipAnalysis)
    return false;
  const analysis = canary.spec.analysis;
  if (!analysis || ((analysis.metrics ?? []).length === 0 && !hasHook(canary, 'rollout'))) return false;
  if (hasWeightSteps(analysis) && (status.canaryWeight ?? 0) === 0) return false;
  if (stepsHeldByWindows(canary, now)) return false;
  return stepRemainingMs(status, intervalOf(canary), now.getTime()) === 0;
}

function gatesDue(canary: Canary, now: Date, targetRevision: string | undefined): GateType[] {
  const status = canary.status;
  if (canary.spec.suspend || !status?.phase || (canary.spec.analysis?.webhooks ?? []).length === 0) return [];
  const due: GateType[] = [];
  const newRevision = targetRevision !== undefined && targetRevision !== status.lastAppliedSpec;
  if (newRevision) {
    if (isSteady(status.phase) && hasHook(canary, 'confirm-rollout')) due.push('confirm-rollout');
    return due;
  }
  if (!isProgressing(status.phase) || canary.spec.skipAnalysis) return due;
  if (stepsHeldByWindows(canary, now)) return due;
  const analysis = canary.spec.analysis ?? {};
  const stepping = hasWeightSteps(analysis);
  const weight = status.canaryWeight ?? 0;
  const stepDue =
    (stepping && weight === 0) || stepRemainingMs(status, intervalOf(canary), now.getTime()) === 0;
  if (!stepDue) return due;
  if (weight === 0 && (status.iterations ?? 0) === 0 && hasHook(canary, 'pre-rollout'))
    due.push('pre-rollout');
  if (hasHook(canary, 'rollback')) due.push('rollback');
  const last = stepping
    ? weight >= maxWeightOf(analysis)
    : (status.iterations ?? 0) + 1 >= (analysis.iterations ?? 1);
  if (last && hasHook(canary, 'confirm-promotion')) due.push('confirm-promotion');
  if (!last && stepping && hasHook(canary, 'confirm-traffic-increase')) due.push('confirm-traffic-increase');
  return due;
}

/**
 * The rollout state machine: looks at the canary and the world as they are and moves one step.
 * Pure: the same inputs always give the same decision, so a tick can be repeated after a crash.
 */
export function decide(canary: Canary, obs: Observations, now: Date): Decision {
  return withoutStaleHold(decideTick(canary, obs, now));
}

function decideTick(canary: Canary, obs: Observations, now: Date): Decision {
  const target = canary.spec.targetRef.name;
  const ctx: Context = {
    canary,
    obs,
    now,
    nowMs: now.getTime(),
    status: { ...(canary.status ?? {}) },
    target,
    primary: `${target}-primary`,
    intervalMs: intervalOf(canary),
    threshold: canary.spec.analysis?.threshold ?? DEFAULT_THRESHOLD,
    deadlineSeconds: canary.spec.progressDeadlineSeconds ?? DEFAULT_DEADLINE_SECONDS,
  };
  if (canary.metadata.generation !== undefined) ctx.status.observedGeneration = canary.metadata.generation;

  if (canary.spec.suspend) return hold(ctx, reasons.suspended());
  const phase = ctx.status.phase;
  if (phase === 'Terminating' || phase === 'Terminated') return hold(ctx, reasons.terminating(phase));
  if (!phase || phase === 'Initializing' || !obs.primary) return initialize(ctx);
  const manual = obs.manual ? manualControl(ctx, obs.manual) : undefined;
  if (manual) return manual;
  if (obs.target.revision !== ctx.status.lastAppliedSpec) {
    if (obs.target.revision === ctx.status.lastPromotedSpec && obs.primary.revision === obs.target.revision) {
      return backToPromoted(ctx);
    }
    return startRollout(ctx, isSteady(phase));
  }
  switch (phase) {
    case 'Initialized':
    case 'Succeeded':
    case 'Failed':
      return idle(ctx);
    case 'Waiting':
    case 'Progressing':
    case 'WaitingPromotion':
      return wakeAtWindowChange(ctx, progress(ctx));
    case 'Promoting':
      return awaitPrimary(ctx);
    case 'Finalising':
      return finalise(ctx);
    default:
      return assertNever(phase);
  }
}

function initialize(ctx: Context): Decision {
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
  const reason = reasons.initialized(ctx.target);
  actions.push(event(reason));
  const status: CanaryStatus = {
    ...ctx.status,
    phase: 'Initialized',
    canaryWeight: 0,
    failedChecks: 0,
    iterations: 0,
    lastAppliedSpec: obs.target.revision,
    lastPromotedSpec: obs.target.revision,
    lastTransitionTime: ctx.now.toISOString(),
    conditions: withCondition(ctx.status.conditions, PROMOTED, 'True', reason.code, reason.message, ctx.now),
  };
  return { status, actions, reason };
}

function idle(ctx: Context): Decision {
  const actions = allOnPrimary(ctx);
  if ((ctx.status.canaryWeight ?? 0) !== 0) ctx.status.canaryWeight = 0;
  return { status: ctx.status, actions, reason: reasons.idle(ctx.status.phase ?? 'Initialized') };
}

/**
 * The target went back to the revision the primary already runs (a revert in Git): there is nothing to
 * analyse, so any rollout in flight stops and traffic stays on the primary.
 */
function backToPromoted(ctx: Context): Decision {
  const reason = reasons.backToPromoted(ctx.target);
  const actions = allOnPrimary(ctx);
  actions.push(event(reason));
  const status: CanaryStatus = {
    ...ctx.status,
    phase: 'Succeeded',
    canaryWeight: 0,
    failedChecks: 0,
    iterations: 0,
    lastAppliedSpec: ctx.obs.target.revision,
    lastTransitionTime: ctx.now.toISOString(),
    conditions: withCondition(ctx.status.conditions, PROMOTED, 'True', reason.code, reason.message, ctx.now),
  };
  return { status, actions, reason };
}

function canaryReplicas(ctx: Context): number {
  return Math.max(1, ctx.obs.primary?.replicas ?? 1);
}

function startRollout(ctx: Context, fromSteadyState: boolean): Decision {
  const gated = releaseGate(ctx, 'start', () => allOnPrimary(ctx));
  if (gated) return gated;
  const confirm = fromSteadyState ? ctx.obs.webhooks?.['confirm-rollout'] : undefined;
  if (confirm?.pending)
    return { status: ctx.status, actions: [], reason: reasons.webhookPending(), requeueAfterMs: 1000 };
  if (confirm && !confirm.open) return waitForConfirmation(ctx, confirm.detail);
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
    conditions: withCondition(
      ctx.status.conditions,
      PROMOTED,
      'Unknown',
      'Progressing',
      reason.message,
      ctx.now,
    ),
  };
  return { status, actions, reason, requeueAfterMs: Math.min(ctx.intervalMs, ctx.deadlineSeconds * 1000) };
}

function progress(ctx: Context): Decision {
  const gated = releaseGate(ctx, 'advance', () => allOnPrimary(ctx));
  if (gated) return gated;
  const { obs, status, canary } = ctx;
  const weight = status.canaryWeight ?? 0;
  const analysis = canary.spec.analysis ?? {};
  const stepping = hasWeightSteps(analysis);
  const canaryReady = obs.target.replicas > 0 && obs.target.ready;
  const actions: Action[] = [{ type: 'ensureRoutes' }];
  // A/B testing: the requests matching spec.analysis.match all go to a ready canary; the rest stay on the primary.
  const abTesting = !stepping && (analysis.match?.length ?? 0) > 0;
  const desired = abTesting && canaryReady ? { primary: 0, canary: 100 } : weightsFor(weight);
  if (!sameWeights(obs.routes, desired)) actions.push({ type: 'setWeights', weights: desired });
  const replicas = canaryReplicas(ctx);
  if (obs.target.replicas === 0) actions.push({ type: 'scaleTarget', replicas });

  const sinceStepMs = ctx.nowMs - timeOf(status.lastStepTime ?? status.lastTransitionTime, ctx.nowMs);
  if (!canaryReady) {
    const deadlineMs = ctx.deadlineSeconds * 1000;
    if (sinceStepMs >= deadlineMs)
      return rollback(ctx, reasons.canaryDeadline(ctx.target, ctx.deadlineSeconds));
    const remaining = deadlineMs - sinceStepMs;
    return {
      status,
      actions,
      reason: reasons.waitingForCanary(ctx.target, remaining),
      requeueAfterMs: remaining,
    };
  }
  if (canary.spec.skipAnalysis) return promote(ctx, actions, true);

  const remaining = stepping && weight === 0 ? 0 : stepRemainingMs(status, ctx.intervalMs, ctx.nowMs);
  if (remaining > 0) {
    return { status, actions, reason: reasons.waitingForStep(weight, remaining), requeueAfterMs: remaining };
  }

  const gates = obs.webhooks ?? {};
  if (Object.values(gates).some((g) => g?.pending)) {
    return { status, actions, reason: reasons.webhookPending(), requeueAfterMs: 1000 };
  }
  if (gates.rollback?.open) return rollback(ctx, reasons.rollbackRequested(gates.rollback.detail));
  const pre = gates['pre-rollout'];
  if (pre && !pre.open) {
    const failed = (status.failedChecks ?? 0) + 1;
    status.failedChecks = failed;
    status.lastStepTime = ctx.now.toISOString();
    if (failed >= ctx.threshold) return rollback(ctx, reasons.thresholdReached(ctx.threshold, pre.detail));
    const reason = reasons.preRolloutFailed(failed, ctx.threshold, pre.detail);
    actions.push(event(reason));
    return { status, actions, reason, requeueAfterMs: ctx.intervalMs };
  }

  if (planObservations(canary, ctx.now).checks) {
    const checks = obs.checks;
    if (!checks) return { status, actions, reason: reasons.checksMissing(), requeueAfterMs: 1000 };
    status.history = withHistory(status.history, checks, weight, ctx.now);
    status.lastStepTime = ctx.now.toISOString();
    const verdict = judge(checks);
    if (!verdict.passed) {
      const failed = (status.failedChecks ?? 0) + 1;
      status.failedChecks = failed;
      const detail = verdict.failures;
      if (failed >= ctx.threshold) return rollback(ctx, reasons.thresholdReached(ctx.threshold, detail));
      const reason = reasons.checkFailed(failed, ctx.threshold, detail);
      actions.push(event(reason));
      return { status, actions, reason, requeueAfterMs: ctx.intervalMs };
    }
  }

  if (!stepping) {
    const done = (status.iterations ?? 0) + 1;
    const total = analysis.iterations ?? 1;
    status.iterations = Math.min(done, total);
    status.lastStepTime = ctx.now.toISOString();
    if (done >= total) return promoteOrWait(ctx, actions);
    return { status, actions, reason: reasons.iteration(done, total), requeueAfterMs: ctx.intervalMs };
  }
  if (weight >= maxWeightOf(analysis)) {
    status.lastStepTime = ctx.now.toISOString();
    return promoteOrWait(ctx, actions);
  }
  const increase = gates['confirm-traffic-increase'];
  if (increase && !increase.open) {
    status.lastStepTime = ctx.now.toISOString();
    const reason = reasons.trafficIncreaseHeld(weight, increase.detail);
    actions.push(event(reason));
    return { status, actions, reason, requeueAfterMs: ctx.intervalMs };
  }

  const next = nextWeight(analysis, weight);
  const reason = reasons.advance(next, weight);
  status.phase = 'Progressing';
  status.canaryWeight = next;
  status.lastStepTime = ctx.now.toISOString();
  status.conditions = withCondition(
    status.conditions,
    PROMOTED,
    'Unknown',
    'Progressing',
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

/** Promotes, unless a confirm-promotion gate is closed: then WaitingPromotion, and the analysis goes on. */
function promoteOrWait(ctx: Context, actions: Action[]): Decision {
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

function waitForConfirmation(ctx: Context, detail: string): Decision {
  const reason = reasons.waitingForConfirmation(detail);
  const actions = allOnPrimary(ctx);
  const status: CanaryStatus = { ...ctx.status, canaryWeight: 0 };
  if (status.phase !== 'Waiting') {
    status.phase = 'Waiting';
    status.lastTransitionTime = ctx.now.toISOString();
    actions.push(event(reason));
  }
  return { status, actions, reason, requeueAfterMs: ctx.intervalMs };
}

/**
 * petrel promote|abort|pause|resume, read from the Canary's annotations. Undefined lets the tick go on
 * as usual. One-shot actions (promote, abort, resume) remove their annotation once carried out.
 */
function manualControl(ctx: Context, manual: ManualAction): Decision | undefined {
  const phase = ctx.status.phase ?? 'Initialized';
  const inRollout = phase === 'Progressing' || phase === 'Waiting' || phase === 'WaitingPromotion';
  const clear: Action = { type: 'clearManualAction' };
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
      return { status, actions: [clear, event(reason)], reason };
    }
    case 'abort': {
      if (!inRollout) return ignored(ctx, manual, phase);
      const decision = rollback(ctx, reasons.aborted(manual.by));
      decision.status.lastAppliedSpec = ctx.obs.target.revision;
      decision.actions.push(clear);
      return decision;
    }
    case 'promote': {
      const ready = ctx.obs.target.replicas > 0 && ctx.obs.target.ready;
      if (
        !inRollout ||
        phase === 'Waiting' ||
        !ready ||
        ctx.obs.target.revision !== ctx.status.lastAppliedSpec
      ) {
        return ignored(ctx, manual, ready || !inRollout ? phase : `${phase} (canary not ready)`);
      }
      const decision = promote(ctx, [{ type: 'ensureRoutes' }], false, reasons.promotedManually(manual.by));
      decision.actions.push(clear);
      return decision;
    }
    default:
      return assertNever(manual.action);
  }
}

function ignored(ctx: Context, manual: ManualAction, phase: string): Decision {
  const reason = reasons.manualIgnored(manual.action, manual.by, phase);
  return {
    status: ctx.status,
    actions: [{ type: 'clearManualAction' }, event(reason)],
    reason,
  };
}

function promote(ctx: Context, actions: Action[], skipped: boolean, why?: Reason): Decision {
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

function awaitPrimary(ctx: Context): Decision {
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

function finalise(ctx: Context): Decision {
  const actions = allOnPrimary(ctx);
  const reason = reasons.succeeded(ctx.target);
  actions.push(event(reason));
  const status: CanaryStatus = {
    ...ctx.status,
    phase: 'Succeeded',
    canaryWeight: 0,
    lastPromotedSpec: ctx.status.lastAppliedSpec,
    lastTransitionTime: ctx.now.toISOString(),
    conditions: withCondition(ctx.status.conditions, PROMOTED, 'True', reason.code, reason.message, ctx.now),
  };
  return { status, actions, reason };
}

function rollback(ctx: Context, reason: Reason): Decision {
  const actions = allOnPrimary(ctx);
  actions.push(event(reason));
  const status: CanaryStatus = {
    ...ctx.status,
    phase: 'Failed',
    canaryWeight: 0,
    lastTransitionTime: ctx.now.toISOString(),
    conditions: withCondition(ctx.status.conditions, PROMOTED, 'False', reason.code, reason.message, ctx.now),
  };
  return { status, actions, reason };
}

function hold(ctx: Context, reason: Reason): Decision {
  return { status: ctx.status, actions: [], reason };
}

function event(reason: Reason): Action {
  return { type: 'event', severity: reason.severity, reason: reason.code, message: reason.message };
}

function isProgressing(phase: CanaryStatus['phase']): boolean {
  return phase === 'Progressing' || phase === 'Waiting' || phase === 'WaitingPromotion';
}

/** No rollout in flight: a new revision starts one (after its confirm-rollout gate, if any). */
function isSteady(phase: CanaryStatus['phase']): boolean {
  return phase === 'Initialized' || phase === 'Succeeded' || phase === 'Failed' || phase === 'Waiting';
}

function hasHook(canary: Canary, type: string): boolean {
  return (canary.spec.analysis?.webhooks ?? []).some((h) => h.type === type);
}

function intervalOf(canary: Canary): number {
  const interval = canary.spec.analysis?.interval;
  return interval ? parseDuration(interval) : DEFAULT_INTERVAL_MS;
}

/** Time left before the next step is due, measured from status.lastStepTime so a restart neither repeats nor skips one. */
function stepRemainingMs(status: CanaryStatus, intervalMs: number, nowMs: number): number {
  if (!status.lastStepTime) return 0;
  const since = nowMs - timeOf(status.lastStepTime, nowMs);
  return Math.max(0, intervalMs - since);
}

function timeOf(rfc3339: string | undefined, fallbackMs: number): number {
  if (!rfc3339) return fallbackMs;
  const ms = Date.parse(rfc3339);
  return Number.isFinite(ms) ? ms : fallbackMs;
}

function assertNever(value: never): never {
  throw new Error(`unknown canary phase or action ${String(value)}`);
}

/** The weights that put all traffic on the primary, unless the live routes already do. */
function routeToPrimary(ctx: Context): Action[] {
  return sameWeights(ctx.obs.routes, weightsFor(0)) ? [] : [{ type: 'setWeights', weights: weightsFor(0) }];
}

/** Where every rollout ends and every idle tick stays: routes in place, all traffic on the primary, canary at zero. */
function allOnPrimary(ctx: Context): Action[] {
  const actions: Action[] = [{ type: 'ensureRoutes' }, ...routeToPrimary(ctx)];
  if (ctx.obs.target.replicas !== 0) actions.push({ type: 'scaleTarget', replicas: 0 });
  return actions;
}
