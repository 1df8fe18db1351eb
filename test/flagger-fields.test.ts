import { VirtualService as IstioVirtualService } from '@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService';
import { describe, expect, it } from 'vitest';
import { type Canary, canarySchema, validateCanary } from '../src/api/index.ts';
import { ensurePrimaryAutoscaler } from '../src/kube/autoscaler.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { Deployment, HorizontalPodAutoscaler } from '../src/kube/workloads.ts';
import { runChecks } from '../src/metrics/checks.ts';
import type { MetricsProvider } from '../src/metrics/provider.ts';
import {
  buildVirtualService,
  type DestinationRule,
  IstioRouter,
  type VirtualService,
} from '../src/routers/istio.ts';
import { KubernetesRouter } from '../src/routers/kubernetes.ts';
import type { Service } from '../src/routers/services.ts';
import { InMemoryKubeApi } from './support/fake-kube.ts';

/**
 * Flagger's fields that Petrel accepts do what they do in Flagger: each test here fails if the field
 * were accepted and ignored.
 */

function makeCanary(spec: Record<string, unknown> = {}, service: Record<string, unknown> = {}): Canary {
  return canarySchema.parse({
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', uid: 'canary-uid-1' },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898, targetPort: 'http', ...service },
      analysis: { interval: '1m', stepWeight: 10 },
      ...spec,
    },
  });
}

function target(containers?: unknown[]): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'podinfo', namespace: 'test', labels: { app: 'podinfo' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'podinfo' } },
      template: {
        metadata: { labels: { app: 'podinfo' } },
        spec: {
          containers: (containers ?? [
            {
              name: 'podinfo',
              image: 'ghcr.io/stefanprodan/podinfo:6.0.0',
              ports: [
                { name: 'http', containerPort: 9898 },
                { name: 'http-metrics', containerPort: 9797 },
                { containerPort: 9999 },
              ],
            },
            {
              name: 'istio-proxy',
              image: 'istio/proxyv2',
              ports: [{ name: 'http-envoy-prom', containerPort: 15090 }],
            },
          ]) as never,
        },
      },
    },
  };
}

function setup(deployment = target()) {
  const api = new InMemoryKubeApi();
  api.seed(RESOURCES.deployment, deployment);
  const deps = {
    api,
    deployments: api.cache<Deployment>(RESOURCES.deployment),
    services: api.cache<Service>(RESOURCES.service),
    virtualServices: api.cache<VirtualService>(RESOURCES.virtualService),
    destinationRules: api.cache<DestinationRule>(RESOURCES.destinationRule),
  };
  const service = (name: string) => api.cache<Service>(RESOURCES.service).get('test', name);
  const vs = () => api.cache<VirtualService>(RESOURCES.virtualService).get('test', 'podinfo');
  return { api, istio: new IstioRouter(deps), kubernetes: new KubernetesRouter(deps), service, vs };
}

