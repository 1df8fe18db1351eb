import type { Canary } from '../api/canary.ts';
import type { Decision, Observations } from './types.ts';

/**
 * Wherever the primary must exist (it is there, or this tick ensures it), a Canary with
 * spec.autoscalerRef gets `syncPrimaryAutoscaler` last, so `<autoscaler>-primary` follows its source
 * HPA in every phase.
 */
export function withPrimaryAutoscaler(canary: Canary, obs: Observations, decision: Decision): Decision {
  if (!canary.spec.autoscalerRef) return decision;
  const primaryWanted = obs.primary !== undefined || decision.actions.some((a) => a.type === 'ensurePrimary');
  if (!primaryWanted) return decision;
  return { ...decision, actions: [...decision.actions, { type: 'syncPrimaryAutoscaler' }] };
}
