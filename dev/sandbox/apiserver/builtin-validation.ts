import type { StatusCause } from './errors.ts';
import type { KubeObject, ResourceType } from './types.ts';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const required = (field: string): StatusCause => ({
  reason: 'FieldValueRequired',
  message: 'Required value',
  field,
});
const invalidValue = (field: string, value: unknown, detail: string): StatusCause => ({
  reason: 'FieldValueInvalid',
  message: `Invalid value: ${JSON.stringify(value)}: ${detail}`,
  field,
});

function selectorMatches(selector: Json, labels: Record<string, unknown>): boolean {
  const matchLabels = isObject(selector.matchLabels) ? selector.matchLabels : {};
  if (!Object.entries(matchLabels).every(([k, v]) => labels[k] === v)) return false;
  const expressions = Array.isArray(selector.matchExpressions) ? selector.matchExpressions : [];
  return expressions.every((e) => {
    if (!isObject(e)) return false;
    const value = labels[String(e.key)];
    const values = Array.isArray(e.values) ? e.values : [];
    switch (e.operator) {
      case 'In':
        return values.includes(value);
      case 'NotIn':
        return !values.includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
      default:
        return false;
    }
  });
}

function validatePodTemplate(template: unknown, path: string): StatusCause[] {
  if (!isObject(template)) return [required(path)];
  const spec = template.spec;
  if (!isObject(spec)) return [required(`${path}.spec`)];
  const containers = spec.containers;
  if (!Array.isArray(containers) || containers.length === 0) return [required(`${path}.spec.containers`)];
  const causes: StatusCause[] = [];
  const names = new Set<string>();
  for (const [i, c] of containers.entries()) {
    const at = `${path}.spec.containers[${i}]`;
    if (!isObject(c)) {
      causes.push(invalidValue(at, c, 'must be an object'));
      continue;
    }
    if (typeof c.name !== 'string' || !c.name) causes.push(required(`${at}.name`));
    else if (names.has(c.name))
      causes.push({
        reason: 'FieldValueDuplicate',
        message: `Duplicate value: ${JSON.stringify(c.name)}`,
        field: `${at}.name`,
      });
    else names.add(c.name);
    if (typeof c.image !== 'string' || !c.image) causes.push(required(`${at}.image`));
  }
  return causes;
}

function validateDeployment(object: KubeObject): StatusCause[] {
  const spec = object.spec;
  if (!isObject(spec)) return [required('spec')];
  const causes: StatusCause[] = [];
  const replicas = spec.replicas;
  if (replicas !== undefined && (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0))
    causes.push(invalidValue('spec.replicas', replicas, 'must be greater than or equal to 0'));
  const selector = spec.selector;
  if (!isObject(selector) || (!isObject(selector.matchLabels) && !Array.isArray(selector.matchExpressions))) {
    causes.push(required('spec.selector'));
  } else {
    const labels =
      isObject(spec.template) && isObject(spec.template.metadata) && isObject(spec.template.metadata.labels)
        ? spec.template.metadata.labels
        : {};
    if (!selectorMatches(selector, labels))
      causes.push(
        invalidValue('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'),
      );
  }
  causes.push(...validatePodTemplate(spec.template, 'spec.template'));
  return causes;
}

function validateService(object: KubeObject): StatusCause[] {
  const spec = object.spec;
  if (!isObject(spec)) return [required('spec')];
  const type = spec.type ?? 'ClusterIP';
  const ports = spec.ports;
  if (type === 'ExternalName') return [];
  if (!Array.isArray(ports) || ports.length === 0) return [required('spec.ports')];
  const causes: StatusCause[] = [];
  ports.forEach((p, i) => {
    const port = isObject(p) ? p.port : undefined;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
      causes.push(invalidValue(`spec.ports[${i}].port`, port ?? 0, 'must be between 1 and 65535, inclusive'));
  });
  if (ports.length > 1 && ports.some((p) => !isObject(p) || typeof p.name !== 'string' || !p.name))
    causes.push(required('spec.ports[0].name'));
  return causes;
}

/** The spec checks of a real server for the built-in kinds Petrel writes. */
export function validateBuiltin(type: ResourceType, object: KubeObject): StatusCause[] {
  if (!type.builtin) return [];
  switch (`${type.group}/${type.plural}`) {
    case 'apps/deployments':
      return validateDeployment(object);
    case '/services':
      return validateService(object);
    default:
      return [];
  }
}
