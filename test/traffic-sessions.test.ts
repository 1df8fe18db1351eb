import { describe, expect, it } from 'vitest';
import type { ClusterView, VirtualServiceLike } from '../dev/sandbox/traffic/routes.ts';
import { ClientPool, resolveSessionRoutes, routesByCookie } from '../dev/sandbox/traffic/sessions.ts';
import { seededRandom } from '../dev/sandbox/traffic.ts';

const cluster: ClusterView = {
  service: (_ns, name) => ({ metadata: { name }, spec: { selector: { app: name.replace(/-canary$/, '') } } }),
  deployments: () => [
    {
      metadata: { name: 'podinfo-primary' },
      spec: { template: { metadata: { labels: { app: 'podinfo-primary' } } } },
      status: { readyReplicas: 2 },
    },
    {
      metadata: { name: 'podinfo' },
      spec: { template: { metadata: { labels: { app: 'podinfo' } } } },
      status: { readyReplicas: 2 },
    },
  ],
};

function vs(canaryWeight: number, maxAge: number): VirtualServiceLike {
  const setCookie = { response: { add: { 'Set-Cookie': `c=abc; Max-Age=${maxAge}` } } };
  return {
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: {
      http: [
        {
          match: [{ headers: { cookie: { regex: '.*c=abc.*' } } }],
          route: [
            { destination: { host: 'podinfo-primary' }, weight: canaryWeight > 0 ? 0 : 100 },
            { destination: { host: 'podinfo-canary' }, weight: canaryWeight > 0 ? 100 : 0 },
          ],
          ...(canaryWeight > 0 ? {} : { headers: setCookie }),
        } as never,
        {
          route: [
            { destination: { host: 'podinfo-primary' }, weight: 100 - canaryWeight },
            {
              destination: { host: 'podinfo-canary' },
              weight: canaryWeight,
              ...(canaryWeight > 0 ? { headers: setCookie } : {}),
            },
          ],
        } as never,
      ],
    },
  };
}

describe('the simulator routes cookie-matching VirtualServices request by request', () => {
  it('knows when to: a route matching the cookie header', () => {
    expect(routesByCookie(vs(10, 60))).toBe(true);
    expect(routesByCookie({ spec: { http: [{ route: [] }] } })).toBe(false);
  });

  it('clients that keep cookies stick to the canary once they reached it; the others do not', () => {
    const pool = new ClientPool({ count: 10, keepCookies: 0.5 });
    const random = seededRandom(1);
    const seen = new Map<number, string[]>();
    resolveSessionRoutes(vs(20, 60), cluster, pool, 2000, 0, random, (r) =>
      seen.set(r.client, [...(seen.get(r.client) ?? []), r.host]),
    );
    for (const client of pool.clients) {
      const hosts = seen.get(client.id) ?? [];
      const first = hosts.indexOf('podinfo-canary');
      expect(first).toBeGreaterThanOrEqual(0);
      const after = new Set(hosts.slice(first));
      if (client.keepsCookies) expect(after).toEqual(new Set(['podinfo-canary']));
      else expect(after).toEqual(new Set(['podinfo-canary', 'podinfo-primary']));
    }
  });

  it('shares follow the routing, cookies expire with Max-Age, and Max-Age=-1 deletes them', () => {
    const pool = new ClientPool({ count: 4, keepCookies: 1 });
    const random = seededRandom(2);
    const routed = resolveSessionRoutes(vs(50, 1), cluster, pool, 400, 0, random);
    const canaryShare = routed.targets
      .filter((t) => t.workload === 'podinfo')
      .reduce((a, t) => a + t.share, 0);
    expect(canaryShare).toBeGreaterThan(0.9);
    expect(pool.clients.every((c) => c.cookies.get('c')?.value === 'abc')).toBe(true);
    // A second later the cookie has expired: back to the weighted split for a start.
    resolveSessionRoutes(vs(0, 1), cluster, pool, 40, 1001, random);
    expect(pool.clients.every((c) => !c.cookies.has('c'))).toBe(true);
    // The rollout ended: the route matching the cookie sends it back to the primary and deletes it.
    resolveSessionRoutes(vs(50, 60), cluster, pool, 400, 2000, random);
    const ended = resolveSessionRoutes(vs(0, -1), cluster, pool, 400, 3000, random);
    expect(ended.targets.map((t) => t.workload)).toEqual(['podinfo-primary']);
    expect(pool.clients.every((c) => !c.cookies.has('c'))).toBe(true);
  });
});
