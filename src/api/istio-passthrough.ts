import { DestinationRule } from '@kubernetes-models/istio/networking.istio.io/v1/DestinationRule';
import { VirtualService } from '@kubernetes-models/istio/networking.istio.io/v1/VirtualService';
import { describeValue } from './issues.ts';
import istioFields from './istio-fields.generated.json' with { type: 'json' };

/** A problem in a field Petrel copies into an Istio object, with the path inside that field. */
export interface IstioIssue {
  path: (string | number)[];
  message: string;
}

type FieldTree = { [field: string]: FieldTree };

/** The parts of a VirtualService HTTPRoute that a Canary passes through (spec.service and spec.analysis.match). */
export interface PassThroughRoute {
  match?: unknown;
  retries?: unknown;
  timeout?: unknown;
  headers?: unknown;
  corsPolicy?: unknown;
  rewrite?: unknown;
}

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

const HTTP_ROUTE_FIELDS = istioFields.httpRoute as FieldTree;
const TRAFFIC_POLICY_FIELDS = istioFields.trafficPolicy as FieldTree;

/**
 * Checks route fields against Istio's own VirtualService schema (types, enums, one-of rules) and its
 * field names: an unknown name is an error because the API server would prune it silently (a misspelt
 * `uri: {prefx: /api}` becomes a match on everything). Paths are relative to the route.
 */
export function istioRouteIssues(route: PassThroughRoute): IstioIssue[] {
  const http: Record<string, unknown> = { route: [{ destination: { host: 'petrel-validation' } }] };
  for (const [key, value] of Object.entries(route)) if (value !== undefined) http[key] = value;
  const model = new VirtualService({
    metadata: { name: 'petrel-validation' },
    spec: { hosts: ['petrel-validation'], http: [http] },
  });
  const prefix = '/spec/http/0';
  const issues = schemaIssues(model, prefix, HTTP_ROUTE_FIELDS);
  for (const [key, value] of Object.entries(route)) {
    if (value !== undefined) unknownFields(value, HTTP_ROUTE_FIELDS[key] ?? {}, [key], issues);
  }
  return dedupe(issues);
}

/** Checks a DestinationRule trafficPolicy against Istio's schema and field names; paths are relative to it. */
export function istioTrafficPolicyIssues(trafficPolicy: unknown): IstioIssue[] {
  const model = new DestinationRule({
    metadata: { name: 'petrel-validation' },
    spec: { host: 'petrel-validation', trafficPolicy: trafficPolicy as Record<string, never> },
  });
  const issues = schemaIssues(model, '/spec/trafficPolicy', TRAFFIC_POLICY_FIELDS);
  unknownFields(trafficPolicy, TRAFFIC_POLICY_FIELDS, [], issues);
  return dedupe(issues);
}

function schemaIssues(model: { validate(): void }, prefix: string, tree: FieldTree): IstioIssue[] {
  try {
    model.validate();
    return [];
  } catch (error) {
    const errors = (error as { errors?: AjvError[] }).errors;
    if (!Array.isArray(errors)) throw error;
    return errors.flatMap((e) => {
      if (!e.instancePath.startsWith(prefix)) return [];
      const path = e.instancePath
        .slice(prefix.length)
        .split('/')
        .filter(Boolean)
        .map((part) => (/^\d+$/.test(part) ? Number(part) : part.replace(/~1/g, '/').replace(/~0/g, '~')));
      const value = valueAt(model, e.instancePath);
      const message = describeAjvError(e, subtree(tree, path), value);
      return message ? [{ path, message }] : [];
    });
  }
}

function valueAt(root: unknown, pointer: string): unknown {
  let node = root;
  for (const part of pointer.split('/').filter(Boolean)) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node;
}

function describeAjvError(
  error: AjvError,
  fields: FieldTree | undefined,
  value: unknown,
): string | undefined {
  const got = `(got ${describeValue(value)})`;
  switch (error.keyword) {
    case 'enum': {
      const allowed = (error.params.allowedValues as unknown[]).map(String).join(', ');
      return `must be one of ${allowed} ${got}: Istio accepts no other value`;
    }
    case 'type':
      return `must be ${article(String(error.params.type))} ${got}, as Istio's schema says`;
    case 'oneOf': {
      const passing = error.params.passingSchemas;
      if (Array.isArray(passing) && fields) return `set only one of ${Object.keys(fields).join(', ')}`;
      return `does not match Istio's schema: ${error.message ?? 'one of several forms is required'}`;
    }
    case 'not':
    case 'anyOf':
      return undefined; // the oneOf error next to it says it better
    case 'required':
      return `Istio requires ${String(error.params.missingProperty)} here`;
    default:
      return `${error.message ?? error.keyword} ${got}, as Istio's schema says`;
  }
}

function subtree(tree: FieldTree, path: (string | number)[]): FieldTree | undefined {
  let node: FieldTree | undefined = tree;
  for (const part of path) {
    if (typeof part === 'number') continue;
    node = node?.[part] ?? node?.['*'];
  }
  return node;
}

function unknownFields(value: unknown, tree: FieldTree, path: (string | number)[], out: IstioIssue[]): void {
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      unknownFields(item, tree, [...path, index], out);
    });
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  const known = Object.keys(tree).filter((k) => k !== '*');
  if (known.length === 0 && !tree['*']) return; // a leaf Istio leaves free-form (e.g. a Struct)
  for (const [key, child] of Object.entries(value)) {
    const childTree = tree[key] ?? tree['*'];
    if (!childTree) {
      out.push({
        path: [...path, key],
        message: `unknown Istio field: Istio would drop it silently (known here: ${known.join(', ')})`,
      });
      continue;
    }
    unknownFields(child, childTree, [...path, key], out);
  }
}

function dedupe(issues: IstioIssue[]): IstioIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${JSON.stringify(issue.path)} ${issue.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function article(type: string): string {
  if (type === 'object') return 'an object';
  if (type === 'array') return 'a list';
  if (type === 'integer') return 'an integer';
  return `a ${type}`;
}
