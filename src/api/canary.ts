import { z } from 'zod';
import {
  crossNamespaceRefSchema,
  dnsSubdomainSchema,
  durationSchema,
  freeFormObjectSchema,
  httpUrlSchema,
  intAtLeast,
  intInRange,
  objectMetaSchema,
  stringMapSchema,
  weightSchema,
} from './common.ts';
import {
  ALERT_SEVERITIES,
  BUILTIN_METRICS,
  CANARY_DEFAULTS,
  CANARY_PHASES,
  CANARY_PROVIDERS,
  MAX_HISTORY_ENTRIES,
  PETREL_API_VERSION,
  WEBHOOK_TYPES,
} from './constants.ts';
import { type ValidationResult, validateWith } from './issues.ts';

const builtinMetricNames: readonly string[] = BUILTIN_METRICS;

export const targetRefSchema = z.strictObject({
  apiVersion: z.literal('apps/v1').optional(),
  kind: z.literal('Deployment'),
  name: dnsSubdomainSchema(),
});

export const autoscalerRefSchema = z.strictObject({
  apiVersion: z.enum(['autoscaling/v2', 'autoscaling/v2beta2']).optional(),
  kind: z.literal('HorizontalPodAutoscaler'),
  name: dnsSubdomainSchema(),
});

export const httpRetrySchema = z.strictObject({
  attempts: intAtLeast(0).optional(),
  perTryTimeout: durationSchema().optional(),
  retryOn: z.string().optional(),
});

export const canaryServiceSchema = z.strictObject({
  port: intInRange(1, 65535),
  targetPort: z
    .union([intInRange(1, 65535), z.string().min(1)], {
      error: 'must be a port number or a named container port',
    })
    .optional(),
  portName: z.string().min(1).optional(),
  gateways: z.array(z.string().min(1)).optional(),
  hosts: z.array(z.string().min(1)).optional(),
  trafficPolicy: freeFormObjectSchema.optional(),
  retries: httpRetrySchema.optional(),
  timeout: durationSchema().optional(),
  headers: freeFormObjectSchema.optional(),
  match: z.array(freeFormObjectSchema).optional(),
  corsPolicy: freeFormObjectSchema.optional(),
});

export const thresholdRangeSchema = z
  .strictObject({ min: z.number().optional(), max: z.number().optional() })
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
  });

export const canaryMetricSchema = z
  .strictObject({
    name: z.string().min(1),
    templateRef: crossNamespaceRefSchema.optional(),
    thresholdRange: thresholdRangeSchema.optional(),
    interval: durationSchema(1000).default(CANARY_DEFAULTS.metricInterval),
    templateVariables: stringMapSchema.optional(),
  })
  .check((ctx) => {
    const { name, templateRef } = ctx.value;
    const builtin = builtinMetricNames.includes(name);
    if (builtin && templateRef) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        path: ['templateRef'],
        message: `"${name}" is a builtin check and takes no templateRef: remove templateRef or rename the metric`,
      });
    } else if (!builtin && !templateRef) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        path: ['templateRef'],
        message: `required: "${name}" is not a builtin check (${BUILTIN_METRICS.join(', ')}), so it needs a templateRef to a MetricTemplate`,
      });
    }
  });

export const canaryWebhookSchema = z.strictObject({
  name: z.string().min(1),
  type: z.enum(WEBHOOK_TYPES).default(CANARY_DEFAULTS.webhookType),
  url: httpUrlSchema,
  timeout: durationSchema().optional(),
  metadata: stringMapSchema.optional(),
  retries: intInRange(0, 10).optional(),
  muteAlert: z.boolean().optional(),
});

export const canaryAlertSchema = z.strictObject({
  name: z.string().min(1),
  severity: z.enum(ALERT_SEVERITIES).default(CANARY_DEFAULTS.alertSeverity),
  providerRef: crossNamespaceRefSchema,
});

