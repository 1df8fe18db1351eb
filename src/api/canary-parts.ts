import { z } from 'zod';
import { celRules, THRESHOLD_RANGE_CEL_RULES } from './canary-rules.ts';
import { dnsSubdomainSchema, durationSchema, intAtLeast } from './common.ts';
import { NOT_SUPPORTED } from './flagger-compat.ts';

/** Small schemas of the Canary spec, kept apart so canary.ts stays readable. */

export const targetRefSchema = z
  .strictObject({
    apiVersion: z
      .literal('apps/v1', {
        error: (issue) =>
          `${NOT_SUPPORTED}: targetRef.apiVersion ${JSON.stringify(issue.input)}; Petrel rolls out apps/v1 Deployments only`,
      })
      .optional(),
    kind: z.literal('Deployment', {
      error: (issue) =>
        issue.input === undefined
          ? 'required'
          : `${NOT_SUPPORTED}: targetRef.kind ${JSON.stringify(issue.input)}; Petrel rolls out Deployments only (Flagger's DaemonSet and Service targets have no equivalent)`,
    }),
    name: dnsSubdomainSchema().describe("Name of the Deployment in the Canary's namespace."),
  })
  .describe(
    'The Deployment to roll out. Petrel copies it to <name>-primary and scales it to zero between rollouts.',
  );

export const autoscalerRefSchema = z
  .strictObject({
    apiVersion: z
      .enum(['autoscaling/v2', 'autoscaling/v2beta2', 'autoscaling/v2beta1'], {
        error: (issue) =>
          `${NOT_SUPPORTED}: autoscalerRef.apiVersion ${JSON.stringify(issue.input)}; use a HorizontalPodAutoscaler (autoscaling/v2)`,
      })
      .describe('Any served version: Petrel reads and copies the HPA through autoscaling/v2.')
      .optional(),
    kind: z.literal('HorizontalPodAutoscaler', {
      error: (issue) =>
        issue.input === undefined
          ? 'required'
          : `${NOT_SUPPORTED}: autoscalerRef.kind ${JSON.stringify(issue.input)}; use a HorizontalPodAutoscaler (KEDA ScaledObjects are not copied for the primary)`,
    }),
    name: dnsSubdomainSchema(),
  })
  .describe('A HorizontalPodAutoscaler for the target; Petrel gives the primary its own copy.');

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
