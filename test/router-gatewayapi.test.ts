import { readFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { HTTPRoute as GatewayHttpRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type Canary, canarySchema, validateCanary } from '../src/api/canary.ts';
import { buildCrds } from '../src/api/crd.ts';
import { gatewayApiProblems, mergeHttpRouteMatches, toHttpRouteMatches } from '../src/api/gateway-api.ts';
import { validateAgainstCrdSchema } from '../src/api/openapi-validate.ts';
import { lintCommand } from '../src/cli/lint.ts';
import { MANAGED_BY_LABEL } from '../src/kube/ownership.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { Deployment } from '../src/kube/workloads.ts';
import { builtinQuery } from '../src/metrics/builtin.ts';
import { createRouter, GATEWAY_API_DISABLED, RouterFactory } from '../src/routers/factory.ts';
import {
  buildHttpRoute,
  GatewayApiRouter,
  type HttpRoute,
  readHttpRouteWeights,
} from '../src/routers/gatewayapi.ts';
import type { DestinationRule, VirtualService } from '../src/routers/istio.ts';
import { InvalidWeightsError, ObjectNotOwnedError, UnknownProviderError } from '../src/routers/router.ts';
import type { Service } from '../src/routers/services.ts';
import { InMemoryKubeApi } from './support/fake-kube.ts';

const GATEWAY = { name: 'public', namespace: 'gateways' };

function canaryInput(service: Record<string, unknown> = {}, analysis: Record<string, unknown> = {}) {
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', uid: 'canary-uid-1' },
    spec: {
      provider: 'gatewayapi:v1',
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: {
        port: 9898,
        targetPort: 'http',
        hosts: ['app.example.com'],
        gatewayRefs: [GATEWAY],
        ...service,
      },
      // Weight steps, unless the analysis runs iterations (A/B), which has none.
      analysis:
        'iterations' in analysis
          ? { interval: '1m', threshold: 5, ...analysis }
          : { interval: '1m', threshold: 5, maxWeight: 50, stepWeight: 10, ...analysis },
    },
  };
}

function makeCanary(service: Record<string, unknown> = {}, analysis: Record<string, unknown> = {}): Canary {
  return canarySchema.parse(canaryInput(service, analysis));
}

function target(): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'podinfo', namespace: 'test', labels: { app: 'podinfo' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'podinfo' } },
      template: {
        metadata: { labels: { app: 'podinfo' } },
        spec: { containers: [{ name: 'podinfo', image: 'ghcr.io/stefanprodan/podinfo:6.0.0' }] },
      },
    },
  };
}

function setup() {
  const api = new InMemoryKubeApi();
  api.seed(RESOURCES.deployment, target());
  const router = new GatewayApiRouter({
    api,
    deployments: api.cache<Deployment>(RESOURCES.deployment),
    services: api.cache<Service>(RESOURCES.service),
    httpRoutes: api.cache<HttpRoute>(RESOURCES.httpRoute),
  });
  const route = () => api.cache<HttpRoute>(RESOURCES.httpRoute).get('test', 'podinfo');
  return { api, router, route };
}

/** Validates against the Gateway API's own schema (standard channel models). */
function expectValidHttpRoute(route: HttpRoute): void {
  expect(() => new GatewayHttpRoute(route as never).validate()).not.toThrow();
}

