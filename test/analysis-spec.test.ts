import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  PETREL_API_VERSION,
  parseTolerance,
  validateCanary,
  validateMetricTemplate,
} from '../src/api/index.ts';
import { type LintReport, lintSource } from '../src/cli/lint.ts';

function canary(metrics: unknown[], provider = 'istio') {
  return {
    apiVersion: PETREL_API_VERSION,
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: {
      provider,
      targetRef: { kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      // Provider kubernetes is blue/green: iterations, no weight steps.
      analysis: { interval: '1m', metrics, ...(provider === 'kubernetes' ? { iterations: 3 } : {}) },
    },
  };
}

function issues(input: unknown): string[] {
  const result = validateCanary(input);
  return result.ok ? [] : result.issues.map((i) => `${i.path}: ${i.message}`);
}

const relative = (compare: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  name: 'request-success-rate',
  compare,
  ...extra,
});

describe('relative judgement fields', () => {
  it('a Flagger metric keeps working unchanged, with the defaults of today', () => {
    const result = validateCanary(canary([{ name: 'request-success-rate', thresholdRange: { min: 99 } }]));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const metric = result.value.spec.analysis.metrics[0]!;
    expect(metric.compare).toBeUndefined();
    expect(metric.onNoData).toBeUndefined();
    expect(metric.dryRun).toBeUndefined();
  });

  it('one short field opts in; alpha, against and the inconclusive policy are defaulted', () => {
    const result = validateCanary(canary([relative({ tolerance: '+0.5pp' })]));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.spec.analysis.metrics[0]!.compare).toEqual({
      against: 'primary',
      tolerance: '+0.5pp',
      alpha: 0.01,
      maxInconclusive: 10,
      onInconclusive: 'advance',
    });
  });

  it('parses tolerances in pp, percent and ms', () => {
    expect(parseTolerance('+0.5pp')).toEqual({ value: 0.5, unit: 'pp' });
    expect(parseTolerance('20%')).toEqual({ value: 20, unit: '%' });
    expect(parseTolerance('+50ms')).toEqual({ value: 50, unit: 'ms' });
    expect(parseTolerance('-1pp')).toBeUndefined();
    expect(parseTolerance('0.5')).toBeUndefined();
  });

  it.each([
    [relative({ tolerance: 'half a percent' }), 'spec.analysis.metrics[0].compare.tolerance: must be like'],
    [relative({ tolerance: '+80pp' }), 'spec.analysis.metrics[0].compare.tolerance: +80pp is out of range'],
    [relative({ tolerance: '+0.5pp', alpha: 0.5 }), 'spec.analysis.metrics[0].compare.alpha: must be <= 0.2'],
    [
      relative({ tolerance: '+0.5pp', alpha: 0 }),
      'spec.analysis.metrics[0].compare.alpha: must be >= 0.0001',
    ],
    [
      relative({ tolerance: '+0.5pp', against: 'baseline' }),
      'spec.analysis.metrics[0].compare.against: must be "primary"',
    ],
    [
      relative({ tolerance: '+50ms' }),
      'spec.analysis.metrics[0].compare.tolerance: ms tolerances are for request-duration only',
    ],
    [
      { name: 'request-duration', compare: { tolerance: '+1pp' } },
      'spec.analysis.metrics[0].compare.tolerance: request-duration takes a percentage',
    ],
    [
      relative({ tolerance: '+0.5pp' }, { thresholdRange: { min: 99 } }),
      'spec.analysis.metrics[0].compare: compare and thresholdRange are exclusive',
    ],
    [
      relative({ tolerance: '+0.5pp', quantile: 0.9 }),
      'spec.analysis.metrics[0].compare.quantile: quantile applies to request-duration only',
    ],
    [
      { name: 'request-success-rate', onNoData: 'ignore' },
      'spec.analysis.metrics[0].onNoData: must be one of',
    ],
    [
      { name: 'request-success-rate', maxHold: 'soon' },
      'spec.analysis.metrics[0].maxHold: must be a duration',
    ],
  ])('refuses bad input with the field path (%#)', (metric, expected) => {
    expect(issues(canary([metric])).join('\n')).toContain(expected);
  });

  it('refuses a relative builtin check on a provider without per-workload metrics', () => {
    expect(issues(canary([relative({ tolerance: '+0.5pp' })], 'kubernetes')).join('\n')).toContain(
      'spec.analysis.metrics[0].compare: "request-success-rate" cannot be compared with the primary on provider "kubernetes"',
    );
    // A template can still compare there, through {{ workload }}.
    expect(
      issues(
        canary(
          [{ name: 'errors', templateRef: { name: 'errors' }, compare: { tolerance: '+1pp' } }],
          'kubernetes',
        ),
      ),
    ).toEqual([]);
  });

  it('accepts dryRun, onNoData and maxHold on absolute checks too', () => {
    expect(
      issues(
        canary([
          {
            name: 'request-duration',
            thresholdRange: { max: 500 },
            dryRun: true,
            onNoData: 'hold',
            maxHold: '5m',
          },
        ]),
      ),
    ).toEqual([]);
  });
});

describe('MetricTemplate for relative checks', () => {
  const template = (spec: Record<string, unknown>) => ({
    apiVersion: PETREL_API_VERSION,
    kind: 'MetricTemplate',
    metadata: { name: 'errors', namespace: 'test' },
    spec: { provider: { type: 'prometheus' }, ...spec },
  });

  it('accepts a pair of count queries naming the workload', () => {
    const result = validateMetricTemplate(
      template({
        query: 'sum(increase(http_errors_total{workload="{{ workload }}"}[{{ interval }}]))',
        totalQuery: 'sum(increase(http_requests_total{workload="{{ workload }}"}[{{ interval }}]))',
      }),
    );
    expect(result.ok).toBe(true);
  });

  it('refuses a totalQuery template without the workload placeholder, naming the field', () => {
    const result = validateMetricTemplate(
      template({
        query: 'sum(increase(http_errors_total[1m]))',
        totalQuery: 'sum(increase(http_requests_total{workload="{{ workload }}"}[1m]))',
      }),
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => i.path)).toEqual(['spec.query']);
    expect(result.issues[0]!.message).toContain('{{ workload }}');
  });

  it('petrel lint reports the same problems with the path', () => {
    const report: LintReport = {
      files: 0,
      resources: 0,
      problems: [],
      unreadable: [],
    } as unknown as LintReport;
    lintSource(
      {
        name: 'canary.yaml',
        text: `${stringify(canary([relative({ tolerance: '+0.5pp', alpha: 2 })]))}---\n${stringify(
          template({ query: 'sum(x)', totalQuery: 'sum(y)' }),
        )}`,
      },
      report,
    );
    const text = report.problems.join('\n');
    expect(text).toContain('spec.analysis.metrics[0].compare.alpha: must be <= 0.2');
    expect(text).toContain('spec.totalQuery: a template with totalQuery');
    expect(text).not.toContain('unknown placeholder');
  });
});
