import type { Canary } from '../api/canary.ts';
import type { JsonPatchOp, KubeObject, OwnerReference } from './types.ts';

export const MANAGED_BY_LABEL = 'petrel.dev/managed-by';
export const MANAGED_BY_VALUE = 'petrel';
const CANARY_API_VERSION = 'petrel.dev/v1alpha1';

/** An object with the name Petrel wants exists but was not created by Petrel; it is never overwritten. */
export class ObjectNotOwnedError extends Error {
  override readonly name = 'ObjectNotOwnedError';
  readonly code = 'OBJECT_NOT_OWNED';
  constructor(
    readonly kind: string,
    readonly namespace: string,
    readonly objectName: string,
    readonly canaryName: string,
  ) {
    super(
      `${kind} ${namespace}/${objectName} exists but is not managed by Petrel (no ${MANAGED_BY_LABEL} label ` +
        `or ownerReference to Canary ${canaryName}); rename or delete it, or label it ` +
        `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE} to hand it over`,
    );
  }
}

/** The Canary has no metadata.uid yet (it was not read from the API server), so it cannot own objects. */
export class MissingUidError extends Error {
  override readonly name = 'MissingUidError';
  readonly code = 'MISSING_UID';
  constructor(canaryName: string) {
    super(
      `Canary ${canaryName} has no metadata.uid: owned objects need the Canary as read from the API server`,
    );
  }
}

export function canaryOwnerReference(canary: Canary): OwnerReference {
  const uid = canary.metadata.uid;
  if (!uid) throw new MissingUidError(canary.metadata.name);
  return {
    apiVersion: CANARY_API_VERSION,
    kind: 'Canary',
    name: canary.metadata.name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function managedLabels(): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE };
}

function refersToCanary(ref: OwnerReference, canary: Canary): boolean {
  if (ref.kind !== 'Canary' || ref.apiVersion.split('/')[0] !== 'petrel.dev') return false;
  return canary.metadata.uid ? ref.uid === canary.metadata.uid : ref.name === canary.metadata.name;
}

export function hasOwnerReferenceTo(obj: KubeObject, canary: Canary): boolean {
  return (obj.metadata?.ownerReferences ?? []).some((ref) => refersToCanary(ref, canary));
}

/**
 * Petrel may write to `obj` for `canary` when it carries an ownerReference to that Canary, or the
 * managed-by label and no controller reference to some other owner.
 */
export function isOwnedBy(obj: KubeObject, canary: Canary): boolean {
  if (hasOwnerReferenceTo(obj, canary)) return true;
  if (obj.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return false;
  return !(obj.metadata?.ownerReferences ?? []).some((ref) => ref.controller);
}

export function assertOwnedBy(obj: KubeObject, canary: Canary, kind: string): void {
  if (!isOwnedBy(obj, canary)) {
    throw new ObjectNotOwnedError(
      kind,
      obj.metadata?.namespace ?? canary.metadata.namespace ?? '',
      obj.metadata?.name ?? '',
      canary.metadata.name,
    );
  }
}

/**
 * The metadata patch that adds Petrel's label and ownerReference when missing; other labels, annotations
 * and owner references (Argo CD, Flux, people) are left as they are. Undefined when nothing is missing.
 */
export function ownershipPatch(obj: KubeObject, canary: Canary): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  if (obj.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) patch.labels = managedLabels();
  if (!hasOwnerReferenceTo(obj, canary)) {
    patch.ownerReferences = [...(obj.metadata?.ownerReferences ?? []), canaryOwnerReference(canary)];
  }
  return Object.keys(patch).length ? patch : undefined;
}

/**
 * The JSON patch that removes the ownerReference with `ownerUid` and nothing else (labels, other owners stay),
 * guarded by a `test` of that entry so a list changed since it was read fails (422) instead of losing another
 * entry. Undefined when `obj` has no such reference. The managed-by label stays, so a Canary of the same
 * name adopts the object again (`isOwnedBy`).
 */
export function ownerReferenceRemoval(obj: KubeObject, ownerUid: string): JsonPatchOp[] | undefined {
  const index = (obj.metadata?.ownerReferences ?? []).findIndex((ref) => ref.uid === ownerUid);
  if (index < 0) return undefined;
  const path = `/metadata/ownerReferences/${index}`;
  return [
    { op: 'test', path: `${path}/uid`, value: ownerUid },
    { op: 'remove', path },
  ];
}