describe('spec.service fields from Flagger, end to end through the routers', () => {
  it('service.apex/primary/canary: labels and annotations land on the matching Service, Petrel label kept', async () => {
    const { istio, service } = setup();
    const canary = makeCanary(
      {},
      {
        apex: {
          labels: { tier: 'edge' },
          annotations: { 'nginx.ingress.kubernetes.io/service-upstream': 'true' },
        },
        primary: { annotations: { '9898.service.kuma.io/protocol': 'http' } },
        canary: { labels: { track: 'canary' } },
      },
    );
    await istio.reconcile(canary);
    expect(service('podinfo')?.metadata?.labels).toMatchObject({
      tier: 'edge',
      'petrel.dev/managed-by': 'petrel',
    });
    expect(service('podinfo')?.metadata?.annotations).toEqual({
      'nginx.ingress.kubernetes.io/service-upstream': 'true',
    });
    expect(service('podinfo-primary')?.metadata?.annotations).toEqual({
      '9898.service.kuma.io/protocol': 'http',
    });
    expect(service('podinfo-canary')?.metadata?.labels).toMatchObject({ track: 'canary' });
    expect(service('podinfo-canary')?.metadata?.labels).not.toHaveProperty('tier');
  });

  it('service.apex: a changed label is patched onto the live Service, and foreign labels stay', async () => {
    const { api, istio, service } = setup();
    await istio.reconcile(makeCanary({}, { apex: { labels: { tier: 'edge' } } }));
    const live = service('podinfo')!;
    await api.mergePatch(
      { resource: RESOURCES.service, namespace: 'test', name: 'podinfo' },
      { metadata: { labels: { owner: 'team-a' } } },
    );
    expect(live.metadata?.name).toBe('podinfo');
    await istio.reconcile(makeCanary({}, { apex: { labels: { tier: 'internal' } } }));
    expect(service('podinfo')?.metadata?.labels).toMatchObject({ tier: 'internal', owner: 'team-a' });
  });

  it('service.portDiscovery: every other container port is exposed, sidecars left out', async () => {
    const { istio, service } = setup();
    await istio.reconcile(makeCanary({}, { portDiscovery: true }));
    for (const name of ['podinfo', 'podinfo-primary', 'podinfo-canary']) {
      expect(service(name)?.spec?.ports?.map((p) => [p.name, p.port, p.targetPort])).toEqual([
        ['http', 9898, 'http'],
        ['http-metrics', 9797, 9797],
        ['tcp-podinfo-2', 9999, 9999],
      ]);
    }
  });

  it('service.portDiscovery: off, only the service port; a port added to the pod template appears on reconcile', async () => {
    const without = setup();
    await without.istio.reconcile(makeCanary());
    expect(without.service('podinfo')?.spec?.ports?.map((p) => p.name)).toEqual(['http']);

    const { api, istio, service } = setup(
      target([{ name: 'podinfo', image: 'x', ports: [{ name: 'http', containerPort: 9898 }] }]),
    );
    await istio.reconcile(makeCanary({}, { portDiscovery: true }));
    expect(service('podinfo')?.spec?.ports).toHaveLength(1);
    await api.mergePatch(
      { resource: RESOURCES.deployment, namespace: 'test', name: 'podinfo' },
      {
        spec: {
          template: {
            spec: {
              containers: [
                {
                  name: 'podinfo',
                  image: 'x',
                  ports: [
                    { name: 'http', containerPort: 9898 },
                    { name: 'grpc', containerPort: 9999 },
                  ],
                },
              ],
            },
          },
        },
      },
    );
    await istio.reconcile(makeCanary({}, { portDiscovery: true }));
    expect(service('podinfo')?.spec?.ports?.map((p) => p.name)).toEqual(['http', 'grpc']);
  });

  it('service.appProtocol: set on the Service port, and patched when it changes', async () => {
    const { istio, service } = setup();
    await istio.reconcile(makeCanary({}, { appProtocol: 'http' }));
    expect(service('podinfo-canary')?.spec?.ports?.[0]?.appProtocol).toBe('http');
    await istio.reconcile(makeCanary({}, { appProtocol: 'kubernetes.io/h2c' }));
    expect(service('podinfo-canary')?.spec?.ports?.[0]?.appProtocol).toBe('kubernetes.io/h2c');
  });

  it('service.rewrite: lands on every route of the VirtualService, A/B routes included, and Istio accepts it', async () => {
    const { istio, vs } = setup();
    const canary = makeCanary(
      { analysis: { iterations: 5, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] } },
      { rewrite: { uri: '/' } },
    );
    await istio.reconcile(canary);
    expect(vs()?.spec?.http?.map((h) => h.rewrite)).toEqual([{ uri: '/' }, { uri: '/' }]);
    const model = new IstioVirtualService(buildVirtualService(canary, { primary: 90, canary: 10 }) as never);
    expect(() => model.validate()).not.toThrow();
  });

  it('service.delegation: a delegate VirtualService, without hosts or gateways', async () => {
    const { istio, vs } = setup();
    await istio.reconcile(makeCanary({}, { delegation: true, portDiscovery: true }));
    expect(vs()?.spec?.hosts).toEqual([]);
    expect(vs()?.spec).not.toHaveProperty('gateways');
    const plain = setup();
    await plain.istio.reconcile(makeCanary({}, { gateways: ['public'] }));
    expect(plain.vs()?.spec?.hosts).toEqual(['podinfo']);
    expect(plain.vs()?.spec?.gateways).toEqual(['public']);
  });

  it('service.name with provider kubernetes: the three Services are named after it', async () => {
    const { kubernetes, service } = setup();
    const canary = makeCanary(
      { provider: 'kubernetes', analysis: { iterations: 3 } },
      { name: 'podinfo-svc' },
    );
    await kubernetes.reconcile(canary);
    expect(service('podinfo-svc')?.spec?.selector).toEqual({ app: 'podinfo-primary' });
    expect(service('podinfo-svc-primary')?.spec?.selector).toEqual({ app: 'podinfo-primary' });
    expect(service('podinfo-svc-canary')?.spec?.selector).toEqual({ app: 'podinfo' });
    expect(service('podinfo')).toBeUndefined();
    expect(kubernetes.getRoutes(canary)).toEqual({ primary: 100, canary: 0 });
  });
});

