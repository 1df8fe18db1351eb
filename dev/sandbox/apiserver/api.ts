import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { canonicalJson } from '../../../src/kube/canonical.ts';
import { validateBuiltin } from './builtin-validation.ts';
import { celCauses, celSkippedCause } from './cel.ts';
import { applyBuiltinDefaults } from './defaults.ts';
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  invalid,
  notFound,
  STALE_OBJECT,
  type StatusCause,
  successStatus,
  unsupportedMediaType,
} from './errors.ts';
import { applyJsonPatch, applyMergePatch } from './patch.ts';
import { CRD_TYPE_KEY, NAMESPACE_TYPE_KEY, type ResourceRegistry } from './resources.ts';
import { validateAgainstSchema } from './schema.ts';
import type { FieldSelector, LabelSelector } from './selectors.ts';
import type { ObjectStore } from './store.ts';
import { applyStrategicMergePatch } from './strategic-merge.ts';
import { groupVersion, type KubeObject, type ResourceType, storageKey } from './types.ts';
import { validateCrd, validateMetadata, validateMetadataTypes } from './validation.ts';

export type PatchType = 'json' | 'merge' | 'strategic';

export const PATCH_CONTENT_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
};

export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

export interface WriteOptions {
  dryRun?: boolean;
  fieldValidation?: FieldValidation;
}

export interface WriteResult {
  object: KubeObject;
  warnings: string[];
  /** 201 for a create, 200 otherwise; 202 for a delete that waits on finalizers. */
  status: number;
}

export interface DeleteOptions {
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export type Subresource = 'status' | undefined;

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** What generation tracking compares: the object without metadata (and without status when it has its own endpoint). */
function specOf(object: KubeObject, hasStatus: boolean): unknown {
  const { metadata: _m, status, apiVersion: _a, kind: _k, ...rest } = object;
  return hasStatus ? rest : { ...rest, status };
}

function withoutVersion(object: KubeObject): KubeObject {
  const { resourceVersion: _rv, managedFields: _mf, ...metadata } = object.metadata;
  return { ...object, metadata };
}

/**
 * The REST semantics of the API server over the store: what create, update, patch and delete do
 * to an object, independent of HTTP. Controllers inside the sandbox (Deployments, GC) write through
 * it too, so every change produces the same events a client would see.
 */
export class ResourceApi {
  private nameSuffix = 0;
  /** Called when a CRD is deleted and its kind stops being served (open watches on it must end). */
  onTypeRemoved: (type: ResourceType) => void = () => {};

  constructor(
    private readonly store: ObjectStore,
    private readonly registry: ResourceRegistry,
    private readonly now: () => Date,
    private readonly logger: Logger,
  ) {}

  versionOf(type: ResourceType, version?: string): string {
    if (version) return version;
    return (type.versions.find((v) => v.storage) ?? type.versions[0])!.name;
  }

  /** An object as served for a given version: a copy with apiVersion/kind set. */
  present(type: ResourceType, version: string, object: KubeObject): KubeObject {
    return { ...clone(object), apiVersion: groupVersion(type.group, version), kind: type.kind };
  }

  get(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const object = this.store.get(storageKey(type), type.namespaced ? namespace : undefined, name);
    if (!object) throw notFound(type, name);
    return object;
  }

  find(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(storageKey(type), type.namespaced ? namespace : undefined, name);
  }

