import type { Canary } from '../api/canary.ts';
import { type Deployment, expectedPrimaryTemplate, isDeploymentReady } from '../kube/deployments.ts';
import { computeRevision } from '../kube/revision.ts';
import type { WorkloadObservation } from '../rollout/index.ts';
import { withConfigChecksum } from './configs.ts';

/**
 * The revision of a target Deployment: the hash of its pod template and of the tracked ConfigMaps and
 * Secrets it uses (`targetConfigHashes`; none when config tracking is off).
 */
export function targetRevision(target: Deployment, configHashes: Record<string, string> = {}): string {
  return computeRevision(target.spec?.template ?? {}, configHashes);
}

export function observeTarget(
  target: Deployment,
  configHashes: Record<string, string> = {},
): WorkloadObservation {
  return {
    revision: targetRevision(target, configHashes),
    replicas: target.spec?.replicas ?? 1,
    ready: isDeploymentReady(target).ready,
  };
}

/**
 * The primary runs the target's current revision when its template is the target's with the primary's
 * selector label, its config references on the `-primary` copies and the checksum of the target's
 * config hashes; any other template is reported as a revision of its own (never equal to a target's).
 */
export function observePrimary(
  primary: Deployment,
  target: Deployment,
  configHashes: Record<string, string> = {},
): WorkloadObservation {
  const expected = expectedPrimaryTemplate(
    target,
    withConfigChecksum(target.spec?.template ?? {}, configHashes),
    Object.keys(configHashes),
  );
  const same = computeRevision(expected) === computeRevision(primary.spec?.template ?? {});
  return {
    revision: same
      ? targetRevision(target, configHashes)
      : `primary:${computeRevision(primary.spec?.template ?? {})}`,
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
