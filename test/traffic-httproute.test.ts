import { describe, expect, it } from 'vitest';
import {
  type HttpRouteLike,
  httpRouteAsSessionRoutes,
  resolveHttpRoute,
} from '../dev/sandbox/traffic/httproute.ts';
import { seededRandom } from '../dev/sandbox/traffic/random.ts';
import type { ClusterView, DeploymentLike, ServiceLike } from '../dev/sandbox/traffic/routes.ts';
import { ClientPool, type RoutedRequest, resolveSessionRoutes } from '../dev/sandbox/traffic/sessions.ts';
import { canarySchema } from '../src/api/canary.ts';
import { buildHttpRoute } from '../src/routers/gatewayapi.ts';

function cluster(ready: Record<string, number>): ClusterView {
  const services: Record<string, ServiceLike> = {
    'podinfo-primary': { spec: { selector: { app: 'podinfo-primary' } } },
    'podinfo-canary': { spec: { selector: { app: 'podinfo' } } },
  };
  const deployments: DeploymentLike[] = Object.entries(ready).map(([name, readyReplicas]) => ({
    metadata: { name, namespace: 'shop' },
    spec: { template: { metadata: { labels: { app: name }, annotations: { v: name } } } },
    status: { readyReplicas },
  }));
  return {
    service: (namespace, name) => (namespace === 'shop' ? services[name] : undefined),
    deployments: (namespace) => (namespace === 'shop' ? deployments : []),
  };
}

function petrelRoute(weights: { primary: number; canary: number }, analysis: Record<string, unknown> = {}) {
  const canary = canarySchema.parse({
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'shop', uid: 'u1' },
    spec: {
      provider: 'gatewayapi:v1',
      targetRef: { kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898, gatewayRefs: [{ name: 'public' }] },
      analysis,
    },
  });
  return buildHttpRoute(canary, weights) as HttpRouteLike;
}

const shares = (route: HttpRouteLike, view: ClusterView) =>
  Object.fromEntries(resolveHttpRoute(route, view).targets.map((t) => [t.workload, t.share]));

describe('resolveHttpRoute: the simulator follows HTTPRoute backendRef weights', () => {
  it('splits by the weights Petrel wrote, and follows them to the Deployments behind each Service', () => {
    const view = cluster({ 'podinfo-primary': 2, podinfo: 2 });
    expect(shares(petrelRoute({ primary: 70, canary: 30 }), view)).toEqual({
      'podinfo-primary': 0.7,
      podinfo: 0.3,
    });
    expect(shares(petrelRoute({ primary: 100, canary: 0 }), view)).toEqual({ 'podinfo-primary': 1 });
    const resolved = resolveHttpRoute(petrelRoute({ primary: 90, canary: 10 }), view);
    expect(resolved.targets.find((t) => t.workload === 'podinfo')).toMatchObject({
      namespace: 'shop',
      service: 'podinfo-canary.shop.svc.cluster.local',
      annotations: { v: 'podinfo' },
    });
    expect(resolved.problems).toEqual([]);
  });

  it('treats weights as relative with a default of 1, as the Gateway API does', () => {
    const view = cluster({ 'podinfo-primary': 1, podinfo: 1 });
    const route: HttpRouteLike = {
      metadata: { name: 'podinfo', namespace: 'shop' },
      spec: {
        rules: [{ backendRefs: [{ name: 'podinfo-primary', weight: 3 }, { name: 'podinfo-canary' }] }],
      },
    };
    expect(shares(route, view)).toEqual({ 'podinfo-primary': 0.75, podinfo: 0.25 });
  });

  it('sends plain requests down the catch-all rule, not the A/B rule that needs a header', () => {
    const view = cluster({ 'podinfo-primary': 1, podinfo: 1 });
    const route = petrelRoute(
      { primary: 0, canary: 100 },
      { iterations: 3, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] },
    );
    expect(shares(route, view)).toEqual({ 'podinfo-primary': 1 });
  });

  it('sends a copy of every request to the mirror Service on top of the split', () => {
    const view = cluster({ 'podinfo-primary': 2, podinfo: 1 });
    const canary = canarySchema.parse({
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'Canary',
      metadata: { name: 'podinfo', namespace: 'shop', uid: 'u1' },
      spec: {
        provider: 'gatewayapi:v1',
        targetRef: { kind: 'Deployment', name: 'podinfo' },
        service: { port: 9898, gatewayRefs: [{ name: 'public' }] },
        analysis: { mirror: true },
      },
    });
    const mirrored = buildHttpRoute(canary, { primary: 100, canary: 0, mirrored: true }) as HttpRouteLike;
    expect(shares(mirrored, view)).toEqual({ 'podinfo-primary': 1, podinfo: 1 });
    const notMirrored = buildHttpRoute(canary, { primary: 100, canary: 0 }) as HttpRouteLike;
    expect(shares(notMirrored, view)).toEqual({ 'podinfo-primary': 1 });
    const noPods = resolveHttpRoute(mirrored, cluster({ 'podinfo-primary': 1 }));
    expect(noPods.problems).toEqual([
      'mirror: Service shop/podinfo-canary has no ready pods: its 100% gets no traffic',
    ]);
  });

  it('reports backends that get nothing: no ready pods, not a Service, none at all', () => {
    const noCanaryPods = resolveHttpRoute(
      petrelRoute({ primary: 50, canary: 50 }),
      cluster({ 'podinfo-primary': 1 }),
    );
    expect(noCanaryPods.targets.map((t) => [t.workload, t.share])).toEqual([['podinfo-primary', 0.5]]);
    expect(noCanaryPods.problems).toEqual([
      'Service shop/podinfo-canary has no ready pods: its 50% gets no traffic',
    ]);
    const foreign: HttpRouteLike = {
      metadata: { name: 'web', namespace: 'shop' },
      spec: { rules: [{ backendRefs: [{ group: 'example.com', kind: 'Bucket', name: 'static' }] }] },
    };
    expect(resolveHttpRoute(foreign, cluster({})).problems).toEqual([
      'HTTPRoute shop/web: backend Bucket/static is not a Service; it gets no traffic',
      'HTTPRoute shop/web has no Service backend',
    ]);
    const zero = petrelRoute({ primary: 0, canary: 0 } as never);
    expect(resolveHttpRoute(zero, cluster({ 'podinfo-primary': 1 })).problems).toEqual([
      'HTTPRoute shop/podinfo routes all weights to 0',
    ]);
  });
});

