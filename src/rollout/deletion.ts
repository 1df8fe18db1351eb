import type { Phase } from './phases.ts';

/**
 * The finalizer Petrel puts on every Canary: on deletion it either reverts to the target
 * (`spec.revertOnDeletion: true`) or keeps the primary serving (see `nextOrphanStep`).
 */
export const REVERT_FINALIZER = 'petrel.dev/finalizer';

/** What a reconcile of a Canary being deleted saw of the world (from the caches). */
export interface DeletionObservations {
  phase: Phase | undefined;
  /** The target Deployment; undefined when it does not exist. */
  target?: { replicas: number; ready: boolean; reason: string };
  /** The primary's desired replicas; undefined when the primary does not exist. */
  primaryReplicas?: number;
}

/**
 * The next step of reverting a deleted Canary, derived from the world alone so that a controller restarting
 * at any point picks up where the last one stopped:
 *
 * 1. `markTerminating`: the intent is written first (phase Terminating), before any effect;
 * 2. `scaleTarget`: the target gets the primary's replicas (at least one; its own when the primary is gone);
 * 3. `waitForTarget`: until every one of them is ready, nothing else moves;
 * 4. `routeToTarget`: the apex routes point at the target and are handed over (idempotent: writes nothing
 *    when already done), then `markTerminated`;
 * 5. `removeFinalizer` once Terminated: the garbage collector then removes the primary and the rest.
 *
 * E.g. primary 3 replicas, target 0: scaleTarget 3; target 3 not ready: waitForTarget; ready: routeToTarget.
 * A target that no longer exists has nothing to revert to: straight to Terminated.
 */
export type DeletionStep =
  | { kind: 'markTerminating' }
  | { kind: 'scaleTarget'; replicas: number }
  | { kind: 'waitForTarget'; reason: string }
  | { kind: 'routeToTarget' }
  | { kind: 'markTerminated'; targetMissing: boolean }
  | { kind: 'removeFinalizer' };

export function nextDeletionStep(obs: DeletionObservations): DeletionStep {
  if (obs.phase === 'Terminated') return { kind: 'removeFinalizer' };
  if (obs.phase !== 'Terminating') return { kind: 'markTerminating' };
  const target = obs.target;
  if (!target) return { kind: 'markTerminated', targetMissing: true };
  const wanted = revertedReplicas(obs.primaryReplicas, target.replicas);
  if (target.replicas < wanted) return { kind: 'scaleTarget', replicas: wanted };
  if (!target.ready) return { kind: 'waitForTarget', reason: target.reason };
  return { kind: 'routeToTarget' };
}

/** The primary's replicas (at least one); without a primary, what the target has (at least one). */
export function revertedReplicas(primaryReplicas: number | undefined, targetReplicas: number): number {
  return Math.max(1, primaryReplicas ?? targetReplicas);
}

/** The finalizers a live Canary should carry: the others as they are, and Petrel's, once. */
export function withPetrelFinalizer(current: readonly string[]): string[] {
  return [...withoutPetrelFinalizer(current), REVERT_FINALIZER];
}

/** The finalizers once Petrel is done with a deleted Canary. */
export function withoutPetrelFinalizer(current: readonly string[]): string[] {
  return current.filter((f) => f !== REVERT_FINALIZER);
}

/** One object a Canary owns (its ownerReferences name the Canary), by kind and name. */
export interface OwnedObject {
  kind: string;
  name: string;
}

/**
 * The next step of letting a deleted Canary go without `revertOnDeletion`, as Flagger does: the objects that
 * serve the app stay, no longer owned, so the garbage collector keeps them. Derived from the world alone:
 *
 * 1. `markTerminating`: the intent first (phase Terminating), before any effect;
 * 2. `orphan`: every object that still names the Canary as owner loses that ownerReference: the primary
 *    Deployment and its HPA, the apex, primary and canary Services, the VirtualService or HTTPRoute, the
 *    DestinationRules, the `-primary` config copies. All of them, the canary Service too: a Canary deleted
 *    mid-rollout leaves routes that still send the canary its share, and each must keep a backend;
 * 3. `markTerminated` once none is left;
 * 4. `removeFinalizer` once Terminated (an object owned again by then is orphaned first).
 *
 */
export type OrphanStep =
  | { kind: 'markTerminating' }
  | { kind: 'orphan'; objects: OwnedObject[] }
  | { kind: 'markTerminated' }
  | { kind: 'removeFinalizer' };

export function nextOrphanStep(obs: { phase: Phase | undefined; stillOwned: OwnedObject[] }): OrphanStep {
  if (obs.phase !== 'Terminating' && obs.phase !== 'Terminated') return { kind: 'markTerminating' };
  if (obs.stillOwned.length > 0) return { kind: 'orphan', objects: obs.stillOwned };
  if (obs.phase === 'Terminating') return { kind: 'markTerminated' };
  return { kind: 'removeFinalizer' };
}
