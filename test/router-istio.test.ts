import { DestinationRule as IstioDestinationRule } from '@kubernetes-models/istio/networking.istio.io/v1beta1/DestinationRule';
import { VirtualService as IstioVirtualService } from '@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService';
import { describe, expect, it } from 'vitest';
import { type Canary, canarySchema } from '../src/api/canary.ts';
import { MANAGED_BY_LABEL } from '../src/kube/ownership.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { Deployment } from '../src/kube/workloads.ts';
import { createRouter, RouterFactory } from '../src/routers/factory.ts';
import {
  affinityCookie,
  buildDestinationRules,
  buildVirtualService,
  type DestinationRule,
  IstioRouter,
  readWeights,
  STICKY_ROUTE_NAME,
  type VirtualService,
} from '../src/routers/istio.ts';
import { KubernetesRouter, TrafficSplitUnsupportedError } from '../src/routers/kubernetes.ts';
import { InvalidWeightsError, ObjectNotOwnedError, UnknownProviderError } from '../src/routers/router.ts';
import type { Service } from '../src/routers/services.ts';
import { InMemoryKubeApi } from './support/fake-kube.ts';

function makeCanary(service: Record<string, unknown> = {}): Canary {
  return canarySchema.parse({
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', uid: 'canary-uid-1' },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: {
        port: 9898,
        targetPort: 'http',
        gateways: ['public-gateway.istio-system.svc.cluster.local'],
        hosts: ['app.example.com'],
        trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' }, connectionPool: { http: { http2MaxRequests: 100 } } },
        retries: { attempts: 3, perTryTimeout: '1s', retryOn: 'gateway-error,connect-failure' },
        timeout: '5s',
        headers: { request: { set: { 'x-petrel': 'yes' } } },
        corsPolicy: { allowOrigins: [{ exact: 'https://example.com' }], allowMethods: ['GET'] },
        match: [{ uri: { prefix: '/api' } }],
        ...service,
      },
      analysis: { interval: '1m', threshold: 5, maxWeight: 50, stepWeight: 10 },
    },
  });
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
  const router = new IstioRouter({
    api,
    deployments: api.cache<Deployment>(RESOURCES.deployment),
    services: api.cache<Service>(RESOURCES.service),
    virtualServices: api.cache<VirtualService>(RESOURCES.virtualService),
    destinationRules: api.cache<DestinationRule>(RESOURCES.destinationRule),
  });
  const vs = () => api.cache<VirtualService>(RESOURCES.virtualService).get('test', 'podinfo');
  return { api, router, vs };
}

