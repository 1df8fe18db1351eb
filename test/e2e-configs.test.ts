import { describe, expect, it } from 'vitest';
import { CONFIG_CHECKSUM_ANNOTATION } from '../src/controller/configs.ts';
import { type RunningController, startController } from '../src/controller/controller.ts';
import type { ConfigMap, Secret } from '../src/kube/configs.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import type { Deployment, HorizontalPodAutoscaler } from '../src/kube/workloads.ts';
import { useCleanups } from './support/cleanups.ts';
import {
  CONTROLLER_USER_AGENT,
  controllerRequests,
  createNamespace,
  getCanary,
  podinfoCanary,
  podinfoDeployment,
  rolloutFigures,
  runController,
  setImage,
  sleep,
  TrafficLoop,
  testLogger,
  useE2e,
  WeightRecorder,
  waitFor,
  waitForPhase,
} from './support/e2e.ts';

const env = useE2e({ deploymentReadyDelayMs: 300 });

const CONFIG = 'podinfo-config';

function configMap(namespace: string, name: string, message: string): ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: { message } };
}

/** podinfo with its ConfigMap mounted as a volume and read as environment (envFrom). */
function deploymentUsingConfig(namespace: string): KubeObject & Record<string, unknown> {
  const deployment = podinfoDeployment(namespace, 'podinfo:1.0') as Deployment & Record<string, unknown>;
  const spec = deployment.spec?.template?.spec;
  if (!spec) throw new Error('podinfoDeployment has no pod spec');
  spec.volumes = [{ name: 'config', configMap: { name: CONFIG } }];
  const container = spec.containers[0];
  if (!container) throw new Error('podinfoDeployment has no container');
  container.envFrom = [{ configMapRef: { name: CONFIG } }];
  container.volumeMounts = [{ name: 'config', mountPath: '/etc/podinfo' }];
  return deployment;
}

async function getDeploymentObject(namespace: string, name: string): Promise<Deployment> {
  return env.api.get<Deployment>({ resource: RESOURCES.deployment, namespace, name });
}

async function trackedConfigs(namespace: string): Promise<Record<string, string> | undefined> {
  const canary = (await getCanary(env.api, namespace)) as {
    status?: { trackedConfigs?: Record<string, string> };
  };
  return canary.status?.trackedConfigs;
}

