import { z } from 'zod';
import { celRules, THRESHOLD_RANGE_CEL_RULES } from './canary-rules.ts';
import { durationSchema, intAtLeast } from './common.ts';

/** Small schemas of the Canary spec, kept apart so canary.ts stays readable. */

export const httpRetrySchema = z.strictObject({
  attempts: intAtLeast(0).optional(),
  perTryTimeout: durationSchema().optional(),
  retryOn: z.string().optional(),
});

export const thresholdRangeSchema = z
  .strictObject({
    min: z.number().describe('The check fails when the value is below min.').optional(),
    max: z.number().describe('The check fails when the value is above max.').optional(),
  })
  .check((ctx) => {
    const { min, max } = ctx.value;
    if (min === undefined && max === undefined) {
      ctx.issues.push({ code: 'custom', input: ctx.value, message: 'set min, max or both' });
    } else if (min !== undefined && max !== undefined && min > max) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        path: ['min'],
        message: `must not be greater than max (${min} > ${max})`,
      });
    }
  })
  .meta(celRules(THRESHOLD_RANGE_CEL_RULES));

/** A list check: every item's name is unique (metrics, webhooks, alerts). */
export function uniqueNames(what: string) {
  return (ctx: z.core.ParsePayload<{ name: string }[]>) => {
    const seen = new Set<string>();
    ctx.value.forEach((item, index) => {
      if (seen.has(item.name)) {
        ctx.issues.push({
          code: 'custom',
          input: item.name,
          path: [index, 'name'],
          message: `duplicate ${what} name "${item.name}": names must be unique`,
        });
      }
      seen.add(item.name);
    });
  };
}
