import { z } from 'zod';
import { checkMetricJudgement, checkRelativeChecksProvider, metricJudgementFields } from './analysis-spec.ts';
import {
  autoscalerRefSchema,
  httpRetrySchema,
  targetRefSchema,
  thresholdRangeSchema,
  uniqueNames,
} from './canary-parts.ts';
import {
  CANARY_ANALYSIS_CEL_RULES,
  CANARY_METRIC_CEL_RULES,
  CANARY_SPEC_CEL_RULES,
  celRules,
  checkCanarySpec,
} from './canary-rules.ts';
import { flaggerServiceFields } from './canary-service-fields.ts';
import {
  canaryConditionSchema,
  canaryHistoryEntrySchema,
  canaryNoticeSchema,
  canaryPhaseSchema,
  canaryStatusSchema,
} from './canary-status.ts';
import { combinationIssues } from './combinations.ts';
import {
  crossNamespaceRefSchema,
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
  CANARY_PROVIDERS,
  PETREL_API_VERSION,
  WEBHOOK_TYPES,
} from './constants.ts';
import { flaggerFieldMessage, unsupportedProviderMessage } from './flagger-compat.ts';
import { gatewayApiProblems, gatewayRefSchema } from './gateway-api.ts';
import { type ValidationResult, validateWith } from './issues.ts';
import { releaseWindowsSchema } from './release-windows.ts';
import { sessionAffinitySchema } from './session-affinity.ts';

export { sessionAffinitySchema };

export {
  autoscalerRefSchema,
  httpRetrySchema,
  targetRefSchema,
  thresholdRangeSchema,
} from './canary-parts.ts';

const builtinMetricNames: readonly string[] = BUILTIN_METRICS;

/**
 * Bounds that keep the CRD's CEL rules within the API server's cost budget: without them kube-apiserver
 * estimates each metric rule for a list and a name as long as a whole request, and refuses the CRD.
 */
const MAX_METRICS = 32;
const MAX_METRIC_NAME_LENGTH = 253;

export const canaryServiceSchema = z.strictObject({
  port: intInRange(1, 65535).describe(
    'Port of the Services Petrel creates (<target>, <target>-primary, <target>-canary).',
  ),
  targetPort: z
    .union([intInRange(1, 65535), z.string().min(1)], {
      error: 'must be a port number or a named container port',
    })
    .describe('Container port number or name the Services target; defaults to port.')
    .optional(),
  portName: z.string().min(1).describe('Name of the Service port (default http).').optional(),
  gateways: z
    .array(z.string().min(1))
    .describe('Istio gateways of the VirtualService (default mesh).')
    .optional(),
  hosts: z
    .array(z.string().min(1))
    .describe('Hosts of the VirtualService, besides the apex Service.')
    .optional(),
  trafficPolicy: freeFormObjectSchema
    .describe('Istio TrafficPolicy copied into both DestinationRules as it is (e.g. tls.mode: ISTIO_MUTUAL).')
    .optional(),
  retries: httpRetrySchema.describe('Istio HTTPRetry for the VirtualService route.').optional(),
  timeout: durationSchema().describe('Request timeout of the VirtualService route, e.g. 5s.').optional(),
  headers: freeFormObjectSchema.describe('Istio header operations for the VirtualService route.').optional(),
  match: z
    .array(freeFormObjectSchema)
    .describe('Istio HTTPMatchRequests for the VirtualService route.')
    .optional(),
  corsPolicy: freeFormObjectSchema.describe('Istio CorsPolicy for the VirtualService route.').optional(),
  gatewayRefs: z
    .array(gatewayRefSchema)
    .min(1)
    .max(32)
    .describe('Gateways the HTTPRoute attaches to (parentRefs); required with provider gatewayapi:v1.')
    .optional(),
  ...flaggerServiceFields,
});

