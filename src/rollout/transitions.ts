import { LIVE_PHASES, type Phase } from './phases.ts';

/** Where a canary without a status starts. */
export const START = '[*]';
/** Any of LIVE_PHASES: the rules every live phase looks at first (see decide.ts). */
export const ANY_LIVE_PHASE = 'any live phase';

export interface Transition {
  from: readonly (Phase | typeof START)[] | typeof ANY_LIVE_PHASE;
  to: Phase;
  when: string;
}

/**
 * Every change of phase `decide` can make, as README.md draws it (a test compares the two, and checks the
 * decisions against this list). Staying in a phase is always allowed and listed only where it is a step
 * of its own. Terminating and Terminated are set by nothing yet; `decide` holds in them.
 */
export const TRANSITIONS: readonly Transition[] = [
  { from: [START], to: 'Initializing', when: 'primary created, not ready yet' },
  { from: [START, 'Initializing'], to: 'Initialized', when: 'primary ready, target scaled to zero' },
  { from: ANY_LIVE_PHASE, to: 'Initializing', when: 'primary Deployment missing' },
  {
    from: ['Initialized', 'Succeeded', 'Failed'],
    to: 'Waiting',
    when: 'new revision, confirm-rollout closed',
  },
  { from: ANY_LIVE_PHASE, to: 'Progressing', when: 'new revision (a restart if one was in flight)' },
  { from: ANY_LIVE_PHASE, to: 'Succeeded', when: 'target back at the promoted revision' },
  { from: ['Progressing'], to: 'Progressing', when: 'step passed, next weight or iteration' },
  { from: ['Waiting', 'WaitingPromotion'], to: 'Progressing', when: 'step passed below the top' },
  {
    from: ['Waiting', 'Progressing'],
    to: 'WaitingPromotion',
    when: 'last step passed, confirm-promotion closed',
  },
  {
    from: ['Waiting', 'Progressing', 'WaitingPromotion'],
    to: 'Promoting',
    when: 'last step passed, skipAnalysis, or petrel promote',
  },
  {
    from: ['Waiting', 'Progressing', 'WaitingPromotion'],
    to: 'Failed',
    when: 'checks failed to the threshold, canary deadline, rollback hook, or petrel abort',
  },
  { from: ['Promoting'], to: 'Finalising', when: 'primary runs the promoted revision and is ready' },
  { from: ['Promoting'], to: 'Failed', when: 'primary not ready within progressDeadlineSeconds' },
  { from: ['Finalising'], to: 'Succeeded', when: 'all traffic on the primary, target scaled to zero' },
];

/** The (from, to) pairs a transition stands for. */
export function pairsOf(t: Transition): [Phase | typeof START, Phase][] {
  const from = t.from === ANY_LIVE_PHASE ? LIVE_PHASES : t.from;
  return from.map((f) => [f, t.to]);
}

/** Whether `decide` may move a canary from `from` (undefined: no status yet) to `to`. */
export function isDeclaredTransition(from: Phase | undefined, to: Phase | undefined): boolean {
  if (from === to) return true;
  const source = from ?? START;
  return TRANSITIONS.some((t) => pairsOf(t).some(([f, t2]) => f === source && t2 === to));
}
