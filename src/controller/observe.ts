import type { Canary } from '../api/canary.ts';
import { type Deployment, isDeploymentReady, primaryTemplate, selectorLabel } from '../kube/deployments.ts';
import { computeRevision } from '../kube/revision.ts';
import type { WorkloadObservation } from '../rollout/index.ts';

/** The revision of a target Deployment: the hash of its pod template. */
export function targetRevision(target: Deployment): string {
  return computeRevision(target.spec?.template ?? {});
}

export function observeTarget(target: Deployment): WorkloadObservation {
  return {
    revision: targetRevision(target),
    replicas: target.spec?.replicas ?? 1,
    ready: isDeploymentReady(target).ready,
  };
}

/**
 * The primary runs the target's current revision when its template is the target's with the primary's
 * selector label; any other template is reported as a revision of its own (never equal to a target's).
 */
export function observePrimary(primary: Deployment, target: Deployment): WorkloadObservation {
  const expected = primaryTemplate(target.spec?.template ?? {}, selectorLabel(target));
  const same = computeRevision(expected) === computeRevision(primary.spec?.template ?? {});
  return {
    revision: same ? targetRevision(target) : `primary:${computeRevision(primary.spec?.template ?? {})}`,
    replicas: primary.spec?.replicas ?? 1,
    ready: isDeploymentReady(primary).ready,
  };
}

export function canaryKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export function targetNameOf(canary: Pick<Canary, 'spec'>): string {
  return canary.spec.targetRef.name;
}
