import type { ValidationIssue } from './issues.ts';

/** The most an InvalidSpec message (condition, event, log line) may take, in UTF-8 bytes. */
export const MAX_SUMMARY_BYTES = 1024;
/**
 * One problem is cut to this many characters, so a huge value or field name cannot crowd out the rest. The
 * middle goes: a problem starts with the field and ends with the fix, and a value sits in between.
 */
export const MAX_PROBLEM_CHARS = 300;
const KEPT_TAIL_CHARS = 120;
const SEPARATOR = '; ';
/** Room kept for the " … and N more problems" tail. */
const TAIL_RESERVE = 40;
const ELLIPSIS = '…';

export const NO_DETAILS = 'the spec is invalid but no problem was named: check it with `petrel lint`';

/**
 * One bounded line for an invalid spec: the first problems that fit in `maxBytes`, each cut to
 * MAX_PROBLEM_CHARS, then how many more there were. Never empty.
 *
 * Example: 40 problems of 60 characters → "spec.a[0]: …; spec.a[1]: …; … (14 of them) … and 26 more problems"
 * in under 1 KiB; one problem quoting a 1 MB metric name → its first 179 and last 120 characters around "…".
 */
export function summarizeIssues(
  issues: readonly (ValidationIssue | string)[],
  maxBytes: number = MAX_SUMMARY_BYTES,
): string {
  const problems = issues.map(problemText).filter((p) => p.length > 0);
  if (problems.length === 0) return NO_DETAILS;
  const budget = maxBytes - TAIL_RESERVE;
  let out = '';
  let shown = 0;
  for (const problem of problems) {
    const next = out ? `${out}${SEPARATOR}${problem}` : problem;
    if (Buffer.byteLength(next) > budget) break;
    out = next;
    shown++;
  }
  // A first problem wider than the budget (multi-byte characters) is cut further rather than left out.
  if (shown === 0) {
    out = truncateBytes(problems[0] ?? '', budget);
    shown = 1;
  }
  const more = problems.length - shown;
  return more > 0 ? `${out} ${ELLIPSIS} and ${more} more problem${more === 1 ? '' : 's'}` : out;
}

function problemText(issue: ValidationIssue | string): string {
  const raw =
    typeof issue === 'string' ? issue : issue.path ? `${issue.path}: ${issue.message}` : issue.message;
  // Only both ends are ever shown: cut before the whitespace pass so a megabyte costs nothing.
  const window = MAX_PROBLEM_CHARS * 4;
  const cut = raw.length > 2 * window;
  const text = cut ? `${raw.slice(0, window)}${ELLIPSIS}${raw.slice(-window)}` : raw;
  const chars = Array.from(text.replace(/\s+/g, ' ').trim());
  if (chars.length <= MAX_PROBLEM_CHARS) return chars.join('');
  const head = chars.slice(0, MAX_PROBLEM_CHARS - KEPT_TAIL_CHARS - 1).join('');
  const tail = chars.slice(-KEPT_TAIL_CHARS).join('');
  return `${head}${ELLIPSIS}${tail}`;
}

function truncateBytes(text: string, maxBytes: number): string {
  const chars = Array.from(text);
  while (chars.length > 0 && Buffer.byteLength(`${chars.join('')}${ELLIPSIS}`) > maxBytes) chars.pop();
  return `${chars.join('')}${ELLIPSIS}`;
}
