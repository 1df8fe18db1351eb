import type { Canary } from '../api/canary.ts';
import { type Context, contextOf, type Handler, type Rule } from './context.ts';
import { initialize } from './handlers/initialize.ts';
import { manualControl } from './handlers/manual.ts';
import { progress } from './handlers/progress.ts';
import { awaitPrimary, finalise } from './handlers/promotion.ts';
import { newRevision } from './handlers/revision.ts';
import { allOnPrimary, assertNever, hold } from './outcomes.ts';
import type { Phase } from './phases.ts';
import { withPrimaryAutoscaler } from './primary-autoscaler.ts';
import { reasons } from './reasons.ts';
import { wakeAtWindowChange, withoutStaleHold } from './release-gate.ts';
import type { Decision, Observations } from './types.ts';

/** A rollout in flight also wakes when a release window closes, so `outside: Rollback` acts on time. */
const progressUntilWindowChange: Handler = (ctx) => wakeAtWindowChange(ctx, progress(ctx));

/** spec.suspend holds every phase as it is. */
const suspended: Rule = (ctx) => (ctx.canary.spec.suspend ? hold(ctx, reasons.suspended()) : undefined);

/** A missing primary Deployment sends any live phase back to initialization. */
const primaryMissing: Rule = (ctx) => (ctx.obs.primary ? undefined : initialize(ctx));

/** Initialized, Succeeded, Failed with no new revision: everything stays on the primary. */
const idle: Handler = (ctx) => {
  const actions = allOnPrimary(ctx);
  if ((ctx.status.canaryWeight ?? 0) !== 0) ctx.status.canaryWeight = 0;
  return { status: ctx.status, actions, reason: reasons.idle(ctx.status.phase ?? 'Initialized') };
};

const terminating: Handler = (ctx) => hold(ctx, reasons.terminating(ctx.status.phase ?? 'Terminating'));

/** Every phase with a primary and no deletion under way looks at these first, in this order. */
const LIVE_RULES: readonly Rule[] = [suspended, primaryMissing, manualControl, newRevision];

interface PhaseEntry {
  /** Looked at in order; the first that decides ends the tick. */
  rules: readonly Rule[];
  /** Decides when no rule did. */
  handler: Handler;
}

/**
 * The rollout state machine as a table: for each phase, the rules that may preempt it, then its handler.
 * A canary without a phase is Initializing. See README.md for the transitions each handler makes.
 */
export const DECISION_TABLE: Readonly<Record<Phase, PhaseEntry>> = {
  Initializing: { rules: [suspended], handler: initialize },
  Initialized: { rules: LIVE_RULES, handler: idle },
  Waiting: { rules: LIVE_RULES, handler: progressUntilWindowChange },
  Progressing: { rules: LIVE_RULES, handler: progressUntilWindowChange },
  WaitingPromotion: { rules: LIVE_RULES, handler: progressUntilWindowChange },
  Promoting: { rules: LIVE_RULES, handler: awaitPrimary },
  Finalising: { rules: LIVE_RULES, handler: finalise },
  Succeeded: { rules: LIVE_RULES, handler: idle },
  Failed: { rules: LIVE_RULES, handler: idle },
  Terminating: { rules: [suspended], handler: terminating },
  Terminated: { rules: [suspended], handler: terminating },
};

/** A phase written by something other than Petrel: the live rules still apply, then it is refused. */
const UNKNOWN_PHASE: PhaseEntry = {
  rules: LIVE_RULES,
  handler: (ctx) => assertNever(ctx.status.phase as never),
};

/**
 * The rollout state machine: looks at the canary and the world as they are and moves one step.
 * Pure: the same inputs always give the same decision, so a tick can be repeated after a crash.
 */
export function decide(canary: Canary, obs: Observations, now: Date): Decision {
  return withPrimaryAutoscaler(canary, obs, withoutStaleHold(decideTick(canary, obs, now)));
}

function decideTick(canary: Canary, obs: Observations, now: Date): Decision {
  const ctx: Context = contextOf(canary, obs, now);
  const entry = DECISION_TABLE[ctx.status.phase ?? 'Initializing'] ?? UNKNOWN_PHASE;
  for (const rule of entry.rules) {
    const decision = rule(ctx);
    if (decision) return decision;
  }
  return entry.handler(ctx);
}
