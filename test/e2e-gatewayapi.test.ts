import { HTTPRoute as GatewayHttpRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { describe, expect, it } from 'vitest';
import { type RoutedRequest, SIM_ANNOTATIONS, startTrafficSimulator } from '../dev/sandbox/traffic.ts';
import { type RunningController, startController } from '../src/controller/controller.ts';
import { ResilientInformer } from '../src/kube/informer.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import { PrometheusProvider } from '../src/metrics/prometheus.ts';
import { type HttpRoute, readHttpRouteWeights } from '../src/routers/gatewayapi.ts';
import { useCleanups } from './support/cleanups.ts';
import {
  CONTROLLER_USER_AGENT,
  controllerRequests,
  createNamespace,
  getDeployment,
  podinfoCanary,
  podinfoDeployment,
  setImage,
  sleep,
  testLogger,
  useE2e,
  waitFor,
  waitForPhase,
} from './support/e2e.ts';
import { cookieMatchesAfterFirst, simulateTraffic } from './support/simulated-mesh.ts';

const env = useE2e({ deploymentReadyDelayMs: 300 });

/** Every distinct canary weight the HTTPRoute takes, in order, through its own watch. */
class HttpRouteWeights {
  readonly weights: number[] = [];
  /** When each weight was first seen, with the route as it was then. */
  readonly states: { at: number; canary: number; route: HttpRoute }[] = [];
  private readonly informer: ResilientInformer<HttpRoute>;

  constructor(namespace: string) {
    this.informer = new ResilientInformer<HttpRoute>({
      kubeConfig: env.sandbox.kubeConfig(),
      api: env.api,
      resource: RESOURCES.httpRoute,
      namespace,
    });
    const onChange = (route: HttpRoute) => {
      const w = readHttpRouteWeights(route, 'podinfo');
      if (w && this.weights.at(-1) !== w.canary) {
        this.weights.push(w.canary);
        this.states.push({ at: Date.now(), canary: w.canary, route: structuredClone(route) });
      }
    };
    this.informer.on('add', onChange);
    this.informer.on('update', onChange);
  }

  async start(): Promise<void> {
    await this.informer.start();
    await this.informer.waitForSync();
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }
}

function gatewayCanary(namespace: string) {
  const canary = podinfoCanary(
    namespace,
    {
      interval: '3s',
      threshold: 2,
      metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '10s' }],
    },
    { provider: 'gatewayapi:v1' },
  );
  return {
    ...canary,
    spec: {
      ...canary.spec,
      service: {
        ...canary.spec.service,
        hosts: ['podinfo.example.com'],
        gatewayRefs: [{ name: 'public', namespace: 'gateways' }],
      },
    },
  };
}