describe('GatewayApiRouter', () => {
  it('creates the three Services and an HTTPRoute at 100/0 attached to the gatewayRefs', async () => {
    const { api, router, route } = setup();
    const canary = makeCanary();
    await router.reconcile(canary);
    expect(api.writes().map((w) => `${w.verb} ${w.resource} ${w.name}`)).toEqual([
      'create services podinfo',
      'create services podinfo-primary',
      'create services podinfo-canary',
      'create httproutes podinfo',
    ]);
    const live = route();
    expect(live?.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(live?.metadata?.labels?.[MANAGED_BY_LABEL]).toBe('petrel');
    expect(live?.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Canary', name: 'podinfo', uid: 'canary-uid-1', controller: true }),
    ]);
    expect(live?.spec).toEqual({
      parentRefs: [
        { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public', namespace: 'gateways' },
      ],
      hostnames: ['app.example.com'],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          backendRefs: [
            { group: '', kind: 'Service', name: 'podinfo-primary', port: 9898, weight: 100 },
            { group: '', kind: 'Service', name: 'podinfo-canary', port: 9898, weight: 0 },
          ],
        },
      ],
    });
    expectValidHttpRoute(live!);
    expect(router.getRoutes(canary)).toEqual({ primary: 100, canary: 0 });
  });

  it('makes zero writes on a second reconcile, and none right after a write before the watch event', async () => {
    const { api, router } = setup();
    const canary = makeCanary();
    await router.reconcile(canary);
    const before = api.writes().length;
    await router.reconcile(canary);
    expect(api.writes().length).toBe(before);

    const fresh = new InMemoryKubeApi();
    fresh.seed(RESOURCES.deployment, target());
    const empty = { get: () => undefined, list: () => [] };
    const blind = new GatewayApiRouter({
      api: fresh,
      deployments: fresh.cache<Deployment>(RESOURCES.deployment),
      services: empty,
      httpRoutes: empty,
    });
    await blind.reconcile(canary);
    await blind.setRoutes(canary, { primary: 80, canary: 20 });
    const written = fresh.writes().length;
    await blind.reconcile(canary);
    await blind.setRoutes(canary, { primary: 80, canary: 20 });
    expect(fresh.writes().length).toBe(written);
    expect(blind.getRoutes(canary)).toEqual({ primary: 80, canary: 20 });
  });

  it('sets weights with one write, reads them back, and reconcile keeps them', async () => {
    const { api, router, route } = setup();
    const canary = makeCanary();
    await router.reconcile(canary);
    const before = api.writes().length;
    await router.setRoutes(canary, { primary: 70, canary: 30 });
    expect(api.writes().length).toBe(before + 1);
    expect(route()?.spec?.rules?.[0]?.backendRefs?.map((b) => b.weight)).toEqual([70, 30]);
    expect(router.getRoutes(canary)).toEqual({ primary: 70, canary: 30 });
    await router.reconcile(canary);
    expect(api.writes().length).toBe(before + 1);
    expect(router.getRoutes(canary)).toEqual({ primary: 70, canary: 30 });
  });

  it('reads live weights as percentages: relative weights, and a missing weight is 1', () => {
    const canary = makeCanary();
    const route = buildHttpRoute(canary, { primary: 100, canary: 0 });
    const refs = route.spec!.rules![0]!.backendRefs!;
    refs[0]!.weight = 3;
    refs[1]!.weight = 1;
    expect(readHttpRouteWeights(route, 'podinfo')).toEqual({ primary: 75, canary: 25 });
    delete refs[0]!.weight;
    delete refs[1]!.weight;
    expect(readHttpRouteWeights(route, 'podinfo')).toEqual({ primary: 50, canary: 50 });
    refs[0]!.weight = 0;
    refs[1]!.weight = 0;
    expect(readHttpRouteWeights(route, 'podinfo')).toBeUndefined();
  });

  it('restores hand-edited parentRefs and hostnames but keeps the live weights and foreign metadata', async () => {
    const { api, router, route } = setup();
    const canary = makeCanary();
    await router.reconcile(canary);
    await router.setRoutes(canary, { primary: 90, canary: 10 });
    await api.mergePatch(
      { resource: RESOURCES.httpRoute, namespace: 'test', name: 'podinfo' },
      {
        metadata: { labels: { 'app.kubernetes.io/instance': 'argocd-app' } },
        spec: { parentRefs: [{ name: 'someone-elses' }], hostnames: ['evil.example.com'] },
      },
    );
    const before = api.writes().length;
    await router.reconcile(canary);
    expect(api.writes().length).toBe(before + 1);
    expect(route()?.spec?.parentRefs?.map((p) => p.name)).toEqual(['public']);
    expect(route()?.spec?.hostnames).toEqual(['app.example.com']);
    expect(route()?.metadata?.labels).toEqual({
      [MANAGED_BY_LABEL]: 'petrel',
      'app.kubernetes.io/instance': 'argocd-app',
    });
    expect(router.getRoutes(canary)).toEqual({ primary: 90, canary: 10 });
  });

  it('refuses to touch an HTTPRoute it does not own', async () => {
    const { api, router } = setup();
    api.seed(RESOURCES.httpRoute, {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'podinfo', namespace: 'test', labels: { team: 'web' } },
      spec: { parentRefs: [{ name: 'public' }], rules: [{ backendRefs: [{ name: 'podinfo', port: 80 }] }] },
    });
    const canary = makeCanary();
    const err = await router.reconcile(canary).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectNotOwnedError);
    expect((err as Error).message).toContain('HTTPRoute test/podinfo');
    await expect(router.setRoutes(canary, { primary: 50, canary: 50 })).rejects.toBeInstanceOf(
      ObjectNotOwnedError,
    );
    await router.finalize(canary);
    expect(api.writes().filter((w) => w.resource === 'httproutes')).toEqual([]);
    expect(router.getRoutes(canary)).toBeUndefined();
  });

  it('rejects weights that are not integers adding up to 100', async () => {
    const { router } = setup();
    await expect(router.setRoutes(makeCanary(), { primary: 60, canary: 50 })).rejects.toBeInstanceOf(
      InvalidWeightsError,
    );
  });

  it('finalize routes everything back to the primary', async () => {
    const { router } = setup();
    const canary = makeCanary();
    await router.reconcile(canary);
    await router.setRoutes(canary, { primary: 40, canary: 60, mirrored: true });
    await router.finalize(canary);
    expect(router.getRoutes(canary)).toEqual({ primary: 100, canary: 0 });
  });

  describe('session affinity (analysis.sessionAffinity)', () => {
    function affinityCanary(service: Record<string, unknown> = {}): Canary {
      const canary = makeCanary(service, { sessionAffinity: { cookieName: 'canary-session', maxAge: 120 } });
      return { ...canary, status: { lastAppliedSpec: 'rev-2' } } as Canary;
    }
    const cookieMatch = (value: string) => ({ type: 'RegularExpression', name: 'Cookie', value });

    it('while the canary has a share: a first rule sends the cookie to the canary, the canary backend sets it', async () => {
      const { router, route } = setup();
      const canary = affinityCanary();
      await router.reconcile(canary);
      await router.setRoutes(canary, { primary: 80, canary: 20 });
      const rules = route()?.spec?.rules ?? [];
      expect(rules).toHaveLength(2);
      const regex = rules[0]?.matches?.[0]?.headers?.[0]?.value ?? '';
      expect(regex).toMatch(/^\.\*canary-session=[0-9a-f]{20}\.\*$/);
      const value = /=([0-9a-f]{20})/.exec(regex)?.[1];
      expect(rules[0]).toEqual({
        matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [cookieMatch(regex)] }],
        backendRefs: [
          { group: '', kind: 'Service', name: 'podinfo-primary', port: 9898, weight: 0 },
          { group: '', kind: 'Service', name: 'podinfo-canary', port: 9898, weight: 100 },
        ],
      });
      expect(rules[1]?.matches).toEqual([{ path: { type: 'PathPrefix', value: '/' } }]);
      expect(rules[1]?.filters).toBeUndefined();
      expect(rules[1]?.backendRefs?.[0]?.filters).toBeUndefined();
      expect(rules[1]?.backendRefs?.[1]).toEqual({
        group: '',
        kind: 'Service',
        name: 'podinfo-canary',
        port: 9898,
        weight: 20,
        filters: [
          {
            type: 'ResponseHeaderModifier',
            responseHeaderModifier: {
              add: [{ name: 'Set-Cookie', value: `canary-session=${value}; Max-Age=120` }],
            },
          },
        ],
      });
      expectValidHttpRoute(route()!);
      // The weights read back are the split's, not the cookie rule's 0/100.
      expect(router.getRoutes(canary)).toEqual({ primary: 80, canary: 20 });
      // The regex accepts a Cookie header carrying the cookie among others, and no other value.
      const re = new RegExp(`^(?:${regex})$`);
      expect(re.test(`a=1; canary-session=${value}; b=2`)).toBe(true);
      expect(re.test('canary-session=0000')).toBe(false);
    });

    it('with no share, the rule sends the cookie to the primary and expires it; a new revision gets a new cookie', async () => {
      const { router, route } = setup();
      const canary = affinityCanary();
      await router.reconcile(canary);
      await router.setRoutes(canary, { primary: 60, canary: 40 });
      const during = route()?.spec?.rules?.[0]?.matches?.[0]?.headers?.[0]?.value;
      await router.setRoutes(canary, { primary: 100, canary: 0 });
      const rules = route()?.spec?.rules ?? [];
      expect(rules[0]?.matches?.[0]?.headers?.[0]?.value).toBe(during);
      expect(rules[0]?.backendRefs?.map((b) => [b.name, b.weight])).toEqual([
        ['podinfo-primary', 100],
        ['podinfo-canary', 0],
      ]);
      const value = /=([0-9a-f]{20})/.exec(during ?? '')?.[1];
      expect(rules[0]?.filters).toEqual([
        {
          type: 'ResponseHeaderModifier',
          responseHeaderModifier: {
            add: [{ name: 'Set-Cookie', value: `canary-session=${value}; Max-Age=-1` }],
          },
        },
      ]);
      expect(rules[1]?.backendRefs?.some((b) => b.filters)).toBe(false);
      expectValidHttpRoute(route()!);
      expect(router.getRoutes(canary)).toEqual({ primary: 100, canary: 0 });
      const next = { ...canary, status: { lastAppliedSpec: 'rev-3' } } as Canary;
      const nextRegex = buildHttpRoute(next, { primary: 90, canary: 10 }).spec?.rules?.[0]?.matches?.[0]
        ?.headers?.[0]?.value;
      expect(nextRegex).toMatch(/canary-session=[0-9a-f]{20}/);
      expect(nextRegex).not.toBe(during);
    });

    it('combined with service.match, headers and mirroring: one response filter per rule, cookie added to each match', () => {
      const canary = affinityCanary({
        match: [{ uri: { prefix: '/api' } }, { headers: { 'x-tenant': { exact: 'a' } } }],
        headers: { response: { add: { 'x-served-by': 'petrel' } } },
      });
      const zero = buildHttpRoute(canary, { primary: 100, canary: 0, mirrored: true });
      expectValidHttpRoute(zero);
      const [sticky, split] = zero.spec?.rules ?? [];
      expect(sticky?.matches?.map((m) => [m.path.value, m.headers?.map((h) => h.name)])).toEqual([
        ['/api', ['Cookie']],
        ['/', ['x-tenant', 'Cookie']],
      ]);
      expect(sticky?.filters).toEqual([
        {
          type: 'ResponseHeaderModifier',
          responseHeaderModifier: {
            add: [
              { name: 'x-served-by', value: 'petrel' },
              { name: 'Set-Cookie', value: expect.stringMatching(/; Max-Age=-1$/) },
            ],
          },
        },
      ]);
      // The mirror stays on the split rule only.
      expect(sticky?.filters?.some((f) => f.type === 'RequestMirror')).toBe(false);
      expect(split?.filters?.map((f) => f.type)).toEqual(['ResponseHeaderModifier', 'RequestMirror']);
      expect(readHttpRouteWeights(zero, 'podinfo')).toEqual({ primary: 100, canary: 0, mirrored: true });
      const shared = buildHttpRoute(canary, { primary: 70, canary: 30 });
      expectValidHttpRoute(shared);
      expect(shared.spec?.rules?.[0]?.filters).toEqual([
        {
          type: 'ResponseHeaderModifier',
          responseHeaderModifier: { add: [{ name: 'x-served-by', value: 'petrel' }] },
        },
      ]);
      expect(shared.spec?.rules?.[1]?.backendRefs?.[1]?.filters?.[0]?.responseHeaderModifier?.add).toEqual([
        { name: 'Set-Cookie', value: expect.stringMatching(/^canary-session=[0-9a-f]{20}; Max-Age=120$/) },
      ]);
      expect(readHttpRouteWeights(shared, 'podinfo')).toEqual({ primary: 70, canary: 30 });
    });

    it('writes no cookie rule before the first revision is recorded, and makes no write on a second reconcile', async () => {
      const { api, router, route } = setup();
      const fresh = makeCanary({}, { sessionAffinity: { cookieName: 'canary-session' } });
      await router.reconcile(fresh);
      expect(route()?.spec?.rules).toHaveLength(1);
      const canary = affinityCanary();
      await router.reconcile(canary);
      await router.setRoutes(canary, { primary: 90, canary: 10 });
      const writes = api.writes().length;
      await router.reconcile(canary);
      expect(api.writes().length).toBe(writes);
      expect(router.getRoutes(canary)).toEqual({ primary: 90, canary: 10 });
    });
  });

  it('A/B: the split rule takes only requests matching analysis.match within service.match, the rest go to the primary', async () => {
    const { router, route } = setup();
    const canary = makeCanary(
      { match: [{ uri: { prefix: '/api' } }, { uri: { exact: '/login' }, method: { exact: 'POST' } }] },
      {
        iterations: 5,
        match: [
          { headers: { 'x-canary': { exact: 'insider' } } },
          {
            headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } },
            queryParams: { beta: { exact: 'on' } },
          },
        ],
      },
    );
    await router.reconcile(canary);
    await router.setRoutes(canary, { primary: 0, canary: 100 });
    const rules = route()?.spec?.rules ?? [];
    expect(rules).toHaveLength(2);
    expect(rules[0]?.matches).toEqual([
      {
        path: { type: 'PathPrefix', value: '/api' },
        headers: [{ name: 'x-canary', type: 'Exact', value: 'insider' }],
      },
      {
        path: { type: 'Exact', value: '/login' },
        method: 'POST',
        headers: [{ name: 'x-canary', type: 'Exact', value: 'insider' }],
      },
      {
        path: { type: 'PathPrefix', value: '/api' },
        headers: [{ name: 'cookie', type: 'RegularExpression', value: '^(.*?;)?(canary=always)(;.*)?$' }],
        queryParams: [{ name: 'beta', type: 'Exact', value: 'on' }],
      },
      {
        path: { type: 'Exact', value: '/login' },
        method: 'POST',
        headers: [{ name: 'cookie', type: 'RegularExpression', value: '^(.*?;)?(canary=always)(;.*)?$' }],
        queryParams: [{ name: 'beta', type: 'Exact', value: 'on' }],
      },
    ]);
    expect(rules[0]?.backendRefs?.map((b) => [b.name, b.weight])).toEqual([
      ['podinfo-primary', 0],
      ['podinfo-canary', 100],
    ]);
    expect(rules[1]?.matches).toEqual([
      { path: { type: 'PathPrefix', value: '/api' } },
      { path: { type: 'Exact', value: '/login' }, method: 'POST' },
    ]);
    expect(rules[1]?.backendRefs).toEqual([
      { group: '', kind: 'Service', name: 'podinfo-primary', port: 9898, weight: 100 },
    ]);
    expectValidHttpRoute(route()!);
    expect(router.getRoutes(canary)).toEqual({ primary: 0, canary: 100 });
  });

  it('an A/B header replaces a service condition on the same header', () => {
    const [service] = toHttpRouteMatches([
      { headers: { 'X-Env': { exact: 'prod' }, host: { exact: 'a' } } },
    ]).matches;
    const [ab] = toHttpRouteMatches([{ headers: { 'x-env': { exact: 'canary' } } }]).matches;
    expect(mergeHttpRouteMatches([ab!], [service!])).toEqual([
      {
        path: { type: 'PathPrefix', value: '/' },
        headers: [
          { name: 'host', type: 'Exact', value: 'a' },
          { name: 'x-env', type: 'Exact', value: 'canary' },
        ],
      },
    ]);
  });

  it('carries headers and timeout into filters and timeouts, and mirrors to the canary when asked', async () => {
    const { router, route } = setup();
    const canary = makeCanary(
      {
        timeout: '5s',
        headers: {
          request: { set: { 'x-petrel': 'yes' }, remove: ['x-debug'] },
          response: { add: { 'x-served-by': 'petrel' } },
        },
      },
      { mirror: true },
    );
    await router.reconcile(canary);
    await router.setRoutes(canary, { primary: 100, canary: 0, mirrored: true });
    const rule = route()?.spec?.rules?.[0];
    expect(rule?.timeouts).toEqual({ request: '5s' });
    expect(rule?.filters).toEqual([
      {
        type: 'RequestHeaderModifier',
        requestHeaderModifier: { set: [{ name: 'x-petrel', value: 'yes' }], remove: ['x-debug'] },
      },
      {
        type: 'ResponseHeaderModifier',
        responseHeaderModifier: { add: [{ name: 'x-served-by', value: 'petrel' }] },
      },
      {
        type: 'RequestMirror',
        requestMirror: { backendRef: { group: '', kind: 'Service', name: 'podinfo-canary', port: 9898 } },
      },
    ]);
    expectValidHttpRoute(route()!);
    expect(router.getRoutes(canary)).toEqual({ primary: 100, canary: 0, mirrored: true });
    await router.setRoutes(canary, { primary: 90, canary: 10 });
    expect(route()?.spec?.rules?.[0]?.filters?.map((f) => f.type)).toEqual([
      'RequestHeaderModifier',
      'ResponseHeaderModifier',
    ]);
    expect(router.getRoutes(canary)).toEqual({ primary: 90, canary: 10 });
  });

  it('writes parentRefs with every field the Gateway API allows, for a Gateway listener or a mesh Service', () => {
    const canary = makeCanary({
      hosts: undefined,
      gatewayRefs: [
        { name: 'public', namespace: 'gateways', sectionName: 'https', port: 443 },
        { name: 'podinfo', group: '', kind: 'Service' },
      ],
    });
    const route = buildHttpRoute(canary, { primary: 50, canary: 50 });
    expect(route.spec?.parentRefs).toEqual([
      {
        group: 'gateway.networking.k8s.io',
        kind: 'Gateway',
        name: 'public',
        namespace: 'gateways',
        sectionName: 'https',
        port: 443,
      },
      { group: '', kind: 'Service', name: 'podinfo' },
    ]);
    expect(route.spec?.hostnames).toBeUndefined();
    expectValidHttpRoute(route);
  });

  it('the schema check is real: a weight that is not an integer is refused by the Gateway API model', () => {
    const route = buildHttpRoute(makeCanary(), { primary: 90, canary: 10 });
    (route.spec!.rules![0]!.backendRefs![0] as { weight: unknown }).weight = 'ninety';
    expect(() => new GatewayHttpRoute(route as never).validate()).toThrow();
  });

  it('factory builds the gatewayapi:v1 router only when the controller watches HTTPRoutes', () => {
    const api = new InMemoryKubeApi();
    const deps = {
      api,
      deployments: api.cache<Deployment>(RESOURCES.deployment),
      services: api.cache<Service>(RESOURCES.service),
      virtualServices: api.cache<VirtualService>(RESOURCES.virtualService),
      destinationRules: api.cache<DestinationRule>(RESOURCES.destinationRule),
    };
    const err = (() => {
      try {
        createRouter('gatewayapi:v1', deps);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UnknownProviderError);
    expect((err as Error).message).toBe(
      `spec.provider "gatewayapi:v1" cannot be used: ${GATEWAY_API_DISABLED}`,
    );
    const withRoutes = { ...deps, httpRoutes: api.cache<HttpRoute>(RESOURCES.httpRoute) };
    expect(createRouter('gatewayapi:v1', withRoutes)).toBeInstanceOf(GatewayApiRouter);
    const factory = new RouterFactory(withRoutes);
    expect(factory.for(makeCanary())).toBe(factory.for(makeCanary()));
  });
});

