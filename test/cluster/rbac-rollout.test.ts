// The controller as the chart's ServiceAccount, with the chart's rendered RBAC, through whole
// rollouts on a real kube-apiserver; the API server's audit log shows every refused request, and
// every permission the chart grants must have been used by one of the modes below.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESOURCES } from '../../src/kube/resources.ts';
import type { KubeObject } from '../../src/kube/types.ts';
import { manualActionPatch } from '../../src/rollout/manual.ts';
import {
  podinfoCanary,
  podinfoDeployment,
  setImage,
  TrafficLoop,
  waitFor,
  waitForPhase,
} from '../support/e2e.ts';
import { usePrometheus } from '../support/prometheus.ts';
import { HookReceiver } from '../webhooks-receiver.ts';
import {
  type AuditEvent,
  auditEvents,
  describeRequest,
  grantedPermissions,
  permissionOf,
  type Rendered,
  renderChart,
  startChartController,
} from './chart-controller.ts';
import { setupOnce, useControlPlane } from './support.ts';

/** What a mode does once its Canary is Initialized. */
type Script = 'releases' | 'secrets-and-manual-actions' | 'gateway-api';

/** One way to install the chart: its release, the namespace the rollouts run in, and what they do. */
interface Mode {
  readonly title: string;
  readonly release: string;
  readonly releaseNamespace: string;
  readonly namespace: string;
  /** `helm template --set` values. */
  readonly set: readonly string[];
  readonly script: Script;
}

const MODES: Mode[] = [
  {
    title: 'cluster-wide (ClusterRole, default values)',
    release: 'petrel',
    releaseNamespace: 'petrel-system',
    namespace: 'rollout',
    set: [],
    script: 'releases',
  },
  {
    title: 'namespaced (a Role per watched namespace)',
    release: 'petrel-ns',
    releaseNamespace: 'petrel-ns-system',
    namespace: 'rollout-ns',
    set: ['watchNamespaces={rollout-ns}'],
    script: 'releases',
  },
  {
    title: 'namespaced with Secret tracking, an alert Secret and manual actions',
    release: 'petrel-sec',
    releaseNamespace: 'petrel-sec-system',
    namespace: 'rollout-sec',
    set: ['watchNamespaces={rollout-sec}', 'trackSecrets=true', 'rbac.secrets=namespaced'],
    script: 'secrets-and-manual-actions',
  },
  {
    title: 'namespaced with Gateway API routing',
    release: 'petrel-gw',
    releaseNamespace: 'petrel-gw-system',
    namespace: 'rollout-gw',
    set: ['watchNamespaces={rollout-gw}', 'gatewayAPI.enabled=true'],
    script: 'gateway-api',
  },
];

const cluster = useControlPlane({ audit: true });
const prometheus = usePrometheus();

/** Per mode: what its chart granted and what its ServiceAccount did, for the unused-grant check. */
const granted = new Map<string, Set<string>>();
const used = new Map<string, Set<string>>();

interface CanaryView extends KubeObject {
  status?: { phase?: string; canaryWeight?: number; conditions?: { type: string; status: string }[] };
}

const FINAL_PHASES = ['Initialized', 'Succeeded', 'Failed'];
const NAMESPACE_KIND = {
  group: '',
  version: 'v1',
  plural: 'namespaces',
  kind: 'Namespace',
  namespaced: false,
};

function canaryOf(namespace: string): Promise<CanaryView> {
  return cluster.api.get<CanaryView>({ resource: RESOURCES.canary, namespace, name: 'podinfo' });
}

/** Makes a change that starts a rollout and waits until the canary takes traffic. */
async function startRollout(namespace: string, change: () => Promise<unknown>): Promise<void> {
  await change();
  await waitFor(
    'the canary to take traffic',
    async () => {
      const status = (await canaryOf(namespace)).status;
      return status?.phase === 'Progressing' && (status.canaryWeight ?? 0) > 0 ? true : undefined;
    },
    { timeoutMs: 60_000 },
  );
}

/** Makes a change that starts a rollout, waits for it to start and answers the phase it ends in. */
async function rollout(namespace: string, change: () => Promise<unknown>): Promise<string | undefined> {
  await change();
  await waitFor(
    'the rollout to start',
    async () => (FINAL_PHASES.includes((await canaryOf(namespace)).status?.phase ?? '') ? undefined : true),
    { timeoutMs: 30_000 },
  );
  return (await waitForPhase(cluster.api, namespace, ['Succeeded', 'Failed'], 120_000)).status?.phase;
}

