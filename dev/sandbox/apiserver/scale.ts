import type { PatchType, ResourceApi, WriteOptions } from './api.ts';
import { badRequest, conflict, STALE_OBJECT } from './errors.ts';
import { applyJsonPatch, applyMergePatch } from './patch.ts';
import { applyStrategicMergePatch } from './strategic-merge.ts';
import type { KubeObject, ResourceType } from './types.ts';

function labelSelectorString(selector: unknown): string {
  const s = (selector ?? {}) as {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
  };
  const parts = Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of s.matchExpressions ?? []) {
    if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
    else parts.push(`${e.key} ${e.operator.toLowerCase()} (${(e.values ?? []).join(',')})`);
  }
  return parts.join(',');
}

/** The autoscaling/v1 Scale view of a Deployment (the /scale subresource). */
export function scaleOf(object: KubeObject): KubeObject {
  const spec = (object.spec ?? {}) as { replicas?: number; selector?: unknown };
  const status = (object.status ?? {}) as { replicas?: number };
  const { name, namespace, uid, resourceVersion, creationTimestamp } = object.metadata;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas: spec.replicas ?? 1 },
    status: { replicas: status.replicas ?? 0, selector: labelSelectorString(spec.selector) },
  };
}

/** Applies an update or patch to the Scale view, writing spec.replicas of the owning object. */
export function writeScale(
  api: ResourceApi,
  type: ResourceType,
  version: string,
  namespace: string | undefined,
  name: string,
  change: { kind: 'update'; body: unknown } | { kind: 'patch'; patchType: PatchType; patch: unknown },
  options: WriteOptions,
): KubeObject {
  const current = api.get(type, namespace, name);
  const view = scaleOf(current);
  let next: unknown;
  if (change.kind === 'update') next = change.body;
  else if (change.patchType === 'json') next = applyJsonPatch(view, change.patch);
  else if (change.patchType === 'merge') next = applyMergePatch(view, change.patch);
  else next = applyStrategicMergePatch(view, change.patch);
  const scale = next as { metadata?: { resourceVersion?: string }; spec?: { replicas?: unknown } };
  const rv = scale.metadata?.resourceVersion;
  if (rv && rv !== current.metadata.resourceVersion) throw conflict(type, name, STALE_OBJECT);
  const replicas = scale.spec?.replicas;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0)
    throw badRequest('spec.replicas: must be a non-negative integer');
  const result = api.patch(
    type,
    version,
    namespace,
    name,
    'merge',
    { spec: { replicas } },
    undefined,
    options,
  );
  return scaleOf(result.object);
}
