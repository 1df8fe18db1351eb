import { parser } from '@prometheus-io/lezer-promql';
import { FLAGGER_ONLY_PLACEHOLDERS, TEMPLATE_VARIABLES } from './constants.ts';
import { NOT_SUPPORTED } from './flagger-compat.ts';
import type { ValidationIssue } from './issues.ts';

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const VARIABLE_NAME = /^variables\.[A-Za-z_][A-Za-z0-9_]*$/;
const knownVariables: readonly string[] = TEMPLATE_VARIABLES;

interface Segment {
  /** Start of this piece in the original query and in the substituted one. */
  originalStart: number;
  originalLength: number;
  substitutedStart: number;
  substitutedLength: number;
}

/**
 * Replaces every `{{ ... }}` with a stand-in PromQL accepts in that position: a duration inside
 * a range or subquery selector, a plain word inside a string literal, a number elsewhere.
 * Returns the substituted text and a map back to the original offsets.
 */
export function substitutePlaceholders(query: string): { text: string; toOriginal(offset: number): number } {
  const segments: Segment[] = [];
  let text = '';
  let last = 0;
  for (const match of query.matchAll(PLACEHOLDER)) {
    const start = match.index;
    text += query.slice(last, start);
    const standIn = standInFor(query, start);
    segments.push({
      originalStart: start,
      originalLength: match[0].length,
      substitutedStart: text.length,
      substitutedLength: standIn.length,
    });
    text += standIn;
    last = start + match[0].length;
  }
  text += query.slice(last);

  const toOriginal = (offset: number): number => {
    let shift = 0;
    for (const segment of segments) {
      if (offset < segment.substitutedStart) break;
      if (offset < segment.substitutedStart + segment.substitutedLength) return segment.originalStart;
      shift =
        segment.originalStart +
        segment.originalLength -
        (segment.substitutedStart + segment.substitutedLength);
    }
    return offset + shift;
  };
  return { text, toOriginal };
}

function standInFor(query: string, offset: number): string {
  if (insideStringLiteral(query, offset)) return 'placeholder';
  const before = query.slice(0, offset).trimEnd();
  const previous = before.at(-1);
  if (previous === '[' || previous === ':') return '1m';
  return '1';
}

function insideStringLiteral(query: string, offset: number): boolean {
  let quote: string | undefined;
  for (let i = 0; i < offset; i++) {
    const ch = query[i]!;
    if (quote) {
      if (ch === '\\' && quote !== '`') i++;
      else if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'" || ch === '`') {
      quote = ch;
    }
  }
  return quote !== undefined;
}

export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before.at(-1)!.length + 1 };
}

/**
 * Checks a MetricTemplate query: placeholders must be known and the PromQL, once placeholders
 * are replaced, must parse. Positions are line:column within the query as written.
 */
export function checkPromQLTemplate(query: string, path = 'spec.query'): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const match of query.matchAll(PLACEHOLDER)) {
    const name = match[1]!;
    if (!knownVariables.includes(name) && !VARIABLE_NAME.test(name)) {
      const { line, column } = lineAndColumn(query, match.index);
      const flaggerOnly = FLAGGER_ONLY_PLACEHOLDERS[name];
      if (flaggerOnly) {
        issues.push({
          path,
          message: `${NOT_SUPPORTED}: placeholder ${match[0]} at line ${line}, column ${column} (${flaggerOnly}); use {{ target }}, {{ service }} or {{ variables.NAME }}`,
        });
        continue;
      }
      issues.push({
        path,
        message: `unknown placeholder ${match[0]} at line ${line}, column ${column} of the query: use ${TEMPLATE_VARIABLES.map((v) => `{{ ${v} }}`).join(', ')} or {{ variables.NAME }}`,
      });
    }
  }
  const { text, toOriginal } = substitutePlaceholders(query);
  const errorAt = firstSyntaxError(text);
  if (errorAt !== undefined) {
    const offset = Math.min(toOriginal(errorAt), query.length);
    const { line, column } = lineAndColumn(query, offset);
    const near = query.slice(offset, offset + 20).split('\n')[0];
    issues.push({
      path,
      message: `PromQL does not parse at line ${line}, column ${column} of the query (${near ? `near ${JSON.stringify(near)}` : 'unexpected end of query'})`,
    });
  }
  return issues;
}

function firstSyntaxError(text: string): number | undefined {
  let first: number | undefined;
  parser.parse(text).iterate({
    enter(node) {
      if (first !== undefined) return false;
      if (node.type.isError) {
        first = node.from;
        return false;
      }
      return undefined;
    },
  });
  return first;
}
