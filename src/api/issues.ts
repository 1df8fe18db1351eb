import type { z } from 'zod';

/** One problem with a resource: a dotted field path (`spec.analysis.metrics[0].name`) and what is wrong. */
export interface ValidationIssue {
  path: string;
  message: string;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

/** A resource that failed validation: terminal for the object until someone edits it. */
export class InvalidSpecError extends Error {
  readonly code = 'INVALID_SPEC';
  override readonly name = 'InvalidSpecError';
  constructor(
    readonly kind: string,
    readonly issues: ValidationIssue[],
  ) {
    super(
      `invalid ${kind}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`,
    );
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && IDENTIFIER.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

/** The message for a field the schema does not know but another tool does (Flagger's), by its dotted path. */
export type UnknownFieldExplainer = (path: string) => string | undefined;

/**
 * Flattens a ZodError into path/message pairs. Unknown keys become one entry per key so each
 * line names the offending field. Messages are the friendly ones when the error came from one
 * of the validate* functions (they parse with `petrelErrorMap`).
 */
export function formatIssues(error: z.ZodError, unknownField?: UnknownFieldExplainer): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = formatPath([...issue.path, key]);
        out.push({ path, message: unknownField?.(path) ?? 'unknown field: remove it or check its spelling' });
      }
    } else {
      out.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return out;
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return String(value);
}

/** Error map used by every validate* function: short messages that say what is expected and what was found. */
export const petrelErrorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'required';
      if (issue.expected === 'int') return `must be a whole number (got ${describeValue(issue.input)})`;
      return `must be ${article(issue.expected)} (got ${describeValue(issue.input)})`;
    }
    case 'invalid_value': {
      if (issue.input === undefined) return 'required';
      const values = issue.values.map((v) => JSON.stringify(v));
      const expected = values.length === 1 ? values[0] : `one of ${values.join(', ')}`;
      return `must be ${expected} (got ${describeValue(issue.input)})`;
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'string')
        return min === 1 ? 'must not be empty' : `must have at least ${min} characters`;
      if (issue.origin === 'array') return `must have at least ${min} item${min === 1 ? '' : 's'}`;
      return `must be ${issue.inclusive ? '>=' : '>'} ${min} (got ${describeValue(issue.input)})`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'string') return `must have at most ${max} characters`;
      if (issue.origin === 'array') return `must have at most ${max} item${max === 1 ? '' : 's'}`;
      return `must be ${issue.inclusive ? '<=' : '<'} ${max} (got ${describeValue(issue.input)})`;
    }
    case 'invalid_format': {
      // URLs of webhooks and chat services often embed a token, so the value is not echoed.
      if (issue.format === 'url')
        return 'must be an absolute http or https URL (value not shown: it may hold a credential)';
      if (issue.format === 'regex') return undefined; // schemas give their own wording for patterns
      return `must be a valid ${issue.format} (got ${describeValue(issue.input)})`;
    }
    case 'invalid_key':
      return 'keys must be strings';
    case 'invalid_element':
      return 'values must be strings';
    default:
      return undefined;
  }
};

function article(type: string): string {
  if (type === 'array') return 'a list';
  if (type === 'object') return 'an object';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Parses `input` with the friendly messages; never throws for bad input. */
export function validateWith<S extends z.ZodType>(
  schema: S,
  input: unknown,
  unknownField?: UnknownFieldExplainer,
): ValidationResult<z.output<S>> {
  const result = schema.safeParse(input, { error: petrelErrorMap });
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: formatIssues(result.error, unknownField) };
}

/** The items of a list that parse with `schema`, the rest dropped: for parts of an object that failed as a whole. */
export function validItems<S extends z.ZodType>(schema: S, list: unknown): z.output<S>[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((item) => {
    const parsed = schema.safeParse(item);
    return parsed.success ? [parsed.data as z.output<S>] : [];
  });
}