  list(
    type: ResourceType,
    namespace: string | undefined,
    labels: LabelSelector,
    fields: FieldSelector,
  ): { items: KubeObject[]; resourceVersion: string } {
    const items = this.store
      .list(storageKey(type), type.namespaced ? namespace : undefined)
      .filter((o) => labels(o.metadata.labels) && fields(o))
      .sort((a, b) =>
        `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(
          `${b.metadata.namespace ?? ''}/${b.metadata.name}`,
        ),
      );
    return { items, resourceVersion: String(this.store.resourceVersion) };
  }

  create(
    type: ResourceType,
    version: string,
    namespace: string | undefined,
    body: unknown,
    options: WriteOptions = {},
  ): WriteResult {
    const object = this.checkBody(type, version, namespace, body);
    const meta = object.metadata;
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${this.randomSuffix()}`;
    if (type.namespaced) meta.namespace = namespace;
    else delete meta.namespace;
    const key = storageKey(type);
    if (meta.name && this.store.get(key, meta.namespace, meta.name)) throw alreadyExists(type, meta.name);
    if (type.namespaced) this.requireNamespace(namespace);
    const versionInfo = type.versions.find((v) => v.name === version)!;
    if (versionInfo.hasStatus) delete object.status;
    applyBuiltinDefaults(type, object, true);
    const { object: checked, warnings } = this.validate(type, version, object, options);
    const m = checked.metadata;
    m.uid = randomUUID();
    m.creationTimestamp = this.timestamp();
    if (type.tracksGeneration) m.generation = 1;
    else delete m.generation;
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    delete m.resourceVersion;
    delete m.managedFields;
    checked.apiVersion = groupVersion(type.group, this.versionOf(type));
    checked.kind = type.kind;
    if (key === CRD_TYPE_KEY) this.checkCrd(type, checked);
    if (options.dryRun) return { object: checked, warnings, status: 201 };
    const stored = this.store.write(key, checked, 'ADDED');
    const response = clone(stored);
    if (key === CRD_TYPE_KEY) this.establishCrd(stored);
    return { object: response, warnings, status: 201 };
  }

  update(
    type: ResourceType,
    version: string,
    namespace: string | undefined,
    name: string,
    body: unknown,
    subresource: Subresource,
    options: WriteOptions = {},
  ): WriteResult {
    const current = this.get(type, namespace, name);
    const object = this.checkBody(type, version, namespace, body);
    if (object.metadata.name !== name)
      throw badRequest(
        `the name of the object (${object.metadata.name ?? ''}) does not match the name on the URL (${name})`,
      );
    return this.replace(type, version, current, object, subresource, options);
  }

  patch(
    type: ResourceType,
    version: string,
    namespace: string | undefined,
    name: string,
    patchType: PatchType,
    patch: unknown,
    subresource: Subresource,
    options: WriteOptions = {},
  ): WriteResult {
    const current = this.get(type, namespace, name);
    const view = this.present(type, version, current);
    let patched: unknown;
    switch (patchType) {
      case 'json':
        patched = applyJsonPatch(view, patch);
        break;
      case 'merge':
        if (patch === null || typeof patch !== 'object' || Array.isArray(patch))
          throw badRequest('merge patch: the body must be a JSON object');
        patched = applyMergePatch(view, patch);
        break;
      case 'strategic':
        if (!type.builtin)
          throw unsupportedMediaType('application/strategic-merge-patch+json', [
            'application/json-patch+json',
            'application/merge-patch+json',
            'application/apply-patch+yaml',
          ]);
        if (patch === null || typeof patch !== 'object' || Array.isArray(patch))
          throw badRequest('strategic merge patch: the body must be a JSON object');
        patched = applyStrategicMergePatch(view, patch);
        break;
    }
    const object = this.checkBody(type, version, namespace, patched);
    if (object.metadata.name !== name) throw badRequest('metadata.name: the patch may not change the name');
    return this.replace(type, version, current, object, subresource, options);
  }

  delete(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    options: DeleteOptions = {},
  ): WriteResult {
    const current = this.get(type, namespace, name);
    const pre = options.preconditions;
    if (pre?.uid && pre.uid !== current.metadata.uid)
      throw conflict(
        type,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`,
      );
    if (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion)
      throw conflict(
        type,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`,
      );
    const key = storageKey(type);
    if (options.propagationPolicy === 'Orphan' && !options.dryRun) this.orphanDependents(current);
    const finalizers = current.metadata.finalizers ?? [];
    if (finalizers.length > 0) {
      if (current.metadata.deletionTimestamp || options.dryRun)
        return { object: clone(current), warnings: [], status: 202 };
      const marked = clone(current);
      marked.metadata.deletionTimestamp = this.timestamp();
      marked.metadata.deletionGracePeriodSeconds = 0;
      return { object: clone(this.store.write(key, marked, 'MODIFIED')), warnings: [], status: 202 };
    }
    if (options.dryRun) return { object: clone(current), warnings: [], status: 200 };
    const deleted = this.remove(type, current);
    return {
      object: type.builtin ? (successStatus(type, name, current.metadata.uid) as KubeObject) : deleted,
      warnings: [],
      status: 200,
    };
  }

  /** Removes an object from storage now, with the side effects that removal has for its kind. */
  private remove(type: ResourceType, current: KubeObject): KubeObject {
    const key = storageKey(type);
    if (key === NAMESPACE_TYPE_KEY) this.emptyNamespace(current.metadata.name ?? '');
    const deleted = this.store.remove(key, current);
    if (key === CRD_TYPE_KEY) this.dropCrd(current);
    return clone(deleted);
  }

  private replace(
    type: ResourceType,
    version: string,
    current: KubeObject,
    incoming: KubeObject,
    subresource: Subresource,
    options: WriteOptions,
  ): WriteResult {
    const name = current.metadata.name ?? '';
    const rv = incoming.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion)
      throw conflict(type, name, STALE_OBJECT);
    const versionInfo = type.versions.find((v) => v.name === version)!;
    let next: KubeObject;
    if (subresource === 'status') {
      next = clone(current);
      if (incoming.status === undefined) delete next.status;
      else next.status = incoming.status;
    } else {
      next = incoming;
      if (versionInfo.hasStatus) {
        if (current.status === undefined) delete next.status;
        else next.status = clone(current.status);
      }
      const m = next.metadata;
      const c = current.metadata;
      m.uid = c.uid;
      m.creationTimestamp = c.creationTimestamp;
      m.namespace = c.namespace;
      if (c.deletionTimestamp) {
        m.deletionTimestamp = c.deletionTimestamp;
        m.deletionGracePeriodSeconds = c.deletionGracePeriodSeconds;
        const added = (m.finalizers ?? []).filter((f) => !(c.finalizers ?? []).includes(f));
        if (added.length > 0)
          throw new ApiError(
            422,
            'Invalid',
            `${type.kind} "${name}" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
            {
              name,
              group: type.group,
              kind: type.kind,
              causes: [
                {
                  reason: 'FieldValueForbidden',
                  message: 'Forbidden: no new finalizers can be added if the object is being deleted',
                  field: 'metadata.finalizers',
                },
              ],
            },
          );
      } else {
        delete m.deletionTimestamp;
        delete m.deletionGracePeriodSeconds;
      }
    }
    next.apiVersion = current.apiVersion;
    next.kind = current.kind;
    delete next.metadata.managedFields;
    applyBuiltinDefaults(type, next, false);
    const { object: checked, warnings } = this.validate(type, version, next, options, current);
    checked.apiVersion = current.apiVersion;
    checked.kind = current.kind;
    if (type.tracksGeneration) {
      const changed =
        canonicalJson(specOf(checked, versionInfo.hasStatus)) !==
        canonicalJson(specOf(current, versionInfo.hasStatus));
      checked.metadata.generation = (current.metadata.generation ?? 1) + (changed ? 1 : 0);
    }
    const key = storageKey(type);
    if (key === CRD_TYPE_KEY && subresource !== 'status') this.checkCrd(type, checked);
    if (canonicalJson(withoutVersion(checked)) === canonicalJson(withoutVersion(current)))
      return { object: clone(current), warnings, status: 200 };
    checked.metadata.resourceVersion = current.metadata.resourceVersion;
    if (options.dryRun) return { object: checked, warnings, status: 200 };
    if (checked.metadata.deletionTimestamp && (checked.metadata.finalizers ?? []).length === 0) {
      this.store.write(key, checked, 'MODIFIED');
      const removed = this.remove(type, checked);
      return { object: removed, warnings, status: 200 };
    }
    const stored = this.store.write(key, checked, 'MODIFIED');
    if (key === CRD_TYPE_KEY && subresource !== 'status') this.establishCrd(stored);
    return { object: clone(stored), warnings, status: 200 };
  }

  private checkBody(
    type: ResourceType,
    version: string,
    namespace: string | undefined,
    body: unknown,
  ): KubeObject {
    if (body === null || typeof body !== 'object' || Array.isArray(body))
      throw badRequest('the request body must be a JSON object');
    const object = clone(body) as KubeObject;
    const expected = groupVersion(type.group, version);
    if (object.apiVersion !== undefined && object.apiVersion !== expected)
      throw badRequest(
        `the API version in the data (${String(object.apiVersion)}) does not match the expected API version (${expected})`,
      );
    if (object.kind !== undefined && object.kind !== type.kind)
      throw badRequest(
        `the kind in the data (${String(object.kind)}) does not match the expected kind (${type.kind})`,
      );
    if (object.metadata === undefined) object.metadata = {};
    if (object.metadata === null || typeof object.metadata !== 'object' || Array.isArray(object.metadata))
      throw badRequest('metadata must be an object');
    if (type.namespaced && object.metadata.namespace && namespace && object.metadata.namespace !== namespace)
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    if (!type.namespaced) delete object.metadata.namespace;
    const malformed = validateMetadataTypes(object);
    if (malformed.length > 0) throw invalid(type, String(object.metadata.name ?? ''), malformed);
    return object;
  }

  private validate(
    type: ResourceType,
    version: string,
    object: KubeObject,
    options: WriteOptions,
    old?: KubeObject,
  ): { object: KubeObject; warnings: string[] } {
    const causes: StatusCause[] = [...validateMetadata(type, object), ...validateBuiltin(type, object)];
    let result = object;
    const warnings: string[] = [];
    const schema = type.versions.find((v) => v.name === version)?.schema;
    if (!type.builtin && schema) {
      const checked = validateAgainstSchema(schema, object as Record<string, unknown>);
      causes.push(...checked.causes);
      result = checked.value as KubeObject;
      // CEL rules run on the pruned and defaulted object unless the schema refused it for a type, enum,
      // required field, length or count (what kube-apiserver treats as blocking).
      if (checked.causes.some(blocksCel)) causes.push(...celSkippedCause(schema));
      else causes.push(...celCauses(schema, checked.value, old));
      if (checked.unknownFields.length > 0) {
        if (options.fieldValidation === 'Strict')
          throw badRequest(
            `strict decoding error: ${checked.unknownFields.map((f) => `unknown field "${f}"`).join(', ')}`,
          );
        if (options.fieldValidation !== 'Ignore')
          warnings.push(...checked.unknownFields.map((f) => `unknown field "${f}"`));
      }
    }
    if (causes.length > 0) throw invalid(type, object.metadata.name ?? '', causes);
    return { object: result, warnings };
  }

  private checkCrd(type: ResourceType, crd: KubeObject): void {
    const causes = validateCrd(crd);
    if (causes.length > 0) throw invalid(type, crd.metadata.name ?? '', causes);
  }

  private establishCrd(stored: KubeObject): void {
    try {
      this.registry.registerCrd(stored);
    } catch (error) {
      this.logger.warn({ crd: stored.metadata.name, err: error }, 'CRD not served');
      return;
    }
    const spec = stored.spec as {
      names: Record<string, unknown>;
      versions: { name: string; storage?: boolean }[];
    };
    const established = clone(stored);
    const when = this.timestamp();
    established.status = {
      acceptedNames: clone(spec.names),
      storedVersions: spec.versions.filter((v) => v.storage).map((v) => v.name),
      conditions: [
        {
          type: 'NamesAccepted',
          status: 'True',
          reason: 'NoConflicts',
          message: 'no conflicts found',
          lastTransitionTime: when,
        },
        {
          type: 'Established',
          status: 'True',
          reason: 'InitialNamesAccepted',
          message: 'the initial names have been accepted',
          lastTransitionTime: when,
        },
      ],
    };
    if (canonicalJson(established.status) !== canonicalJson(stored.status))
      this.store.write(CRD_TYPE_KEY, established, 'MODIFIED');
  }

  private dropCrd(crd: KubeObject): void {
    const type = this.registry.unregisterCrd(crd);
    if (!type) return;
    const key = storageKey(type);
    for (const object of this.store.list(key)) this.store.remove(key, object);
    this.onTypeRemoved(type);
  }

  private emptyNamespace(namespace: string): void {
    for (const { key, object } of [...this.store.entries()]) {
      if (object.metadata.namespace === namespace) this.store.remove(key, object);
    }
  }

  private orphanDependents(owner: KubeObject): void {
    const uid = owner.metadata.uid;
    for (const { key, object } of [...this.store.entries()]) {
      const refs = object.metadata.ownerReferences ?? [];
      if (!refs.some((r) => r.uid === uid)) continue;
      const next = clone(object);
      next.metadata.ownerReferences = refs.filter((r) => r.uid !== uid);
      if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
      this.store.write(key, next, 'MODIFIED');
    }
  }

  private requireNamespace(namespace: string | undefined): void {
    if (!namespace) throw badRequest('the namespace of the object must be set for a namespaced resource');
    if (!this.store.get(NAMESPACE_TYPE_KEY, undefined, namespace))
      throw notFound({ group: '', plural: 'namespaces' }, namespace);
  }

  private timestamp(): string {
    return this.now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
  }

  private randomSuffix(): string {
    this.nameSuffix += 1;
    const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
    let out = '';
    let n = Math.floor(Math.random() * 1e9) + this.nameSuffix;
    for (let i = 0; i < 5; i++) {
      out += alphabet[n % alphabet.length];
      n = Math.floor(n / alphabet.length);
    }
    return out;
  }
}

const CEL_BLOCKING_REASONS = new Set([
  'FieldValueNotSupported',
  'FieldValueRequired',
  'FieldValueTooLong',
  'FieldValueTooMany',
  'FieldValueTypeInvalid',
]);

/** A schema error after which kube-apiserver does not run a CRD's CEL rules. */
function blocksCel(cause: StatusCause): boolean {
  return (
    CEL_BLOCKING_REASONS.has(cause.reason ?? '') || / in body must be of type /.test(cause.message ?? '')
  );
}
