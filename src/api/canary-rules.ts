import type { z } from 'zod';
import { BUILTIN_METRICS } from './constants.ts';
import { NOT_SUPPORTED } from './flagger-compat.ts';
import { type IstioIssue, istioRouteIssues, istioTrafficPolicyIssues } from './istio-passthrough.ts';

/**
 * Rules between fields of a Canary spec that a schema cannot say. Each has a CEL twin in
 * CANARY_CEL_RULES (the CRD's x-kubernetes-validations) where CEL can say it, so lint, the API server
 * and the controller's InvalidSpec refuse the same documents.
 */

type Issues = z.core.ParsePayload['issues'];

interface SpecView {
  targetRef: { name: string };
  provider?: string;
  service: {
    name?: string;
    hosts?: string[];
    gateways?: string[];
    delegation?: boolean;
    match?: unknown;
    retries?: unknown;
    timeout?: unknown;
    headers?: unknown;
    corsPolicy?: unknown;
    rewrite?: unknown;
    trafficPolicy?: unknown;
  };
  analysis: {
    stepWeight?: number;
    stepWeights?: number[];
    maxWeight?: number;
    iterations?: number;
    mirror?: boolean;
    match?: unknown;
  };
}

/** Fields of spec.service that only the Istio router reads. */
export const ISTIO_ONLY_SERVICE_FIELDS = [
  'gateways',
  'hosts',
  'trafficPolicy',
  'retries',
  'timeout',
  'headers',
  'match',
  'corsPolicy',
  'rewrite',
  'delegation',
] as const;

function push(issues: Issues, input: unknown, path: PropertyKey[], message: string): void {
  issues.push({ code: 'custom', input, path, message });
}

/** Cross-field rules of spec; `analysis.stepWeight` is as written (not defaulted) when this runs. */
export function checkCanarySpec(spec: SpecView, issues: Issues): void {
  const { analysis, service } = spec;
  const provider = spec.provider;

  if (analysis.stepWeight !== undefined && analysis.stepWeight > (analysis.maxWeight ?? 50)) {
    push(
      issues,
      analysis.stepWeight,
      ['analysis', 'stepWeight'],
      `must not be greater than maxWeight (${analysis.stepWeight} > ${analysis.maxWeight ?? 50}): the first step would already pass the maximum`,
    );
  }
  if (analysis.iterations !== undefined) {
    for (const field of ['stepWeight', 'stepWeights'] as const) {
      if (analysis[field] !== undefined)
        push(
          issues,
          analysis[field],
          ['analysis', field],
          'has no effect with analysis.iterations (A/B and blue/green run iterations without weight steps): remove one of them',
        );
    }
  }

  if (provider === 'kubernetes') {
    if (analysis.iterations === undefined)
      push(
        issues,
        analysis,
        ['analysis', 'iterations'],
        'required with provider kubernetes: Services cannot split traffic by weight, so blue/green runs a number of iterations against <target>-canary before promoting',
      );
    for (const field of ['stepWeight', 'stepWeights', 'mirror', 'match'] as const) {
      const reportedAbove = field.startsWith('step') && analysis.iterations !== undefined;
      if (analysis[field] !== undefined && !reportedAbove)
        push(
          issues,
          analysis[field],
          ['analysis', field],
          'cannot be used with provider kubernetes (Services have no weights, mirrors or matches): use analysis.iterations for blue/green, or provider istio',
        );
    }
    for (const field of ISTIO_ONLY_SERVICE_FIELDS) {
      if (service[field] !== undefined)
        push(
          issues,
          service[field],
          ['service', field],
          `is an Istio routing field; provider kubernetes writes only Services, so it would be ignored: remove it or use provider istio`,
        );
    }
  }

  if (service.name !== undefined && service.name !== spec.targetRef.name && provider !== 'kubernetes') {
    push(
      issues,
      service.name,
      ['service', 'name'],
      `${NOT_SUPPORTED} with provider ${provider ?? 'istio'}: a Service name other than targetRef.name ("${spec.targetRef.name}"); remove service.name (the Services are then ${spec.targetRef.name}, ${spec.targetRef.name}-primary and ${spec.targetRef.name}-canary)`,
    );
  }
  if (service.delegation === true) {
    for (const field of ['hosts', 'gateways'] as const) {
      if (service[field]?.length)
        push(
          issues,
          service[field],
          ['service', field],
          'must be empty with delegation: true (a delegate VirtualService takes its hosts and gateways from the root VirtualService that delegates to it)',
        );
    }
  }

  if (provider === undefined || provider === 'istio') {
    const route = {
      match: service.match,
      retries: service.retries,
      timeout: service.timeout,
      headers: service.headers,
      corsPolicy: service.corsPolicy,
      rewrite: service.rewrite,
    };
    pushIstio(issues, istioRouteIssues(route), ['service']);
    if (service.trafficPolicy !== undefined)
      pushIstio(issues, istioTrafficPolicyIssues(service.trafficPolicy), ['service', 'trafficPolicy']);
    if (analysis.match !== undefined)
      pushIstio(issues, istioRouteIssues({ match: analysis.match }), ['analysis']);
  }
}