async function manualAction(namespace: string, action: 'pause' | 'resume' | 'abort'): Promise<void> {
  await cluster.api.mergePatch(
    { resource: RESOURCES.canary, namespace, name: 'podinfo' },
    manualActionPatch(action, 'cluster-test', new Date()),
  );
}

async function createObject(resource: (typeof RESOURCES)[keyof typeof RESOURCES], object: unknown) {
  await cluster.api.create(resource, object as KubeObject);
}

/** The workload: a Deployment that reads a ConfigMap and a Secret, scaled by an HPA. */
async function createWorkload(namespace: string): Promise<void> {
  await createObject(RESOURCES.configMap, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'podinfo-config', namespace },
    data: { color: 'blue' },
  });
  await createObject(RESOURCES.secret, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'podinfo-secret', namespace },
    stringData: { password: 'hunter2' },
  });
  const workload = podinfoDeployment(namespace, 'podinfo:1.0') as Rendered;
  const podSpec = (workload.spec as { template: { spec: Record<string, unknown> } }).template.spec;
  (podSpec.containers as Record<string, unknown>[])[0]!.envFrom = [
    { configMapRef: { name: 'podinfo-config' } },
  ];
  podSpec.volumes = [{ name: 'secret', secret: { secretName: 'podinfo-secret' } }];
  await createObject(RESOURCES.deployment, workload);
  await createObject(RESOURCES.horizontalPodAutoscaler, {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'podinfo', namespace },
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
  });
}

