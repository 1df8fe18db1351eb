import { describeValue, type ValidationIssue } from './issues.ts';

type Schema = { [key: string]: unknown };

/**
 * Checks a value against a structural CRD schema the way the API server would on create:
 * types, required fields, enums, patterns, bounds, and fields the server would prune
 * (reported, since pruning silently loses them). Covers the subset of OpenAPI v3 that
 * `petrel crds` emits; not a general JSON Schema validator.
 */
export function validateAgainstCrdSchema(schema: Schema, value: unknown, path = ''): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  visit(schema, value, path, issues);
  return issues;
}

function visit(schema: Schema, value: unknown, path: string, issues: ValidationIssue[]): void {
  const fail = (message: string): void => {
    issues.push({ path, message });
  };
  if (schema['x-kubernetes-int-or-string'] === true) {
    if (!(typeof value === 'string' || Number.isInteger(value)))
      fail(`must be an integer or string (got ${describeValue(value)})`);
    return;
  }
  switch (schema.type) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        fail(`must be an object (got ${describeValue(value)})`);
        return;
      }
      const record = value as Record<string, unknown>;
      for (const name of (schema.required as string[] | undefined) ?? []) {
        if (!(name in record)) issues.push({ path: join(path, name), message: 'required' });
      }
      const properties = schema.properties as Record<string, Schema> | undefined;
      const additional = schema.additionalProperties as Schema | undefined;
      for (const [name, child] of Object.entries(record)) {
        const childSchema = properties?.[name] ?? additional;
        if (childSchema) visit(childSchema, child, join(path, name), issues);
        else if (schema['x-kubernetes-preserve-unknown-fields'] !== true && properties) {
          issues.push({ path: join(path, name), message: 'unknown field: the API server would prune it' });
        }
      }
      return;
    }
    case 'array': {
      if (!Array.isArray(value)) {
        fail(`must be an array (got ${describeValue(value)})`);
        return;
      }
      if (typeof schema.minItems === 'number' && value.length < schema.minItems)
        fail(`must have at least ${schema.minItems} items`);
      if (typeof schema.maxItems === 'number' && value.length > schema.maxItems)
        fail(`must have at most ${schema.maxItems} items`);
      value.forEach((item, index) => {
        visit(schema.items as Schema, item, `${path}[${index}]`, issues);
      });
      return;
    }
    case 'string': {
      if (typeof value !== 'string') {
        fail(`must be a string (got ${describeValue(value)})`);
        return;
      }
      if (typeof schema.minLength === 'number' && value.length < schema.minLength)
        fail(`shorter than ${schema.minLength}`);
      if (typeof schema.maxLength === 'number' && value.length > schema.maxLength)
        fail(`longer than ${schema.maxLength}`);
      if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern).test(value))
        fail(`does not match ${schema.pattern}`);
      break;
    }
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || (schema.type === 'integer' && !Number.isInteger(value))) {
        fail(
          `must be ${schema.type === 'integer' ? 'an integer' : 'a number'} (got ${describeValue(value)})`,
        );
        return;
      }
      if (typeof schema.minimum === 'number' && value < schema.minimum) fail(`must be >= ${schema.minimum}`);
      if (typeof schema.maximum === 'number' && value > schema.maximum) fail(`must be <= ${schema.maximum}`);
      break;
    }
    case 'boolean':
      if (typeof value !== 'boolean') {
        fail(`must be a boolean (got ${describeValue(value)})`);
        return;
      }
      break;
    default:
      if (schema['x-kubernetes-preserve-unknown-fields'] !== true)
        fail(`schema has unsupported type ${String(schema.type)}`);
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value))
    fail(`must be one of ${schema.enum.join(', ')}`);
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}