function uniqueNames(what: string) {
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

const analysisFields = z
  .strictObject({
    interval: durationSchema(1000).default(CANARY_DEFAULTS.analysisInterval),
    threshold: intAtLeast(1).default(CANARY_DEFAULTS.threshold),
    maxWeight: weightSchema.default(CANARY_DEFAULTS.maxWeight),
    stepWeight: weightSchema.optional(),
    stepWeights: z.array(weightSchema).min(1).optional(),
    stepWeightPromotion: weightSchema.optional(),
    iterations: intAtLeast(1).optional(),
    match: z.array(freeFormObjectSchema).optional(),
    mirror: z.boolean().optional(),
    mirrorWeight: intInRange(0, 100).optional(),
    metrics: z.array(canaryMetricSchema).check(uniqueNames('metric')).default([]),
    webhooks: z.array(canaryWebhookSchema).check(uniqueNames('webhook')).default([]),
    alerts: z.array(canaryAlertSchema).check(uniqueNames('alert')).default([]),
  })
  .check((ctx) => {
    const a = ctx.value;
    if (a.stepWeight !== undefined && a.stepWeights !== undefined) {
      ctx.issues.push({
        code: 'custom',
        input: a,
        path: ['stepWeights'],
        message: 'stepWeight and stepWeights are mutually exclusive: keep one of them',
      });
    }
    a.stepWeights?.forEach((weight, index) => {
      const previous = index > 0 ? a.stepWeights![index - 1]! : undefined;
      if (previous !== undefined && weight <= previous) {
        ctx.issues.push({
          code: 'custom',
          input: weight,
          path: ['stepWeights', index],
          message: `must be greater than the previous step ${previous} (got ${weight}): weights must increase`,
        });
      }
    });
    if (a.mirrorWeight !== undefined && a.mirror !== true) {
      ctx.issues.push({
        code: 'custom',
        input: a.mirrorWeight,
        path: ['mirrorWeight'],
        message: 'needs mirror: true',
      });
    }
  });

/** `stepWeight` defaults to 10 only when no `stepWeights` schedule is given. */
export const canaryAnalysisSchema = analysisFields.transform(({ stepWeight, ...rest }) => {
  const out: z.output<typeof analysisFields> = { ...rest };
  if (rest.stepWeights === undefined) out.stepWeight = stepWeight ?? CANARY_DEFAULTS.stepWeight;
  return out;
});

export const canarySpecSchema = z.strictObject({
  targetRef: targetRefSchema,
  autoscalerRef: autoscalerRefSchema.optional(),
  service: canaryServiceSchema,
  analysis: canaryAnalysisSchema.prefault({}),
  progressDeadlineSeconds: intInRange(1, 86_400).default(CANARY_DEFAULTS.progressDeadlineSeconds),
  skipAnalysis: z.boolean().default(false),
  suspend: z.boolean().default(false),
  revertOnDeletion: z.boolean().default(false),
  provider: z.enum(CANARY_PROVIDERS).default(CANARY_DEFAULTS.provider),
});

export const canaryPhaseSchema = z.enum(CANARY_PHASES);

export const canaryConditionSchema = z.object({
  type: z.string().min(1),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastUpdateTime: z.string().optional(),
  lastTransitionTime: z.string().optional(),
});

export const canaryHistoryEntrySchema = z.object({
  time: z.string(),
  weight: intInRange(0, 100),
  metric: z.string(),
  value: z.number().optional(),
  verdict: z.enum(['pass', 'fail']),
  reason: z.string(),
});

/** Written by the controller only; times are RFC 3339 strings. */
export const canaryStatusSchema = z.object({
  phase: canaryPhaseSchema.optional(),
  canaryWeight: intInRange(0, 100).optional(),
  failedChecks: intAtLeast(0).optional(),
  iterations: intAtLeast(0).optional(),
  lastAppliedSpec: z.string().optional(),
  lastPromotedSpec: z.string().optional(),
  lastTransitionTime: z.string().optional(),
  lastStepTime: z.string().optional(),
  observedGeneration: z.number().int().optional(),
  trackedConfigs: stringMapSchema.optional(),
  conditions: z.array(canaryConditionSchema).optional(),
  history: z.array(canaryHistoryEntrySchema).max(MAX_HISTORY_ENTRIES).optional(),
});

export const canarySchema = z.object({
  apiVersion: z.literal(PETREL_API_VERSION),
  kind: z.literal('Canary'),
  metadata: objectMetaSchema,
  spec: canarySpecSchema,
  status: canaryStatusSchema.optional(),
});

/** A Canary after defaults were applied. */
export type Canary = z.output<typeof canarySchema>;
/** A Canary as written in a manifest (defaulted fields optional). */
export type CanaryInput = z.input<typeof canarySchema>;
export type CanarySpec = z.output<typeof canarySpecSchema>;
export type CanarySpecInput = z.input<typeof canarySpecSchema>;
export type CanaryService = z.output<typeof canaryServiceSchema>;
export type CanaryAnalysis = z.output<typeof canaryAnalysisSchema>;
export type CanaryAnalysisInput = z.input<typeof canaryAnalysisSchema>;
export type CanaryMetric = z.output<typeof canaryMetricSchema>;
export type CanaryMetricInput = z.input<typeof canaryMetricSchema>;
export type CanaryWebhook = z.output<typeof canaryWebhookSchema>;
export type CanaryWebhookInput = z.input<typeof canaryWebhookSchema>;
export type CanaryAlert = z.output<typeof canaryAlertSchema>;
export type CanaryAlertInput = z.input<typeof canaryAlertSchema>;
export type ThresholdRange = z.output<typeof thresholdRangeSchema>;
export type CanaryStatus = z.output<typeof canaryStatusSchema>;
export type CanaryPhase = z.output<typeof canaryPhaseSchema>;
export type CanaryCondition = z.output<typeof canaryConditionSchema>;
export type CanaryHistoryEntry = z.output<typeof canaryHistoryEntrySchema>;

/** Validates and defaults an untrusted object; never throws for bad input. */
export function validateCanary(input: unknown): ValidationResult<Canary> {
  return validateWith(canarySchema, input);
}
