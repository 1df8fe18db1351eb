import type { Canary } from '../api/canary.ts';
import { canonicalJson } from '../kube/canonical.ts';
import { expectedPrimaryTemplate } from '../kube/primary-builders.ts';
import { isDeploymentReady } from '../kube/readiness.ts';
import { computeRevision } from '../kube/revision.ts';
import type { Deployment } from '../kube/workloads.ts';
import type { WorkloadObservation } from '../rollout/index.ts';
import { withConfigChecksum } from './configs.ts';

/**
 * The revision of a target Deployment: the hash of its pod template and of the tracked ConfigMaps and
 * Secrets it uses (`targetConfigHashes`; none when config tracking is off).
 */
export function targetRevision(target: Deployment, configHashes: Record<string, string> = {}): string {
  const configs = configsKey(configHashes);
  const known = targetRevisions.get(target);
  if (known?.configs === configs) return known.revision;
  const revision = computeRevision(target.spec?.template ?? {}, configHashes);
  targetRevisions.set(target, { configs, revision });
  return revision;
}

// Revisions are hashes of whole pod templates, asked for on every reconcile. Cached objects are
// replaced on every change, never edited in place, so an object's revision is worked out once.
const targetRevisions = new WeakMap<Deployment, { configs: string; revision: string }>();
/** By primary object: the target revision it was compared with (selectors are immutable) and the answer. */
const primaryRevisions = new WeakMap<Deployment, { targetRevision: string; revision: string }>();

function configsKey(configHashes: Record<string, string>): string {
  return Object.keys(configHashes).length === 0 ? '' : canonicalJson(configHashes);
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
  return {
    revision: primaryRevision(primary, target, configHashes),
    replicas: primary.spec?.replicas ?? 1,
    ready: isDeploymentReady(primary).ready,
  };
}

function primaryRevision(
  primary: Deployment,
  target: Deployment,
  configHashes: Record<string, string>,
): string {
  const ofTarget = targetRevision(target, configHashes);
  const known = primaryRevisions.get(primary);
  if (known?.targetRevision === ofTarget) return known.revision;
  const expected = expectedPrimaryTemplate(
    target,
    withConfigChecksum(target.spec?.template ?? {}, configHashes),
    Object.keys(configHashes),
  );
  const actual = computeRevision(primary.spec?.template ?? {});
  const revision = computeRevision(expected) === actual ? ofTarget : `primary:${actual}`;
  primaryRevisions.set(primary, { targetRevision: ofTarget, revision });
  return revision;
}

export function targetNameOf(canary: Pick<Canary, 'spec'>): string {
  return canary.spec.targetRef.name;
}
