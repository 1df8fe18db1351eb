import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Canary } from '../src/api/canary.ts';
import { TerminalError } from '../src/controller/queue.ts';
import { CanaryReconciler } from '../src/controller/reconciler.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import type { Deployment } from '../src/kube/workloads.ts';
import type { Clock } from '../src/lib/clock.ts';
import type { Router } from '../src/routers/router.ts';
import { InMemoryKubeApi } from './support/fake-kube.ts';

/**
 * What lint refuses, the controller refuses too: the Istio pass-through checks, Flagger fields Petrel does
 * not support and the provider rules end as an InvalidSpec condition and event naming the field, with the
 * controller's default provider applied first.
 */

const router: Router = {
  async reconcile() {},
  async setRoutes() {},
  getRoutes: () => ({ primary: 100, canary: 0 }),
  async finalize() {},
};

function setup(defaultProvider?: Canary['spec']['provider']) {
  const api = new InMemoryKubeApi();
  const events: string[] = [];
  const clock: Clock = {
    now: () => new Date('2026-01-01T00:00:00Z'),
    setTimeout: () => 0,
    clearTimeout: () => {},
  };
  api.seed<Deployment>(RESOURCES.deployment, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'podinfo', namespace: 'test', generation: 1, uid: 'd1' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'podinfo' } },
      template: {
        metadata: { labels: { app: 'podinfo' } },
        spec: { containers: [{ name: 'app', image: 'podinfo:1' }] },
      },
    },
  });
  const reconciler = new CanaryReconciler({
    api,
    canaries: api.cache<KubeObject>(RESOURCES.canary),
    deployments: { api, deployments: api.cache<Deployment>(RESOURCES.deployment) },
    routerFor: () => router,
    ...(defaultProvider ? { defaultProvider } : {}),
    events: {
      record: async (_c, type, reason, message) => {
        events.push(`${type} ${reason}: ${message}`);
      },
    },
    runChecks: async () => [],
    clock,
    logger: pino({ level: 'silent' }),
  });
  const put = (spec: Record<string, unknown>) =>
    api.seed(RESOURCES.canary, {
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'Canary',
      metadata: { name: 'podinfo', namespace: 'test', generation: 1, uid: 'c1' },
      spec: {
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
        service: { port: 80 },
        ...spec,
      },
    } as KubeObject);
  const status = () =>
    (api.cache<KubeObject>(RESOURCES.canary).get('test', 'podinfo') as { status?: Canary['status'] })?.status;
  const invalidSpec = () => status()?.conditions?.find((c) => c.type === 'InvalidSpec');
  return { reconciler, events, put, status, invalidSpec };
}

describe('InvalidSpec at run time', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      'a misspelt Istio TLS mode',
      { service: { port: 80, trafficPolicy: { tls: { mode: 'ISTIO_MUTAL' } } } },
      /spec\.service\.trafficPolicy\.tls\.mode: must be one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL \(got "ISTIO_MUTAL"\)/,
    ],
    [
      'a misspelt match key Istio would prune',
      { service: { port: 80, match: [{ uri: { prefx: '/api' } }] } },
      /spec\.service\.match\[0\]\.uri\.prefx: unknown Istio field: Istio would drop it silently \(known here: exact, prefix, regex\)/,
    ],
    [
      'a misspelt A/B match',
      { analysis: { iterations: 3, match: [{ headers: { 'x-canary': { exactly: 'yes' } } }] } },
      /spec\.analysis\.match\[0\]\.headers\.x-canary\.exactly: unknown Istio field/,
    ],
    [
      'a DaemonSet target',
      { targetRef: { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'podinfo' } },
      /spec\.targetRef\.kind: not supported by Petrel: targetRef\.kind "DaemonSet"; Petrel rolls out Deployments only/,
    ],
    [
      "Flagger's ingressRef",
      { ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'podinfo' } },
      /spec\.ingressRef: not supported by Petrel: an Ingress is the nginx provider's router/,
    ],
  ])('%s: condition and event name the field and what is allowed', async (_name, spec, message) => {
    const t = setup();
    t.put(spec);
    await expect(t.reconciler.reconcile('test/podinfo')).rejects.toBeInstanceOf(TerminalError);
    expect(t.invalidSpec()).toMatchObject({ status: 'True', reason: 'InvalidSpec' });
    expect(t.invalidSpec()?.message).toMatch(message);
    expect(t.events).toHaveLength(1);
    expect(t.events[0]).toMatch(/^Warning InvalidSpec: /);
    expect(t.events[0]).toMatch(message);
  });

  it('applies the controller default provider before the rules: kubernetes refuses weight steps, istio takes them', async () => {
    const spec = { analysis: { stepWeight: 10, maxWeight: 50 } };
    const blueGreen = setup('kubernetes');
    blueGreen.put(spec);
    await expect(blueGreen.reconciler.reconcile('test/podinfo')).rejects.toBeInstanceOf(TerminalError);
    expect(blueGreen.invalidSpec()?.message).toMatch(
      /spec\.analysis\.iterations: required with provider kubernetes/,
    );
    expect(blueGreen.invalidSpec()?.message).toMatch(
      /spec\.analysis\.stepWeight: cannot be used with provider kubernetes/,
    );

    const mesh = setup('istio');
    mesh.put(spec);
    await mesh.reconciler.reconcile('test/podinfo');
    expect(mesh.invalidSpec()).toBeUndefined();
    expect(mesh.status()?.phase).toBe('Initializing');
  });

  it('an explicit spec.provider wins over the default', async () => {
    const t = setup('kubernetes');
    t.put({ provider: 'istio', analysis: { stepWeight: 10 } });
    await t.reconciler.reconcile('test/podinfo');
    expect(t.invalidSpec()).toBeUndefined();
  });
});
