import type { CanaryStatus } from '../api/canary.ts';
import type { Phase } from './phases.ts';
import { withCondition } from './status.ts';

type Condition = NonNullable<CanaryStatus['conditions']>[number];

/** The conditions kstatus (Flux before 2.5, kubectl wait, cli-utils) reads, next to `observedGeneration`. */
export const READY = 'Ready';
export const RECONCILING = 'Reconciling';
export const STALLED = 'Stalled';
export const INVALID_SPEC = 'InvalidSpec';

/** Nothing left to do until the target changes. */
const READY_PHASES: readonly Phase[] = ['Initialized', 'Succeeded', 'Terminated'];
/** A rollout is moving, or waiting for a gate that will let it move. */
const RECONCILING_PHASES: readonly Phase[] = [
  'Initializing',
  'Progressing',
  'Waiting',
  'WaitingPromotion',
  'Promoting',
  'Finalising',
];

/**
 * Sets `Ready`, `Reconciling` and `Stalled` from the phase and the `InvalidSpec` condition, leaving
 * every other condition (`Promoted`) alone. Returns the same conditions array when nothing changed, so
 * an unchanged status still needs no write. Without a phase and without `InvalidSpec` nothing is set.
 *
 *   Succeeded                 → Ready True,  Reconciling False, Stalled False
 *   Progressing               → Ready False (reason Progressing), Reconciling True, Stalled False
 *   Failed                    → Ready False (reason Failed), Reconciling False, Stalled True,
 *                               with the message of the Promoted condition (why it rolled back)
 *   InvalidSpec True (any)    → Ready False, Reconciling False, Stalled True (reason InvalidSpec)
 */
export function withKstatusConditions(
  conditions: Condition[] | undefined,
  phase: Phase | undefined,
  now: Date,
): Condition[] | undefined {
  const invalid = conditions?.find((c) => c.type === INVALID_SPEC && c.status === 'True');
  if (!invalid && phase === undefined) return conditions;
  const promoted = conditions?.find((c) => c.type === 'Promoted')?.message ?? '';
  const { ready, reconciling, stalled, reason, message } = invalid
    ? {
        ready: false,
        reconciling: false,
        stalled: true,
        reason: INVALID_SPEC,
        message: invalid.message ?? '',
      }
    : {
        ready: READY_PHASES.includes(phase as Phase),
        reconciling: RECONCILING_PHASES.includes(phase as Phase),
        stalled: phase === 'Failed',
        reason: phase as Phase,
        message: phase === 'Failed' ? promoted : `phase ${phase}`,
      };
  const status = (on: boolean): Condition['status'] => (on ? 'True' : 'False');
  let next = withCondition(conditions, READY, status(ready), reason, message, now);
  next = withCondition(next, RECONCILING, status(reconciling), reason, message, now);
  return withCondition(next, STALLED, status(stalled), reason, message, now);
}
