import { z } from 'zod';
import { analysisStatusSchema } from './analysis-spec.ts';
import { intAtLeast, intInRange, stringMapSchema } from './common.ts';
import {
  CANARY_PHASES,
  MAX_HISTORY_ENTRIES,
  MAX_NOTICE_KEY_LENGTH,
  MAX_NOTICE_MESSAGE_LENGTH,
  MAX_NOTICE_RECEIVERS,
  MAX_NOTICES,
} from './constants.ts';

// Canary.status: written by the controller only, everything a rollout needs to resume after a restart.

export const canaryPhaseSchema = z.enum(CANARY_PHASES);

export const canaryConditionSchema = z.object({
  type: z.string().min(1),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastUpdateTime: z.string().optional(),
  lastTransitionTime: z.string().optional(),
});

export const canaryHistoryEntrySchema = z.object({
  time: z.string(),
  weight: intInRange(0, 100),
  metric: z.string(),
  value: z.number().optional(),
  verdict: z.enum(['pass', 'fail', 'inconclusive', 'hold']),
  reason: z.string(),
});

/**
 * An event a recorded decision owes (a transition's Kubernetes Event, alerts and event webhooks): written
 * with the decision, before its effects, so a restarted controller sends what is not yet delivered, once.
 */
export const canaryNoticeSchema = z.object({
  /** Unique per transition: canary uid, revision, reason and time; alerts and webhook posts carry it. */
  key: z.string().min(1).max(MAX_NOTICE_KEY_LENGTH),
  type: z.enum(['Normal', 'Warning']),
  reason: z.string().min(1),
  message: z.string().max(MAX_NOTICE_MESSAGE_LENGTH),
  time: z.string(),
  /** Phase and weight the decision left the canary in (what the alert reports). */
  phase: canaryPhaseSchema.optional(),
  /** The phase the decision moved from, when it changed the phase (a rollout that ends fires post-rollout hooks). */
  from: canaryPhaseSchema.optional(),
  weight: intInRange(0, 100).optional(),
  /** webhooks[].muteAlert: recorded as a Kubernetes event and posted to event webhooks, but not alerted. */
  muteAlert: z.boolean().optional(),
  /** Receivers that have it (alert and event webhook names); skipped when it is sent again. */
  sent: z.array(z.string()).max(MAX_NOTICE_RECEIVERS).optional(),
  /** Every receiver has it or gave up on it: never sent again. */
  delivered: z.boolean().optional(),
});

/** Written by the controller only; times are RFC 3339 strings. */
export const canaryStatusSchema = z.object({
  phase: canaryPhaseSchema.optional(),
  canaryWeight: intInRange(0, 100).optional(),
  failedChecks: intAtLeast(0).optional(),
  iterations: intAtLeast(0).optional(),
  lastAppliedSpec: z.string().optional(),
  lastPromotedSpec: z.string().optional(),
  lastTransitionTime: z.string().optional(),
  lastStepTime: z.string().optional(),
  observedGeneration: z.number().int().optional(),
  trackedConfigs: stringMapSchema.optional(),
  conditions: z.array(canaryConditionSchema).optional(),
  history: z.array(canaryHistoryEntrySchema).max(MAX_HISTORY_ENTRIES).optional(),
  notices: z.array(canaryNoticeSchema).max(MAX_NOTICES).optional(),
  /** State and evidence of the relative checks of the current release (analysis-spec.ts). */
  analysis: analysisStatusSchema.optional(),
});
