import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { validateCanary } from '../src/api/canary.ts';
import istioFields from '../src/api/istio-fields.generated.json' with { type: 'json' };
import { istioRouteIssues, istioTrafficPolicyIssues } from '../src/api/istio-passthrough.ts';

/** Istio pass-through fields are checked against Istio's own schema and field names. */

function canary(service: Record<string, unknown>, analysis: Record<string, unknown> = {}) {
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: { targetRef: { kind: 'Deployment', name: 'podinfo' }, service: { port: 80, ...service }, analysis },
  };
}

function issuesOf(input: unknown) {
  const result = validateCanary(input);
  return result.ok ? [] : result.issues;
}

describe('Istio pass-through validation', () => {
  it('was generated from the installed @kubernetes-models/istio (regenerate with npx tsx dev/generate/istio-fields.ts)', () => {
    const require = createRequire(import.meta.url);
    const { version } = require('@kubernetes-models/istio/package.json') as { version: string };
    expect(istioFields.source).toBe(`@kubernetes-models/istio ${version}`);
  });

  it('refuses tls.mode ISTIO_MUTAL, naming the field and the allowed values', () => {
    expect(issuesOf(canary({ trafficPolicy: { tls: { mode: 'ISTIO_MUTAL' } } }))).toEqual([
      {
        path: 'spec.service.trafficPolicy.tls.mode',
        message:
          'must be one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL (got "ISTIO_MUTAL"): Istio accepts no other value',
      },
    ]);
  });

  it('refuses uri: {prefx: /api}, which Istio would prune into a match on every request', () => {
    expect(issuesOf(canary({ match: [{ uri: { prefx: '/api' } }] }))).toEqual([
      {
        path: 'spec.service.match[0].uri.prefx',
        message: 'unknown Istio field: Istio would drop it silently (known here: exact, prefix, regex)',
      },
    ]);
  });

  it('refuses the same typos in analysis.match, and a match with two kinds of string match', () => {
    const issues = issuesOf(
      canary(
        {},
        {
          iterations: 2,
          match: [{ headers: { cookie: { regx: 'x' } } }, { uri: { exact: '/a', prefix: '/b' } }],
        },
      ),
    );
    expect(issues).toContainEqual({
      path: 'spec.analysis.match[0].headers.cookie.regx',
      message: 'unknown Istio field: Istio would drop it silently (known here: exact, prefix, regex)',
    });
    expect(issues).toContainEqual({
      path: 'spec.analysis.match[1].uri',
      message: 'set only one of exact, prefix, regex',
    });
  });

  it('checks types inside retries, headers, corsPolicy and rewrite', () => {
    const issues = issuesOf(
      canary({
        headers: { request: { set: { 'x-a': 'b' } }, respnse: {} },
        corsPolicy: { allowOrigins: [{ exact: 1 }] },
        rewrite: { uri: '/', type: 'ReplacePrefixMatch' },
      }),
    );
    expect(issues.map((i) => i.path).sort()).toEqual([
      'spec.service.corsPolicy.allowOrigins[0].exact',
      'spec.service.headers.respnse',
      'spec.service.rewrite.type',
    ]);
  });

  it('accepts what Istio accepts: maps of headers, nested traffic policies, regex rewrites', () => {
    expect(
      issuesOf(
        canary({
          trafficPolicy: {
            tls: { mode: 'ISTIO_MUTUAL' },
            loadBalancer: { simple: 'LEAST_REQUEST', localityLbSetting: { enabled: true } },
            connectionPool: { http: { http2MaxRequests: 100, maxRequestsPerConnection: 10 } },
            outlierDetection: { consecutive5xxErrors: 5, interval: '30s', baseEjectionTime: '30s' },
            portLevelSettings: [{ port: { number: 9898 }, tls: { mode: 'DISABLE' } }],
          },
          match: [{ uri: { prefix: '/api' }, headers: { 'x-user': { exact: 'a' } }, ignoreUriCase: true }],
          headers: { request: { add: { 'x-b': 'c' }, remove: ['x-d'] }, response: { set: { 'x-e': 'f' } } },
          retries: { attempts: 3, perTryTimeout: '2s', retryOn: 'gateway-error,connect-failure' },
          corsPolicy: {
            allowOrigins: [{ regex: '.*' }],
            allowMethods: ['GET'],
            maxAge: '24h',
            allowCredentials: true,
          },
          rewrite: { uriRegexRewrite: { match: '^/v1/(.*)', rewrite: '/\\1' } },
        }),
      ),
    ).toEqual([]);
  });

  it('checks a route and a traffic policy on their own, with paths inside them', () => {
    expect(istioRouteIssues({ timeout: '5s', retries: { attempts: -1 } })).toEqual([]);
    expect(istioTrafficPolicyIssues({ loadBalancer: { simple: 'RANDOMLY' } })).toEqual([
      {
        path: ['loadBalancer', 'simple'],
        message: expect.stringMatching(
          /^must be one of UNSPECIFIED, LEAST_CONN, RANDOM, PASSTHROUGH, ROUND_ROBIN, LEAST_REQUEST \(got "RANDOMLY"\)/,
        ),
      },
    ]);
  });

  it('leaves Istio fields alone for provider kubernetes, which refuses them instead', () => {
    const issues = issuesOf({
      ...canary({ trafficPolicy: { tls: { mode: 'ISTIO_MUTAL' } } }, { iterations: 2 }),
      spec: {
        ...canary({}).spec,
        provider: 'kubernetes',
        service: { port: 80, trafficPolicy: { tls: { mode: 'ISTIO_MUTAL' } } },
        analysis: { iterations: 2 },
      },
    });
    expect(issues).toEqual([
      {
        path: 'spec.service.trafficPolicy',
        message:
          'is an Istio routing field; provider kubernetes writes only Services, so it would be ignored: remove it or use provider istio',
      },
    ]);
  });
});