describe('end to end with provider gatewayapi:v1: HTTPRoute weights, simulated traffic, real Prometheus', () => {
  const cleanups = useCleanups();

  function startGatewayController(namespace: string, gatewayApi = true): RunningController {
    const controller = startController({
      kubeConfig: env.sandbox.kubeConfig(),
      logger: testLogger().logger,
      prometheusAddress: env.prometheusUrl,
      namespaces: [namespace],
      userAgent: CONTROLLER_USER_AGENT,
      workers: 2,
      gatewayApi,
    });
    cleanups.push(() => controller.stop());
    return controller;
  }

  async function prepare(namespace: string, gatewayApi = true) {
    await createNamespace(env.api, namespace);
    await env.api.create(RESOURCES.deployment, podinfoDeployment(namespace, 'podinfo:1.0'));
    const weights = new HttpRouteWeights(namespace);
    await weights.start();
    cleanups.push(() => weights.stop());
    const simulator = await startTrafficSimulator({
      kubeConfig: env.sandbox.kubeConfig(),
      prometheusUrl: env.prometheusUrl,
      namespace,
      rps: 200,
      tickMs: 250,
      logger: testLogger().logger,
      seed: 7,
    });
    cleanups.push(() => simulator.stop());
    const controller = startGatewayController(namespace, gatewayApi);
    await controller.ready;
    return { weights, controller };
  }

  const route = (namespace: string) =>
    env.api.get<HttpRoute>({ resource: RESOURCES.httpRoute, namespace, name: 'podinfo' });

  it('promotes a healthy revision through 10..50 by HTTPRoute weights, and the stored route never drifts', async () => {
    const ns = 'gwapi-healthy';
    const { weights } = await prepare(ns);
    await env.api.create(RESOURCES.canary, gatewayCanary(ns));
    await waitForPhase(env.api, ns, ['Initialized']);
    const initial = await route(ns);
    // What the API server stored (its CRD defaults applied) is a valid standard-channel HTTPRoute.
    expect(() => new GatewayHttpRoute(initial as never).validate()).not.toThrow();
    expect(initial.spec?.parentRefs).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public', namespace: 'gateways' },
    ]);
    expect(initial.spec?.hostnames).toEqual(['podinfo.example.com']);
    expect(initial.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Canary', name: 'podinfo' });
    // No VirtualService for a Gateway API canary.
    const virtualServices = await env.api.list<KubeObject>(RESOURCES.virtualService, { namespace: ns });
    expect(virtualServices.items).toEqual([]);

    await setImage(env.api, ns, 'podinfo:2.0');
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 60_000);
    expect(done.status?.phase).toBe('Succeeded');
    expect(weights.weights.filter((w) => w > 0)).toEqual([10, 20, 30, 40, 50]);
    // The decision's status is written first, its route just after: wait for the route, then check it.
    await waitFor('the route back at 0', () => (weights.weights.at(-1) === 0 ? true : undefined));
    const primary = await getDeployment(env.api, ns, 'podinfo-primary');
    expect(primary.spec?.template?.spec?.containers?.[0]?.image).toBe('podinfo:2.0');

    // The canary's checks passed on traffic the simulator sent through the HTTPRoute.
    const prometheus = new PrometheusProvider({ address: env.prometheusUrl });
    const canaryRequests = await prometheus.runQuery(
      `sum(istio_requests_total{destination_workload_namespace="${ns}",destination_workload="podinfo"})`,
    );
    expect(canaryRequests).toBeGreaterThan(0);

    // The stored object equals what Petrel writes: no patch to the HTTPRoute once it is done.
    const quietFrom = Date.now();
    await sleep(3000);
    const writes = controllerRequests(env.sandbox, quietFrom).filter(
      (e) => e.resource === 'httproutes' && e.verb !== 'watch' && e.verb !== 'list',
    );
    expect(writes).toEqual([]);
  }, 90_000);

  it('rolls back a revision that fails 10% of its requests, seen only through the HTTPRoute split', async () => {
    const ns = 'gwapi-errors';
    const { weights } = await prepare(ns);
    await env.api.create(RESOURCES.canary, gatewayCanary(ns));
    await waitForPhase(env.api, ns, ['Initialized']);
    await setImage(env.api, ns, 'podinfo:2.0-bad', { [SIM_ANNOTATIONS.errorRatio]: '0.1' });
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 60_000);
    expect(done.status?.phase).toBe('Failed');
    const failures = done.status?.history?.filter((h) => h.verdict === 'fail') ?? [];
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures.at(-1)?.reason).toMatch(/^request-success-rate \d+(\.\d+)?% < min 99%$/);
    expect(Math.max(...weights.weights)).toBeLessThanOrEqual(20);
    // The decision's status is written first, its route just after: wait for the route, then check it.
    await waitFor('the route back at 0', () => (weights.weights.at(-1) === 0 ? true : undefined));
    const live = readHttpRouteWeights(await route(ns), 'podinfo');
    expect(live).toEqual({ primary: 100, canary: 0 });
    const primary = await getDeployment(env.api, ns, 'podinfo-primary');
    expect(primary.spec?.template?.spec?.containers?.[0]?.image).toBe('podinfo:1.0');
    expect((await getDeployment(env.api, ns, 'podinfo')).spec?.replicas).toBe(0);
  }, 90_000);

  const invalidSpecMessage = (namespace: string) =>
    waitFor('the InvalidSpec condition', async () => {
      const c = await env.api.get<
        KubeObject & { status?: { conditions?: { type: string; message?: string }[] } }
      >({ resource: RESOURCES.canary, namespace, name: 'podinfo' });
      return c.status?.conditions?.find((x) => x.type === 'InvalidSpec')?.message;
    });

  it('refuses a Gateway API canary without gatewayRefs with InvalidSpec, writing nothing', async () => {
    const ns = 'gwapi-invalid';
    await prepare(ns);
    const canary = gatewayCanary(ns);
    const { gatewayRefs: _dropped, ...service } = canary.spec.service;
    await env.api.create(RESOURCES.canary, { ...canary, spec: { ...canary.spec, service } });
    expect(await invalidSpecMessage(ns)).toMatch(
      /^spec\.service\.gatewayRefs: required with provider gatewayapi:v1/,
    );
    const routes = await env.api.list<KubeObject>(RESOURCES.httpRoute, { namespace: ns });
    expect(routes.items).toEqual([]);
  }, 60_000);

  it('a controller started without --gateway-api says so on the Canary, and one started with it takes over', async () => {
    const ns = 'gwapi-disabled';
    await prepare(ns, false);
    await env.api.create(RESOURCES.canary, gatewayCanary(ns));
    expect(await invalidSpecMessage(ns)).toBe(
      'spec.provider "gatewayapi:v1" cannot be used: the controller does not watch HTTPRoutes: start it with ' +
        '--gateway-api (chart value gatewayAPI.enabled=true, which also grants access to httproutes.gateway.networking.k8s.io)',
    );
    const events = await env.api.list<KubeObject & { reason?: string }>(RESOURCES.event, { namespace: ns });
    expect(events.items.map((e) => e.reason)).toContain('InvalidSpec');
    expect((await env.api.list<KubeObject>(RESOURCES.httpRoute, { namespace: ns })).items).toEqual([]);
    // The same Canary, unchanged, once the controller routes HTTPRoutes.
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    startGatewayController(ns);
    const done = await waitForPhase(env.api, ns, ['Initialized']);
    expect(done.status?.conditions?.find((c) => c.type === 'InvalidSpec')).toBeUndefined();
    expect(readHttpRouteWeights(await route(ns), 'podinfo')).toEqual({ primary: 100, canary: 0 });
  }, 60_000);

  it('resumes from the live HTTPRoute weights after a controller restart in the middle of a rollout', async () => {
    const ns = 'gwapi-restart';
    const { weights, controller } = await prepare(ns);
    await env.api.create(RESOURCES.canary, gatewayCanary(ns));
    await waitForPhase(env.api, ns, ['Initialized']);
    await setImage(env.api, ns, 'podinfo:2.0');
    await waitFor('weight 20', async () => (weights.weights.includes(20) ? true : undefined), {
      intervalMs: 20,
      timeoutMs: 30_000,
    });
    await controller.stop();
    const successor = startGatewayController(ns);
    await successor.ready;
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 60_000);
    expect(done.status?.phase).toBe('Succeeded');
    // Neither a weight skipped nor one repeated, nor a step back to 0 before the promotion.
    expect(weights.weights).toEqual([0, 10, 20, 30, 40, 50, 0]);
  }, 90_000);

  it('A/B: only requests with the header reach the canary; plain traffic stays on the primary', async () => {
    const ns = 'gwapi-ab';
    const { weights } = await prepare(ns);
    const canary = gatewayCanary(ns);
    // A/B runs iterations, with no weight steps.
    const { stepWeight: _stepWeight, maxWeight: _maxWeight, ...weightless } = canary.spec.analysis;
    const spec = {
      ...canary.spec,
      analysis: {
        ...weightless,
        iterations: 3,
        metrics: [],
        match: [{ headers: { 'x-canary': { exact: 'insider' } } }],
      },
    };
    await env.api.create(RESOURCES.canary, { ...canary, spec });
    await waitForPhase(env.api, ns, ['Initialized']);
    await setImage(env.api, ns, 'podinfo:2.0');
    await waitFor('the A/B rule at 100%', async () => (weights.weights.includes(100) ? true : undefined), {
      timeoutMs: 30_000,
    });
    const during = await route(ns);
    expect(() => new GatewayHttpRoute(during as never).validate()).not.toThrow();
    expect(
      during.spec?.rules?.map((r) => [r.matches, r.backendRefs?.map((b) => [b.name, b.weight])]),
    ).toEqual([
      [
        [
          {
            path: { type: 'PathPrefix', value: '/' },
            headers: [{ name: 'x-canary', type: 'Exact', value: 'insider' }],
          },
        ],
        [
          ['podinfo-primary', 0],
          ['podinfo-canary', 100],
        ],
      ],
      [[{ path: { type: 'PathPrefix', value: '/' } }], [['podinfo-primary', 100]]],
    ]);
    // The simulated clients send no x-canary header: none of their requests reached the canary.
    await sleep(1500);
    const prometheus = new PrometheusProvider({ address: env.prometheusUrl });
    await expect(
      prometheus.runQuery(
        `sum(istio_requests_total{destination_workload_namespace="${ns}",destination_workload="podinfo"})`,
      ),
    ).rejects.toMatchObject({ code: 'NO_VALUES' });
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 60_000);
    expect(done.status?.phase).toBe('Succeeded');
    expect(readHttpRouteWeights(await route(ns), 'podinfo')).toEqual({ primary: 100, canary: 0 });
  }, 90_000);
  it('a user who reached the canary stays on it through an HTTPRoute cookie rule, then goes back to the primary', async () => {
    const ns = 'gwapi-affinity';
    await createNamespace(env.api, ns);
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const weights = new HttpRouteWeights(ns);
    await weights.start();
    cleanups.push(() => weights.stop());
    const requests: (RoutedRequest & { at: number })[] = [];
    const sim = await simulateTraffic(env, ns, {
      clients: { count: 40, keepCookies: 0.5 },
      onRequest: (r) => requests.push({ ...r, at: Date.now() }),
    });
    cleanups.push(() => sim.simulator.stop());
    const controller = startGatewayController(ns);
    await controller.ready;
    const canary = gatewayCanary(ns);
    const analysis = {
      ...canary.spec.analysis,
      interval: '3s',
      stepWeight: 20,
      maxWeight: 40,
      sessionAffinity: { cookieName: 'canary-session', maxAge: 120 },
      metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '5s' }],
    };
    await env.api.create(RESOURCES.canary, { ...canary, spec: { ...canary.spec, analysis } });
    await waitForPhase(env.api, ns, ['Initialized']);
    const startedAt = Date.now();
    await setImage(env.api, ns, 'podinfo:2.0');
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 60_000);
    expect(done.status?.phase).toBe('Succeeded');
    const endedAt = weights.states.find((s) => s.at > startedAt && s.canary === 0)?.at ?? 0;
    expect(endedAt).toBeGreaterThan(startedAt);
    await waitFor('requests after the rollout', async () =>
      requests.filter((r) => r.at > endedAt + 1500).length > 200 ? true : undefined,
    );

    // While the canary had a share: a first rule matching the cookie, and Set-Cookie on the canary backend.
    const during = weights.states.find((s) => s.at > startedAt && s.canary === 20)?.route;
    expect(() => new GatewayHttpRoute(during as never).validate()).not.toThrow();
    const [sticky, split] = during?.spec?.rules ?? [];
    expect(sticky?.matches?.[0]?.headers).toEqual([
      {
        name: 'Cookie',
        type: 'RegularExpression',
        value: expect.stringMatching(/canary-session=[0-9a-f]{20}/),
      },
    ]);
    expect(sticky?.backendRefs?.map((b) => [b.name, b.weight])).toEqual([
      ['podinfo-primary', 0],
      ['podinfo-canary', 100],
    ]);
    expect(split?.backendRefs?.[1]?.filters?.[0]?.responseHeaderModifier?.add).toEqual([
      { name: 'Set-Cookie', value: expect.stringMatching(/^canary-session=[0-9a-f]{20}; Max-Age=120$/) },
    ]);

    // Every cookie-keeping user who reached the canary stayed there for the rest of the rollout; users who
    // drop cookies were split by weight afresh at every request.
    const rollout = requests.filter((r) => r.at > startedAt && r.at < endedAt - 500);
    const byClient = new Map<number, (RoutedRequest & { at: number })[]>();
    for (const r of rollout) byClient.set(r.client, [...(byClient.get(r.client) ?? []), r]);
    let stayed = 0;
    let wandering = 0;
    for (const [, seen] of byClient) {
      const first = seen.findIndex((r) => r.host === 'podinfo-canary');
      if (first < 0) continue;
      const after = seen.slice(first + 1);
      if (seen[0]?.keepsCookies) {
        expect(after.map((r) => r.host).filter((h) => h !== 'podinfo-canary')).toEqual([]);
        if (after.length > 0) stayed++;
      } else if (after.some((r) => r.host === 'podinfo-primary')) {
        wandering++;
      }
    }
    console.log(
      `e2e figures: gatewayapi session affinity: ${stayed} cookie-keeping users stayed on the canary after reaching it; ` +
        `${wandering} users without cookies went back and forth; ${rollout.length} requests during the rollout`,
    );
    expect(stayed).toBeGreaterThanOrEqual(5);
    expect(wandering).toBeGreaterThanOrEqual(3);

    // After the promotion the cookie rule sends returning users to the primary and expires their cookie.
    const final = await route(ns);
    expect(() => new GatewayHttpRoute(final as never).validate()).not.toThrow();
    expect(final.spec?.rules?.[0]?.filters?.[0]?.responseHeaderModifier?.add?.[0]?.value).toMatch(
      /^canary-session=[0-9a-f]{20}; Max-Age=-1$/,
    );
    const afterwards = requests.filter((r) => r.at > endedAt + 1500);
    expect(new Set(afterwards.map((r) => r.host))).toEqual(new Set(['podinfo-primary']));
    // A returning user's cookie matches once more, on the first request since, whose answer expires it.
    expect(cookieMatchesAfterFirst(afterwards)).toEqual([]);
    // What the API server stored (defaults applied to the cookie rule and filters) equals what Petrel writes.
    const quietFrom = Date.now();
    await sleep(2000);
    const writes = controllerRequests(env.sandbox, quietFrom).filter(
      (e) => e.resource === 'httproutes' && e.verb !== 'watch' && e.verb !== 'list',
    );
    expect(writes).toEqual([]);
  }, 90_000);
});
