import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { FLAGGER_UNSUPPORTED_FIELDS, NOT_SUPPORTED } from '../src/api/flagger-compat.ts';
import { type LintReport, lintSource } from '../src/cli/lint.ts';

/**
 * Every Flagger field Petrel does not do is refused by name with what to use instead, never as a
 * misspelling: each entry of the table is put into a valid document and linted.
 */

const BASE: Record<string, Record<string, unknown>> = {
  Canary: {
    targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
    autoscalerRef: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: 'podinfo' },
    service: { port: 80 },
    analysis: {
      metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
      webhooks: [{ name: 'load', url: 'http://loadtester.test/' }],
      sessionAffinity: { cookieName: 'canary' },
    },
  },
  MetricTemplate: { provider: { type: 'prometheus' }, query: 'up' },
  AlertProvider: { type: 'slack', address: 'https://hooks.slack.com/services/x' },
};

/** Sets `value` at a dotted path under spec, entering the first item of lists (`[]`). */
function withField(spec: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(spec);
  const parts = path.replace(/^spec\./, '').split('.');
  let node: Record<string, unknown> = copy;
  parts.forEach((part, index) => {
    const list = part.endsWith('[]');
    const key = list ? part.slice(0, -2) : part;
    if (index === parts.length - 1) {
      node[key] = value;
      return;
    }
    if (list) node = (node[key] as Record<string, unknown>[])[0]!;
    else {
      node[key] ??= {};
      node = node[key] as Record<string, unknown>;
    }
  });
  return copy;
}

function lint(kind: string, spec: Record<string, unknown>): string[] {
  const report: LintReport = { problems: [], unreadable: [], resources: 0, files: 0 };
  const document = {
    apiVersion: 'petrel.dev/v1alpha1',
    kind,
    metadata: { name: 'x', namespace: 'test' },
    spec,
  };
  lintSource({ name: 'doc.yaml', text: stringify(document) }, report);
  return report.problems;
}

describe('Flagger fields Petrel does not do', () => {
  it('the base documents are valid', () => {
    for (const [kind, spec] of Object.entries(BASE)) expect(lint(kind, spec), kind).toEqual([]);
  });

  const cases = Object.entries(FLAGGER_UNSUPPORTED_FIELDS).flatMap(([kind, fields]) =>
    Object.keys(fields).map((path) => [kind, path] as const),
  );
  it.each(cases)('%s %s is refused as not supported, with an alternative', (kind, path) => {
    const problems = lint(kind, withField(BASE[kind]!, path, { any: 'value' }));
    const shown = path.replace(/\[\]/g, '[0]');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`: ${shown}: ${NOT_SUPPORTED}: `);
    expect(problems[0]).not.toContain('check its spelling');
  });

  it.each([
    ['provider', { provider: 'linkerd' }, 'spec.provider: not supported by Petrel: provider linkerd'],
    [
      'DaemonSet',
      { targetRef: { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'x' } },
      'spec.targetRef.kind: not supported by Petrel',
    ],
    [
      'KEDA',
      { autoscalerRef: { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', name: 'x' } },
      'spec.autoscalerRef.kind: not supported by Petrel',
    ],
  ])('Canary %s is refused as not supported', (_name, spec, message) => {
    expect(lint('Canary', { ...BASE.Canary, ...spec }).join('\n')).toContain(message);
  });

  it('MetricTemplate {{ ingress }} and {{ route }} are refused by name; {{ service }} and {{ name }} work', () => {
    const problems = lint('MetricTemplate', {
      ...BASE.MetricTemplate,
      query: 'up{ingress="{{ ingress }}",route="{{ route }}"}',
    });
    expect(problems).toEqual([
      expect.stringContaining(
        "not supported by Petrel: placeholder {{ ingress }} at line 1, column 13 (the nginx provider's Ingress name)",
      ),
      expect.stringContaining('not supported by Petrel: placeholder {{ route }} at line 1, column 35'),
    ]);
    expect(
      lint('MetricTemplate', { ...BASE.MetricTemplate, query: 'up{service="{{ service }}",c="{{ name }}"}' }),
    ).toEqual([]);
  });

  it('AlertProvider gchat and rocket are refused with the type to use', () => {
    expect(lint('AlertProvider', { ...BASE.AlertProvider, type: 'rocket' })[0]).toContain(
      'spec.type: not supported by Petrel: alert provider type "rocket"; use type slack',
    );
    expect(lint('AlertProvider', { ...BASE.AlertProvider, type: 'gchat' })[0]).toContain('use type webhook');
  });
});
