import type { z } from 'zod';
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
