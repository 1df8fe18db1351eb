import { APP } from './observer.ts';

/** The objects of one chaos rollout: its namespace, the app, its release and its Canary. */
export function namespace(name: string) {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

export function deployment(ns: string) {
  const labels = { app: APP };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: APP, namespace: ns, labels },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations: { 'sim.petrel.dev/error-ratio': '0' } },
        spec: {
          containers: [{ name: APP, image: 'podinfo:1.0', ports: [{ name: 'http', containerPort: 9898 }] }],
        },
      },
    },
  };
}

export function release(errorRatio: number) {
  return {
    spec: {
      template: {
        metadata: { annotations: { 'sim.petrel.dev/error-ratio': String(errorRatio) } },
        spec: {
          containers: [{ name: APP, image: 'podinfo:2.0', ports: [{ name: 'http', containerPort: 9898 }] }],
        },
      },
    },
  };
}

export function canary(ns: string) {
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: APP, namespace: ns },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: APP },
      service: { port: 9898, targetPort: 9898 },
      progressDeadlineSeconds: 60,
      analysis: {
        interval: '2s',
        threshold: 3,
        maxWeight: 30,
        stepWeight: 10,
        // An unreachable Prometheus holds the rollout for maxHold (never promoting, never counting against
        // the canary), then counts as failed checks: short here, so a lost backend ends Failed in the run.
        metrics: [
          { name: 'request-success-rate', thresholdRange: { min: 95 }, interval: '10s', maxHold: '6s' },
        ],
        alerts: [{ name: 'receiver', severity: 'info', providerRef: { name: 'receiver' } }],
      },
    },
  };
}
