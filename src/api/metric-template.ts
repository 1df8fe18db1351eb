import { z } from 'zod';
import { httpUrlSchema, objectMetaSchema, secretRefSchema } from './common.ts';
import { METRIC_PROVIDER_TYPES, PETREL_API_VERSION } from './constants.ts';
import { type ValidationResult, validateWith } from './issues.ts';

export const metricTemplateProviderSchema = z.strictObject({
  type: z.enum(METRIC_PROVIDER_TYPES),
  /** Prometheus base URL; the controller's default Prometheus is used when absent. */
  address: httpUrlSchema.optional(),
  /** Secret with `username`/`password` or `token` keys for the metrics server. */
  secretRef: secretRefSchema.optional(),
  insecureSkipVerify: z.boolean().optional(),
});

export const metricTemplateSpecSchema = z.strictObject({
  provider: metricTemplateProviderSchema,
  /** PromQL with `{{ namespace }}`, `{{ target }}`, `{{ interval }}` and `{{ variables.NAME }}` placeholders. */
  query: z.string().trim().min(1),
});

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
  return validateWith(metricTemplateSchema, input);
}
