import { z } from 'zod';
import { objectMetaSchema } from './common.ts';
import { PETREL_API_VERSION } from './constants.ts';
import { describeValue, type ValidationResult, validateWith } from './issues.ts';
import { labelSelectorSchema } from './label-selector.ts';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 instant with an explicit offset (`2026-12-20T00:00:00+01:00` or `...Z`). */
const instantSchema = z
  .string()
  .regex(RFC3339, {
    abort: true,
    error: (issue) =>
      `must be an RFC 3339 time with an offset, such as 2026-12-20T00:00:00+01:00 (got ${describeValue(issue.input)})`,
  })
  .check((ctx) => {
    if (!Number.isFinite(Date.parse(ctx.value))) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `is not a real date (got ${describeValue(ctx.value)})`,
      });
    }
  });

export const releaseFreezeSpecSchema = z
  .strictObject({
    selector: labelSelectorSchema
      .describe("Which Canaries in the freeze's namespace it holds; empty or unset selects all of them.")
      .optional(),
    start: instantSchema
      .describe('RFC 3339 time the freeze begins; unset, it holds from its creation.')
      .optional(),
    end: instantSchema
      .describe('RFC 3339 time the freeze ends (exclusive); unset, it holds until it is deleted.')
      .optional(),
    reason: z.string().min(1).max(1024).describe('Why, shown on every Canary it holds.').optional(),
  })
  .check((ctx) => {
    const { start, end } = ctx.value;
    if (start === undefined || end === undefined) return;
    const from = Date.parse(start);
    const to = Date.parse(end);
    if (Number.isFinite(from) && Number.isFinite(to) && to <= from) {
      ctx.issues.push({
        code: 'custom',
        input: end,
        path: ['end'],
        message: `must be after start (${start} >= ${end})`,
      });
    }
  });

/**
 * A ReleaseFreeze blocks new rollouts of the Canaries it selects, between `start` and `end` or while it
 * exists. Rollouts already in flight go on (their steps follow spec.releaseWindows only).
 */
export const releaseFreezeSchema = z.object({
  apiVersion: z.literal(PETREL_API_VERSION),
  kind: z.literal('ReleaseFreeze'),
  metadata: objectMetaSchema,
  spec: releaseFreezeSpecSchema,
});

export type ReleaseFreeze = z.output<typeof releaseFreezeSchema>;
export type ReleaseFreezeInput = z.input<typeof releaseFreezeSchema>;
export type ReleaseFreezeSpec = z.output<typeof releaseFreezeSpecSchema>;

export function validateReleaseFreeze(input: unknown): ValidationResult<ReleaseFreeze> {
  return validateWith(releaseFreezeSchema, input);
}
