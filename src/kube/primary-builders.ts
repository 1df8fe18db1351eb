import type { V1DeploymentSpec, V1PodTemplateSpec } from '@kubernetes/client-node';
import type { Canary } from '../api/canary.ts';
import { rewriteConfigRefs } from './configs.ts';
import { primaryName, type SelectorLabel, selectorLabel } from './names.ts';
import { canaryOwnerReference, managedLabels } from './ownership.ts';
import { LAST_APPLIED } from './slim.ts';
import type { Deployment } from './workloads.ts';

/** Rewrites the selector label of a pod template to the primary's value; everything else is copied. */
export function primaryTemplate(template: V1PodTemplateSpec, label: SelectorLabel): V1PodTemplateSpec {
  const copy = structuredClone(template);
  copy.metadata = {
    ...copy.metadata,
    labels: { ...copy.metadata?.labels, [label.key]: `${label.value}-primary` },
  };
  return copy;
}

/** Annotations kubectl and other tools put on the target that must not be copied to the primary. */
function filterAnnotations(
  annotations: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (!annotations) return undefined;
  const out = Object.fromEntries(
    Object.entries(annotations).filter(
      ([k]) => k !== LAST_APPLIED && !k.startsWith('deployment.kubernetes.io/'),
    ),
  );
  return Object.keys(out).length ? out : undefined;
}

/** The spec fields copied from the target besides the template (they shape how the primary rolls out). */
export function rolloutSettings(target: Deployment): Partial<V1DeploymentSpec> {
  const s = target.spec;
  return {
    progressDeadlineSeconds: s?.progressDeadlineSeconds,
    minReadySeconds: s?.minReadySeconds,
    revisionHistoryLimit: s?.revisionHistoryLimit,
    strategy: s?.strategy,
  };
}

/**
 * The pod template the primary runs for a given target template: selector label `<value>-primary`, and
 * references to tracked ConfigMaps/Secrets (keys from `trackedConfigHashes`) pointed at their copies.
 */
export function expectedPrimaryTemplate(
  target: Deployment,
  template: V1PodTemplateSpec,
  trackedConfigKeys: Iterable<string> = [],
): V1PodTemplateSpec {
  return primaryTemplate(rewriteConfigRefs(template, trackedConfigKeys), selectorLabel(target));
}

/**
 * The primary Deployment `<target>-primary` for a Canary: a copy of the target's pod template whose
 * selector label is rewritten to `<value>-primary` (so primary and canary pods are selected apart),
 * owned by the Canary (controller reference) and labelled `petrel.dev/managed-by: petrel`. With tracked
 * config keys, the template uses the `<name>-primary` copies of those ConfigMaps/Secrets.
 */
export function buildPrimaryDeployment(
  canary: Canary,
  target: Deployment,
  trackedConfigKeys: Iterable<string> = [],
): Deployment {
  const label = selectorLabel(target);
  const targetName = target.metadata?.name ?? canary.spec.targetRef.name;
  const replicas = target.spec?.replicas && target.spec.replicas > 0 ? target.spec.replicas : 1;
  const labels = { ...target.metadata?.labels, ...managedLabels(), [label.key]: `${label.value}-primary` };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: primaryName(targetName),
      namespace: canary.metadata.namespace ?? target.metadata?.namespace,
      labels,
      annotations: filterAnnotations(target.metadata?.annotations),
      ownerReferences: [canaryOwnerReference(canary)],
    },
    spec: {
      ...rolloutSettings(target),
      replicas,
      selector: { matchLabels: { [label.key]: `${label.value}-primary` } },
      template: primaryTemplate(rewriteConfigRefs(target.spec?.template ?? {}, trackedConfigKeys), label),
    },
  };
}
