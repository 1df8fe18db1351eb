import { z } from 'zod';
import { checkRelativeTemplate, totalQueryField } from './analysis-spec.ts';
import { httpUrlSchema, objectMetaSchema, secretRefSchema } from './common.ts';
import { METRIC_PROVIDER_TYPES, PETREL_API_VERSION } from './constants.ts';
import { flaggerFieldMessage, METRIC_PROVIDER_HINT, NOT_SUPPORTED } from './flagger-compat.ts';
import { type ValidationResult, validateWith } from './issues.ts';

export const metricTemplateProviderSchema = z.strictObject({
  type: z.enum(METRIC_PROVIDER_TYPES, {
    error: (issue) =>
      issue.input === undefined
        ? 'required'
        : `${NOT_SUPPORTED}: metrics provider type ${JSON.stringify(issue.input)}; ${METRIC_PROVIDER_HINT}`,
  }),
  address: httpUrlSchema
    .describe("Prometheus base URL; the controller's default Prometheus when absent.")
    .optional(),
  secretRef: secretRefSchema
    .describe('Secret with username/password or token keys for the metrics server.')
    .optional(),
  insecureSkipVerify: z.boolean().describe('Skip TLS certificate verification.').optional(),
});

export const metricTemplateSpecSchema = z
  .strictObject({
    provider: metricTemplateProviderSchema,
    query: z
      .string()
      .trim()
      .min(1)
      .describe(
        'PromQL returning one number, with {{ namespace }}, {{ name }}, {{ target }}, {{ service }}, {{ interval }}, {{ workload }} and {{ variables.NAME }} placeholders.',
      ),
    totalQuery: totalQueryField,
  })
  .check(checkRelativeTemplate);

export const metricTemplateSchema = z.object({
  apiVersion: z.literal(PETREL_API_VERSION),
  kind: z.literal('MetricTemplate'),
  metadata: objectMetaSchema,
  spec: metricTemplateSpecSchema,
});

export type MetricTemplate = z.output<typeof metricTemplateSchema>;
export type MetricTemplateInput = z.input<typeof metricTemplateSchema>;
export type MetricTemplateSpec = z.output<typeof metricTemplateSpecSchema>;
export type MetricTemplateProvider = z.output<typeof metricTemplateProviderSchema>;

export function validateMetricTemplate(input: unknown): ValidationResult<MetricTemplate> {
  return validateWith(metricTemplateSchema, input, (path) => flaggerFieldMessage('MetricTemplate', path));
}