describe('end to end: ConfigMap tracking and the primary autoscaler', () => {
  const cleanups = useCleanups();

  async function start(namespace: string): Promise<{ weights: WeightRecorder }> {
    const traffic = new TrafficLoop(env.prometheusUrl, namespace);
    traffic.start();
    cleanups.push(() => traffic.stop());
    const weights = new WeightRecorder(env, namespace);
    await weights.start();
    cleanups.push(() => weights.stop());
    const controller: RunningController = runController(env, namespace, testLogger().logger);
    cleanups.push(() => controller.stop());
    await controller.ready;
    return { weights };
  }

  it('a change to a ConfigMap the target uses is analysed and promoted; the primary then runs the new copy', async () => {
    const ns = 'e2e-configmap';
    await createNamespace(env.api, ns);
    await env.api.create(RESOURCES.configMap, configMap(ns, CONFIG, 'hello from v1'));
    await env.api.create(RESOURCES.configMap, configMap(ns, 'unrelated', 'not used by podinfo'));
    await env.api.create(RESOURCES.deployment, deploymentUsingConfig(ns));
    const { weights } = await start(ns);
    await env.api.create(
      RESOURCES.canary,
      podinfoCanary(ns, { maxWeight: 20, stepWeight: 10, interval: '1s', threshold: 2 }),
    );
    await waitForPhase(env.api, ns, ['Initialized']);

    // The primary runs on its own copy of the config, stamped with the config checksum.
    const initialPrimary = await getDeploymentObject(ns, 'podinfo-primary');
    const initialSpec = initialPrimary.spec?.template?.spec;
    expect(initialSpec?.volumes?.[0]?.configMap?.name).toBe(`${CONFIG}-primary`);
    expect(initialSpec?.containers[0]?.envFrom?.[0]?.configMapRef?.name).toBe(`${CONFIG}-primary`);
    const initialChecksum =
      initialPrimary.spec?.template?.metadata?.annotations?.[CONFIG_CHECKSUM_ANNOTATION];
    expect(initialChecksum).toMatch(/^[0-9a-f]{64}$/);
    const initialCopy = await env.api.get<ConfigMap>({
      resource: RESOURCES.configMap,
      namespace: ns,
      name: `${CONFIG}-primary`,
    });
    expect(initialCopy.data).toEqual({ message: 'hello from v1' });
    const initialTracked = await trackedConfigs(ns);
    expect(Object.keys(initialTracked ?? {})).toEqual([`configmap/${CONFIG}`]);

    // A ConfigMap the target does not use changes nothing and costs nothing.
    const quietFrom = Date.now();
    await env.api.mergePatch(
      { resource: RESOURCES.configMap, namespace: ns, name: 'unrelated' },
      { data: { message: 'still not used' } },
    );
    await sleep(1500);
    expect((await getCanary(env.api, ns)).status?.phase).toBe('Initialized');
    expect(
      controllerRequests(env.sandbox, quietFrom).filter((e) => e.verb !== 'watch' && e.namespace === ns),
    ).toEqual([]);

    const changedAt = Date.now();
    await env.api.mergePatch(
      { resource: RESOURCES.configMap, namespace: ns, name: CONFIG },
      { data: { message: 'hello from v2' } },
    );
    await waitFor(
      'the canary to scale up after the ConfigMap change',
      async () => ((await getDeploymentObject(ns, 'podinfo')).spec?.replicas === 2 ? true : undefined),
      { intervalMs: 10 },
    );
    const scaleUpMs = Date.now() - changedAt;
    // During the analysis the primary keeps the old config.
    const during = await env.api.get<ConfigMap>({
      resource: RESOURCES.configMap,
      namespace: ns,
      name: `${CONFIG}-primary`,
    });
    expect(during.data).toEqual({ message: 'hello from v1' });

    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed']);
    expect(done.status?.phase).toBe('Succeeded');
    expect(weights.weights.filter((w) => w > 0)).toEqual([10, 20]);
    // The decision's status is written first, its route just after: wait for the route, then check it.
    await waitFor('the route back at 0', () => (weights.weights.at(-1) === 0 ? true : undefined));

    const primary = await getDeploymentObject(ns, 'podinfo-primary');
    const spec = primary.spec?.template?.spec;
    expect(spec?.volumes?.[0]?.configMap?.name).toBe(`${CONFIG}-primary`);
    expect(spec?.containers[0]?.envFrom?.[0]?.configMapRef?.name).toBe(`${CONFIG}-primary`);
    // A new checksum rolls the primary's pods, so they read the new config (env included).
    const checksum = primary.spec?.template?.metadata?.annotations?.[CONFIG_CHECKSUM_ANNOTATION];
    expect(checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum).not.toBe(initialChecksum);
    const copy = await env.api.get<ConfigMap>({
      resource: RESOURCES.configMap,
      namespace: ns,
      name: `${CONFIG}-primary`,
    });
    expect(copy.data).toEqual({ message: 'hello from v2' });
    const tracked = await trackedConfigs(ns);
    expect(Object.keys(tracked ?? {})).toEqual([`configmap/${CONFIG}`]);
    expect(tracked?.[`configmap/${CONFIG}`]).not.toBe(initialTracked?.[`configmap/${CONFIG}`]);
    expect((await getDeploymentObject(ns, 'podinfo')).spec?.replicas).toBe(0);

    const figures = rolloutFigures(env.sandbox, ns, changedAt, 2);
    const idleFrom = Date.now() + 500;
    await sleep(3500);
    const idle = controllerRequests(env.sandbox, idleFrom).filter((e) => e.verb !== 'watch');
    console.log(
      `e2e config figures: ConfigMap change -> canary scale-up ${scaleUpMs} ms; reads during the rollout ` +
        `${figures.reads}; requests in 3 s once Succeeded ${idle.length}`,
    );
    expect(scaleUpMs).toBeLessThan(1000);
    expect(figures.reads).toBe(0);
    expect(idle).toEqual([]);

    // The next change after a promotion is a rollout of its own, like the first.
    await env.api.mergePatch(
      { resource: RESOURCES.configMap, namespace: ns, name: CONFIG },
      { data: { message: 'hello from v3' } },
    );
    await waitFor('a second rollout after the promotion', async () =>
      (await getCanary(env.api, ns)).status?.phase === 'Succeeded' ? undefined : true,
    );
    expect((await waitForPhase(env.api, ns, ['Succeeded', 'Failed'])).status?.phase).toBe('Succeeded');
    const second = await env.api.get<ConfigMap>({
      resource: RESOURCES.configMap,
      namespace: ns,
      name: `${CONFIG}-primary`,
    });
    expect(second.data).toEqual({ message: 'hello from v3' });

    // After an image promotion too.
    await setImage(env.api, ns, 'podinfo:2.0');
    await waitFor('the image rollout', async () =>
      (await getCanary(env.api, ns)).status?.phase === 'Succeeded' ? undefined : true,
    );
    expect((await waitForPhase(env.api, ns, ['Succeeded', 'Failed'])).status?.phase).toBe('Succeeded');
    await env.api.mergePatch(
      { resource: RESOURCES.configMap, namespace: ns, name: CONFIG },
      { data: { message: 'hello from v4' } },
    );
    await waitFor('a ConfigMap rollout after the image promotion', async () =>
      (await getCanary(env.api, ns)).status?.phase === 'Succeeded' ? undefined : true,
    );
    expect((await waitForPhase(env.api, ns, ['Succeeded', 'Failed'])).status?.phase).toBe('Succeeded');
    const third = await env.api.get<ConfigMap>({
      resource: RESOURCES.configMap,
      namespace: ns,
      name: `${CONFIG}-primary`,
    });
    expect(third.data).toEqual({ message: 'hello from v4' });
  }, 120_000);

  it('keeps <autoscaler>-primary in line with spec.autoscalerRef, woken by spec changes only', async () => {
    const ns = 'e2e-autoscaler';
    await createNamespace(env.api, ns);
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const hpa: HorizontalPodAutoscaler = {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'podinfo', namespace: ns },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
        minReplicas: 2,
        maxReplicas: 4,
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } },
          },
        ],
      },
    };
    await env.api.create(RESOURCES.horizontalPodAutoscaler, hpa);
    await start(ns);
    await env.api.create(
      RESOURCES.canary,
      podinfoCanary(
        ns,
        {},
        { autoscalerRef: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: 'podinfo' } },
      ),
    );
    await waitForPhase(env.api, ns, ['Initialized']);
    const getPrimaryHpa = () =>
      env.api.get<HorizontalPodAutoscaler>({
        resource: RESOURCES.horizontalPodAutoscaler,
        namespace: ns,
        name: 'podinfo-primary',
      });
    const primaryHpa = await getPrimaryHpa();
    expect(primaryHpa.spec?.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'podinfo-primary' });
    expect(primaryHpa.spec?.maxReplicas).toBe(4);
    expect(primaryHpa.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Canary', name: 'podinfo' });

    // The source HPA changes while the canary is idle: the primary's follows within a second.
    const changedAt = Date.now();
    await env.api.mergePatch(
      { resource: RESOURCES.horizontalPodAutoscaler, namespace: ns, name: 'podinfo' },
      { spec: { maxReplicas: 6 } },
    );
    await waitFor(
      'podinfo-primary HPA to follow maxReplicas 6',
      async () => ((await getPrimaryHpa()).spec?.maxReplicas === 6 ? true : undefined),
      { timeoutMs: 5000, intervalMs: 20 },
    );
    expect(Date.now() - changedAt).toBeLessThan(1000);

    // A status-only update of the HPA (as its controller makes every sync) wakes no canary.
    const quietFrom = Date.now();
    await env.api.patchStatus(
      { resource: RESOURCES.horizontalPodAutoscaler, namespace: ns, name: 'podinfo' },
      { status: { currentReplicas: 2, desiredReplicas: 2 } },
    );
    await sleep(1000);
    expect(
      controllerRequests(env.sandbox, quietFrom).filter((e) => e.verb !== 'watch' && e.namespace === ns),
    ).toEqual([]);
  }, 60_000);

  it('with trackSecrets, a Secret change read through env valueFrom is promoted, and no value reaches the log', async () => {
    const ns = 'e2e-secret';
    const password = 'correct-horse-battery-staple';
    const encoded = (text: string) => Buffer.from(text).toString('base64');
    await createNamespace(env.api, ns);
    const secret: Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'podinfo-creds', namespace: ns },
      type: 'Opaque',
      data: { password: encoded('first-password') },
    };
    await env.api.create(RESOURCES.secret, secret);
    const deployment = podinfoDeployment(ns, 'podinfo:1.0') as Deployment & Record<string, unknown>;
    const container = deployment.spec?.template?.spec?.containers[0];
    if (!container) throw new Error('podinfoDeployment has no container');
    container.env = [
      { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'podinfo-creds', key: 'password' } } },
    ];
    await env.api.create(RESOURCES.deployment, deployment);
    const traffic = new TrafficLoop(env.prometheusUrl, ns);
    traffic.start();
    cleanups.push(() => traffic.stop());
    const log = testLogger();
    const controller = startController({
      kubeConfig: env.sandbox.kubeConfig(),
      logger: log.logger,
      prometheusAddress: env.prometheusUrl,
      namespaces: [ns],
      userAgent: CONTROLLER_USER_AGENT,
      trackSecrets: true,
    });
    cleanups.push(() => controller.stop());
    await controller.ready;
    await env.api.create(
      RESOURCES.canary,
      podinfoCanary(ns, { maxWeight: 10, stepWeight: 10, interval: '1s' }),
    );
    await waitForPhase(env.api, ns, ['Initialized']);
    const primaryEnv = async () =>
      (await getDeploymentObject(ns, 'podinfo-primary')).spec?.template?.spec?.containers[0]?.env?.[0];
    expect((await primaryEnv())?.valueFrom?.secretKeyRef?.name).toBe('podinfo-creds-primary');

    await env.api.mergePatch(
      { resource: RESOURCES.secret, namespace: ns, name: 'podinfo-creds' },
      { data: { password: encoded(password) } },
    );
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed']);
    expect(done.status?.phase).toBe('Succeeded');
    const copy = await env.api.get<Secret>({
      resource: RESOURCES.secret,
      namespace: ns,
      name: 'podinfo-creds-primary',
    });
    expect(copy.data).toEqual({ password: encoded(password) });
    expect((await primaryEnv())?.valueFrom?.secretKeyRef?.name).toBe('podinfo-creds-primary');
    expect(Object.keys((await trackedConfigs(ns)) ?? {})).toEqual(['secret/podinfo-creds']);
    const logged = JSON.stringify(log.lines());
    expect(logged).not.toContain(password);
    expect(logged).not.toContain(encoded(password));
  }, 60_000);
});
