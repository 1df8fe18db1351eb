import type { Deployment } from './workloads.ts';

export interface Readiness {
  ready: boolean;
  /** Why it is not ready (or 'ready'); `ProgressDeadlineExceeded` when Kubernetes gave up on the rollout. */
  reason: string;
  /** True when Kubernetes reports the rollout exceeded its progress deadline. */
  deadlineExceeded: boolean;
}

/** Whether a Deployment's latest revision is fully rolled out and available. Pure. */
export function isDeploymentReady(d: Deployment): Readiness {
  const name = `${d.metadata?.namespace ?? ''}/${d.metadata?.name ?? ''}`;
  const spec = d.spec;
  const status = d.status ?? {};
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return {
      ready: false,
      deadlineExceeded: true,
      reason: `Deployment ${name} exceeded its progress deadline: ${progressing.message ?? 'rollout stalled'}`,
    };
  }
  const generation = d.metadata?.generation ?? 0;
  if ((status.observedGeneration ?? 0) < generation) {
    return {
      ready: false,
      deadlineExceeded: false,
      reason: `waiting for Deployment ${name} spec update to be observed`,
    };
  }
  const desired = spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < desired) {
    return {
      ready: false,
      deadlineExceeded: false,
      reason: `waiting for Deployment ${name} rollout: ${updated} of ${desired} updated replicas`,
    };
  }
  if (total > updated) {
    return {
      ready: false,
      deadlineExceeded: false,
      reason: `waiting for Deployment ${name} rollout: ${total - updated} old replicas pending termination`,
    };
  }
  if (available < desired) {
    return {
      ready: false,
      deadlineExceeded: false,
      reason: `waiting for Deployment ${name} rollout: ${available} of ${desired} replicas available`,
    };
  }
  return { ready: true, deadlineExceeded: false, reason: 'ready' };
}
