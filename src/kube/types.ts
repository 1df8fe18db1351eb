import type { KubeApiErrorCode } from './errors.ts';
import type { ResourceKind } from './resources.ts';

/** The metadata fields Petrel reads; the rest of an object passes through untouched. */
export interface KubeObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  deletionTimestamp?: string;
  finalizers?: string[];
  creationTimestamp?: string;
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Any Kubernetes object as plain JSON (what the API server sends; timestamps stay strings). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: KubeObjectMeta;
}

export interface KubeList<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** Points at one object: which kind, where, and its name. */
export interface ObjectRef {
  resource: ResourceKind;
  namespace?: string;
  name: string;
}

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'test' | 'move' | 'copy';
  path: string;
  value?: unknown;
  from?: string;
}

export interface CallOptions {
  /** Overrides the client's default timeout for this call. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ListOptions extends CallOptions {
  /** Omit for all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface DeleteOptions extends CallOptions {
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
}

export type KubeVerb = 'get' | 'list' | 'watch' | 'create' | 'patch' | 'delete';

/** One API request, reported after it ends (successfully or not) to the `onRequest` hook. */
export interface KubeRequestInfo {
  verb: KubeVerb;
  /** Plural resource name, e.g. `deployments`; `deployments/status` for a subresource. */
  resource: string;
  namespace?: string;
  name?: string;
  /** HTTP status when a response arrived. */
  status?: number;
  durationMs: number;
  errorCode?: KubeApiErrorCode;
}

export type KubeRequestHook = (info: KubeRequestInfo) => void;

export interface KubeApi {
  get<T extends KubeObject>(ref: ObjectRef, opts?: CallOptions): Promise<T>;
  list<T extends KubeObject>(resource: ResourceKind, opts?: ListOptions): Promise<KubeList<T>>;
  /** `obj.metadata.namespace` decides the namespace for namespaced kinds. */
  create<T extends KubeObject>(resource: ResourceKind, obj: T, opts?: CallOptions): Promise<T>;
  /** RFC 7386 merge patch (`application/merge-patch+json`): `null` deletes a key, arrays are replaced. */
  mergePatch<T extends KubeObject>(ref: ObjectRef, patch: unknown, opts?: CallOptions): Promise<T>;
  /** RFC 6902 JSON patch (`application/json-patch+json`), e.g. with a `test` op on resourceVersion. */
  jsonPatch<T extends KubeObject>(ref: ObjectRef, ops: JsonPatchOp[], opts?: CallOptions): Promise<T>;
  /** Merge patch through the `/status` subresource. */
  patchStatus<T extends KubeObject>(ref: ObjectRef, patch: unknown, opts?: CallOptions): Promise<T>;
  delete(ref: ObjectRef, opts?: DeleteOptions): Promise<void>;
}
