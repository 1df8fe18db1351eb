/**
 * The fields of issue 17 (relative judgement against the primary, no-data policy, holds, dry runs) and
 * the analysis state they keep in Canary.status. Kept apart from canary.ts so Flagger's field set there
 * stays readable; canary.ts spreads `metricJudgementFields` into each metric and calls
 * `checkMetricJudgement` / `checkRelativeChecksProvider`.
 */
import { z } from 'zod';
import { durationSchema, intInRange } from './common.ts';

/** "+0.5pp", "0.5pp", "20%", "+50ms": how much worse than the primary the canary may be. */
export const TOLERANCE_PATTERN = /^\+?(\d+(?:\.\d+)?)(pp|%|ms)$/;

export type ToleranceUnit = 'pp' | '%' | 'ms';

export interface ParsedTolerance {
  value: number;
  unit: ToleranceUnit;
}

const TOLERANCE_LIMITS: Record<ToleranceUnit, number> = { pp: 50, '%': 1000, ms: 600_000 };

/** Parses a tolerance; undefined when it does not match TOLERANCE_PATTERN. */
export function parseTolerance(text: string): ParsedTolerance | undefined {
  const match = TOLERANCE_PATTERN.exec(text.trim());
  if (!match) return undefined;
  return { value: Number(match[1]), unit: match[2] as ToleranceUnit };
}

export const ON_NO_DATA = ['fail', 'hold', 'pass'] as const;
export const ON_INCONCLUSIVE = ['advance', 'fail'] as const;

export const ANALYSIS_DEFAULTS = {
  alpha: 0.01,
  quantile: 0.99,
  maxInconclusive: 10,
  onInconclusive: 'advance',
  onNoData: 'fail',
  maxHold: '10m',
} as const;

export const compareSchema = z
  .strictObject({
    against: z
      .literal('primary')
      .describe('What the canary is compared with: the primary workload over the same window.')
      .default('primary'),
    tolerance: z
      .string()
      .describe(
        'How much worse than the primary the canary may be: "+0.5pp" (percentage points of errors), ' +
          '"20%" (relative to the primary\'s value) or "+50ms" (request-duration only).',
      )
      .check((ctx) => {
        const parsed = parseTolerance(ctx.value);
        if (!parsed) {
          ctx.issues.push({
            code: 'custom',
            input: ctx.value,
            message: `must be like "+0.5pp", "20%" or "+50ms" (got ${JSON.stringify(ctx.value)})`,
          });
        } else if (parsed.value > TOLERANCE_LIMITS[parsed.unit]) {
          ctx.issues.push({
            code: 'custom',
            input: ctx.value,
            message: `${ctx.value} is out of range: at most ${TOLERANCE_LIMITS[parsed.unit]}${parsed.unit}`,
          });
        }
      }),
    alpha: z
      .number()
      .min(0.0001)
      .max(0.2)
      .describe(
        'Probability of rolling back a canary within the tolerance, over the whole release however often it is checked (default 0.01).',
      )
      .default(ANALYSIS_DEFAULTS.alpha),
    quantile: z
      .number()
      .min(0.5)
      .max(0.999)
      .describe('request-duration only: the latency quantile compared (default 0.99).')
      .optional(),
    maxInconclusive: intInRange(0, 1000)
      .describe(
        'Steps the weight is held while the evidence is inconclusive, before onInconclusive applies (default 10).',
      )
      .default(ANALYSIS_DEFAULTS.maxInconclusive),
    onInconclusive: z
      .enum(ON_INCONCLUSIVE)
      .describe(
        'After maxInconclusive held steps: advance (treat as passed) or fail (count a failed check). Default advance.',
      )
      .default(ANALYSIS_DEFAULTS.onInconclusive),
  })
  .describe(
    'Judge this metric relative to the primary with a sequential test (anytime-valid at level alpha) instead of thresholdRange.',
  );

/** Spread into the metric schema of canary.ts. */
export const metricJudgementFields = {
  compare: compareSchema.optional(),
  onNoData: z
    .enum(ON_NO_DATA)
    .describe(
      'What a query that returns nothing or NaN means: fail (a failed check, the default), hold (keep the weight, up to maxHold) or pass.',
    )
    .optional(),
  maxHold: durationSchema(1000)
    .describe(
      'How long an unreachable metrics backend (or onNoData: hold) may hold the rollout before it counts as a failed check (default 10m).',
    )
    .optional(),
  dryRun: z
    .boolean()
    .describe('Evaluate and record the check and alert when it would have failed, but never act on it.')
    .optional(),
};

export type CompareSpec = z.output<typeof compareSchema>;

interface MetricLike {
  name: string;
  templateRef?: unknown;
  thresholdRange?: unknown;
  compare?: { tolerance: string; quantile?: number | undefined } | undefined;
}