describe('what provider gatewayapi:v1 accepts and refuses (lint, CRD and InvalidSpec share the schema)', () => {
  const problems = (service: Record<string, unknown> = {}, analysis: Record<string, unknown> = {}) => {
    const result = validateCanary(canaryInput(service, analysis));
    return result.ok ? [] : result.issues.map((i) => `${i.path}: ${i.message}`);
  };

  it('accepts a complete Gateway API canary', () => {
    expect(
      problems(
        {
          match: [{ uri: { regex: '/api/v[0-9]+' } }],
          timeout: '3s',
          headers: { request: { set: { a: 'b' } } },
        },
        { iterations: 3, match: [{ headers: { 'x-canary': { exact: 'yes' } } }] },
      ),
    ).toEqual([]);
  });

  it('needs gatewayRefs, and gatewayRefs need the provider', () => {
    expect(problems({ gatewayRefs: undefined })).toEqual([
      expect.stringMatching(
        /^spec\.service\.gatewayRefs: required with provider gatewayapi:v1: name the Gateway/,
      ),
    ]);
    const istio = canaryInput();
    istio.spec.provider = 'istio';
    const result = validateCanary(istio);
    expect(result.ok ? [] : result.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'spec.service.gatewayRefs: only used with provider gatewayapi:v1: set spec.provider: gatewayapi:v1 or remove it',
    ]);
    expect(problems({ gatewayRefs: [] }).join()).toContain('spec.service.gatewayRefs');
    expect(problems({ gatewayRefs: [{ name: 'public', namespace: 'Not_A_Label' }] }).join()).toContain(
      'spec.service.gatewayRefs[0].namespace',
    );
    expect(problems({ gatewayRefs: [{ name: 'public', listener: 'http' }] }).join()).toContain(
      'spec.service.gatewayRefs[0].listener: unknown field',
    );
  });

  it('refuses the Istio-only service fields, naming what to use instead', () => {
    const found = problems({
      gateways: ['mesh'],
      trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } },
      retries: { attempts: 3 },
      corsPolicy: { allowOrigins: [{ exact: 'https://example.com' }] },
    });
    expect(found).toEqual([
      expect.stringMatching(
        /^spec\.service\.gateways: not supported with provider gatewayapi:v1: .*gatewayRefs/,
      ),
      expect.stringMatching(/^spec\.service\.trafficPolicy: not supported/),
      expect.stringMatching(/^spec\.service\.retries: not supported/),
      expect.stringMatching(/^spec\.service\.corsPolicy: not supported/),
    ]);
  });

  it('refuses match conditions an HTTPRoute cannot express, at their exact path', () => {
    expect(
      problems(
        { match: [{ uri: { prefix: '/api' }, ignoreUriCase: true }, { uri: { prefx: '/api' } }] },
        {
          iterations: 2,
          match: [
            { headers: { 'x-user': { prefix: 'beta-' } } },
            { method: { exact: 'FETCH' } },
            { queryParams: { 'bad name': { exact: 'x' } } },
          ],
        },
      ),
    ).toEqual([
      expect.stringMatching(
        /^spec\.service\.match\[0\]\.ignoreUriCase: not supported with provider gatewayapi:v1/,
      ),
      expect.stringMatching(/^spec\.service\.match\[1\]\.uri: must be one of \{exact\|prefix\|regex/),
      expect.stringMatching(
        /^spec\.analysis\.match\[0\]\.headers\.x-user: provider gatewayapi:v1 matches headers by exact or regex only/,
      ),
      expect.stringMatching(/^spec\.analysis\.match\[1\]\.method: must be \{exact: METHOD\}/),
      expect.stringMatching(
        /^spec\.analysis\.match\[2\]\.queryParams\["bad name"\]: "bad name" is not a valid query parameter name/,
      ),
    ]);
    const many = (n: number) => Array.from({ length: n }, (_, i) => ({ uri: { prefix: `/p${i}` } }));
    expect(problems({ match: many(8) }, { iterations: 1, match: many(8) })).toEqual([]);
    expect(problems({ match: many(8) }, { iterations: 1, match: many(9) })).toEqual([
      'spec.analysis.match: 72 conditions once combined with each of service.match; at most 64 fit one HTTPRoute rule',
    ]);
    expect(problems({ match: [{ uri: { exact: 'api' } }] })).toEqual([
      'spec.service.match[0].uri.exact: must start with "/" (got "api")',
    ]);
  });

  it('refuses hosts that are not HTTPRoute hostnames, mirrorWeight, and bad header operations', () => {
    expect(problems({ hosts: ['podinfo.test', '10.0.0.1:80', '*'] })).toEqual([
      expect.stringMatching(/^spec\.service\.hosts\[1\]: "10\.0\.0\.1:80" is not an HTTPRoute hostname/),
      expect.stringMatching(/^spec\.service\.hosts\[2\]: "\*" is not an HTTPRoute hostname/),
    ]);
    expect(problems({ timeout: '100000s' })).toEqual([
      'spec.service.timeout: "100000s" is not a Gateway API duration (at most four parts of up to five digits, e.g. 1m30s)',
    ]);
    expect(problems({ timeout: '99999s' })).toEqual([]);
    expect(problems({}, { mirror: true, mirrorWeight: 20 })).toEqual([
      expect.stringMatching(/^spec\.analysis\.mirrorWeight: not supported with provider gatewayapi:v1/),
    ]);
    expect(problems({}, { mirror: true })).toEqual([]);
    expect(problems({ headers: { request: { append: { a: 'b' } }, upstream: {} } })).toEqual([
      'spec.service.headers.request.append: only set, add and remove exist: remove it',
      'spec.service.headers.upstream: only request and response header operations exist: remove it',
    ]);
  });

  it('accepts session affinity, but not a Set-Cookie header operation beside it', () => {
    const spec = makeCanary().spec;
    const sessionAffinity = { cookieName: 'flagger-cookie', maxAge: 60 };
    expect(gatewayApiProblems({ ...spec, analysis: { ...spec.analysis, sessionAffinity } })).toEqual([]);
    const withSetCookie = makeCanary({ headers: { response: { add: { 'set-cookie': 'a=b' } } } }).spec;
    expect(
      gatewayApiProblems({ ...withSetCookie, analysis: { ...withSetCookie.analysis, sessionAffinity } }),
    ).toEqual([
      {
        path: ['service', 'headers', 'response', 'add'],
        message: expect.stringMatching(/^cannot add Set-Cookie together with analysis.sessionAffinity/),
      },
    ]);
    expect(gatewayApiProblems(withSetCookie)).toEqual([]);
  });
});

