import type { Canary } from './canary.ts';
import type { ValidationIssue } from './issues.ts';

type RawAnalysis = { stepWeight?: unknown; stepWeights?: unknown; maxWeight?: unknown };

const NO_WEIGHTS =
  'provider kubernetes cannot split traffic by weight (Services have no weights): remove it and set ' +
  'analysis.iterations (blue/green: the canary is tested through <target>-canary, then promoted), or use provider istio';

/**
 * Fields each valid on its own that mean nothing together: refused with the field and the fix, so none is
 * accepted and ignored. `input` is the object as written (to tell an explicit stepWeight from the default);
 * `canary` the same after defaults.
 */
export function combinationIssues(input: unknown, canary: Canary): ValidationIssue[] {
  const raw = ((input as { spec?: { analysis?: unknown } } | null)?.spec?.analysis ?? {}) as RawAnalysis;
  const a = canary.spec.analysis;
  const issues: ValidationIssue[] = [];
  const refuse = (field: string, message: string) => issues.push({ path: `spec.analysis.${field}`, message });
  const weighted = !(a.iterations && a.iterations > 0);

  if (canary.spec.provider === 'kubernetes') {
    if (a.mirror) {
      refuse(
        'mirror',
        'provider kubernetes cannot mirror traffic (Services have no mirrors): remove it or use provider istio',
      );
    }
    if (a.stepWeightPromotion !== undefined) refuse('stepWeightPromotion', NO_WEIGHTS);
    if (a.match?.length) {
      refuse(
        'match',
        'provider kubernetes cannot route by request headers (Services have no matches): remove it or use provider istio',
      );
    }
    if (a.sessionAffinity) {
      refuse(
        'sessionAffinity',
        'provider kubernetes cannot set or match cookies: remove it or use provider istio',
      );
    }
    // Without iterations the rollout would wait at weight 0 forever. With them, weights are not used (as
    // with any provider), and the defaults a round trip writes out stay valid.
    if (weighted) {
      for (const field of ['stepWeight', 'stepWeights', 'maxWeight'] as const) {
        if (raw[field] !== undefined) refuse(field, NO_WEIGHTS);
      }
      refuse(
        'iterations',
        'required with provider kubernetes: Services cannot shift traffic by weight, so the canary is analysed ' +
          'this many times through <target>-canary (blue/green), then promoted; or use provider istio',
      );
    }
    return issues;
  }

  if (weighted && typeof raw.stepWeight === 'number' && raw.stepWeight > a.maxWeight) {
    refuse(
      'stepWeight',
      `${raw.stepWeight} is greater than maxWeight ${a.maxWeight}: the first step would pass the top of the ` +
        'schedule; lower stepWeight or raise maxWeight',
    );
  }
  if (!weighted && a.stepWeightPromotion !== undefined) {
    refuse(
      'stepWeightPromotion',
      'needs a weight schedule (stepWeight or stepWeights, no iterations): with iterations the canary has no ' +
        'share of the traffic for the primary to take back in steps',
    );
  }
  if (a.mirror && a.match?.length) {
    refuse(
      'mirror',
      'cannot be combined with analysis.match: A/B testing already sends the matching requests to the canary',
    );
  }
  if (a.sessionAffinity && !weighted) {
    refuse(
      'sessionAffinity',
      'needs a weight schedule (stepWeight or stepWeights, no iterations): only users routed to the canary by ' +
        'weight are given the cookie',
    );
  } else if (a.sessionAffinity && a.match?.length) {
    refuse(
      'sessionAffinity',
      'cannot be combined with analysis.match: A/B testing routes by request, not by cookie',
    );
  }
  return issues;
}