function answering(values: Record<string, number>): MetricsProvider {
  return {
    async runQuery(query) {
      const key = Object.keys(values).find((k) => query.includes(k));
      if (!key) throw new Error(`unexpected query ${query}`);
      return values[key]!;
    },
    async isOnline() {
      return true;
    },
  };
}

describe('metrics[].threshold, the older form', () => {
  it('is the minimum of request-success-rate and the maximum of every other metric', async () => {
    const canary = makeCanary({
      analysis: {
        metrics: [
          { name: 'request-success-rate', threshold: 99 },
          { name: 'request-duration', threshold: 500 },
          { name: 'errors', templateRef: { name: 'errors' }, threshold: 5 },
        ],
      },
    });
    expect(canary.spec.analysis.metrics.map((m) => m.thresholdRange)).toEqual([
      { min: 99 },
      { max: 500 },
      { max: 5 },
    ]);
    const results = await runChecks({
      canary,
      templates: () => ({
        apiVersion: 'petrel.dev/v1alpha1',
        kind: 'MetricTemplate',
        metadata: { name: 'errors', namespace: 'test' },
        spec: { provider: { type: 'prometheus' }, query: 'errors_total{service="{{ service }}"}' },
      }),
      providerFor: () => answering({ histogram_quantile: 612, errors_total: 7, istio_requests_total: 98 }),
      now: new Date(),
    });
    expect(results.map((r) => r.passed)).toEqual([false, false, false]);
  });

  it('is refused next to a thresholdRange', () => {
    const result = validateCanary({
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'Canary',
      metadata: { name: 'podinfo', namespace: 'test' },
      spec: {
        targetRef: { kind: 'Deployment', name: 'podinfo' },
        service: { port: 80 },
        analysis: { metrics: [{ name: 'request-success-rate', threshold: 99, thresholdRange: { min: 99 } }] },
      },
    });
    expect(result.ok ? [] : result.issues).toContainEqual({
      path: 'spec.analysis.metrics[0].threshold',
      message: 'threshold is the older form of thresholdRange: keep thresholdRange only',
    });
  });
});

describe('MetricTemplate placeholders from Flagger', () => {
  it('{{ service }} is the apex Service and {{ name }} the Canary', async () => {
    const queries: string[] = [];
    const canary = makeCanary(
      {
        provider: 'kubernetes',
        analysis: { iterations: 2, metrics: [{ name: 'q', templateRef: { name: 'q' } }] },
      },
      { name: 'podinfo-svc' },
    );
    await runChecks({
      canary,
      templates: () => ({
        apiVersion: 'petrel.dev/v1alpha1',
        kind: 'MetricTemplate',
        metadata: { name: 'q', namespace: 'test' },
        spec: { provider: { type: 'prometheus' }, query: 'up{service="{{ service }}",canary="{{ name }}"}' },
      }),
      providerFor: () => ({
        async runQuery(query) {
          queries.push(query);
          return 1;
        },
        async isOnline() {
          return true;
        },
      }),
      now: new Date(),
    });
    expect(queries).toEqual(['up{service="podinfo-svc",canary="podinfo"}']);
  });
});

describe('autoscalerRef to older HPA API versions', () => {
  it.each(['autoscaling/v2beta1', 'autoscaling/v2beta2'])(
    '%s: the HPA is read and copied for the primary',
    async (apiVersion) => {
      const api = new InMemoryKubeApi();
      const hpa: HorizontalPodAutoscaler = {
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: { name: 'podinfo', namespace: 'test' },
        spec: {
          minReplicas: 2,
          maxReplicas: 4,
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
        },
      };
      api.seed(RESOURCES.horizontalPodAutoscaler, hpa);
      const canary = makeCanary({
        autoscalerRef: { apiVersion, kind: 'HorizontalPodAutoscaler', name: 'podinfo' },
      });
      await ensurePrimaryAutoscaler(
        { api, hpas: api.cache<HorizontalPodAutoscaler>(RESOURCES.horizontalPodAutoscaler) },
        canary,
      );
      const copy = api
        .cache<HorizontalPodAutoscaler>(RESOURCES.horizontalPodAutoscaler)
        .get('test', 'podinfo-primary');
      expect(copy?.spec).toMatchObject({
        minReplicas: 2,
        maxReplicas: 4,
        scaleTargetRef: { name: 'podinfo-primary' },
      });
    },
  );
});