/** Cross-field rules of one metric (a zod check of the metric schema). */
export function checkMetricJudgement(ctx: z.core.ParsePayload<MetricLike>): void {
  const metric = ctx.value;
  const push = (path: PropertyKey[], message: string) =>
    ctx.issues.push({ code: 'custom', input: metric, path, message });
  const { compare } = metric;
  if (!compare) return;
  if (metric.thresholdRange !== undefined) {
    push(
      ['compare'],
      'compare and thresholdRange are exclusive: judge against the primary or against fixed numbers, not both',
    );
  }
  const tolerance = parseTolerance(compare.tolerance);
  const duration = metric.name === 'request-duration' && !metric.templateRef;
  if (tolerance?.unit === 'ms' && !duration) {
    push(
      ['compare', 'tolerance'],
      'ms tolerances are for request-duration only: use "+0.5pp" or a percentage',
    );
  }
  if (tolerance?.unit === 'pp' && duration) {
    push(
      ['compare', 'tolerance'],
      'request-duration takes a percentage ("20%") or milliseconds ("+50ms"), not pp',
    );
  }
  if (compare.quantile !== undefined && !duration) {
    push(['compare', 'quantile'], 'quantile applies to request-duration only');
  }
}

/** A relative check needs metrics split by workload: the builtins have them only on a mesh. */
export function relativeChecksProblem(provider: string, metric: MetricLike): string | undefined {
  if (!metric.compare || metric.templateRef || provider !== 'kubernetes') return undefined;
  return `"${metric.name}" cannot be compared with the primary on provider "kubernetes" (no per-workload mesh metrics): use a MetricTemplate with {{ workload }} or thresholdRange`;
}

/** The Canary spec's check of `relativeChecksProblem` for every metric (a zod check of the spec schema). */
export function checkRelativeChecksProvider(
  ctx: z.core.ParsePayload<{ provider: string; analysis: { metrics: MetricLike[] } }>,
): void {
  ctx.value.analysis.metrics.forEach((metric, index) => {
    const problem = relativeChecksProblem(ctx.value.provider, metric);
    if (problem) {
      ctx.issues.push({
        code: 'custom',
        input: metric,
        path: ['analysis', 'metrics', index, 'compare'],
        message: problem,
      });
    }
  });
}

// ---- MetricTemplate: counts per workload for relative checks ----

export const WORKLOAD_PLACEHOLDER = /\{\{\s*workload\s*\}\}/;

export const totalQueryField = z
  .string()
  .trim()
  .min(1)
  .describe(
    'For relative checks (compare): PromQL counting all requests of {{ workload }} over {{ interval }}; query then counts the bad ones.',
  )
  .optional();

/** A template with totalQuery serves relative checks: both queries must name the workload. */
export function checkRelativeTemplate(
  ctx: z.core.ParsePayload<{ query: string; totalQuery?: string | undefined }>,
): void {
  if (ctx.value.totalQuery === undefined) return;
  for (const field of ['query', 'totalQuery'] as const) {
    if (!WORKLOAD_PLACEHOLDER.test(ctx.value[field] ?? '')) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value[field],
        path: [field],
        message:
          'a template with totalQuery is compared across workloads: put {{ workload }} where the workload label goes, e.g. destination_workload="{{ workload }}"',
      });
    }
  }
}

// ---- status: the state a relative check keeps across steps, per release ----

/** Counts of one interval: [canary errors, canary requests, primary errors, primary requests], or
 * for request-duration the canary's cumulative bucket counts followed by the primary's. */
export const analysisBatchSchema = z.array(z.number());

export const MAX_ANALYSIS_BATCHES = 24;
export const MAX_ANALYSIS_STEPS = 10;

export const metricAnalysisStateSchema = z.object({
  metric: z.string(),
  /** End of the last interval counted (RFC 3339); the next query covers the time since. */
  end: z.string().optional(),
  /** Histogram bucket bounds (ms) for request-duration, in the order of the batches' counts. */
  bounds: z.array(z.number()).optional(),
  batches: z.array(analysisBatchSchema).max(MAX_ANALYSIS_BATCHES).optional(),
  /** Consecutive inconclusive steps. */
  inconclusive: z.number().int().optional(),
  /** Since when the check has been holding for no data or an unreachable backend. */
  holdingSince: z.string().optional(),
  /**
   * The primary's error-count overdispersion before the release, read once at the release's first step
   * (`intervals: 0` when there was too little history; the default prior applies).
   */
  history: z.object({ intervals: z.number().int().min(0), overdispersion: z.number().min(0) }).optional(),
});

export const checkEvidenceSchema = z.object({
  metric: z.string(),
  verdict: z.enum(['pass', 'fail', 'inconclusive', 'hold']),
  canary: z.number().optional(),
  primary: z.number().optional(),
  difference: z.number().optional(),
  interval: z.array(z.number()).optional(),
  canarySamples: z.number().optional(),
  primarySamples: z.number().optional(),
  score: z.number().optional(),
  dryRun: z.boolean().optional(),
});

export const analysisStatusSchema = z.object({
  /** The release (target revision) this state belongs to: a new release starts from nothing. */
  revision: z.string().optional(),
  metrics: z.array(metricAnalysisStateSchema).optional(),
  /** The evidence of the last steps of this release, newest last. */
  steps: z
    .array(
      z.object({
        time: z.string(),
        weight: z.number().int(),
        /** 0-100, the mean of the relative checks' scores (Kayenta-like). */
        score: z.number().optional(),
        checks: z.array(checkEvidenceSchema),
      }),
    )
    .max(MAX_ANALYSIS_STEPS)
    .optional(),
});

export type AnalysisStatus = z.output<typeof analysisStatusSchema>;
export type MetricAnalysisState = z.output<typeof metricAnalysisStateSchema>;
export type CheckEvidence = z.output<typeof checkEvidenceSchema>;
