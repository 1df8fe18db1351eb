import type { Reason } from './types.ts';

/** The codes `decide` gives its decisions: each becomes the reason of an event and of the Promoted condition. */
export const DECISION_REASON_CODES = [
  'WaitingForReleaseWindow',
  'ReleaseFrozen',
  'OutsideReleaseWindow',
  'ReleaseHoldEnded',
  'ReleaseResumed',
  'Suspended',
  'Terminating',
  'Initializing',
  'Initialized',
  'Idle',
  'NewRevision',
  'RevisionAlreadyPromoted',
  'RevisionChanged',
  'WaitingForCanary',
  'ProgressDeadlineExceeded',
  'WaitingForStep',
  'AdvanceWeight',
  'Iteration',
  'CheckFailed',
  'Failed',
  'Promoting',
  'WaitingForPrimary',
  'Finalising',
  'Succeeded',
  'ChecksPending',
  'WebhookPending',
  'WaitingForConfirmation',
  'TrafficIncreaseHeld',
  'WaitingPromotion',
  'RolledBack',
  'Aborted',
  'Paused',
  'Resumed',
  'ManualActionIgnored',
  'Retried',
  'RetryRefused',
  'AnalysisHeld',
  'DryRunCheckFailed',
] as const;
export type DecisionReasonCode = (typeof DECISION_REASON_CODES)[number];

/**
 * Codes the controller records around a decision, when a Canary cannot be decided on at all. The
 * reconciler still spells them out itself; PromotionFailed is recorded by no code today and is listed
 * because alert routing knows it.
 */
export const CONTROLLER_REASON_CODES = [
  'InvalidSpec',
  'InvalidTarget',
  'TargetNotFound',
  'AutoscalerNotFound',
  'ObjectNotOwned',
  'PromotionFailed',
] as const;
export type ControllerReasonCode = (typeof CONTROLLER_REASON_CODES)[number];

/** Every reason an event on a Canary can carry. */
export type ReasonCode = DecisionReasonCode | ControllerReasonCode;

/** The reason of the Promoted condition while a rollout is under way (not an event reason). */
export const PROGRESSING_CONDITION_REASON = 'Progressing';

// Every decision carries one of these: the code becomes the event/condition reason, the message says why
// and, where the operator has something to do, what.

const normal = (code: DecisionReasonCode, message: string): Reason => ({ code, message, severity: 'Normal' });
const warning = (code: DecisionReasonCode, message: string): Reason => ({
  code,
  message,
  severity: 'Warning',
});

