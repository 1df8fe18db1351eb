import { apiVersionOf, type ResourceKind } from './resources.ts';
import type { KubeObject } from './types.ts';

/** kubectl's copy of the whole object as last applied: large, and never read by Petrel. */
export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * What an informer keeps of each object: everything Petrel reads, nothing it never reads. A cluster's
 * Deployments carry managedFields and kubectl's last-applied copy of themselves, often more than the
 * object itself, and a Deployment's status conditions are rewritten with new timestamps all the time;
 * with tens of thousands of cached objects that is most of the controller's memory.
 *
 * Safe because the controller never sends a cached object back whole: every write is a patch built
 * from what Petrel wants, or a create of an object it built.
 *
 * Works in place on an object just parsed from the API server (not shared with anyone yet).
 */
export function cacheTransform(resource: ResourceKind): <T extends KubeObject>(obj: T) => T {
  const apiVersion = apiVersionOf(resource);
  const kind = resource.kind;
  const namespaces = new StringPool();
  const ownerStrings = new StringPool(1000);
  const trimStatus =
    resource.group === 'apps' && resource.kind === 'Deployment' ? trimDeploymentStatus : noop;
  return <T extends KubeObject>(obj: T): T => {
    // List items carry no apiVersion/kind; watch events do. Set both the same way, as shared strings.
    obj.apiVersion = apiVersion;
    obj.kind = kind;
    if (obj.metadata) obj.metadata = slimMetadata(obj.metadata, namespaces, ownerStrings);
    trimStatus(obj);
    return obj;
  };
}

/**
 * A new metadata object without the dropped fields. Built anew rather than with `delete`: V8 turns an
 * object it deletes properties from into a hash table, which made each cached metadata larger, not smaller.
 */
function slimMetadata(
  metadata: NonNullable<KubeObject['metadata']>,
  namespaces: StringPool,
  ownerStrings: StringPool,
): NonNullable<KubeObject['metadata']> {
  const { managedFields: _managed, creationTimestamp: _created, annotations, ...kept } = metadata;
  if (kept.namespace) kept.namespace = namespaces.intern(kept.namespace);
  if (annotations) {
    if (LAST_APPLIED in annotations) {
      const { [LAST_APPLIED]: _lastApplied, ...rest } = annotations;
      if (Object.keys(rest).length > 0) kept.annotations = rest;
    } else {
      kept.annotations = annotations;
    }
  }
  for (const ref of kept.ownerReferences ?? []) {
    ref.apiVersion = ownerStrings.intern(ref.apiVersion);
    ref.kind = ownerStrings.intern(ref.kind);
  }
  return kept;
}

interface DeploymentCondition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

/**
 * Of a Deployment's conditions Petrel reads only Progressing's reason and message (a missed progress
 * deadline); the rest of the status it reads are counters, which are kept.
 */
function trimDeploymentStatus(obj: KubeObject): void {
  const status = (obj as { status?: { conditions?: DeploymentCondition[] } }).status;
  if (!status?.conditions) return;
  const progressing = status.conditions.find((c) => c?.type === 'Progressing');
  if (!progressing) {
    const { conditions: _dropped, ...rest } = status;
    (obj as { status?: unknown }).status = rest;
    return;
  }
  status.conditions = [
    {
      type: 'Progressing',
      ...(progressing.status === undefined ? {} : { status: progressing.status }),
      ...(progressing.reason === undefined ? {} : { reason: progressing.reason }),
      ...(progressing.message === undefined ? {} : { message: progressing.message }),
    },
  ];
}

function noop(): void {}

/**
 * Hands out one string instance per distinct value, so thousands of cached objects share their
 * namespace, owner kind and API version instead of each holding a copy. Values come from a small set
 * (namespaces, kinds); the pool stops growing past `limit` as a guard against a hostile cluster.
 */
class StringPool {
  private readonly strings = new Map<string, string>();
  constructor(private readonly limit = 10_000) {}

  intern(value: string): string {
    const known = this.strings.get(value);
    if (known !== undefined) return known;
    if (this.strings.size < this.limit) this.strings.set(value, value);
    return value;
  }
}