describe.each(MODES)('the controller as the chart ServiceAccount with the chart RBAC, $title', (m) => {
  const NAMESPACE = m.namespace;
  let output = '';
  const phases: (string | undefined)[] = [];
  const found: Record<string, unknown> = {};
  let events: AuditEvent[] = [];

  const ready = setupOnce(async () => {
    const rendered = await renderChart(m.release, m.releaseNamespace, m.set);
    granted.set(m.title, grantedPermissions(rendered));
    await cluster.api.create(NAMESPACE_KIND, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: m.releaseNamespace },
    });
    await cluster.api.create(NAMESPACE_KIND, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NAMESPACE },
    });
    await createWorkload(NAMESPACE);

    // An AlertProvider whose address is in a Secret: the controller reads it when an alert is sent.
    const receiver = await new HookReceiver().start();
    const alerts = m.script === 'secrets-and-manual-actions';
    if (alerts) {
      await createObject(RESOURCES.secret, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'hooks-address', namespace: NAMESPACE },
        stringData: { address: `${receiver.url}/alerts/s3cr3t-token` },
      });
      await createObject(RESOURCES.alertProvider, {
        apiVersion: 'petrel.dev/v1alpha1',
        kind: 'AlertProvider',
        metadata: { name: 'hooks', namespace: NAMESPACE },
        spec: { type: 'webhook', secretRef: { name: 'hooks-address' } },
      });
    }

    const dir = await mkdtemp(join(tmpdir(), 'petrel-rbac-'));
    const traffic = new TrafficLoop(prometheus.url, NAMESPACE);
    traffic.start();
    const controller = await startChartController(cluster, {
      rendered,
      release: m.release,
      releaseNamespace: m.releaseNamespace,
      dir,
      prometheusUrl: prometheus.url,
    });
    try {
      await createObject(
        RESOURCES.canary,
        podinfoCanary(
          NAMESPACE,
          alerts ? { alerts: [{ name: 'hooks', severity: 'info', providerRef: { name: 'hooks' } }] } : {},
          {
            autoscalerRef: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: 'podinfo' },
            ...(m.script === 'gateway-api'
              ? {
                  provider: 'gatewayapi:v1',
                  service: {
                    port: 9898,
                    targetPort: 9898,
                    gatewayRefs: [{ name: 'public', namespace: 'gateways' }],
                  },
                }
              : {}),
          },
        ),
      );
      await waitForPhase(cluster.api, NAMESPACE, ['Initialized'], 90_000);
      if (m.script === 'releases') {
        // A change of the tracked ConfigMap alone: a rollout of its own, promoted into the primary copy.
        phases.push(
          await rollout(NAMESPACE, () =>
            cluster.api.mergePatch(
              { resource: RESOURCES.configMap, namespace: NAMESPACE, name: 'podinfo-config' },
              { data: { color: 'green' } },
            ),
          ),
        );
        found.primaryColor = (
          await cluster.api.get<KubeObject & { data?: Record<string, string> }>({
            resource: RESOURCES.configMap,
            namespace: NAMESPACE,
            name: 'podinfo-config-primary',
          })
        ).data?.color;
        // A new image: promoted.
        phases.push(await rollout(NAMESPACE, () => setImage(cluster.api, NAMESPACE, 'podinfo:2.0')));
        // A new image that fails half its requests: rolled back.
        traffic.setErrorRatio('podinfo', 0.5);
        phases.push(await rollout(NAMESPACE, () => setImage(cluster.api, NAMESPACE, 'podinfo:3.0')));
      } else if (m.script === 'gateway-api') {
        // HTTPRoute weights instead of a VirtualService: a new image promoted, a failing one rolled back.
        phases.push(await rollout(NAMESPACE, () => setImage(cluster.api, NAMESPACE, 'podinfo:2.0')));
        traffic.setErrorRatio('podinfo', 0.5);
        phases.push(await rollout(NAMESPACE, () => setImage(cluster.api, NAMESPACE, 'podinfo:3.0')));
        // The Failed status is written first and the routes follow it: wait for them to reach 100/0,
        // and keep what they show if they never do.
        const backendRefs = async () =>
          (
            await cluster.api.get<
              KubeObject & { spec?: { rules?: { backendRefs?: { weight?: number }[] }[] } }
            >({
              resource: RESOURCES.httpRoute,
              namespace: NAMESPACE,
              name: 'podinfo',
            })
          ).spec?.rules?.at(-1)?.backendRefs;
        found.backendRefs = await waitFor(
          'the HTTPRoute back on the primary after the rollback',
          async () => {
            const refs = await backendRefs();
            return refs?.[0]?.weight === 100 ? refs : undefined;
          },
          { timeoutMs: 30_000 },
        ).catch(backendRefs);
      } else {
        // A Canary whose Deployment does not exist yet: its warning repeats, and the repeat is a patch of
        // the Event's count.
        await createObject(RESOURCES.canary, {
          ...podinfoCanary(NAMESPACE),
          metadata: { name: 'not-yet', namespace: NAMESPACE },
          spec: { ...podinfoCanary(NAMESPACE).spec, targetRef: { kind: 'Deployment', name: 'not-yet' } },
        });
        found.repeatedWarning = await waitFor(
          'the TargetNotFound warning to repeat',
          async () => {
            const events = await cluster.api.list<KubeObject & { reason?: string; count?: number }>(
              RESOURCES.event,
              { namespace: NAMESPACE },
            );
            const warning = events.items.find((e) => e.reason === 'TargetNotFound' && (e.count ?? 0) >= 2);
            return warning ? warning.count : undefined;
          },
          { timeoutMs: 60_000 },
        );
        await cluster.api.delete({ resource: RESOURCES.canary, namespace: NAMESPACE, name: 'not-yet' });
        // A change of the tracked Secret alone: promoted into the primary's copy of the Secret.
        phases.push(
          await rollout(NAMESPACE, () =>
            cluster.api.mergePatch(
              { resource: RESOURCES.secret, namespace: NAMESPACE, name: 'podinfo-secret' },
              { stringData: { password: 'correct-horse' } },
            ),
          ),
        );
        const copy = await cluster.api.get<KubeObject & { data?: Record<string, string> }>({
          resource: RESOURCES.secret,
          namespace: NAMESPACE,
          name: 'podinfo-secret-primary',
        });
        found.primaryPassword = Buffer.from(copy.data?.password ?? '', 'base64').toString('utf8');
        // Paused mid-rollout: the weight holds; resumed: promoted.
        await startRollout(NAMESPACE, () => setImage(cluster.api, NAMESPACE, 'podinfo:2.0'));
        await manualAction(NAMESPACE, 'pause');
        await waitFor(
          'the Paused condition',
          async () =>
            (await canaryOf(NAMESPACE)).status?.conditions?.some(
              (c) => c.type === 'Paused' && c.status === 'True',
            )
              ? true
              : undefined,
          { timeoutMs: 30_000 },
        );
        const heldAt = (await canaryOf(NAMESPACE)).status?.canaryWeight;
        // Three analysis intervals (2 s each) of watching the weight hold.
        const weightsWhilePaused: (number | undefined)[] = [];
        for (const until = Date.now() + 6_000; Date.now() < until; ) {
          weightsWhilePaused.push((await canaryOf(NAMESPACE)).status?.canaryWeight);
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        found.pause = { heldAt, weightsWhilePaused };
        await manualAction(NAMESPACE, 'resume');
        phases.push(
          (await waitForPhase(cluster.api, NAMESPACE, ['Succeeded', 'Failed'], 120_000)).status?.phase,
        );
        // Aborted mid-rollout: rolled back.
        await startRollout(NAMESPACE, () => setImage(cluster.api, NAMESPACE, 'podinfo:3.0'));
        await manualAction(NAMESPACE, 'abort');
        phases.push(
          (await waitForPhase(cluster.api, NAMESPACE, ['Succeeded', 'Failed'], 120_000)).status?.phase,
        );
        await waitFor('an alert through the address in the Secret', async () =>
          receiver.on('/alerts/s3cr3t-token').length > 0 ? true : undefined,
        );
        found.alerts = receiver.on('/alerts/s3cr3t-token').length;
        // Changes that are not rollouts: the owned Service, DestinationRules and primary HPA follow the
        // Canary's spec and the target's HPA.
        await cluster.api.mergePatch(
          { resource: RESOURCES.canary, namespace: NAMESPACE, name: 'podinfo' },
          { spec: { service: { port: 8080, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } } } },
        );
        await cluster.api.mergePatch(
          { resource: RESOURCES.horizontalPodAutoscaler, namespace: NAMESPACE, name: 'podinfo' },
          { spec: { maxReplicas: 5 } },
        );
        found.followed = await waitFor(
          'the owned objects to follow the spec',
          async () => {
            const get = <T extends KubeObject>(
              resource: (typeof RESOURCES)[keyof typeof RESOURCES],
              name: string,
            ) => cluster.api.get<T>({ resource, namespace: NAMESPACE, name });
            const service = await get<KubeObject & { spec?: { ports?: { port?: number }[] } }>(
              RESOURCES.service,
              'podinfo',
            );
            const rule = await get<KubeObject & { spec?: { trafficPolicy?: { tls?: { mode?: string } } } }>(
              RESOURCES.destinationRule,
              'podinfo-primary',
            );
            const hpa = await get<KubeObject & { spec?: { maxReplicas?: number } }>(
              RESOURCES.horizontalPodAutoscaler,
              'podinfo-primary',
            );
            const state = {
              servicePort: service.spec?.ports?.[0]?.port,
              tls: rule.spec?.trafficPolicy?.tls?.mode,
              primaryMaxReplicas: hpa.spec?.maxReplicas,
            };
            return state.servicePort === 8080 &&
              state.tls === 'ISTIO_MUTUAL' &&
              state.primaryMaxReplicas === 5
              ? state
              : undefined;
          },
          { timeoutMs: 60_000 },
        );
        // revertOnDeletion: the finalizer hands the app back to the target Deployment before the Canary goes.
        await cluster.api.mergePatch(
          { resource: RESOURCES.canary, namespace: NAMESPACE, name: 'podinfo' },
          { spec: { revertOnDeletion: true } },
        );
        await waitFor('the finalizer', async () =>
          ((await canaryOf(NAMESPACE)).metadata?.finalizers?.length ?? 0) > 0 ? true : undefined,
        );
        await cluster.api.delete({ resource: RESOURCES.canary, namespace: NAMESPACE, name: 'podinfo' });
        await waitFor(
          'the Canary to be gone',
          async () => {
            try {
              await canaryOf(NAMESPACE);
              return undefined;
            } catch {
              return true;
            }
          },
          { timeoutMs: 60_000 },
        );
        const target = await cluster.api.get<KubeObject & { spec?: { replicas?: number } }>({
          resource: RESOURCES.deployment,
          namespace: NAMESPACE,
          name: 'podinfo',
        });
        const apex = await cluster.api.get<KubeObject & { spec?: { selector?: Record<string, string> } }>({
          resource: RESOURCES.service,
          namespace: NAMESPACE,
          name: 'podinfo',
        });
        found.reverted = { replicas: target.spec?.replicas, selector: apex.spec?.selector };
      }
    } catch (error) {
      // What the controller said, and what the API server refused it, explain most failures here.
      const refused = (await auditEvents(cluster))
        .filter((e) => e.user.username === controller.user && e.responseStatus?.code === 403)
        .map(describeRequest);
      throw new Error(
        `${(error as Error).message}\nrefused requests: ${JSON.stringify([...new Set(refused)])}\ncontroller output (end):\n${controller.output().slice(-6000)}`,
        { cause: error },
      );
    } finally {
      output = controller.output();
      await controller.stop();
      await traffic.stop();
      await receiver.stop();
      await rm(dir, { recursive: true, force: true });
    }
    events = (await auditEvents(cluster)).filter((e) => e.user.username === controller.user);
    used.set(m.title, new Set(events.filter((e) => (e.responseStatus?.code ?? 0) < 400).map(permissionOf)));
  }, 360_000);

  if (m.script === 'releases') {
    it('promotes a ConfigMap change and a new image, and rolls back a failing image', () => {
      ready();
      expect(phases, output.slice(-4000)).toEqual(['Succeeded', 'Succeeded', 'Failed']);
      expect(found.primaryColor).toBe('green');
    });
  } else if (m.script === 'gateway-api') {
    it('promotes a new image and rolls back a failing one through an HTTPRoute', () => {
      ready();
      expect(phases, output.slice(-4000)).toEqual(['Succeeded', 'Failed']);
      expect(found.backendRefs).toEqual([
        expect.objectContaining({ name: 'podinfo-primary', weight: 100 }),
        expect.objectContaining({ name: 'podinfo-canary', weight: 0 }),
      ]);
    });
  } else {
    it('promotes a Secret change into the primary copy, holds while paused, rolls back on abort, and hands the app back to the target on deletion', () => {
      ready();
      expect(phases, output.slice(-4000)).toEqual(['Succeeded', 'Succeeded', 'Failed']);
      expect(found.primaryPassword).toBe('correct-horse');
      const pause = found.pause as { heldAt: number; weightsWhilePaused: number[] };
      expect(pause.heldAt).toBeGreaterThan(0);
      expect(new Set(pause.weightsWhilePaused)).toEqual(new Set([pause.heldAt]));
      expect(found.alerts).toBeGreaterThan(0);
      expect(found.followed).toBeDefined();
      expect(found.repeatedWarning).toBeGreaterThanOrEqual(2);
      const reverted = found.reverted as { replicas: number; selector: Record<string, string> };
      expect(reverted.replicas).toBeGreaterThan(0);
      expect(Object.values(reverted.selector).join(',')).not.toContain('primary');
    });
  }

  it('no request of the chart ServiceAccount was refused', () => {
    ready();
    const refused = events.filter((e) => e.responseStatus?.code === 403).map(describeRequest);
    expect([...new Set(refused)]).toEqual([]);
  });
});