describe('examples/gatewayapi', () => {
  it('is a valid Canary for the schema and the generated CRD, and builds an HTTPRoute the Gateway API accepts', async () => {
    const text = await readFile(new URL('../examples/gatewayapi/canary.yaml', import.meta.url), 'utf8');
    const object = parse(text) as Record<string, unknown>;
    const result = validateCanary(object);
    expect(result.ok ? [] : result.issues).toEqual([]);
    const crd = buildCrds().find((c) => (c.spec.names as { kind: string }).kind === 'Canary')!;
    const schema = (crd.spec.versions as { schema: { openAPIV3Schema: Record<string, unknown> } }[])[0]!
      .schema.openAPIV3Schema;
    expect(validateAgainstCrdSchema(schema, object)).toEqual([]);
    if (!result.ok) return;
    const canary = { ...result.value, metadata: { ...result.value.metadata, uid: 'u1' } };
    const route = buildHttpRoute(canary, { primary: 90, canary: 10 });
    expectValidHttpRoute(route);
    expect(route.spec?.parentRefs).toEqual([
      {
        group: 'gateway.networking.k8s.io',
        kind: 'Gateway',
        name: 'public',
        namespace: 'istio-ingress',
        sectionName: 'http',
      },
    ]);
    expect(route.spec?.rules?.[0]?.timeouts).toEqual({ request: '5s' });
  });
});

