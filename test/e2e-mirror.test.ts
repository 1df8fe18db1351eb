import { describe, expect, it } from 'vitest';
import { SIM_ANNOTATIONS } from '../dev/sandbox/traffic.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import { useCleanups } from './support/cleanups.ts';
import {
  createNamespace,
  getCanary,
  podinfoCanary,
  podinfoDeployment,
  runController,
  setImage,
  testLogger,
  useE2e,
  waitFor,
  waitForPhase,
} from './support/e2e.ts';
import { RouteRecorder, simulateTraffic } from './support/simulated-mesh.ts';

const env = useE2e({ deploymentReadyDelayMs: 300 });

describe('end to end: traffic mirroring (analysis.mirror, mirrorWeight)', () => {
  const cleanups = useCleanups();

  async function prepare(ns: string, analysis: Record<string, unknown>) {
    await createNamespace(env.api, ns);
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const routes = new RouteRecorder(env, ns);
    await routes.start();
    cleanups.push(() => routes.stop());
    const sim = await simulateTraffic(env, ns);
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
        mirror: true,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '5s' }],
        ...analysis,
      }),
    );
    await waitForPhase(env.api, ns, ['Initialized']);
    return { routes, sim };
  }

  it('mirrors to the canary for one step, its copies measured and answered by nobody, then shifts', async () => {
    const ns = 'e2e-mirror';
    const { routes, sim } = await prepare(ns, { mirrorWeight: 50 });
    const startedAt = Date.now();
    await setImage(env.api, ns, 'podinfo:2.0');
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 60_000);
    expect(done.status?.phase).toBe('Succeeded');

    const sequence = routes.labels().slice(routes.states.findIndex((s) => s.at >= startedAt) - 1);
    expect(sequence).toEqual(['0', '0+mirror', '20', '40', '0']);
    const mirroring = routes.states.find((s) => s.mirrored);
    expect(mirroring?.vs.spec?.http?.[0]).toMatchObject({
      mirror: { host: 'podinfo-canary', port: { number: 9898 } },
      mirrorPercentage: { value: 50 },
      route: [
        { destination: { host: 'podinfo-primary' }, weight: 100 },
        { destination: { host: 'podinfo-canary' }, weight: 0 },
      ],
    });
    for (const state of routes.states.filter((s) => !s.mirrored)) {
      expect(state.vs.spec?.http?.[0]?.mirror).toBeUndefined();
      expect(state.vs.spec?.http?.[0]?.mirrorPercentage).toBeUndefined();
    }

    // While mirroring, every request of the canary was a copy (about half the primary's): live traffic
    // stayed on the primary.
    const mirrorEnd = routes.states.find((_s, i) => i > 0 && routes.states[i - 1]?.mirrored)?.at ?? 0;
    const during = sim.ticks.filter((t) => t.at > (mirroring?.at ?? 0) + 400 && t.at < mirrorEnd);
    const canary = sim.requests('podinfo', during);
    const primary = sim.requests('podinfo-primary', during);
    expect(canary.total).toBeGreaterThan(0);
    expect(canary.mirrored).toBe(canary.total);
    expect(canary.total / primary.total).toBeGreaterThan(0.35);
    expect(canary.total / primary.total).toBeLessThan(0.65);

    // The check of the mirroring step found the canary's copies in Prometheus.
    const first = done.status?.history?.[0];
    expect(first).toMatchObject({ weight: 0, verdict: 'pass' });
    expect(first?.reason).not.toContain('no values');
    expect(done.status?.history?.map((h) => h.weight)).toEqual([0, 20, 40]);
  }, 90_000);

  it('rolls back a bad version during the mirroring step: no user ever reached it', async () => {
    const ns = 'e2e-mirror-bad';
    const { routes, sim } = await prepare(ns, { threshold: 1 });
    const startedAt = Date.now();
    await setImage(env.api, ns, 'podinfo:2.0-bad', { [SIM_ANNOTATIONS.errorRatio]: '0.2' });
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 60_000);
    expect(done.status?.phase).toBe('Failed');
    const sequence = routes.labels().slice(routes.states.findIndex((s) => s.at >= startedAt) - 1);
    expect(sequence).toEqual(['0', '0+mirror', '0']);
    const canary = sim.requests(
      'podinfo',
      sim.ticks.filter((t) => t.at >= startedAt),
    );
    expect(canary.total).toBeGreaterThan(0);
    expect(canary.mirrored).toBe(canary.total);
    await waitFor('the bad version scaled to zero', async () =>
      sim.ticks.at(-1)?.traffic.some((t) => t.workload === 'podinfo') ? undefined : true,
    );
  }, 90_000);

  it('refuses mirror with provider kubernetes: the API server at create, the controller at run time', async () => {
    const ns = 'e2e-mirror-invalid';
    await createNamespace(env.api, ns);
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const blueGreen = podinfoCanary(ns, { iterations: 2, mirror: true }, { provider: 'kubernetes' });
    const { stepWeight: _s, maxWeight: _m, ...analysis } = blueGreen.spec.analysis;
    const canary = { ...blueGreen, spec: { ...blueGreen.spec, analysis } };
    // The CRD's rule refuses it outright.
    await expect(env.api.create(RESOURCES.canary, canary)).rejects.toThrow(/provider kubernetes cannot use/);

    // A Canary stored under a CRD without the rule (installed before it, or crds.install=false with an
    // older copy) is refused by the controller instead: InvalidSpec condition and event naming the field.
    const crdRef = { resource: CRD, name: 'canaries.petrel.dev' };
    const crd = await env.api.get<KubeObject & { spec: { versions: unknown[] } }>(crdRef);
    const setVersions = (versions: unknown[]) =>
      env.api.jsonPatch(crdRef, [{ op: 'replace', path: '/spec/versions', value: versions }]);
    await setVersions(stripRules(crd.spec.versions) as unknown[]);
    try {
      await env.api.create(RESOURCES.canary, canary);
    } finally {
      await setVersions(crd.spec.versions);
    }
    const controller = runController(env, ns, testLogger().logger);
    cleanups.push(() => controller.stop());
    await controller.ready;
    const condition = await waitFor('the InvalidSpec condition', async () => {
      const c = await getCanary(env.api, ns);
      return c.status?.conditions?.find((x) => x.type === 'InvalidSpec');
    });
    expect(condition.message).toContain('spec.analysis.mirror: cannot be used with provider kubernetes');
    const events = await env.api.list<KubeObject & { reason?: string; message?: string }>(RESOURCES.event, {
      namespace: ns,
    });
    expect(events.items.find((e) => e.reason === 'InvalidSpec')?.message).toContain('spec.analysis.mirror');
    expect((await getCanary(env.api, ns)).status?.phase).toBeUndefined();
  }, 60_000);
});

const CRD = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  plural: 'customresourcedefinitions',
  kind: 'CustomResourceDefinition',
  namespaced: false,
};

/** A CRD schema without its x-kubernetes-validations rules. */
function stripRules(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(stripRules);
  if (!schema || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([key]) => key !== 'x-kubernetes-validations')
      .map(([key, value]) => [key, stripRules(value)]),
  );
}
