import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeApi, KubeObject } from '../src/kube/types.ts';
import { forEachLimit, sleep } from './stats.ts';

export interface CanaryShape {
  /** analysis.interval, e.g. '2s'. */
  interval: string;
  /** Metric checks per step (request-success-rate, then request-duration). */
  metrics: 1 | 2;
}

const CREATE_CONCURRENCY = 16;
const NAMESPACES = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };

export function appName(prefix: string, i: number): string {
  return `${prefix}-${String(i).padStart(5, '0')}`;
}

function deployment(namespace: string, name: string, image: string): KubeObject & Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image, ports: [{ name: 'http', containerPort: 8080 }] }] },
      },
    },
  };
}

function canary(namespace: string, name: string, shape: CanaryShape): KubeObject & Record<string, unknown> {
  const metrics: Record<string, unknown>[] = [
    { name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '30s' },
  ];
  if (shape.metrics === 2)
    metrics.push({ name: 'request-duration', thresholdRange: { max: 500 }, interval: '30s' });
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name, namespace },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      service: { port: 8080, targetPort: 8080 },
      progressDeadlineSeconds: 600,
      analysis: { interval: shape.interval, threshold: 3, maxWeight: 50, stepWeight: 10, metrics },
    },
  };
}

export async function createNamespace(api: KubeApi, name: string): Promise<void> {
  await api.create(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

/** Creates a Deployment and its Canary for each name. */
export async function createApps(
  api: KubeApi,
  namespace: string,
  names: readonly string[],
  shape: CanaryShape,
): Promise<void> {
  await forEachLimit(names, CREATE_CONCURRENCY, async (name) => {
    await api.create(RESOURCES.deployment, deployment(namespace, name, 'example/app:1'));
    await api.create(RESOURCES.canary, canary(namespace, name, shape));
  });
}

export async function setImage(api: KubeApi, namespace: string, name: string, image: string): Promise<void> {
  await api.mergePatch(
    { resource: RESOURCES.deployment, namespace, name },
    {
      spec: {
        template: {
          spec: { containers: [{ name: 'app', image, ports: [{ name: 'http', containerPort: 8080 }] }] },
        },
      },
    },
  );
}

export async function setImages(api: KubeApi, namespace: string, names: readonly string[], image: string) {
  await forEachLimit(names, CREATE_CONCURRENCY, (name) => setImage(api, namespace, name, image));
}

interface CanaryStatusView extends KubeObject {
  status?: { phase?: string; history?: { verdict?: string; reason?: string }[] };
}

/**
 * The failed checks in the status history of a namespace's canaries, by reason (numbers masked so
 * equal causes group together), most frequent first.
 */
export async function failedChecks(
  api: KubeApi,
  namespace: string,
): Promise<{ total: number; byReason: Record<string, number> }> {
  const list = await api.list<CanaryStatusView>(RESOURCES.canary, { namespace });
  const counts = new Map<string, number>();
  let total = 0;
  for (const canary of list.items)
    for (const entry of canary.status?.history ?? []) {
      if (entry.verdict !== 'fail') continue;
      total++;
      const reason = (entry.reason ?? '').replace(/\d+(\.\d+)?/g, '#').slice(0, 100);
      counts.set(reason, (counts.get(reason) ?? 0) + 1);
    }
  const byReason = Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]).slice(0, 5));
  return { total, byReason };
}

/** Phase of every Canary in a namespace, by name. */
export async function phases(api: KubeApi, namespace: string): Promise<Map<string, string>> {
  const list = await api.list<CanaryStatusView>(RESOURCES.canary, { namespace });
  return new Map(list.items.map((c) => [c.metadata?.name ?? '', c.status?.phase ?? '']));
}

/** Waits until `count` Canaries of the namespace are in one of `wanted`; returns how long it took. */
export async function waitForPhases(
  api: KubeApi,
  namespace: string,
  wanted: readonly string[],
  count: number,
  timeoutMs: number,
  pollMs = 1000,
): Promise<number> {
  const started = Date.now();
  let last = 0;
  while (Date.now() - started < timeoutMs) {
    const now = await phases(api, namespace);
    last = [...now.values()].filter((p) => wanted.includes(p)).length;
    if (last >= count) return Date.now() - started;
    await sleep(pollMs);
  }
  throw new Error(
    `only ${last} of ${count} canaries in ${namespace} reached ${wanted.join('/')} within ${timeoutMs} ms`,
  );
}
