export const PETREL_GROUP = 'petrel.dev';
export const PETREL_VERSION = 'v1alpha1';
export const PETREL_API_VERSION = `${PETREL_GROUP}/${PETREL_VERSION}` as const;

/** Checks every router knows how to query without a MetricTemplate. */
export const BUILTIN_METRICS = ['request-success-rate', 'request-duration'] as const;
export type BuiltinMetric = (typeof BUILTIN_METRICS)[number];

export const WEBHOOK_TYPES = [
  'confirm-rollout',
  'pre-rollout',
  'rollout',
  'confirm-traffic-increase',
  'confirm-promotion',
  'post-rollout',
  'rollback',
  'event',
] as const;
export type WebhookType = (typeof WEBHOOK_TYPES)[number];

export const ALERT_SEVERITIES = ['info', 'warn', 'error'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

export const CANARY_PROVIDERS = ['istio', 'kubernetes', 'gatewayapi:v1'] as const;
export type CanaryProvider = (typeof CANARY_PROVIDERS)[number];

export const METRIC_PROVIDER_TYPES = ['prometheus'] as const;
export type MetricProviderType = (typeof METRIC_PROVIDER_TYPES)[number];

export const ALERT_PROVIDER_TYPES = ['slack', 'msteams', 'discord', 'webhook'] as const;
export type AlertProviderType = (typeof ALERT_PROVIDER_TYPES)[number];

export const CANARY_PHASES = [
  'Initializing',
  'Initialized',
  'Waiting',
  'Progressing',
  'WaitingPromotion',
  'Promoting',
  'Finalising',
  'Succeeded',
  'Failed',
  'Terminating',
  'Terminated',
] as const;

/** Most recent checks kept in `status.history`. */
export const MAX_HISTORY_ENTRIES = 20;

/** Events of recorded decisions kept in `status.notices` (undelivered ones first, then the latest delivered). */
export const MAX_NOTICES = 8;
/** Bounds of one notice, so status stays small whatever a message says. */
export const MAX_NOTICE_MESSAGE_LENGTH = 1024;
export const MAX_NOTICE_KEY_LENGTH = 256;
export const MAX_NOTICE_RECEIVERS = 32;

export const CANARY_DEFAULTS = {
  analysisInterval: '1m',
  threshold: 5,
  stepWeight: 10,
  maxWeight: 50,
  progressDeadlineSeconds: 600,
  metricInterval: '1m',
  provider: 'istio',
  webhookType: 'rollout',
  alertSeverity: 'info',
  sessionAffinityMaxAge: 86_400,
} as const;

/**
 * Placeholders a MetricTemplate query may use, besides `{{ variables.NAME }}` (from templateVariables):
 * Flagger's, except those of routers Petrel does not drive (see FLAGGER_ONLY_PLACEHOLDERS).
 */
export const TEMPLATE_VARIABLES = ['namespace', 'target', 'interval', 'name', 'service', 'workload'] as const;

/** Flagger placeholders with no value here, and why. */
export const FLAGGER_ONLY_PLACEHOLDERS: Readonly<Record<string, string>> = {
  ingress: "the nginx provider's Ingress name",
  route: "Knative's revision name",
};
