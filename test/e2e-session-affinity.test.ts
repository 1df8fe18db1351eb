import { describe, expect, it } from 'vitest';
import type { RoutedRequest } from '../dev/sandbox/traffic.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import { STICKY_ROUTE_NAME } from '../src/routers/istio.ts';
import { useCleanups } from './support/cleanups.ts';
import {
  createNamespace,
  podinfoCanary,
  podinfoDeployment,
  runController,
  setImage,
  testLogger,
  useE2e,
  waitFor,
  waitForPhase,
} from './support/e2e.ts';
import { cookieMatchesAfterFirst, RouteRecorder, simulateTraffic } from './support/simulated-mesh.ts';

const env = useE2e({ deploymentReadyDelayMs: 300 });

describe('end to end: analysis.sessionAffinity', () => {
  const cleanups = useCleanups();

  it('a user who reached the canary stays on it until the rollout ends, then goes back to the primary', async () => {
    const ns = 'e2e-affinity';
    await createNamespace(env.api, ns);
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const routes = new RouteRecorder(env, ns);
    await routes.start();
    cleanups.push(() => routes.stop());
    const requests: (RoutedRequest & { at: number })[] = [];
    const sim = await simulateTraffic(env, ns, {
      clients: { count: 40, keepCookies: 0.5 },
      onRequest: (r) => requests.push({ ...r, at: Date.now() }),
    });
    cleanups.push(() => sim.simulator.stop());
    const controller = runController(env, ns, testLogger().logger);
    cleanups.push(() => controller.stop());
    await controller.ready;
    await env.api.create(
      RESOURCES.canary,
      podinfoCanary(ns, {
        interval: '3s',
        stepWeight: 20,
        maxWeight: 40,
        sessionAffinity: { cookieName: 'canary-session', maxAge: 120 },
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '5s' }],
      }),
    );
    await waitForPhase(env.api, ns, ['Initialized']);
    const startedAt = Date.now();
    await setImage(env.api, ns, 'podinfo:2.0');
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 60_000);
    expect(done.status?.phase).toBe('Succeeded');
    const endedAt = routes.states.find((s) => s.at > startedAt && s.canary === 0)?.at ?? 0;
    expect(endedAt).toBeGreaterThan(startedAt);
    // The last route update keeps the cookie rule, now routing to the primary and expiring the cookie
    // (Max-Age=-1); the simulator sees it through its own watch, so count from a moment later.
    const settledAt = endedAt + 1500;
    await waitFor('requests after the rollout', async () =>
      requests.filter((r) => r.at > settledAt).length > 200 ? true : undefined,
    );

    // While the canary had a share, the VirtualService set the cookie on canary responses and matched it first.
    const during = routes.states.find((s) => s.at > startedAt && s.canary === 20);
    const http = during?.vs.spec?.http ?? [];
    expect(http[0]?.name).toBe(STICKY_ROUTE_NAME);
    const cookieMatch = JSON.stringify(http[0]?.match);
    expect(cookieMatch).toMatch(/canary-session=[0-9a-f]{20}/);
    expect(http[0]?.route?.map((r) => r.weight)).toEqual([0, 100]);
    const setCookie = (http[1]?.route?.[1]?.headers as { response?: { add?: Record<string, string> } })
      ?.response?.add?.['Set-Cookie'];
    expect(setCookie).toMatch(/^canary-session=[0-9a-f]{20}; Max-Age=120$/);

    // Every cookie-keeping user who reached the canary stayed on it for the rest of the rollout; users who
    // drop cookies were split by weight afresh at every request.
    const rollout = requests.filter((r) => r.at > startedAt && r.at < endedAt - 500);
    const byClient = new Map<number, (RoutedRequest & { at: number })[]>();
    for (const r of rollout) byClient.set(r.client, [...(byClient.get(r.client) ?? []), r]);
    let sticky = 0;
    let wandering = 0;
    for (const [, seen] of byClient) {
      const first = seen.findIndex((r) => r.host === 'podinfo-canary');
      if (first < 0) continue;
      const after = seen.slice(first + 1);
      if (seen[0]?.keepsCookies) {
        expect(after.map((r) => r.host).filter((h) => h !== 'podinfo-canary')).toEqual([]);
        if (after.length > 0) sticky++;
      } else if (after.some((r) => r.host === 'podinfo-primary')) {
        wandering++;
      }
    }
    console.log(
      `e2e figures: session affinity: ${sticky} cookie-keeping users stayed on the canary after reaching it; ` +
        `${wandering} users without cookies went back and forth; ${rollout.length} requests during the rollout`,
    );
    expect(sticky).toBeGreaterThanOrEqual(5);
    expect(wandering).toBeGreaterThanOrEqual(3);

    // After the rollout every request goes to the primary. A returning user's cookie matches once more, on
    // the user's first request since, whose answer expires it; never again.
    const afterwards = requests.filter((r) => r.at > settledAt);
    expect(new Set(afterwards.map((r) => r.host))).toEqual(new Set(['podinfo-primary']));
    expect(cookieMatchesAfterFirst(afterwards)).toEqual([]);
  }, 90_000);
});
