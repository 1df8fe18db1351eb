import type { StatusCause } from './errors.ts';
import type { OpenApiSchema } from './types.ts';

type Json = unknown;
type JsonMap = Record<string, Json>;

function isMap(value: Json): value is JsonMap {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export interface SchemaResult {
  /** The value after pruning unknown fields and applying defaults. */
  value: Json;
  causes: StatusCause[];
  /** Paths of fields dropped because the schema does not declare them. */
  unknownFields: string[];
}

function typeName(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function render(value: Json): string {
  return typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? 'null');
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

class Walker {
  readonly causes: StatusCause[] = [];
  readonly unknownFields: string[] = [];

  invalid(path: string, value: Json, detail: string): void {
    this.causes.push({
      reason: 'FieldValueInvalid',
      message: `Invalid value: ${render(value)}: ${detail}`,
      field: path,
    });
  }

  walk(schema: OpenApiSchema | undefined, value: Json, path: string): Json {
    if (!schema) return value;
    if (value === null) {
      if (schema.nullable) return value;
      return undefined;
    }
    const before = this.causes.length;
    value = this.checkType(schema, value, path);
    if (this.causes.length > before) return value;
    this.checkConstraints(schema, value, path);
    for (const sub of schema.allOf ?? []) this.constraintsOnly(sub, value, path);
    if (schema.anyOf?.length && !schema.anyOf.some((sub) => this.passes(sub, value, path)))
      this.invalid(path, value, `${path || 'body'} in body must match at least one schema in anyOf`);
    if (schema.oneOf?.length && schema.oneOf.filter((sub) => this.passes(sub, value, path)).length !== 1)
      this.invalid(path, value, `${path || 'body'} in body must match exactly one schema in oneOf`);
    if (schema.not && this.passes(schema.not, value, path))
      this.invalid(path, value, `${path || 'body'} in body must not match the schema in not`);
    if (Array.isArray(value)) return value.map((item, i) => this.walk(schema.items, item, `${path}[${i}]`));
    if (isMap(value)) return this.walkObject(schema, value, path);
    return value;
  }

  private passes(schema: OpenApiSchema, value: Json, path: string): boolean {
    const probe = new Walker();
    probe.constraintsOnly(schema, value, path);
    return probe.causes.length === 0;
  }

  /** Value validations of an anyOf/allOf/oneOf branch (no pruning, no defaulting). */
  private constraintsOnly(schema: OpenApiSchema, value: Json, path: string): void {
    if (schema.type && value !== null) {
      const before = this.causes.length;
      this.checkType(schema, value, path);
      if (this.causes.length > before) return;
    }
    this.checkConstraints(schema, value, path);
    if (isMap(value)) {
      for (const key of schema.required ?? [])
        if (value[key] === undefined)
          this.causes.push({
            reason: 'FieldValueRequired',
            message: 'Required value',
            field: join(path, key),
          });
      for (const [key, sub] of Object.entries(schema.properties ?? {}))
        if (value[key] !== undefined) this.constraintsOnly(sub, value[key], join(path, key));
    }
    if (Array.isArray(value) && schema.items)
      for (const [i, item] of value.entries()) this.constraintsOnly(schema.items!, item, `${path}[${i}]`);
    for (const sub of schema.allOf ?? []) this.constraintsOnly(sub, value, path);
    if (schema.anyOf?.length && !schema.anyOf.some((sub) => this.passes(sub, value, path)))
      this.invalid(path, value, `${path} in body must match at least one schema in anyOf`);
  }

  private checkType(schema: OpenApiSchema, value: Json, path: string): Json {
    const actual = typeName(value);
    if (schema['x-kubernetes-int-or-string']) {
      if (actual !== 'integer' && actual !== 'string')
        this.invalid(path, actual, `${path} in body must be of type integer-or-string: ${render(actual)}`);
      return value;
    }
    const expected = schema.type;
    if (!expected) return value;
    const ok =
      expected === actual ||
      (expected === 'number' && actual === 'integer') ||
      (expected === 'object' && actual === 'object') ||
      (expected === 'array' && actual === 'array');
    if (!ok) this.invalid(path, actual, `${path} in body must be of type ${expected}: ${render(actual)}`);
    return value;
  }

  private checkConstraints(schema: OpenApiSchema, value: Json, path: string): void {
    if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
      this.causes.push({
        reason: 'FieldValueNotSupported',
        message: `Unsupported value: ${render(value)}: supported values: ${schema.enum.map((e) => render(e)).join(', ')}`,
        field: path,
      });
    }
    if (typeof value === 'number') {
      if (
        schema.minimum !== undefined &&
        (schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum)
      )
        this.invalid(
          path,
          value,
          `${path} in body should be greater than ${schema.exclusiveMinimum ? '' : 'or equal to '}${schema.minimum}`,
        );
      if (
        schema.maximum !== undefined &&
        (schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum)
      )
        this.invalid(
          path,
          value,
          `${path} in body should be less than ${schema.exclusiveMaximum ? '' : 'or equal to '}${schema.maximum}`,
        );
    }
    if (typeof value === 'string') {
      if (schema.maxLength !== undefined && value.length > schema.maxLength)
        this.causes.push({
          reason: 'FieldValueTooLong',
          message: `Too long: may not be more than ${schema.maxLength} bytes`,
          field: path,
        });
      if (schema.minLength !== undefined && value.length < schema.minLength)
        this.invalid(path, value, `${path} in body should be at least ${schema.minLength} chars long`);
      if (schema.pattern !== undefined && !safeRegExp(schema.pattern)?.test(value))
        this.invalid(path, value, `${path} in body should match '${schema.pattern}'`);
    }
    if (Array.isArray(value)) {
      if (schema.maxItems !== undefined && value.length > schema.maxItems)
        this.causes.push({
          reason: 'FieldValueTooMany',
          message: `Too many: ${value.length}: must have at most ${schema.maxItems} items`,
          field: path,
        });
      if (schema.minItems !== undefined && value.length < schema.minItems)
        this.invalid(path, value.length, `${path} in body should have at least ${schema.minItems} items`);
    }
    if (isMap(value)) {
      const count = Object.keys(value).length;
      if (schema.maxProperties !== undefined && count > schema.maxProperties)
        this.causes.push({
          reason: 'FieldValueTooMany',
          message: `Too many: ${count}: must have at most ${schema.maxProperties} items`,
          field: path,
        });
      if (schema.minProperties !== undefined && count < schema.minProperties)
        this.invalid(path, count, `${path} in body should have at least ${schema.minProperties} properties`);
    }
  }

  private walkObject(schema: OpenApiSchema, value: JsonMap, path: string): JsonMap {
    const properties = schema.properties ?? {};
    const additional = schema.additionalProperties;
    const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
    const out: JsonMap = {};
    for (const [key, child] of Object.entries(value)) {
      const childPath = join(path, key);
      const declared = properties[key];
      if (declared) {
        const result = this.walk(declared, child, childPath);
        if (result !== undefined) out[key] = result;
      } else if (isMap(additional)) {
        const result = this.walk(additional, child, childPath);
        if (result !== undefined) out[key] = result;
      } else if (additional === true || preserve || schema['x-kubernetes-embedded-resource']) {
        out[key] = child;
      } else {
        this.unknownFields.push(childPath);
      }
    }
    for (const [key, sub] of Object.entries(properties)) {
      if (out[key] === undefined && sub.default !== undefined)
        out[key] = this.walk(sub, structuredClone(sub.default), join(path, key));
    }
    for (const key of schema.required ?? []) {
      if (out[key] === undefined)
        this.causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: join(path, key) });
    }
    return out;
  }
}

