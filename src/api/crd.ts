import { stringify } from 'yaml';
import { z } from 'zod';
import { alertProviderSchema } from './alert-provider.ts';
import { canarySchema } from './canary.ts';
import { PETREL_GROUP, PETREL_VERSION } from './constants.ts';
import { metricTemplateSchema } from './metric-template.ts';
import { releaseFreezeSchema } from './release-freeze.ts';

/** An OpenAPI v3 schema node as Kubernetes accepts it in a CRD. */
export type OpenApiSchema = { [key: string]: unknown };

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface CrdDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  schema: z.ZodType;
  statusSubresource: boolean;
  printerColumns: PrinterColumn[];
  description: string;
}

/**
 * The resources. Short names avoid Flagger's resource names (canary, metrictemplate,
 * alertprovider) so both controllers can be installed side by side during a migration.
 */
export const CRD_DEFINITIONS: readonly CrdDefinition[] = [
  {
    kind: 'Canary',
    plural: 'canaries',
    singular: 'canary',
    shortNames: ['pcanary', 'pcanaries'],
    schema: canarySchema,
    statusSubresource: true,
    description:
      'Canary rolls out a new version of a Deployment step by step, checking metrics at each step.',
    printerColumns: [
      { name: 'Status', type: 'string', jsonPath: '.status.phase' },
      { name: 'Weight', type: 'integer', jsonPath: '.status.canaryWeight' },
      { name: 'FailedChecks', type: 'integer', jsonPath: '.status.failedChecks' },
      { name: 'LastTransitionTime', type: 'date', jsonPath: '.status.lastTransitionTime' },
      // A paused rollout keeps its phase (Progressing); the pending manual action shows it.
      {
        name: 'Action',
        type: 'string',
        jsonPath: '.metadata.annotations.petrel\\.dev/action',
        description:
          'Manual action pending (petrel pause|resume|promote|abort): pause while the rollout is paused',
      },
    ],
  },
  {
    kind: 'MetricTemplate',
    plural: 'metrictemplates',
    singular: 'metrictemplate',
    shortNames: ['pmt'],
    schema: metricTemplateSchema,
    statusSubresource: false,
    description: 'MetricTemplate is a reusable PromQL query a Canary can check.',
    printerColumns: [{ name: 'Provider', type: 'string', jsonPath: '.spec.provider.type' }],
  },
  {
    kind: 'AlertProvider',
    plural: 'alertproviders',
    singular: 'alertprovider',
    shortNames: ['pap'],
    schema: alertProviderSchema,
    statusSubresource: false,
    description: 'AlertProvider is a chat or webhook channel Canary alerts are sent to.',
    printerColumns: [{ name: 'Type', type: 'string', jsonPath: '.spec.type' }],
  },
  {
    kind: 'ReleaseFreeze',
    plural: 'releasefreezes',
    singular: 'releasefreeze',
    shortNames: ['pfreeze'],
    schema: releaseFreezeSchema,
    statusSubresource: false,
    description:
      'ReleaseFreeze blocks new rollouts of the Canaries it selects, between start and end or while it exists.',
    printerColumns: [
      { name: 'Start', type: 'string', jsonPath: '.spec.start' },
      { name: 'End', type: 'string', jsonPath: '.spec.end' },
      { name: 'Reason', type: 'string', jsonPath: '.spec.reason' },
    ],
  },
];

export class NonStructuralSchemaError extends Error {
  readonly code = 'NON_STRUCTURAL_SCHEMA';
  override readonly name = 'NonStructuralSchemaError';
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`schema at ${path || '<root>'} is not structural: ${detail}`);
  }
}

const SAFE_INT_BOUND = Number.MAX_SAFE_INTEGER;
const DROPPED_KEYS = new Set(['$schema', 'default', 'propertyNames', 'id']);
const FORBIDDEN_KEYS = ['$ref', '$defs', 'definitions', 'anyOf', 'oneOf', 'allOf', 'not', 'const'];

/** Converts zod's JSON Schema (draft 2020-12) into a structural OpenAPI v3 schema for a CRD. */
export function toStructuralSchema(node: unknown, path = ''): OpenApiSchema {
  if (typeof node !== 'object' || node === null)
    throw new NonStructuralSchemaError(path, 'expected a schema object');
  const source = node as Record<string, unknown>;

  if (Array.isArray(source.anyOf)) {
    const node = intOrString(source.anyOf, path);
    if (typeof source.description === 'string') node.description = source.description;
    return node;
  }

  const out: OpenApiSchema = {};
  for (const [key, value] of Object.entries(source)) {
    if (DROPPED_KEYS.has(key)) continue;
    switch (key) {
      case 'const':
        out.enum = [value];
        break;
      case 'properties': {
        const properties: Record<string, OpenApiSchema> = {};
        for (const [name, child] of Object.entries(value as Record<string, unknown>)) {
          properties[name] = toStructuralSchema(child, `${path}.${name}`);
        }
        out.properties = properties;
        break;
      }
      case 'items':
        out.items = toStructuralSchema(value, `${path}[]`);
        break;
      case 'additionalProperties':
        if (value === false) break; // unknown fields are pruned by the API server; zod rejects them in lint
        if (isEmptySchema(value)) out['x-kubernetes-preserve-unknown-fields'] = true;
        else out.additionalProperties = toStructuralSchema(value, `${path}.*`);
        break;
      case 'minimum':
      case 'maximum':
        if (Math.abs(value as number) !== SAFE_INT_BOUND) out[key] = value;
        break;
      default:
        out[key] = value;
    }
  }
  if (out.enum && out.type === undefined) out.type = typeof (out.enum as unknown[])[0];
  assertStructuralNode(out, path);
  return out;
}

