import type { Canary } from '../api/canary.ts';
import { mergePatchDiff } from './canonical.ts';
import type { CacheReader } from './informer.ts';
import { namespaceOf, primaryName } from './names.ts';
import { assertOwnedBy, canaryOwnerReference, managedLabels, ownershipPatch } from './ownership.ts';
import { RESOURCES } from './resources.ts';
import type { KubeApi } from './types.ts';
import type { HorizontalPodAutoscaler, WriteAction } from './workloads.ts';
import { writeThroughView } from './write-through.ts';

export class AutoscalerNotFoundError extends Error {
  override readonly name = 'AutoscalerNotFoundError';
  readonly code = 'AUTOSCALER_NOT_FOUND';
  constructor(namespace: string, name: string) {
    super(`HorizontalPodAutoscaler ${namespace}/${name} (spec.autoscalerRef.name) does not exist`);
  }
}

/** `<autoscaler>-primary`: the target's HPA spec aimed at the primary Deployment, owned by the Canary. */
export function buildPrimaryAutoscaler(
  canary: Canary,
  hpa: HorizontalPodAutoscaler,
): HorizontalPodAutoscaler {
  const spec = structuredClone(
    hpa.spec ?? { maxReplicas: 1, scaleTargetRef: { kind: 'Deployment', name: '' } },
  );
  spec.scaleTargetRef = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    name: primaryName(canary.spec.targetRef.name),
  };
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: {
      name: primaryName(hpa.metadata?.name ?? ''),
      namespace: canary.metadata.namespace,
      labels: managedLabels(),
      ownerReferences: [canaryOwnerReference(canary)],
    },
    spec,
  };
}

/**
 * Keeps `<autoscaler>-primary` in line with the HPA named by spec.autoscalerRef (min/max replicas,
 * metrics, behavior), creating it when missing. Does nothing without autoscalerRef; throws
 * `AutoscalerNotFoundError` when the HPA it names does not exist.
 */
export async function ensurePrimaryAutoscaler(
  deps: { api: KubeApi; hpas: CacheReader<HorizontalPodAutoscaler> },
  canary: Canary,
): Promise<WriteAction> {
  const ref = canary.spec.autoscalerRef;
  if (!ref) return 'unchanged';
  const ns = namespaceOf(canary);
  const source = deps.hpas.get(ns, ref.name);
  if (!source) throw new AutoscalerNotFoundError(ns, ref.name);
  const desired = buildPrimaryAutoscaler(canary, source);
  const name = desired.metadata?.name ?? '';
  const view = writeThroughView(deps.hpas);
  const actual = view.get(ns, name);
  if (!actual) {
    view.remember(await deps.api.create(RESOURCES.horizontalPodAutoscaler, desired));
    return 'created';
  }
  assertOwnedBy(actual, canary, 'HorizontalPodAutoscaler');
  const patch: Record<string, unknown> = {};
  const specPatch = mergePatchDiff(actual.spec ?? {}, desired.spec ?? {});
  if (specPatch !== undefined) patch.spec = specPatch;
  const meta = ownershipPatch(actual, canary);
  if (meta) patch.metadata = meta;
  if (!Object.keys(patch).length) return 'unchanged';
  view.remember(
    await deps.api.mergePatch<HorizontalPodAutoscaler>(
      { resource: RESOURCES.horizontalPodAutoscaler, namespace: ns, name },
      patch,
    ),
  );
  return 'patched';
}

/** The HPA (if any) whose scaleTargetRef is this Deployment. */
export function autoscalerFor(
  hpas: CacheReader<HorizontalPodAutoscaler> | undefined,
  namespace: string,
  deploymentName: string,
): HorizontalPodAutoscaler | undefined {
  return hpas
    ?.list(namespace)
    .find(
      (h) => h.spec?.scaleTargetRef?.kind === 'Deployment' && h.spec.scaleTargetRef.name === deploymentName,
    );
}
