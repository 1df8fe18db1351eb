import { CANARY_PHASES } from '../api/constants.ts';

export const PHASES = CANARY_PHASES;
export type Phase = (typeof PHASES)[number];

/** A rollout is in flight: the canary is analysed, or waits for a gate before or after its analysis. */
export const ROLLOUT_PHASES = [
  'Waiting',
  'Progressing',
  'WaitingPromotion',
] as const satisfies readonly Phase[];

/** No rollout in flight: a new revision starts one (after its confirm-rollout gate, if any). */
export const STEADY_PHASES = [
  'Initialized',
  'Succeeded',
  'Failed',
  'Waiting',
] as const satisfies readonly Phase[];

/** Phases without a primary in place, or with a deletion under way. */
const NOT_LIVE_PHASES = ['Initializing', 'Terminating', 'Terminated'] as const satisfies readonly Phase[];
export type LivePhase = Exclude<Phase, (typeof NOT_LIVE_PHASES)[number]>;

/** Phases with a primary in place and no deletion under way: every rule about revisions applies to them. */
export const LIVE_PHASES: readonly LivePhase[] = PHASES.filter(
  (phase): phase is LivePhase => !(NOT_LIVE_PHASES as readonly Phase[]).includes(phase),
);

export function isInRollout(phase: Phase | undefined): boolean {
  return (ROLLOUT_PHASES as readonly (Phase | undefined)[]).includes(phase);
}

export function isSteady(phase: Phase | undefined): boolean {
  return (STEADY_PHASES as readonly (Phase | undefined)[]).includes(phase);
}