function intOrString(options: unknown[], path: string): OpenApiSchema {
  const types = options.map((o) => (o as { type?: unknown }).type).sort();
  if (types.length === 2 && types[0] === 'integer' && types[1] === 'string') {
    return { 'x-kubernetes-int-or-string': true };
  }
  throw new NonStructuralSchemaError(
    path,
    `unions are only supported as int-or-string (got ${types.join(' | ')})`,
  );
}

function isEmptySchema(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.keys(value).length === 0;
}

function assertStructuralNode(node: OpenApiSchema, path: string): void {
  for (const key of FORBIDDEN_KEYS) {
    if (key in node) throw new NonStructuralSchemaError(path, `"${key}" is not allowed`);
  }
  const special =
    node['x-kubernetes-int-or-string'] === true || node['x-kubernetes-preserve-unknown-fields'] === true;
  if (typeof node.type !== 'string' && !special)
    throw new NonStructuralSchemaError(path, 'every node needs a type');
  if (node.properties && node.additionalProperties) {
    throw new NonStructuralSchemaError(path, 'properties and additionalProperties are mutually exclusive');
  }
}

const LEADING_KEYS = ['description', 'type'];

function compareKeys(a: string, b: string): number {
  const rank = (key: string) => {
    const index = LEADING_KEYS.indexOf(key);
    return index === -1 ? LEADING_KEYS.length : index;
  };
  return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Every key sorted (description and type first), recursively, so regenerated files only differ when a schema changed. */
export function sortKeysDeep<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortKeysDeep) as T;
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort(compareKeys))
    out[key] = sortKeysDeep((value as Record<string, unknown>)[key]);
  return out as T;
}

/** The openAPIV3Schema for one resource: metadata stays opaque, as Kubernetes requires. */
export function openApiSchemaFor(definition: CrdDefinition): OpenApiSchema {
  const jsonSchema = z.toJSONSchema(definition.schema, { io: 'input', unrepresentable: 'throw' });
  const structural = toStructuralSchema(jsonSchema);
  const properties = structural.properties as Record<string, OpenApiSchema>;
  properties.apiVersion = { type: 'string' };
  properties.kind = { type: 'string' };
  properties.metadata = { type: 'object' };
  structural.description = definition.description;
  // The API server fills in apiVersion/kind/metadata; requiring them would only confuse `kubectl explain`.
  structural.required = (structural.required as string[]).filter((name) => name === 'spec');
  return sortKeysDeep(structural);
}

export interface CustomResourceDefinitionObject {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: Record<string, unknown>;
}

export function buildCrd(definition: CrdDefinition): CustomResourceDefinitionObject {
  const version: Record<string, unknown> = {
    name: PETREL_VERSION,
    served: true,
    storage: true,
    schema: { openAPIV3Schema: openApiSchemaFor(definition) },
  };
  if (definition.statusSubresource) version.subresources = { status: {} };
  if (definition.printerColumns.length > 0) version.additionalPrinterColumns = definition.printerColumns;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${definition.plural}.${PETREL_GROUP}`,
      labels: { 'app.kubernetes.io/name': 'petrel', 'app.kubernetes.io/component': 'crd' },
    },
    spec: {
      group: PETREL_GROUP,
      names: {
        kind: definition.kind,
        listKind: `${definition.kind}List`,
        plural: definition.plural,
        singular: definition.singular,
        shortNames: definition.shortNames,
        categories: ['petrel'],
      },
      scope: 'Namespaced',
      versions: [version],
    },
  };
}

export function buildCrds(): CustomResourceDefinitionObject[] {
  return CRD_DEFINITIONS.map(buildCrd);
}

/** File name as in controller-gen's layout: `<group>_<plural>.yaml`. */
export function crdFileName(crd: CustomResourceDefinitionObject): string {
  const spec = crd.spec as { group: string; names: { plural: string } };
  return `${spec.group}_${spec.names.plural}.yaml`;
}

const GENERATED_HEADER =
  '# Generated from src/api by `npm run crds`. Do not edit: change the zod schema and regenerate.\n';

/** The YAML written to crds/: byte-for-byte stable for the same schemas. */
export function renderCrdYaml(crd: CustomResourceDefinitionObject): string {
  return GENERATED_HEADER + stringify(crd, { lineWidth: 0, indent: 2 });
}
