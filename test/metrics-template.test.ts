import { describe, expect, it } from 'vitest';
import { BUILTIN_METRICS } from '../src/api/index.ts';
import { builtinQuery, UnsupportedBuiltinError } from '../src/metrics/builtin.ts';
import { renderQuery, TemplateRenderError } from '../src/metrics/template.ts';

const model = {
  name: 'podinfo',
  namespace: 'test',
  target: 'podinfo',
  interval: '1m',
  variables: { direction: 'inbound', code: '5..' },
};

describe('renderQuery', () => {
  it('replaces every supported placeholder, with or without spaces', () => {
    expect(
      renderQuery(
        'rate(x{ns="{{ namespace }}",w=~"{{target}}",d="{{  variables.direction }}",c=~"{{ variables.code }}",n="{{ name }}"}[{{ interval }}])',
        model,
      ),
    ).toBe('rate(x{ns="test",w=~"podinfo",d="inbound",c=~"5..",n="podinfo"}[1m])');
  });

  it('leaves a query without placeholders as it is', () => {
    expect(renderQuery('sum(up)', model)).toBe('sum(up)');
  });

  it('names an unknown variable and lists the allowed ones', () => {
    const err = (() => {
      try {
        renderQuery('x{a="{{ namespaces }}"}', model);
      } catch (e) {
        return e;
      }
    })() as TemplateRenderError;
    expect(err).toBeInstanceOf(TemplateRenderError);
    expect(err.code).toBe('INVALID_TEMPLATE');
    expect(err.variable).toBe('namespaces');
    expect(err.message).toContain('unknown template variable "namespaces"');
    expect(err.message).toContain('{{ variables.NAME }}');
  });

  it('names a templateVariable that the metric does not set', () => {
    expect(() => renderQuery('x{a="{{ variables.region }}"}', model)).toThrow(
      /"variables\.region" is not set: add "region" to the metric's templateVariables \(set: direction, code\)/,
    );
  });

  it('does not treat inherited object keys as variables', () => {
    expect(() => renderQuery('{{ variables.constructor }}', model)).toThrow(TemplateRenderError);
  });

  it('rejects an unclosed placeholder and Go-template syntax it does not support', () => {
    expect(() => renderQuery('x{a="{{ namespace "}', model)).toThrow(/unclosed "\{\{"/);
    expect(() => renderQuery('{{ .Namespace }}', model)).toThrow(/unknown template variable "\.Namespace"/);
  });
});

describe('builtin queries', () => {
  it("are Flagger's Istio queries with the destination reporter and the target workload", () => {
    for (const metric of BUILTIN_METRICS) {
      const query = renderQuery(builtinQuery('istio', metric), model);
      expect(query).toContain('reporter="destination"');
      expect(query).toContain('destination_workload_namespace="test"');
      expect(query).toContain('destination_workload=~"podinfo"');
      expect(query).toContain('[1m]');
      expect(query).not.toContain('{{');
    }
    expect(builtinQuery('istio', 'request-success-rate')).toMatch(/response_code!~"5\.\*"[\s\S]*\* 100$/);
    expect(builtinQuery('istio', 'request-duration')).toMatch(
      /^histogram_quantile\(\s*0\.99,[\s\S]*istio_request_duration_milliseconds_bucket[\s\S]*by \(le\)/,
    );
  });

  it('are refused for a provider without mesh metrics, with the fix', () => {
    expect(() => builtinQuery('kubernetes', 'request-duration')).toThrow(UnsupportedBuiltinError);
    expect(() => builtinQuery('kubernetes', 'request-duration')).toThrow(/use a MetricTemplate/);
  });
});