describe('petrel lint on Gateway API canaries', () => {
  async function lintStdin(text: string) {
    const stdout = new PassThrough();
    const stdin = new PassThrough();
    let out = '';
    stdout.on('data', (chunk) => {
      out += chunk;
    });
    stdin.end(text);
    const code = await lintCommand(['-'], { stdout, stderr: new PassThrough(), stdin, env: {} });
    return { code, lines: out.split('\n').filter(Boolean) };
  }

  it('passes the example and names each refused field with its fix', async () => {
    const example = await readFile(new URL('../examples/gatewayapi/canary.yaml', import.meta.url), 'utf8');
    expect(await lintStdin(example)).toEqual({ code: 0, lines: [] });
    const broken = example
      .replace(/ {4}gatewayRefs:\n(?: {6}.*\n| {8}.*\n)+/, '')
      .replace('    timeout: 5s\n', '    timeout: 5s\n    retries:\n      attempts: 3\n');
    const result = await lintStdin(broken);
    expect(result.code).toBe(1);
    expect(result.lines).toEqual([
      expect.stringMatching(
        /^<stdin>#1 Canary web\/podinfo: spec\.service\.gatewayRefs: required with provider gatewayapi:v1/,
      ),
      expect.stringMatching(
        /^<stdin>#1 Canary web\/podinfo: spec\.service\.retries: not supported with provider gatewayapi:v1: HTTPRoute retries are not in the standard channel/,
      ),
    ]);
  });
});

describe('builtin checks of gatewayapi:v1 canaries', () => {
  it("query Istio's workload metrics, as provider istio does (Istio implements the Gateway API)", () => {
    for (const metric of ['request-success-rate', 'request-duration'] as const) {
      expect(builtinQuery('gatewayapi:v1', metric)).toBe(builtinQuery('istio', metric));
      expect(builtinQuery('gatewayapi:v1', metric)).toContain('destination_workload=~"{{ target }}"');
    }
  });
});