describe('IstioRouter', () => {
  it('creates three services, two destination rules and the virtual service at 100/0', async () => {
    const { api, router, vs } = setup();
    const canary = makeCanary();
    await router.reconcile(canary);

    const writes = api.writes().map((w) => `${w.verb} ${w.resource} ${w.name}`);
    expect(writes).toEqual([
      'create services podinfo',
      'create services podinfo-primary',
      'create services podinfo-canary',
      'create destinationrules podinfo-primary',
      'create destinationrules podinfo-canary',
      'create virtualservices podinfo',
    ]);
    const services = api.cache<Service>(RESOURCES.service);
    expect(services.get('test', 'podinfo')?.spec?.selector).toEqual({ app: 'podinfo-primary' });
    expect(services.get('test', 'podinfo-primary')?.spec?.selector).toEqual({ app: 'podinfo-primary' });
    expect(services.get('test', 'podinfo-canary')?.spec?.selector).toEqual({ app: 'podinfo' });
    expect(services.get('test', 'podinfo')?.spec?.ports).toEqual([
      { name: 'http', port: 9898, protocol: 'TCP', targetPort: 'http' },
    ]);
    const live = vs();
    expect(live?.metadata?.labels?.[MANAGED_BY_LABEL]).toBe('petrel');
    expect(live?.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Canary', name: 'podinfo', uid: 'canary-uid-1', controller: true }),
    ]);
    expect(live?.spec?.hosts).toEqual(['podinfo', 'app.example.com']);
    expect(live?.spec?.gateways).toEqual(['public-gateway.istio-system.svc.cluster.local']);
    expect(router.getRoutes(canary)).toEqual({ primary: 100, canary: 0 });
  });

  it('makes zero writes on a second reconcile, whether or not the cache has caught up', async () => {
    const { api, router } = setup();
    const canary = makeCanary();
    await router.reconcile(canary);
    const before = api.writes().length;
    await router.reconcile(canary);
    await router.reconcile(canary);
    expect(api.writes().length).toBe(before);
    expect(api.requests.filter((r) => r.verb === 'get' || r.verb === 'list')).toEqual([]);
  });

  it('makes zero writes on a reconcile right after a write, before the watch event arrives', async () => {
    const api = new InMemoryKubeApi();
    api.seed(RESOURCES.deployment, target());
    // Caches that stay empty: as if the watch events of the writes had not arrived yet.
    const empty = { get: () => undefined, list: () => [] };
    const router = new IstioRouter({
      api,
      deployments: api.cache<Deployment>(RESOURCES.deployment),
      services: empty,
      virtualServices: empty,
      destinationRules: empty,
    });
    const canary = makeCanary();
    await router.reconcile(canary);
    await router.setRoutes(canary, { primary: 90, canary: 10 });
    const before = api.writes().length;
    await router.reconcile(canary);
    await router.setRoutes(canary, { primary: 90, canary: 10 });
    expect(api.writes().length).toBe(before);
    expect(router.getRoutes(canary)).toEqual({ primary: 90, canary: 10 });
  });

  it('recreates an object deleted right after Petrel wrote it', async () => {
    const { api, router, vs } = setup();
    const canary = makeCanary();
    await router.reconcile(canary);
    await router.setRoutes(canary, { primary: 70, canary: 30 });
    await api.delete({ resource: RESOURCES.virtualService, namespace: 'test', name: 'podinfo' });
    await router.setRoutes(canary, { primary: 60, canary: 40 });
    expect(vs()?.spec?.http?.[0]?.route?.map((r) => r.weight)).toEqual([60, 40]);
    expect(
      api
        .writes()
        .slice(-2)
        .map((w) => `${w.verb} ${w.resource}`),
    ).toEqual(['patch virtualservices', 'create virtualservices']);
  });

  it('passes trafficPolicy (TLS mode included) through to both destination rules', async () => {
    const { api, router } = setup();
    await router.reconcile(makeCanary());
    const drs = api.cache<DestinationRule>(RESOURCES.destinationRule);
    for (const name of ['podinfo-primary', 'podinfo-canary']) {
      expect(drs.get('test', name)?.spec).toEqual({
        host: name,
        trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' }, connectionPool: { http: { http2MaxRequests: 100 } } },
      });
    }
    // Changing the policy in the Canary patches both rules; removing it removes it from both.
    await router.reconcile(makeCanary({ trafficPolicy: { tls: { mode: 'DISABLE' } } }));
    expect(drs.get('test', 'podinfo-canary')?.spec?.trafficPolicy).toEqual({ tls: { mode: 'DISABLE' } });
    await router.reconcile(makeCanary({ trafficPolicy: undefined }));
    expect(drs.get('test', 'podinfo-primary')?.spec).toEqual({ host: 'podinfo-primary' });
  });

  it('passes match, retries, timeout, headers and corsPolicy through to the http route', () => {
    const spec = buildVirtualService(makeCanary(), { primary: 70, canary: 30 }).spec;
    expect(spec?.http?.[0]).toEqual({
      match: [{ uri: { prefix: '/api' } }],
      retries: { attempts: 3, perTryTimeout: '1s', retryOn: 'gateway-error,connect-failure' },
      timeout: '5s',
      headers: { request: { set: { 'x-petrel': 'yes' } } },
      corsPolicy: { allowOrigins: [{ exact: 'https://example.com' }], allowMethods: ['GET'] },
      route: [
        { destination: { host: 'podinfo-primary', port: { number: 9898 } }, weight: 70 },
        { destination: { host: 'podinfo-canary', port: { number: 9898 } }, weight: 30 },
      ],
    });
  });

  it('sets weights with one write, reads them back from the cache, and reconcile keeps them', async () => {
    const { api, router, vs } = setup();
    const canary = makeCanary();
    await router.reconcile(canary);
    const before = api.writes().length;
    await router.setRoutes(canary, { primary: 80, canary: 20 });
    expect(api.writes().length).toBe(before + 1);
    expect(api.writes().at(-1)).toMatchObject({
      verb: 'patch',
      resource: 'virtualservices',
      name: 'podinfo',
    });
    expect(router.getRoutes(canary)).toEqual({ primary: 80, canary: 20 });
    await router.setRoutes(canary, { primary: 80, canary: 20 });
    await router.reconcile(canary);
    expect(api.writes().length).toBe(before + 1);
    expect(router.getRoutes(canary)).toEqual({ primary: 80, canary: 20 });
    expect(vs()?.spec?.http?.[0]?.route?.map((r) => r.weight)).toEqual([80, 20]);
  });

  it('reads weights someone else changed in the live object (routing heals from the cache)', async () => {
    const { api, router } = setup();
    const canary = makeCanary();
    await router.reconcile(canary);
    const live = api.cache<VirtualService>(RESOURCES.virtualService).get('test', 'podinfo');
    const http = live?.spec?.http ?? [];
    const routes = http[0]?.route ?? [];
    routes[0] = { ...routes[0], destination: routes[0]!.destination, weight: 60 };
    // A Go client omits zero weights; the canary then gets the rest.
    routes[1] = { destination: routes[1]!.destination, weight: 40 };
    await api.mergePatch(
      { resource: RESOURCES.virtualService, namespace: 'test', name: 'podinfo' },
      { spec: { http } },
    );
    expect(router.getRoutes(canary)).toEqual({ primary: 60, canary: 40 });
    routes[1] = { destination: routes[1]!.destination };
    await api.mergePatch(
      { resource: RESOURCES.virtualService, namespace: 'test', name: 'podinfo' },
      { spec: { http } },
    );
    expect(router.getRoutes(canary)).toEqual({ primary: 60, canary: 40 });
  });

  it('restores a hand-edited route spec but keeps the live weights and foreign labels/annotations', async () => {
    const { api, router, vs } = setup();
    const canary = makeCanary();
    await router.reconcile(canary);
    await router.setRoutes(canary, { primary: 90, canary: 10 });
    await api.mergePatch(
      { resource: RESOURCES.virtualService, namespace: 'test', name: 'podinfo' },
      {
        metadata: {
          labels: { 'app.kubernetes.io/instance': 'argocd-app' },
          annotations: { 'argocd.argoproj.io/tracking-id': 'x' },
        },
        spec: { gateways: ['someone-elses-gateway'] },
      },
    );
    const before = api.writes().length;
    await router.reconcile(canary);
    expect(api.writes().length).toBe(before + 1);
    const live = vs();
    expect(live?.spec?.gateways).toEqual(['public-gateway.istio-system.svc.cluster.local']);
    expect(live?.metadata?.labels).toEqual({
      [MANAGED_BY_LABEL]: 'petrel',
      'app.kubernetes.io/instance': 'argocd-app',
    });
    expect(live?.metadata?.annotations).toEqual({ 'argocd.argoproj.io/tracking-id': 'x' });
    expect(router.getRoutes(canary)).toEqual({ primary: 90, canary: 10 });
    await router.reconcile(canary);
    expect(api.writes().length).toBe(before + 1);
  });

  it('refuses to touch a virtual service it does not own', async () => {
    const { api, router } = setup();
    api.seed(RESOURCES.virtualService, {
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'VirtualService',
      metadata: { name: 'podinfo', namespace: 'test', labels: { team: 'web' } },
      spec: { hosts: ['podinfo'], http: [{ route: [{ destination: { host: 'podinfo' } }] }] },
    });
    const canary = makeCanary();
    const err = await router.reconcile(canary).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectNotOwnedError);
    expect((err as ObjectNotOwnedError).code).toBe('OBJECT_NOT_OWNED');
    expect((err as Error).message).toContain('VirtualService test/podinfo');
    await expect(router.setRoutes(canary, { primary: 50, canary: 50 })).rejects.toBeInstanceOf(
      ObjectNotOwnedError,
    );
    expect(api.writes().filter((w) => w.resource === 'virtualservices')).toEqual([]);
    expect(router.getRoutes(canary)).toBeUndefined();
  });

  it('refuses a service owned by another controller', async () => {
    const { api, router } = setup();
    api.seed(RESOURCES.service, {
      metadata: {
        name: 'podinfo',
        namespace: 'test',
        labels: { [MANAGED_BY_LABEL]: 'petrel' },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Other', name: 'x', uid: 'u', controller: true }],
      },
      spec: { selector: { app: 'podinfo' } },
    });
    await expect(router.reconcile(makeCanary())).rejects.toBeInstanceOf(ObjectNotOwnedError);
  });

  it('rejects weights that are not integers adding up to 100', async () => {
    const { router } = setup();
    await expect(router.setRoutes(makeCanary(), { primary: 60, canary: 50 })).rejects.toBeInstanceOf(
      InvalidWeightsError,
    );
  });

  it('finalize (revertOnDeletion) points the apex Service and the route at the target and hands them over', async () => {
    const { api, router, vs } = setup();
    const canary = makeCanary();
    await router.reconcile(canary);
    await router.setRoutes(canary, { primary: 50, canary: 50 });
    const before = api.writes().length;
    await router.finalize(canary);
    const apex = api.cache<Service>(RESOURCES.service).get('test', 'podinfo');
    expect(apex?.spec?.selector).toEqual({ app: 'podinfo' });
    expect(apex?.metadata?.ownerReferences ?? []).toEqual([]);
    expect(apex?.metadata?.labels?.['petrel.dev/managed-by']).toBe('petrel');
    expect(vs()?.metadata?.ownerReferences ?? []).toEqual([]);
    expect(vs()?.spec?.http?.map((h) => h.route)).toEqual([
      [{ destination: { host: 'podinfo', port: { number: 9898 } }, weight: 100 }],
    ]);
    // The selector is switched before the route names the apex Service; a second call writes nothing.
    const writes = api
      .writes()
      .slice(before)
      .map((w) => `${w.verb} ${w.resource} ${w.name}`);
    expect(writes).toEqual(['patch services podinfo', 'patch virtualservices podinfo']);
    await router.finalize(canary);
    expect(api.writes().length).toBe(before + 2);
    // The -primary and -canary Services keep their owner: the garbage collector takes them with the Canary.
    const primarySvc = api.cache<Service>(RESOURCES.service).get('test', 'podinfo-primary');
    expect(primarySvc?.metadata?.ownerReferences?.length).toBe(1);
  });

  it('routes only matching requests to the canary for A/B testing (spec.analysis.match)', async () => {
    const { router, vs } = setup();
    const base = makeCanary();
    const canary: Canary = {
      ...base,
      spec: {
        ...base.spec,
        analysis: { ...base.spec.analysis, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] },
      },
    };
    await router.reconcile(canary);
    await router.setRoutes(canary, { primary: 0, canary: 100 });
    const http = vs()?.spec?.http ?? [];
    expect(http).toHaveLength(2);
    expect(http[0]?.match).toEqual([
      { uri: { prefix: '/api' }, headers: { 'x-canary': { exact: 'insider' } } },
    ]);
    expect(http[0]?.route?.map((r) => [r.destination.host, r.weight])).toEqual([
      ['podinfo-primary', 0],
      ['podinfo-canary', 100],
    ]);
    expect(http[1]?.match).toEqual([{ uri: { prefix: '/api' } }]);
    expect(http[1]?.route?.map((r) => [r.destination.host, r.weight])).toEqual([['podinfo-primary', 100]]);
    expect(router.getRoutes(canary)).toEqual({ primary: 0, canary: 100 });
    expect(() => new IstioVirtualService(vs() as never).validate()).not.toThrow();
  });

  it('mirrors traffic to the canary when asked, keeps the mirror on reconcile, and drops it when not', async () => {
    const { api, router, vs } = setup();
    const base = makeCanary();
    const canary: Canary = {
      ...base,
      spec: { ...base.spec, analysis: { ...base.spec.analysis, mirror: true, mirrorWeight: 50 } },
    };
    await router.reconcile(canary);
    await router.setRoutes(canary, { primary: 100, canary: 0, mirrored: true });
    const route = vs()?.spec?.http?.[0];
    expect(route?.mirror).toEqual({ host: 'podinfo-canary', port: { number: 9898 } });
    expect(route?.mirrorPercentage).toEqual({ value: 50 });
    expect(router.getRoutes(canary)).toEqual({ primary: 100, canary: 0, mirrored: true });
    expect(() => new IstioVirtualService(vs() as never).validate()).not.toThrow();
    const writes = api.writes().length;
    await router.reconcile(canary);
    expect(api.writes().length).toBe(writes);
    await router.setRoutes(canary, { primary: 100, canary: 0 });
    expect(vs()?.spec?.http?.[0]?.mirror).toBeUndefined();
    expect(vs()?.spec?.http?.[0]?.mirrorPercentage).toBeUndefined();
    expect(router.getRoutes(canary)).toEqual({ primary: 100, canary: 0 });
  });

  it('generates objects that validate against Istio schemas', () => {
    const canary = makeCanary();
    const vs = buildVirtualService(canary, { primary: 90, canary: 10 });
    expect(() => new IstioVirtualService(vs as never).validate()).not.toThrow();
    for (const dr of buildDestinationRules(canary)) {
      expect(() => new IstioDestinationRule(dr as never).validate()).not.toThrow();
    }
    // The schema check is real: a weight that is not an integer is refused.
    const broken = structuredClone(vs);
    (broken.spec?.http?.[0]?.route?.[0] as { weight: unknown }).weight = 'ninety';
    expect(() => new IstioVirtualService(broken as never).validate()).toThrow();
  });

  it('session affinity: canary responses set the cookie, a first route keeps its users on the canary', () => {
    const canary = makeCanary();
    canary.spec.analysis.sessionAffinity = { cookieName: 'canary', maxAge: 3600 };
    canary.status = { phase: 'Progressing', canaryWeight: 10, lastAppliedSpec: 'rev-2' };
    const vs = buildVirtualService(canary, { primary: 90, canary: 10 });
    expect(() => new IstioVirtualService(vs as never).validate()).not.toThrow();
    const [sticky, split] = vs.spec?.http ?? [];
    const cookie = affinityCookie(canary);
    expect(cookie?.value).toMatch(/^[0-9a-f]{20}$/);
    expect(sticky).toMatchObject({
      name: STICKY_ROUTE_NAME,
      // Merged with the service's own match, as A/B conditions are.
      match: [{ uri: { prefix: '/api' }, headers: { cookie: { regex: `.*canary=${cookie?.value}.*` } } }],
      route: [
        { destination: { host: 'podinfo-primary' }, weight: 0 },
        { destination: { host: 'podinfo-canary' }, weight: 100 },
      ],
    });
    expect(split?.route?.[1]?.headers).toEqual({
      response: { add: { 'Set-Cookie': `canary=${cookie?.value}; Max-Age=3600` } },
    });
    expect(split?.route?.[0]?.headers).toBeUndefined();
    // The weights are read from the split, not from the sticky route.
    expect(readWeights(vs, 'podinfo')).toEqual({ primary: 90, canary: 10 });

    // The same cookie at every tick of this rollout; another revision, another cookie.
    expect(affinityCookie(canary)).toEqual(cookie);
    expect(affinityCookie({ ...canary, status: { lastAppliedSpec: 'rev-3' } })?.value).not.toBe(
      cookie?.value,
    );

    // No share for the canary: its users go to the primary and their cookie expires; the service's own
    // header operations are kept.
    const after = buildVirtualService(canary, { primary: 100, canary: 0 });
    expect(() => new IstioVirtualService(after as never).validate()).not.toThrow();
    expect(after.spec?.http?.[0]).toMatchObject({
      name: STICKY_ROUTE_NAME,
      route: [
        { destination: { host: 'podinfo-primary' }, weight: 100 },
        { destination: { host: 'podinfo-canary' }, weight: 0 },
      ],
      headers: {
        request: { set: { 'x-petrel': 'yes' } },
        response: { add: { 'Set-Cookie': `canary=${cookie?.value}; Max-Age=-1` } },
      },
    });
    expect(readWeights(after, 'podinfo')).toEqual({ primary: 100, canary: 0 });
  });

  it('mirror and session affinity together: the mirror is on the weighted split, never on the sticky route', () => {
    const canary = makeCanary();
    canary.spec.analysis.sessionAffinity = { cookieName: 'canary', maxAge: 60 };
    canary.spec.analysis.mirror = true;
    canary.spec.analysis.mirrorWeight = 25;
    canary.status = { phase: 'Progressing', canaryWeight: 0, lastAppliedSpec: 'rev-2' };
    const vs = buildVirtualService(canary, { primary: 100, canary: 0, mirrored: true });
    expect(() => new IstioVirtualService(vs as never).validate()).not.toThrow();
    const [sticky, split] = vs.spec?.http ?? [];
    expect(sticky?.name).toBe(STICKY_ROUTE_NAME);
    expect(sticky?.mirror).toBeUndefined();
    expect(split).toMatchObject({ mirror: { host: 'podinfo-canary' }, mirrorPercentage: { value: 25 } });
    expect(readWeights(vs, 'podinfo')).toEqual({ primary: 100, canary: 0, mirrored: true });
  });

  it('factory builds the istio router and names unsupported providers', () => {
    const api = new InMemoryKubeApi();
    const deps = {
      api,
      deployments: api.cache<Deployment>(RESOURCES.deployment),
      services: api.cache<Service>(RESOURCES.service),
      virtualServices: api.cache<VirtualService>(RESOURCES.virtualService),
      destinationRules: api.cache<DestinationRule>(RESOURCES.destinationRule),
    };
    expect(createRouter('istio', deps)).toBeInstanceOf(IstioRouter);
    const factory = new RouterFactory(deps);
    expect(factory.for(makeCanary())).toBe(factory.for(makeCanary()));
    expect(() => createRouter('linkerd', deps)).toThrow(UnknownProviderError);
    try {
      createRouter('linkerd', deps);
    } catch (err) {
      expect((err as UnknownProviderError).code).toBe('UNKNOWN_PROVIDER');
    }
  });
});

