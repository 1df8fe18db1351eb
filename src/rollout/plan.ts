import type { Canary } from '../api/canary.ts';
import { type GateType, hasHook } from './gates.ts';
import { isInRollout, isSteady } from './phases.ts';
import { stepsHeldByWindows } from './release-gate.ts';
import { isFinalStep, isOpeningStep, stepDue } from './step.ts';
import type { ObservationPlan } from './types.ts';
import { hasWeightSteps } from './weights.ts';

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

/** Metric checks and rollout hooks run at every step of an analysis but the opening one of a weight schedule. */
export function checksDue(canary: Canary, now: Date): boolean {
  const status = canary.status;
  if (canary.spec.suspend || !status || !isInRollout(status.phase) || canary.spec.skipAnalysis) return false;
  const analysis = canary.spec.analysis;
  if (!analysis || ((analysis.metrics ?? []).length === 0 && !hasHook(canary, 'rollout'))) return false;
  if (stepsHeldByWindows(canary, now)) return false;
  return stepDue(canary, status, now.getTime()) && !isOpeningStep(canary, status);
}

/**
 * confirm-rollout when a new revision waits in a steady phase; on a due step of a rollout: pre-rollout
 * before the first one, rollback at every one, and confirm-traffic-increase or confirm-promotion depending
 * on whether the step is the last.
 */
export function gatesDue(canary: Canary, now: Date, targetRevision: string | undefined): GateType[] {
  const status = canary.status;
  if (canary.spec.suspend || !status?.phase || (canary.spec.analysis?.webhooks ?? []).length === 0) return [];
  const due: GateType[] = [];
  const newRevision = targetRevision !== undefined && targetRevision !== status.lastAppliedSpec;
  if (newRevision) {
    if (isSteady(status.phase) && hasHook(canary, 'confirm-rollout')) due.push('confirm-rollout');
    return due;
  }
  if (!isInRollout(status.phase) || canary.spec.skipAnalysis) return due;
  if (stepsHeldByWindows(canary, now)) return due;
  if (!stepDue(canary, status, now.getTime())) return due;
  if ((status.canaryWeight ?? 0) === 0 && (status.iterations ?? 0) === 0 && hasHook(canary, 'pre-rollout'))
    due.push('pre-rollout');
  if (hasHook(canary, 'rollback')) due.push('rollback');
  const last = isFinalStep(canary, status);
  if (last && hasHook(canary, 'confirm-promotion')) due.push('confirm-promotion');
  if (!last && hasWeightSteps(canary.spec.analysis ?? {}) && hasHook(canary, 'confirm-traffic-increase'))
    due.push('confirm-traffic-increase');
  return due;
}