function pushIstio(issues: Issues, found: IstioIssue[], prefix: PropertyKey[]): void {
  for (const issue of found) push(issues, undefined, [...prefix, ...issue.path], issue.message);
}

/** A CRD validation rule (x-kubernetes-validations), evaluated by the API server with CEL. */
export interface CelRule {
  rule: string;
  message: string;
  /** A CEL string expression for the message, with the values; `message` is the fallback. */
  messageExpression?: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

const isKubernetes = "has(self.provider) && self.provider == 'kubernetes'";
const ISTIO_ONLY_HAS = ISTIO_ONLY_SERVICE_FIELDS.map((f) => `has(self.service.${f})`).join(' || ');

/**
 * The rules of checkCanarySpec that CEL can say, on spec (self = spec). The API server refuses what
 * they refuse, so a Canary applied with kubectl fails the same way lint does.
 */
export const CANARY_SPEC_CEL_RULES: readonly CelRule[] = [
  {
    rule: '!has(self.analysis) || !has(self.analysis.stepWeight) || self.analysis.stepWeight <= (has(self.analysis.maxWeight) ? self.analysis.maxWeight : 50)',
    message: 'analysis.stepWeight must not be greater than analysis.maxWeight (default 50)',
    fieldPath: '.analysis.stepWeight',
  },
  {
    rule: '!has(self.analysis) || !has(self.analysis.iterations) || (!has(self.analysis.stepWeight) && !has(self.analysis.stepWeights))',
    message:
      'analysis.stepWeight and stepWeights have no effect with analysis.iterations (A/B and blue/green run iterations without weight steps): remove one of them',
    fieldPath: '.analysis',
  },
  {
    rule: `!(${isKubernetes}) || (has(self.analysis) && has(self.analysis.iterations))`,
    message:
      'provider kubernetes needs analysis.iterations: Services cannot split traffic by weight, so blue/green runs iterations against <target>-canary',
    fieldPath: '.analysis',
    reason: 'FieldValueRequired',
  },
  {
    rule: `!(${isKubernetes}) || !has(self.analysis) || (!has(self.analysis.stepWeight) && !has(self.analysis.stepWeights) && !has(self.analysis.mirror) && !has(self.analysis.match))`,
    message:
      'provider kubernetes cannot use analysis.stepWeight, stepWeights, mirror or match (Services have no weights, mirrors or matches): use analysis.iterations, or provider istio',
    fieldPath: '.analysis',
    reason: 'FieldValueForbidden',
  },
  {
    rule: `!(${isKubernetes}) || !(${ISTIO_ONLY_HAS})`,
    message: `provider kubernetes writes only Services: the Istio fields service.${ISTIO_ONLY_SERVICE_FIELDS.join(', ')} would be ignored; remove them or use provider istio`,
    fieldPath: '.service',
    reason: 'FieldValueForbidden',
  },
  {
    rule: `!has(self.service.name) || self.service.name == self.targetRef.name || (${isKubernetes})`,
    message:
      'service.name must equal targetRef.name (the Services are named after the target) unless provider is kubernetes',
    fieldPath: '.service.name',
  },
  {
    rule: '!has(self.service.delegation) || !self.service.delegation || ((!has(self.service.hosts) || size(self.service.hosts) == 0) && (!has(self.service.gateways) || size(self.service.gateways) == 0))',
    message:
      'service.hosts and service.gateways must be empty with service.delegation: true (the root VirtualService has them)',
    fieldPath: '.service',
  },
];

/** Rules on analysis (self = spec.analysis). */
export const CANARY_ANALYSIS_CEL_RULES: readonly CelRule[] = [
  {
    rule: '!(has(self.stepWeight) && has(self.stepWeights))',
    message: 'stepWeight and stepWeights are mutually exclusive: keep one of them',
  },
  {
    rule: '!has(self.mirrorWeight) || (has(self.mirror) && self.mirror)',
    message: 'mirrorWeight needs mirror: true',
    fieldPath: '.mirrorWeight',
  },
];

/** Rules on each analysis.metrics item (self = the metric). */
export const CANARY_METRIC_CEL_RULES: readonly CelRule[] = [
  {
    rule: `has(self.templateRef) != (self.name in [${BUILTIN_METRICS.map((m) => `'${m}'`).join(', ')}])`,
    message:
      'a builtin check (request-success-rate, request-duration) takes no templateRef; any other metric needs one',
    fieldPath: '.templateRef',
  },
  {
    rule: '!(has(self.threshold) && has(self.thresholdRange))',
    message: 'threshold is the older form of thresholdRange: keep thresholdRange only',
    fieldPath: '.threshold',
  },
];

/** Rules on a thresholdRange (self = the range). */
export const THRESHOLD_RANGE_CEL_RULES: readonly CelRule[] = [
  { rule: 'has(self.min) || has(self.max)', message: 'set min, max or both' },
  {
    rule: '!has(self.min) || !has(self.max) || self.min <= self.max',
    message: 'min must not be greater than max',
  },
];

/** The JSON Schema metadata that carries rules into the CRD. */
export function celRules(rules: readonly CelRule[]): { 'x-kubernetes-validations': CelRule[] } {
  return { 'x-kubernetes-validations': rules.map((r) => ({ ...r })) };
}