export const canaryMetricSchema = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .max(MAX_METRIC_NAME_LENGTH)
      .describe(`A builtin check (${BUILTIN_METRICS.join(', ')}) or any name with a templateRef.`),
    templateRef: crossNamespaceRefSchema
      .describe('The MetricTemplate to query, for non-builtin metrics.')
      .optional(),
    thresholdRange: thresholdRangeSchema
      .describe('Accepted range of the value; set min, max or both.')
      .optional(),
    threshold: z
      .number()
      .describe(
        "Flagger's older form of thresholdRange: the minimum for request-success-rate, the maximum for every other metric.",
      )
      .optional(),
    interval: durationSchema(1000)
      .describe('Range of the query, filled into {{ interval }} (default 1m).')
      .default(CANARY_DEFAULTS.metricInterval),
    templateVariables: stringMapSchema
      .describe('Values for {{ variables.NAME }} in the template query.')
      .optional(),
    // Relative judgement, no-data policy, holds and dry runs (issue 17): see analysis-spec.ts.
    ...metricJudgementFields,
  })
  .check(checkMetricJudgement)
  .check((ctx) => {
    const { name, templateRef, threshold, thresholdRange } = ctx.value;
    if (threshold !== undefined && thresholdRange !== undefined) {
      ctx.issues.push({
        code: 'custom',
        input: threshold,
        path: ['threshold'],
        message: 'threshold is the older form of thresholdRange: keep thresholdRange only',
      });
    }
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
  })
  .meta(celRules(CANARY_METRIC_CEL_RULES))
  .transform(({ threshold, ...metric }) => {
    if (threshold === undefined || metric.thresholdRange) return metric;
    // Flagger fails request-success-rate below its threshold and every other metric above it.
    const range = metric.name === 'request-success-rate' ? { min: threshold } : { max: threshold };
    return { ...metric, thresholdRange: range };
  });

export const canaryWebhookSchema = z.strictObject({
  name: z.string().min(1),
  type: z
    .enum(WEBHOOK_TYPES)
    .describe(
      'When the webhook is called: gates (confirm-*) hold the rollout until they answer 200 (default rollout).',
    )
    .default(CANARY_DEFAULTS.webhookType),
  url: httpUrlSchema.describe('http or https URL the JSON payload is POSTed to.'),
  timeout: durationSchema().describe('Request timeout, e.g. 10s.').optional(),
  metadata: stringMapSchema.describe('Passed to the webhook in the payload.').optional(),
  retries: intInRange(0, 10).describe('Retries after a failed call.').optional(),
  muteAlert: z.boolean().describe('Do not send alerts when this webhook fails.').optional(),
});

export const canaryAlertSchema = z.strictObject({
  name: z.string().min(1),
  severity: z
    .enum(ALERT_SEVERITIES)
    .describe('Lowest severity sent: info (everything), warn or error (default info).')
    .default(CANARY_DEFAULTS.alertSeverity),
  providerRef: crossNamespaceRefSchema.describe('The AlertProvider to send to.'),
});

const analysisFields = z
  .strictObject({
    interval: durationSchema(1000)
      .describe('Time between steps and checks (default 1m).')
      .default(CANARY_DEFAULTS.analysisInterval),
    threshold: intAtLeast(1)
      .describe('Failed checks before the rollout is rolled back (default 5).')
      .default(CANARY_DEFAULTS.threshold),
    maxWeight: weightSchema
      .describe('Highest canary weight in percent before promotion (default 50).')
      .default(CANARY_DEFAULTS.maxWeight),
    stepWeight: weightSchema
      .describe('Canary weight added at each step, in percent (default 10 unless stepWeights is set).')
      .optional(),
    stepWeights: z
      .array(weightSchema)
      .min(1)
      .describe('Explicit increasing weight schedule in percent, instead of stepWeight.')
      .optional(),
    stepWeightPromotion: weightSchema
      .describe('Weight moved to the primary at each promotion step.')
      .optional(),
    iterations: intAtLeast(1)
      .describe('Number of checks for A/B or blue/green analysis (no weight steps).')
      .optional(),
    match: z
      .array(freeFormObjectSchema)
      .describe('Istio HTTPMatchRequests sending matching traffic to the canary (A/B).')
      .optional(),
    mirror: z.boolean().describe('Mirror traffic to the canary instead of shifting it.').optional(),
    mirrorWeight: intInRange(0, 100)
      .describe('Percentage of traffic mirrored (needs mirror: true).')
      .optional(),
    sessionAffinity: sessionAffinitySchema
      .describe('Keep a user who reached the canary on it for the rest of the rollout, with a cookie.')
      .optional(),
    metrics: z
      .array(canaryMetricSchema)
      .max(MAX_METRICS)
      .check(uniqueNames('metric'))
      .describe('Checks run at every step.')
      .default([]),
    webhooks: z
      .array(canaryWebhookSchema)
      .check(uniqueNames('webhook'))
      .describe('Gates and hooks.')
      .default([]),
    alerts: z
      .array(canaryAlertSchema)
      .check(uniqueNames('alert'))
      .describe('Where to send notifications.')
      .default([]),
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
  })
  .meta(celRules(CANARY_ANALYSIS_CEL_RULES));

