import { z } from 'zod';

export const LABEL_SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/** A Kubernetes metav1.LabelSelector: every matchLabels pair and every expression must hold. */
export const labelSelectorSchema = z.strictObject({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z
    .array(
      z
        .strictObject({
          key: z.string().min(1),
          operator: z.enum(LABEL_SELECTOR_OPERATORS),
          values: z.array(z.string()).optional(),
        })
        .check((ctx) => {
          const { operator, values } = ctx.value;
          const needsValues = operator === 'In' || operator === 'NotIn';
          if (needsValues && (values ?? []).length === 0) {
            ctx.issues.push({
              code: 'custom',
              input: ctx.value,
              path: ['values'],
              message: `required: operator ${operator} needs at least one value`,
            });
          } else if (!needsValues && (values ?? []).length > 0) {
            ctx.issues.push({
              code: 'custom',
              input: ctx.value,
              path: ['values'],
              message: `must be empty for operator ${operator}`,
            });
          }
        }),
    )
    .optional(),
});

export type LabelSelector = z.output<typeof labelSelectorSchema>;

/**
 * Whether `labels` satisfy `selector`, with Kubernetes semantics: an absent or empty selector
 * selects everything.
 * Example: `{ matchLabels: { team: 'pay' } }` selects `{ team: 'pay', tier: 'web' }`, not `{ team: 'ops' }`.
 */
export function matchesLabelSelector(
  selector: LabelSelector | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  const have = labels ?? {};
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
    if (have[key] !== value) return false;
  }
  for (const { key, operator, values } of selector?.matchExpressions ?? []) {
    const present = Object.hasOwn(have, key);
    const listed = present && (values ?? []).includes(have[key]!);
    if (operator === 'In' && !listed) return false;
    if (operator === 'NotIn' && listed) return false;
    if (operator === 'Exists' && !present) return false;
    if (operator === 'DoesNotExist' && present) return false;
  }
  return true;
}
