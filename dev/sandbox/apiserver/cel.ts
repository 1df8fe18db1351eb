import { isDeepStrictEqual } from 'node:util';
import { type CelInput, isCelError, parse, run } from '@bufbuild/cel';
import type { StatusCause } from './errors.ts';
import type { OpenApiSchema } from './types.ts';

/** One x-kubernetes-validations entry of a CRD schema. */
interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: string;
  optionalOldSelf?: boolean;
}

type Json = unknown;

function isMap(value: Json): value is Record<string, Json> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The CEL value of a JSON value, typed by its schema as the API server types it: integers are CEL
 * ints, other numbers doubles, objects maps (so `has(self.x)` tests presence and `self.x` selects).
 */
export function toCel(schema: OpenApiSchema | undefined, value: Json): CelInput {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map((item) => toCel(schema?.items, item));
  if (isMap(value)) {
    const out = new Map<string, CelInput>();
    const additional = isMap(schema?.additionalProperties)
      ? (schema?.additionalProperties as OpenApiSchema)
      : undefined;
    for (const [key, child] of Object.entries(value))
      out.set(key, toCel(schema?.properties?.[key] ?? additional, child));
    return out;
  }
  if (typeof value === 'number') {
    const integer =
      schema?.type === 'integer' || (schema?.['x-kubernetes-int-or-string'] && Number.isInteger(value));
    return integer ? BigInt(value) : value;
  }
  return value as CelInput;
}

/** "Invalid value" is how the API server shows an object or list that failed a rule. */
function shown(value: Json): string {
  return isMap(value) || Array.isArray(value) ? '"object"' : JSON.stringify(value);
}

function causeFor(rule: ValidationRule, path: string, value: Json, message: string): StatusCause {
  const field = rule.fieldPath ? `${path}${rule.fieldPath}` : path;
  switch (rule.reason) {
    case 'FieldValueForbidden':
      return { reason: 'FieldValueForbidden', message: `Forbidden: ${message}`, field };
    case 'FieldValueRequired':
      return { reason: 'FieldValueRequired', message: `Required value: ${message}`, field };
    case 'FieldValueDuplicate':
      return { reason: 'FieldValueDuplicate', message: `Duplicate value: ${message}`, field };
    default:
      return { reason: 'FieldValueInvalid', message: `Invalid value: ${shown(value)}: ${message}`, field };
  }
}

/**
 * Evaluates the x-kubernetes-validations rules of a CRD schema the way the API server does: on every
 * node that has rules and a value, with `self` the value and, on an update, `oldSelf` the stored value.
 * Transition rules (those naming oldSelf) run only on updates where the old value exists, unless
 * optionalOldSelf is set. As with CRD validation ratcheting (on by default since Kubernetes 1.30), a
 * value unchanged by an update is not re-checked. `value` is the object after pruning and defaulting.
 */
export function celCauses(
  schema: OpenApiSchema | undefined,
  value: Json,
  old: Json,
  path = '',
): StatusCause[] {
  const causes: StatusCause[] = [];
  visit(schema, value, old, path, causes);
  return causes;
}

/**
 * What the API server adds to a schema refusal when the schema has CEL rules: they were not run (field
 * `<nil>`, as kube-apiserver words it).
 */
export function celSkippedCause(schema: OpenApiSchema | undefined): StatusCause[] {
  if (!hasRules(schema)) return [];
  return [
    {
      reason: 'FieldValueInvalid',
      message:
        'Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
      field: '<nil>',
    },
  ];
}

function hasRules(schema: unknown): boolean {
  if (!schema || typeof schema !== 'object') return false;
  if (Array.isArray(schema)) return schema.some(hasRules);
  const node = schema as Record<string, unknown>;
  if (Array.isArray(node['x-kubernetes-validations']) && node['x-kubernetes-validations'].length > 0)
    return true;
  return Object.values(node).some(hasRules);
}

function visit(
  schema: OpenApiSchema | undefined,
  value: Json,
  old: Json,
  path: string,
  causes: StatusCause[],
): void {
  if (!schema || value === undefined || value === null) return;
  if (old !== undefined && isDeepStrictEqual(value, old)) return;
  const rules = schema['x-kubernetes-validations'] as ValidationRule[] | undefined;
  for (const rule of rules ?? []) {
    const transition = /\boldSelf\b/.test(rule.rule);
    if (transition && old === undefined && !rule.optionalOldSelf) continue;
    const bindings: Record<string, CelInput> = { self: toCel(schema, value) };
    if (transition) bindings.oldSelf = old === undefined ? null : toCel(schema, old);
    const result = run(rule.rule, bindings);
    if (isCelError(result)) {
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${shown(value)}: rule evaluation error: ${result.message}`,
        field: path,
      });
    } else if (result !== true) {
      causes.push(causeFor(rule, path, value, messageOf(rule, bindings)));
    }
  }
  if (Array.isArray(value)) {
    const oldItems = Array.isArray(old) ? old : [];
    value.forEach((item, index) => {
      visit(schema.items, item, oldItems[index], `${path}[${index}]`, causes);
    });
  } else if (isMap(value)) {
    const oldMap = isMap(old) ? old : {};
    const additional = isMap(schema.additionalProperties)
      ? (schema.additionalProperties as OpenApiSchema)
      : undefined;
    for (const [key, child] of Object.entries(value)) {
      const childSchema = schema.properties?.[key] ?? additional;
      visit(childSchema, child, oldMap[key], path ? `${path}.${key}` : key, causes);
    }
  }
}

/** messageExpression when it yields a non-empty string (as the API server requires), else message. */
function messageOf(rule: ValidationRule, bindings: Record<string, CelInput>): string {
  if (rule.messageExpression) {
    const result = run(rule.messageExpression, bindings);
    if (typeof result === 'string' && result.trim() !== '') return result;
  }
  return rule.message ?? `failed rule: ${rule.rule}`;
}

/**
 * A CRD whose x-kubernetes-validations do not compile is refused at creation, as the API server does
 * (`spec.validation.openAPIV3Schema...x-kubernetes-validations[0].rule: Invalid value: ...: compilation
 * failed`). Only syntax is checked here, not types against the schema.
 */
export function celRuleCompileCauses(schema: unknown, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const visit = (node: unknown, at: string): void => {
    if (!isMap(node)) return;
    const rules = node['x-kubernetes-validations'];
    if (Array.isArray(rules)) {
      rules.forEach((rule, index) => {
        const field = `${at}.x-kubernetes-validations[${index}]`;
        const { rule: expr, messageExpression } = (isMap(rule) ? rule : {}) as Partial<ValidationRule>;
        for (const [key, text] of [
          ['rule', expr],
          ['messageExpression', messageExpression],
        ] as const) {
          if (key === 'messageExpression' && text === undefined) continue;
          try {
            if (typeof text !== 'string' || text.trim() === '') throw new Error('must not be empty');
            parse(text);
          } catch (error) {
            causes.push({
              reason: 'FieldValueInvalid',
              message: `Invalid value: ${JSON.stringify(text ?? null)}: compilation failed: ${(error as Error).message}`,
              field: `${field}.${key}`,
            });
          }
        }
      });
    }
    for (const [key, child] of Object.entries((node.properties ?? {}) as Record<string, unknown>))
      visit(child, `${at}.properties[${key}]`);
    if (node.items) visit(node.items, `${at}.items`);
    if (isMap(node.additionalProperties)) visit(node.additionalProperties, `${at}.additionalProperties`);
  };
  visit(schema, path);
  return causes;
}