export const canaryAnalysisSchema = analysisFields;

/**
 * `stepWeight` defaults to 10 (or maxWeight when lower) only when the schedule walks weights (no
 * `stepWeights`, no `iterations`).
 * Applied after the spec's rules, which must see what was written.
 */
function withStepWeightDefault(analysis: z.output<typeof analysisFields>): z.output<typeof analysisFields> {
  if (analysis.stepWeights !== undefined || analysis.iterations !== undefined) return analysis;
  // Never above maxWeight, so a defaulted spec passes the stepWeight <= maxWeight rule when read again.
  const stepWeight = analysis.stepWeight ?? Math.min(CANARY_DEFAULTS.stepWeight, analysis.maxWeight);
  return { ...analysis, stepWeight };
}

export const canarySpecSchema = z
  .strictObject({
    targetRef: targetRefSchema,
    autoscalerRef: autoscalerRefSchema.optional(),
    service: canaryServiceSchema,
    analysis: canaryAnalysisSchema
      .describe('How traffic moves and what is checked at each step.')
      .prefault({}),
    progressDeadlineSeconds: intInRange(1, 86_400)
      .describe('Seconds a new version may take to become ready before it is rolled back (default 600).')
      .default(CANARY_DEFAULTS.progressDeadlineSeconds),
    skipAnalysis: z.boolean().describe('Promote without checks (default false).').default(false),
    suspend: z.boolean().describe('Pause all work on this Canary (default false).').default(false),
    revertOnDeletion: z
      .boolean()
      .describe('On deletion, route all traffic back to the target Deployment (default false).')
      .default(false),
    provider: z
      .enum(CANARY_PROVIDERS, {
        error: (issue) => (issue.input === undefined ? 'required' : unsupportedProviderMessage(issue.input)),
      })
      .describe(
        'How traffic is shifted: istio (VirtualService weights), gatewayapi:v1 (HTTPRoute weights) or kubernetes (Service switch). Default istio.',
      )
      .default(CANARY_DEFAULTS.provider),
    releaseWindows: releaseWindowsSchema
      .describe(
        'When rollouts may start and advance (cron windows in a time zone); unset, they may at any time.',
      )
      .optional(),
  })
  .check((ctx) => {
    checkCanarySpec(ctx.value, ctx.issues);
    // Fields whose meaning depends on the provider (Gateway API routing).
    for (const problem of gatewayApiProblems(ctx.value))
      ctx.issues.push({ code: 'custom', input: ctx.value, path: problem.path, message: problem.message });
  })
  .meta(celRules(CANARY_SPEC_CEL_RULES))
  .transform((spec) => ({ ...spec, analysis: withStepWeightDefault(spec.analysis) }));

export {
  canaryConditionSchema,
  canaryHistoryEntrySchema,
  canaryNoticeSchema,
  canaryPhaseSchema,
  canaryStatusSchema,
};

export const canarySchema = z.object({
  apiVersion: z.literal(PETREL_API_VERSION),
  kind: z.literal('Canary'),
  metadata: objectMetaSchema,
  spec: canarySpecSchema.check(checkRelativeChecksProvider),
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
export type CanaryNotice = z.output<typeof canaryNoticeSchema>;
export type CanaryHistoryEntry = z.output<typeof canaryHistoryEntrySchema>;

/** Validates and defaults an untrusted object; never throws for bad input. */
export function validateCanary(input: unknown): ValidationResult<Canary> {
  const result = validateWith(canarySchema, input, (path) => flaggerFieldMessage('Canary', path));
  if (!result.ok) return result;
  // Fields that are valid one by one but mean nothing together are refused, never ignored.
  const issues = combinationIssues(input, result.value);
  return issues.length > 0 ? { ok: false, issues } : result;
}