export const reasons = {
  suspended: () => normal('Suspended', 'spec.suspend is true: the rollout is held until it is set to false'),
  terminating: (phase: string) => normal('Terminating', `canary is ${phase}: nothing to do`),
  initializing: (what: string) => normal('Initializing', `initializing: ${what}`),
  initialized: (target: string) =>
    normal('Initialized', `primary initialized from ${target}; ${target} scaled to zero, traffic 100/0`),
  idle: (phase: string) => normal('Idle', `no new revision; canary stays ${phase}`),
  newRevision: (target: string, replicas: number) =>
    normal('NewRevision', `new revision of ${target} detected: scaling it up to ${replicas} replica(s)`),
  backToPromoted: (target: string) =>
    normal(
      'RevisionAlreadyPromoted',
      `${target} is back at the revision the primary runs: nothing to analyse, traffic stays 100/0 on the primary`,
    ),
  restarted: (target: string) =>
    normal('RevisionChanged', `${target} changed during the analysis: restarting it from weight 0`),
  waitingForCanary: (target: string, remainingMs: number) =>
    normal(
      'WaitingForCanary',
      `waiting for ${target} to become ready (${Math.ceil(remainingMs / 1000)}s left of progressDeadlineSeconds)`,
    ),
  canaryDeadline: (target: string, seconds: number) =>
    warning(
      'ProgressDeadlineExceeded',
      `${target} was not ready within progressDeadlineSeconds (${seconds}s): rolling back; check its pods and events`,
    ),
  primaryDeadline: (primary: string, seconds: number) =>
    warning(
      'ProgressDeadlineExceeded',
      `${primary} was not ready within progressDeadlineSeconds (${seconds}s) after promotion: routing back to the primary; check its pods and events`,
    ),
  waitingForStep: (weight: number, remainingMs: number) =>
    normal('WaitingForStep', `canary weight ${weight}; next analysis in ${Math.ceil(remainingMs / 1000)}s`),
  advance: (weight: number, from: number) =>
    normal('AdvanceWeight', `advance canary weight ${from} -> ${weight}`),
  mirroring: (percent: number) =>
    normal(
      'AdvanceWeight',
      `mirroring ${percent}% of the traffic to the canary (responses discarded) for one step before shifting any`,
    ),
  promotionStep: (weight: number, from: number) =>
    normal('AdvanceWeight', `promotion: the primary takes traffic back, canary weight ${from} -> ${weight}`),
  iteration: (done: number, total: number) =>
    normal('Iteration', `analysis iteration ${done}/${total} passed`),
  checkFailed: (failed: number, threshold: number, detail: string) =>
    warning('CheckFailed', `halt advancement: ${detail} (failed checks ${failed}/${threshold})`),
  thresholdReached: (threshold: number, detail: string) =>
    warning(
      'Failed',
      `canary failed ${threshold} check(s), the threshold: rolling back; last failure: ${detail}`,
    ),
  promoting: (target: string, primary: string, skipped: boolean) =>
    normal(
      'Promoting',
      skipped
        ? `spec.skipAnalysis is true: copying ${target} template to ${primary} without checks`
        : `analysis passed: copying ${target} template to ${primary}`,
    ),
  waitingForPrimary: (primary: string, remainingMs: number) =>
    normal(
      'WaitingForPrimary',
      `waiting for ${primary} to roll out the promoted revision (${Math.ceil(remainingMs / 1000)}s left)`,
    ),
  finalising: (primary: string) => normal('Finalising', `${primary} is ready: routing all traffic to it`),
  succeeded: (target: string) =>
    normal('Succeeded', `promotion completed: traffic 100/0 on the primary, ${target} scaled to zero`),
  analysisHeld: (weight: number, detail: string, alert: boolean) =>
    (alert ? warning : normal)('AnalysisHeld', `weight stays ${weight}, no failure counted: ${detail}`),
  regressionDetected: (detail: string) =>
    warning('Failed', `regression detected with conclusive evidence, rolling back at once: ${detail}`),
  dryRunCheckFailed: (detail: string) =>
    warning('DryRunCheckFailed', `dry run, not acted on: would have failed: ${detail}`),
  checksMissing: () => normal('ChecksPending', 'metric checks are due but were not run on this tick'),
  webhookPending: () => normal('WebhookPending', 'waiting for a webhook to answer before this step'),
  waitingForConfirmation: (detail: string) =>
    normal('WaitingForConfirmation', `confirm-rollout gate closed, the canary stays at zero: ${detail}`),
  preRolloutFailed: (failed: number, threshold: number, detail: string) =>
    warning('CheckFailed', `pre-rollout hook failed: ${detail} (failed checks ${failed}/${threshold})`),
  trafficIncreaseHeld: (weight: number, detail: string) =>
    normal('TrafficIncreaseHeld', `confirm-traffic-increase gate closed, weight stays ${weight}: ${detail}`),
  waitingForPromotion: (detail: string) =>
    normal('WaitingPromotion', `confirm-promotion gate closed, analysis continues: ${detail}`),
  rollbackRequested: (detail: string) =>
    warning('RolledBack', `rollback webhook asked for a rollback: ${detail}`),
  aborted: (by: string) => warning('Aborted', `aborted by ${by}: traffic routed back to the primary`),
  promotedManually: (by: string) =>
    normal('Promoting', `promoted by ${by}: copying the canary to the primary`),
  paused: (by: string) => normal('Paused', `paused by ${by}: nothing moves until petrel resume`),
  resumed: (by: string) => normal('Resumed', `resumed by ${by}`),
  manualIgnored: (action: string, by: string, phase: string) =>
    normal(
      'ManualActionIgnored',
      `${action} by ${by} ignored: nothing to ${action} while the canary is ${phase}`,
    ),
  retried: (by: string, revision: string) =>
    normal('Retried', `retry by ${by}: the rollout of revision ${revision} starts again from weight 0`),
  retryRefused: (by: string, why: string) => warning('RetryRefused', `retry by ${by} refused: ${why}`),
};
