import { describe, expect, it } from 'vitest';
import { checkPromQLTemplate, substitutePlaceholders } from '../src/api/promql.ts';

describe('checkPromQLTemplate', () => {
  it.each([
    'up',
    'sum(rate(istio_requests_total{destination_workload_namespace="{{ namespace }}",destination_workload=~"{{ target }}"}[{{ interval }}]))',
    'histogram_quantile(0.99, sum(rate(x_bucket{ns="{{namespace}}"}[{{ interval }}])) by (le))',
    'max_over_time(up{job="{{ target }}"}[1h:{{ interval }}]) > {{ variables.limit }}',
    "sum(rate(foo{route='{{ variables.route }}'}[5m]))",
  ])('accepts %s', (query) => {
    expect(checkPromQLTemplate(query)).toEqual([]);
  });

  it.each([
    ['sum(rate(foo[1m])', 'line 1, column 18', 'unexpected end of query'],
    ['rate(foo[1m]))', 'line 1, column 14', 'near ")"'],
    ['foo{a=}', 'line 1, column 7', 'near "}"'],
    ['sum(\n  rate(foo[{{ interval }}])\n))', 'line 3, column 2', 'near ")"'],
    ['sum(rate(foo{ns="{{ namespace }}"}[{{ interval }}]) by', 'line 1, column 53', 'near "by"'],
  ])('reports %j at %s', (query, position, near) => {
    const issues = checkPromQLTemplate(query);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('spec.query');
    expect(issues[0]!.message).toContain(`PromQL does not parse at ${position} of the query`);
    expect(issues[0]!.message).toContain(near);
  });

  it('reports an unknown placeholder with its position', () => {
    expect(checkPromQLTemplate('rate(foo{a="x"}[{{ window }}])')).toEqual([
      {
        path: 'spec.query',
        message:
          'unknown placeholder {{ window }} at line 1, column 17 of the query: use {{ namespace }}, {{ target }}, {{ interval }}, {{ name }}, {{ service }}, {{ workload }} or {{ variables.NAME }}',
      },
    ]);
  });
});

describe('substitutePlaceholders', () => {
  it('uses a duration in ranges, a word in strings and a number elsewhere, and maps offsets back', () => {
    const query = 'a{n="{{ namespace }}"}[{{ interval }}] > {{ variables.x }}';
    const { text, toOriginal } = substitutePlaceholders(query);
    expect(text).toBe('a{n="placeholder"}[1m] > 1');
    expect(toOriginal(text.indexOf('placeholder') + 3)).toBe(query.indexOf('{{ namespace }}'));
    expect(toOriginal(text.indexOf(']'))).toBe(query.indexOf(']'));
    expect(toOriginal(text.indexOf('>'))).toBe(query.indexOf('>'));
    expect(toOriginal(0)).toBe(0);
  });
});