describe('KubernetesRouter (blue/green without a mesh)', () => {
  it('manages the three services, reports all traffic on the primary and refuses weighted splits', async () => {
    const api = new InMemoryKubeApi();
    api.seed(RESOURCES.deployment, target());
    const canary = makeCanary();
    const router = createRouter('kubernetes', {
      api,
      deployments: api.cache<Deployment>(RESOURCES.deployment),
      services: api.cache<Service>(RESOURCES.service),
      virtualServices: api.cache<VirtualService>(RESOURCES.virtualService),
      destinationRules: api.cache<DestinationRule>(RESOURCES.destinationRule),
    });
    expect(router).toBeInstanceOf(KubernetesRouter);
    expect(router.getRoutes(canary)).toBeUndefined();
    await router.reconcile(canary);
    await router.reconcile(canary);
    expect(api.writes().map((w) => `${w.verb} ${w.resource} ${w.name}`)).toEqual([
      'create services podinfo',
      'create services podinfo-primary',
      'create services podinfo-canary',
    ]);
    expect(router.getRoutes(canary)).toEqual({ primary: 100, canary: 0 });
    await expect(router.setRoutes(canary, { primary: 100, canary: 0 })).resolves.toBeUndefined();
    const err = await router.setRoutes(canary, { primary: 90, canary: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrafficSplitUnsupportedError);
    await expect(
      router.setRoutes(canary, { primary: 100, canary: 0, mirrored: true }),
    ).rejects.toBeInstanceOf(TrafficSplitUnsupportedError);
    expect((err as TrafficSplitUnsupportedError).code).toBe('TRAFFIC_SPLIT_UNSUPPORTED');
  });

  it('finalize (revertOnDeletion) points the apex Service at the target and hands it over', async () => {
    const api = new InMemoryKubeApi();
    api.seed(RESOURCES.deployment, target());
    const canary = makeCanary();
    const services = api.cache<Service>(RESOURCES.service);
    const router = new KubernetesRouter({
      api,
      deployments: api.cache<Deployment>(RESOURCES.deployment),
      services,
    });
    await router.reconcile(canary);
    await router.finalize(canary);
    const apex = services.get('test', 'podinfo');
    expect(apex?.spec?.selector).toEqual({ app: 'podinfo' });
    expect(apex?.metadata?.ownerReferences ?? []).toEqual([]);
    expect(services.get('test', 'podinfo-primary')?.spec?.selector).toEqual({ app: 'podinfo-primary' });
    const writes = api.writes().length;
    await router.finalize(canary);
    expect(api.writes().length).toBe(writes);
  });
});