describe('httpRouteAsSessionRoutes: cookie rules of an HTTPRoute, routed request by request', () => {
  function affinityRoute(weights: { primary: number; canary: number }) {
    const canary = canarySchema.parse({
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'Canary',
      metadata: { name: 'podinfo', namespace: 'shop', uid: 'u1' },
      spec: {
        provider: 'gatewayapi:v1',
        targetRef: { kind: 'Deployment', name: 'podinfo' },
        service: { port: 9898, gatewayRefs: [{ name: 'public' }] },
        analysis: { sessionAffinity: { cookieName: 'canary-session', maxAge: 60 } },
      },
    });
    return buildHttpRoute(
      { ...canary, status: { lastAppliedSpec: 'rev-2' } } as never,
      weights,
    ) as HttpRouteLike;
  }

  it('leaves a route without cookie rules to the weighted split', () => {
    expect(httpRouteAsSessionRoutes(petrelRoute({ primary: 80, canary: 20 }))).toBeUndefined();
  });

  it('keeps cookie-keeping clients on the canary once they reach it, and expires the cookie when the canary has no share', () => {
    const view = cluster({ 'podinfo-primary': 2, podinfo: 2 });
    const pool = new ClientPool({ count: 20, keepCookies: 0.5 });
    const random = seededRandom(3);
    const seen: RoutedRequest[] = [];
    const during = httpRouteAsSessionRoutes(affinityRoute({ primary: 80, canary: 20 }));
    expect(during?.metadata?.name).toBe('podinfo (HTTPRoute)');
    // The cookie rule comes first: it has one more header match than the catch-all split.
    expect(during?.spec?.http?.[0]?.match).toEqual([
      { headers: { Cookie: { regex: expect.stringMatching(/^\.\*canary-session=[0-9a-f]{20}\.\*$/) } } },
    ]);
    const resolved = resolveSessionRoutes(during!, view, pool, 2000, 0, random, (r) => seen.push(r));
    expect(resolved.problems).toEqual([]);
    let sticky = 0;
    for (const client of pool.clients) {
      const hosts = seen.filter((r) => r.client === client.id).map((r) => r.host);
      const first = hosts.indexOf('podinfo-canary');
      if (first < 0) continue;
      if (client.keepsCookies) {
        expect(hosts.slice(first)).toEqual(hosts.slice(first).map(() => 'podinfo-canary'));
        sticky++;
      }
    }
    expect(sticky).toBeGreaterThanOrEqual(5);
    expect(seen.filter((r) => !r.keepsCookies).every((r) => !r.matchedCookie)).toBe(true);
    expect(pool.clients.filter((c) => c.cookies.has('canary-session')).length).toBe(sticky);

    // Promotion: no share; the returning users go to the primary and lose the cookie (Max-Age=-1).
    const after = httpRouteAsSessionRoutes(affinityRoute({ primary: 100, canary: 0 }));
    const later: RoutedRequest[] = [];
    resolveSessionRoutes(after!, view, pool, 2000, 1000, random, (r) => later.push(r));
    expect(new Set(later.map((r) => r.host))).toEqual(new Set(['podinfo-primary']));
    expect(pool.clients.filter((c) => c.cookies.has('canary-session'))).toEqual([]);
  });

  it('skips matches a plain GET / cannot satisfy (other paths, methods, query parameters)', () => {
    const route: HttpRouteLike = {
      metadata: { name: 'r', namespace: 'shop' },
      spec: {
        rules: [
          {
            matches: [
              {
                path: { type: 'PathPrefix', value: '/api' },
                headers: [{ name: 'Cookie', type: 'Exact', value: 'a=1' }],
              },
              { method: 'POST', headers: [{ name: 'Cookie', type: 'Exact', value: 'a=1' }] },
              { queryParams: [{}], headers: [{ name: 'Cookie', type: 'Exact', value: 'a=1' }] },
            ],
            backendRefs: [{ name: 'podinfo-canary' }],
          },
          { backendRefs: [{ name: 'podinfo-primary' }] },
        ],
      },
    };
    expect(httpRouteAsSessionRoutes(route)?.spec?.http).toEqual([
      { match: undefined, route: [{ destination: { host: 'podinfo-primary' }, weight: 1 }] },
    ]);
  });
});
