import type { Canary } from '../api/canary.ts';
import type { WebhookType } from '../api/constants.ts';

/** Webhook types whose answer changes the rollout (post-rollout and event hooks are only logged). */
export const GATE_TYPES = [
  'confirm-rollout',
  'pre-rollout',
  'confirm-traffic-increase',
  'confirm-promotion',
  'rollback',
] as const satisfies readonly WebhookType[];
export type GateType = (typeof GATE_TYPES)[number];

/** What every hook of one gate type answered for this tick. */
export interface GateObservation {
  /** Some hook has not answered yet: the state machine holds without changing anything. */
  pending: boolean;
  /**
   * confirm-*, pre-rollout: every hook answered 2xx (no hooks: open).
   * rollback: some hook answered 2xx, asking for a rollback.
   */
  open: boolean;
  /** The answers that decided, e.g. "webhook gate (confirm-promotion) answered HTTP 403 after 1 attempt(s)". */
  detail: string;
  /** A closed gate whose every failed webhook has muteAlert: its event raises no alert. */
  muted?: boolean;
}

export type GateObservations = Partial<Record<GateType, GateObservation>>;

/** Whether the canary declares at least one webhook of this type. */
export function hasHook(canary: Canary, type: WebhookType): boolean {
  return (canary.spec.analysis?.webhooks ?? []).some((h) => h.type === type);
}