/**
 * Permissions the controller needs without a request of its own: the API server checks them while
 * admitting another request, so the audit log has no event for them.
 */
const CHECKED_DURING_ADMISSION: Record<string, string> = {
  // OwnerReferencesPermissionEnforcement: creating an object whose ownerReference to the Canary sets
  // blockOwnerDeletion needs update on the owner's finalizers.
  'update petrel.dev/canaries/finalizers': 'owned objects carry blockOwnerDeletion',
};

describe('the chart grants nothing the controller does not use', () => {
  it('every granted permission was used by the ServiceAccount in one of the modes', () => {
    expect(granted.size, 'the rollout modes above ran first').toBe(MODES.length);
    const allUsed = new Set([...used.values()].flatMap((s) => [...s]));
    const unused = new Set<string>();
    for (const permissions of granted.values())
      for (const permission of permissions)
        if (!allUsed.has(permission) && !(permission in CHECKED_DURING_ADMISSION)) unused.add(permission);
    expect([...unused].sort(), `used: ${JSON.stringify([...allUsed].sort())}`).toEqual([]);
  });

  it('each mode used what its own chart values are for', () => {
    const releases = used.get(MODES[0]!.title) ?? new Set();
    for (const needed of [
      'watch petrel.dev/canaries',
      'patch petrel.dev/canaries/status',
      'create apps/deployments',
      'patch apps/deployments',
      'create /services',
      'create networking.istio.io/virtualservices',
      'patch networking.istio.io/virtualservices',
      'create networking.istio.io/destinationrules',
      'create autoscaling/horizontalpodautoscalers',
      'create /configmaps',
      'create coordination.k8s.io/leases',
    ])
      expect([...releases].sort(), needed).toContain(needed);
    const secrets = used.get(MODES[2]!.title) ?? new Set();
    for (const needed of [
      'get /secrets',
      'watch /secrets',
      'create /secrets',
      'patch petrel.dev/canaries',
      'patch /events',
      'patch /services',
      'patch networking.istio.io/destinationrules',
      'patch autoscaling/horizontalpodautoscalers',
    ])
      expect([...secrets].sort(), needed).toContain(needed);
    const gateway = used.get(MODES[3]!.title) ?? new Set();
    for (const needed of [
      'create gateway.networking.k8s.io/httproutes',
      'patch gateway.networking.k8s.io/httproutes',
    ])
      expect([...gateway].sort(), needed).toContain(needed);
  });
});
