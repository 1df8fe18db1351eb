import type { Logger } from 'pino';
import type { Canary, CanaryStatus, CanaryWebhook } from '../api/canary.ts';
import { canaryWebhookSchema } from '../api/canary.ts';
import type { WebhookType } from '../api/constants.ts';
import { validItems } from '../api/issues.ts';
import {
  type GateObservation,
  type GateObservations,
  type GateType,
  intervalOf,
  type ManualAction,
  readManualAction,
} from '../rollout/index.ts';
import type { WebhookOutcome } from './client.ts';
import { webhookPayload } from './payload.ts';
import type { WebhookRunner } from './runner.ts';

/** A rollout hook's answer, shaped as a metric check (a non-2xx answer is a failed check). */
export interface HookCheck {
  metric: string;
  passed: boolean;
  reason: string;
  code?: string;
  /** A failure of a webhook with muteAlert. */
  muted?: boolean;
}

export interface HookObservations {
  webhooks?: GateObservations;
  /** Answers of `rollout` hooks when checks are due; undefined while one is pending or none exist. */
  rolloutChecks?: HookCheck[];
  /** Some due hook has not answered: metric checks are not run on this tick either. */
  pending: boolean;
  manual?: ManualAction;
}

export interface HookPlan {
  webhooks: readonly GateType[];
  checks: boolean;
}

/**
 * The controller's side of webhooks: asks the background runner for the answers a tick needs (gates due
 * now, rollout hooks when a step is due), reads the manual-action annotation, and fires post-rollout hooks
 * once a rollout ends. Nothing here waits on the network.
 */
export class HookObserver {
  private readonly badAnnotations = new Map<string, string>();

  constructor(
    private readonly runner: WebhookRunner,
    private readonly logger: Logger,
  ) {}

  observe(key: string, canary: Canary, plan: HookPlan, now: Date, targetRevision: string): HookObservations {
    const out: HookObservations = { pending: false };
    const manual = this.manual(key, canary);
    if (manual) out.manual = manual;
    const hooks = canary.spec.analysis?.webhooks ?? [];
    if (hooks.length === 0) return out;
    const token = tokenFor(canary.status, targetRevision);
    const freshness = { maxAgeMs: intervalOf(canary), nowMs: now.getTime() };
    for (const type of plan.webhooks) {
      const ofType = hooks.filter((h) => h.type === type);
      if (ofType.length === 0) continue;
      const outcomes = ofType.map((h) => this.poll(key, canary, h, type, token, targetRevision, freshness));
      const gate = withMutedAlert(type, gateOf(type, outcomes), ofType, outcomes);
      if (gate.pending) out.pending = true;
      out.webhooks = { ...out.webhooks, [type]: gate };
    }
    if (plan.checks) {
      const rollout = hooks.filter((h) => h.type === 'rollout');
      const outcomes = rollout.map((h) =>
        this.poll(key, canary, h, 'rollout', token, targetRevision, freshness),
      );
      if (outcomes.some((o) => o === undefined)) out.pending = true;
      else if (outcomes.length > 0)
        out.rolloutChecks = (outcomes as WebhookOutcome[]).map((o, i) => checkOf(o, rollout[i]?.muteAlert));
    }
    return out;
  }

  /** Fires post-rollout hooks when a decision moves the canary into Succeeded or Failed. */
  afterDecision(key: string, canary: Canary, next: CanaryStatus): void {
    const before = canary.status?.phase;
    if (next.phase === before || (next.phase !== 'Succeeded' && next.phase !== 'Failed')) return;
    for (const hook of canary.spec.analysis?.webhooks ?? []) {
      if (hook.type !== 'post-rollout') continue;
      this.runner.fire(key, hook, webhookPayload({ metadata: canary.metadata, status: next }, hook));
    }
  }

  forget(key: string): void {
    this.runner.forget(key);
    this.badAnnotations.delete(key);
  }

  private poll(
    key: string,
    canary: Canary,
    hook: CanaryWebhook,
    type: WebhookType,
    token: string,
    targetRevision: string,
    freshness: { maxAgeMs: number; nowMs: number },
  ): WebhookOutcome | undefined {
    const payload = webhookPayload(canary, hook);
    if (type === 'confirm-rollout') payload.checksum = targetRevision;
    return this.runner.poll(key, hook, payload, `${type}|${token}`, freshness);
  }

  private manual(key: string, canary: Canary): ManualAction | undefined {
    const read = readManualAction(canary.metadata.annotations);
    if (read.ok) return read.value;
    if (this.badAnnotations.get(key) !== read.message) {
      this.badAnnotations.set(key, read.message);
      this.logger.warn({ canary: key }, read.message);
    }
    return undefined;
  }
}

/**
 * Names the moment an answer is for: the revision, phase, weight and step. Using an answer moves the step
 * on (lastStepTime, failedChecks), so it is never reused for a later step; a closed gate whose step does
 * not move (confirm-rollout while Waiting) is asked again once its answer is an interval old.
 */
function tokenFor(status: CanaryStatus | undefined, targetRevision: string): string {
  const s = status ?? {};
  return [
    targetRevision,
    s.phase,
    s.canaryWeight ?? 0,
    s.iterations ?? 0,
    s.lastStepTime ?? '',
    s.failedChecks ?? 0,
  ].join('|');
}

export function gateOf(type: GateType, outcomes: readonly (WebhookOutcome | undefined)[]): GateObservation {
  if (outcomes.some((o) => o === undefined))
    return { pending: true, open: false, detail: 'waiting for an answer' };
  const answered = outcomes as WebhookOutcome[];
  if (type === 'rollback') {
    const asking = answered.filter((o) => o.ok);
    return { pending: false, open: asking.length > 0, detail: asking.map((o) => o.message).join('; ') };
  }
  const failed = answered.filter((o) => !o.ok);
  return { pending: false, open: failed.length === 0, detail: failed.map((o) => o.message).join('; ') };
}

function checkOf(o: WebhookOutcome, muteAlert?: boolean): HookCheck {
  return {
    metric: `webhook ${o.hook}`,
    passed: o.ok,
    reason: o.message,
    ...(o.code ? { code: o.code } : {}),
    ...(!o.ok && muteAlert ? { muted: true } : {}),
  };
}

/**
 * webhooks[].muteAlert (Flagger's): a closed gate whose every failed webhook asks for it raises no alert.
 * The rollback gate is left out: its 2xx answer is a request, not a failure.
 */
export function withMutedAlert(
  type: GateType,
  gate: GateObservation,
  hooks: readonly CanaryWebhook[],
  outcomes: readonly (WebhookOutcome | undefined)[],
): GateObservation {
  if (type === 'rollback' || gate.pending || gate.open) return gate;
  const muted = hooks.every((hook, i) => outcomes[i]?.ok === true || hook.muteAlert === true);
  return muted ? { ...gate, muted: true } : gate;
}

/** Webhooks of an object that may not have passed validation (an invalid Canary): only the valid ones. */
export function validWebhooks(spec: unknown): CanaryWebhook[] {
  const list = (spec as { analysis?: { webhooks?: unknown } } | undefined)?.analysis?.webhooks;
  return validItems(canaryWebhookSchema, list);
}
