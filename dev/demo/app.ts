import type { CanaryInput } from '../../src/api/canary.ts';
import type { ResourceKind } from '../../src/kube/resources.ts';
import type { KubeObject } from '../../src/kube/types.ts';
import { behaviourAnnotations, type VersionBehaviour } from './scenarios.ts';

/**
 * The demo's example app: a podinfo-like Deployment and its Canary, with intervals short enough
 * for the whole show to take about a minute. Each step waits `analysisInterval`, checks the two
 * builtin Istio metrics over the last `metricInterval`, and `threshold` failed checks roll back.
 */
export const DEMO_APP = {
  namespace: 'demo',
  name: 'podinfo',
  analysisInterval: '3s',
  metricInterval: '10s',
  threshold: 2,
  stepWeight: 10,
  maxWeight: 50,
  minSuccessRatePercent: 99,
  maxRequestDurationMs: 500,
  replicas: 2,
  progressDeadlineSeconds: 30,
} as const;

export type DemoApp = typeof DEMO_APP;

const CONTAINER_PORT = 9898;

export function demoNamespace(app: DemoApp = DEMO_APP): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: app.namespace } };
}

function container(image: string) {
  return {
    name: 'podinfod',
    image,
    ports: [{ name: 'http', containerPort: CONTAINER_PORT, protocol: 'TCP' }],
  };
}

export function demoDeployment(image: string, behaviour: VersionBehaviour, app: DemoApp = DEMO_APP) {
  const labels = { app: app.name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: app.name, namespace: app.namespace, labels },
    spec: {
      replicas: app.replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations: behaviourAnnotations(behaviour) },
        spec: { containers: [container(image)] },
      },
    },
  } satisfies KubeObject & Record<string, unknown>;
}

/** The merge patch that releases a new version: a new image and the behaviour the simulator gives it. */
export function releasePatch(image: string, behaviour: VersionBehaviour) {
  return {
    spec: {
      template: {
        metadata: { annotations: behaviourAnnotations(behaviour) },
        spec: { containers: [container(image)] },
      },
    },
  };
}

/** How the demo's traffic is routed: an Istio VirtualService, or a Gateway API HTTPRoute. */
export const DEMO_PROVIDERS = ['istio', 'gatewayapi:v1'] as const;
export type DemoProvider = (typeof DEMO_PROVIDERS)[number];

/** The Gateway the demo's HTTPRoute attaches to (spec.service.gatewayRefs). */
export const DEMO_GATEWAY = { name: 'public', className: 'petrel-demo' } as const;

const GATEWAY_CLASS: ResourceKind = {
  group: 'gateway.networking.k8s.io',
  version: 'v1',
  plural: 'gatewayclasses',
  kind: 'GatewayClass',
  namespaced: false,
};
const GATEWAY: ResourceKind = { ...GATEWAY_CLASS, plural: 'gateways', kind: 'Gateway', namespaced: true };

/** A GatewayClass and an HTTP Gateway in the app's namespace, as a cluster operator would provide them. */
export function demoGatewayObjects(
  app: DemoApp = DEMO_APP,
): { resource: ResourceKind; object: KubeObject }[] {
  return [
    {
      resource: GATEWAY_CLASS,
      object: {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'GatewayClass',
        metadata: { name: DEMO_GATEWAY.className },
        spec: { controllerName: 'sandbox.petrel.dev/simulated-gateway' },
      } as KubeObject,
    },
    {
      resource: GATEWAY,
      object: {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: DEMO_GATEWAY.name, namespace: app.namespace },
        spec: {
          gatewayClassName: DEMO_GATEWAY.className,
          listeners: [{ name: 'http', protocol: 'HTTP', port: 80 }],
        },
      } as KubeObject,
    },
  ];
}

/**
 * The checks of the `subtle` scenario: both builtins judged against the primary, tolerating +0.25pp of
 * errors and a 20% slower p99, at alpha 1%.
 */
export const RELATIVE_CHECKS = { errorTolerance: '+0.25pp', latencyTolerance: '20%', alpha: 0.01 } as const;

export function demoCanary(
  app: DemoApp = DEMO_APP,
  provider: DemoProvider = 'istio',
  relative = false,
): CanaryInput {
  const base = absoluteDemoCanary(app, provider);
  if (!relative) return base;
  const compare = (tolerance: string) => ({ tolerance, alpha: RELATIVE_CHECKS.alpha });
  base.spec.analysis!.metrics = [
    {
      name: 'request-success-rate',
      interval: app.metricInterval,
      compare: compare(RELATIVE_CHECKS.errorTolerance),
    },
    {
      name: 'request-duration',
      interval: app.metricInterval,
      compare: compare(RELATIVE_CHECKS.latencyTolerance),
    },
  ];
  return base;
}

function absoluteDemoCanary(app: DemoApp, provider: DemoProvider): CanaryInput {
  const gateway = provider === 'gatewayapi:v1';
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: app.name, namespace: app.namespace },
    spec: {
      provider,
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: app.name },
      progressDeadlineSeconds: app.progressDeadlineSeconds,
      service: {
        port: CONTAINER_PORT,
        targetPort: CONTAINER_PORT,
        ...(gateway
          ? {
              hosts: [`${app.name}.example.com`],
              gatewayRefs: [{ name: DEMO_GATEWAY.name, namespace: app.namespace }],
            }
          : {}),
      },
      analysis: {
        interval: app.analysisInterval,
        threshold: app.threshold,
        maxWeight: app.maxWeight,
        stepWeight: app.stepWeight,
        metrics: [
          {
            name: 'request-success-rate',
            thresholdRange: { min: app.minSuccessRatePercent },
            interval: app.metricInterval,
          },
          {
            name: 'request-duration',
            thresholdRange: { max: app.maxRequestDurationMs },
            interval: app.metricInterval,
          },
        ],
      },
    },
  };
}