const regexCache = new Map<string, RegExp | undefined>();

function safeRegExp(pattern: string): RegExp | undefined {
  if (!regexCache.has(pattern)) {
    try {
      regexCache.set(pattern, new RegExp(pattern, 'u'));
    } catch {
      regexCache.set(pattern, undefined);
    }
  }
  return regexCache.get(pattern);
}

/**
 * Validates an object against a CRD's openAPIV3Schema the way the API server does for structural
 * schemas: type, required, enum, bounds, patterns; unknown fields are pruned (and reported), defaults
 * are applied. apiVersion, kind and metadata at the root are always kept.
 */
export function validateAgainstSchema(schema: OpenApiSchema | undefined, object: JsonMap): SchemaResult {
  if (!schema) return { value: object, causes: [], unknownFields: [] };
  const walker = new Walker();
  const { apiVersion, kind, metadata, ...rest } = object;
  const rootSchema: OpenApiSchema = { ...schema, properties: { ...(schema.properties ?? {}) } };
  delete rootSchema.properties!.metadata;
  delete rootSchema.properties!.apiVersion;
  delete rootSchema.properties!.kind;
  const body = walker.walk(rootSchema, rest, '') as JsonMap;
  return {
    value: { apiVersion, kind, metadata, ...body },
    causes: walker.causes,
    unknownFields: walker.unknownFields,
  };
}
