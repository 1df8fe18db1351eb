import { celRuleCompileCauses } from './cel.ts';
import type { StatusCause } from './errors.ts';
import type { KubeObject, ResourceType } from './types.ts';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Kinds whose names must be DNS-1123 labels (63 chars, no dots) rather than subdomains. */
const LABEL_NAMED = new Set(['namespaces', 'services']);

function checkQualifiedName(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (!DNS1123_SUBDOMAIN.test(prefix) || prefix.length > 253))
    return "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'";
  if (!LABEL_NAME.test(name) || name.length > 63)
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  return undefined;
}

/** The metadata checks every kind gets (ObjectMeta validation of a real server). */
function isStringMap(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Shape checks that keep malformed metadata out of storage (the GC and finalizer logic rely on it). */
export function validateMetadataTypes(object: KubeObject): StatusCause[] {
  const m = object.metadata as Record<string, unknown>;
  const causes: StatusCause[] = [];
  const wrongType = (field: string, expected: string) =>
    causes.push({
      reason: 'FieldValueInvalid',
      message: `Invalid value: ${JSON.stringify(m[field.split('.')[1]!])}: must be ${expected}`,
      field,
    });
  for (const key of ['name', 'generateName', 'namespace', 'resourceVersion', 'uid']) {
    if (m[key] !== undefined && m[key] !== null && typeof m[key] !== 'string')
      wrongType(`metadata.${key}`, 'a string');
  }
  for (const key of ['labels', 'annotations']) {
    if (m[key] !== undefined && m[key] !== null && !isStringMap(m[key]))
      wrongType(`metadata.${key}`, 'a map of strings');
  }
  if (m.finalizers !== undefined && m.finalizers !== null) {
    if (!Array.isArray(m.finalizers) || m.finalizers.some((f) => typeof f !== 'string' || f.length === 0))
      wrongType('metadata.finalizers', 'a list of non-empty strings');
  }
  if (m.ownerReferences !== undefined && m.ownerReferences !== null) {
    const refs = m.ownerReferences;
    if (!Array.isArray(refs)) wrongType('metadata.ownerReferences', 'a list');
    else
      refs.forEach((ref, i) => {
        for (const field of ['apiVersion', 'kind', 'name', 'uid']) {
          const value = isStringMap(ref) ? (ref as Record<string, unknown>)[field] : undefined;
          if (typeof value !== 'string' || value.length === 0)
            causes.push({
              reason: 'FieldValueRequired',
              message: 'Required value',
              field: `metadata.ownerReferences[${i}].${field}`,
            });
        }
      });
  }
  return causes;
}

export function validateMetadata(type: ResourceType, object: KubeObject): StatusCause[] {
  const typeCauses = validateMetadataTypes(object);
  if (typeCauses.length > 0) return typeCauses;
  const causes: StatusCause[] = [];
  const { name, labels, annotations } = object.metadata;
  if (!name) {
    causes.push({
      reason: 'FieldValueRequired',
      message: 'Required value: name or generateName is required',
      field: 'metadata.name',
    });
  } else if (LABEL_NAMED.has(type.plural) && type.group === '') {
    if (!DNS1123_LABEL.test(name) || name.length > 63)
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
        field: 'metadata.name',
      });
  } else if (!DNS1123_SUBDOMAIN.test(name) || name.length > 253) {
    causes.push({
      reason: 'FieldValueInvalid',
      message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
      field: 'metadata.name',
    });
  }
  for (const [key, value] of Object.entries(labels ?? {})) {
    const keyProblem = checkQualifiedName(key);
    if (keyProblem)
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${key}": ${keyProblem}`,
        field: 'metadata.labels',
      });
    if (typeof value !== 'string' || !LABEL_VALUE.test(value) || value.length > 63)
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${JSON.stringify(value)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
        field: `metadata.labels`,
      });
  }
  let annotationBytes = 0;
  for (const [key, value] of Object.entries(annotations ?? {})) {
    const keyProblem = checkQualifiedName(key);
    if (keyProblem)
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${key}": ${keyProblem}`,
        field: 'metadata.annotations',
      });
    if (typeof value !== 'string')
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${JSON.stringify(value)}: must be a string`,
        field: `metadata.annotations.${key}`,
      });
    else annotationBytes += key.length + value.length;
  }
  if (annotationBytes > 256 * 1024)
    causes.push({
      reason: 'FieldValueTooLong',
      message: 'Too long: must have at most 262144 bytes',
      field: 'metadata.annotations',
    });
  return causes;
}

/** Checks a CustomResourceDefinition enough that the sandbox can serve it. */
export function validateCrd(crd: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const spec = crd.spec as Record<string, unknown> | undefined;
  const names = (spec?.names ?? {}) as Record<string, unknown>;
  const required = (field: string) =>
    causes.push({ reason: 'FieldValueRequired', message: 'Required value', field });
  if (typeof spec?.group !== 'string' || !spec.group) required('spec.group');
  if (typeof names.plural !== 'string' || !names.plural) required('spec.names.plural');
  if (typeof names.kind !== 'string' || !names.kind) required('spec.names.kind');
  if (spec?.scope !== 'Namespaced' && spec?.scope !== 'Cluster')
    causes.push({
      reason: 'FieldValueNotSupported',
      message: `Unsupported value: ${JSON.stringify(spec?.scope ?? '')}: supported values: "Cluster", "Namespaced"`,
      field: 'spec.scope',
    });
  if (
    typeof spec?.group === 'string' &&
    typeof names.plural === 'string' &&
    crd.metadata.name !== `${names.plural}.${spec.group}`
  )
    causes.push({
      reason: 'FieldValueInvalid',
      message: `Invalid value: "${crd.metadata.name}": must be spec.names.plural+"."+spec.group`,
      field: 'metadata.name',
    });
  const versions = spec?.versions;
  if (!Array.isArray(versions) || versions.length === 0) {
    required('spec.versions');
  } else {
    const storage = versions.filter((v) => (v as { storage?: boolean }).storage === true).length;
    if (storage !== 1)
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${JSON.stringify(versions.map((v) => (v as { name?: string }).name))}: must have exactly one version marked as storage version`,
        field: 'spec.versions',
      });
    versions.forEach((v, i) => {
      const version = v as { name?: unknown; schema?: { openAPIV3Schema?: unknown } };
      if (
        typeof version.name !== 'string' ||
        !/^v[0-9]+((alpha|beta)[0-9]+)?$|^[a-z0-9]+$/.test(version.name)
      )
        required(`spec.versions[${i}].name`);
      if (!version.schema?.openAPIV3Schema) required(`spec.versions[${i}].schema.openAPIV3Schema`);
      else
        causes.push(
          ...celRuleCompileCauses(
            version.schema.openAPIV3Schema,
            `spec.versions[${i}].schema.openAPIV3Schema`,
          ),
        );
    });
  }
  return causes;
}
