// The controller as the chart's ServiceAccount, with the chart's rendered RBAC, through whole
// rollouts on a real kube-apiserver; the API server's audit log shows every refused request.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { writeKubeconfig } from '../../dev/cluster/kubeconfig.ts';
import { RESOURCES } from '../../src/kube/resources.ts';
import type { KubeObject } from '../../src/kube/types.ts';
import {
  podinfoCanary,
  podinfoDeployment,
  setImage,
  TrafficLoop,
  waitFor,
  waitForPhase,
} from '../support/e2e.ts';
import { usePrometheus } from '../support/prometheus.ts';
import { helmTemplate } from '../support/tools.ts';
import { Paths } from './manifests.ts';
import { kubeRequest, setupOnce, useControlPlane } from './support.ts';

const _CHART = fileURLToPath(new URL('../../charts/petrel', import.meta.url));
const PETREL_BIN = fileURLToPath(new URL('../../bin/petrel.js', import.meta.url));

/** One way to install the chart: its release, and the namespace the rollouts run in. */
interface Mode {
  readonly title: string;
  readonly release: string;
  readonly releaseNamespace: string;
  readonly namespace: string;
  /** `helm template --set` values. */
  readonly set: readonly string[];
}

const MODES: Mode[] = [
  {
    title: 'cluster-wide (ClusterRole, default values)',
    release: 'petrel',
    releaseNamespace: 'petrel-system',
    namespace: 'rollout',
    set: [],
  },
  {
    title: 'namespaced (a Role per watched namespace)',
    release: 'petrel-ns',
    releaseNamespace: 'petrel-ns-system',
    namespace: 'rollout-ns',
    set: ['watchNamespaces={rollout-ns}'],
  },
];

const cluster = useControlPlane({ audit: true });
const prometheus = usePrometheus();

interface AuditEvent {
  user: { username: string };
  verb: string;
  objectRef?: {
    resource?: string;
    subresource?: string;
    namespace?: string;
    name?: string;
    apiGroup?: string;
  };
  responseStatus?: { code?: number; reason?: string; message?: string };
  requestURI: string;
}

function describeRequest(e: AuditEvent): string {
  const ref = e.objectRef ?? {};
  const resource = `${ref.apiGroup ?? ''}/${ref.resource ?? ''}${ref.subresource ? `/${ref.subresource}` : ''}`;
  return `${e.verb} ${resource} ${ref.namespace ?? '-'}/${ref.name ?? '-'}`;
}

async function auditEvents(): Promise<AuditEvent[]> {
  const text = await readFile(cluster.plane.auditLogPath as string, 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as AuditEvent);
}

interface CanaryPhase extends KubeObject {
  status?: { phase?: string };
}

const FINAL_PHASES = ['Initialized', 'Succeeded', 'Failed'];

/** Makes a change that starts a rollout, waits for it to start and answers the phase it ends in. */
async function rollout(m: Mode, change: () => Promise<unknown>): Promise<string | undefined> {
  const phase = async () =>
    (
      await cluster.api.get<CanaryPhase>({
        resource: RESOURCES.canary,
        namespace: m.namespace,
        name: 'podinfo',
      })
    ).status?.phase;
  await change();
  await waitFor(
    'the rollout to start',
    async () => (FINAL_PHASES.includes((await phase()) ?? '') ? undefined : true),
    {
      timeoutMs: 30_000,
    },
  );
  return (await waitForPhase(cluster.api, m.namespace, ['Succeeded', 'Failed'], 120_000)).status?.phase;
}

type Rendered = KubeObject & {
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
};

function renderChart(m: Mode): Promise<Rendered[]> {
  return helmTemplate<Rendered>({ release: m.release, namespace: m.releaseNamespace, set: m.set });
}

async function apply(objects: Rendered[]): Promise<void> {
  const kc = cluster.plane.kubeConfig();
  const paths = new Paths(kc);
  for (const object of objects) {
    const res = await kubeRequest(kc, 'POST', await paths.collection(object), { body: object });
    if (res.status !== 201)
      throw new Error(`create ${object.kind} ${object.metadata.name}: ${res.status} ${res.text}`);
  }
}

/** A short-lived token of the chart's ServiceAccount, from the TokenRequest API. */
async function serviceAccountToken(namespace: string, name: string): Promise<string> {
  const res = await kubeRequest(
    cluster.plane.kubeConfig(),
    'POST',
    `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 3600 },
      },
    },
  );
  if (res.status !== 201) throw new Error(`TokenRequest: ${res.status} ${res.text}`);
  return (res.body as { status: { token: string } }).status.token;
}

/** The controller container's environment as the chart sets it (plain values and the downward API). */
function chartEnvironment(m: Mode, deployment: Rendered): Record<string, string> {
  const containers = (
    deployment.spec as {
      template: { spec: { containers: { name: string; env?: { name: string; value?: string }[] }[] } };
    }
  ).template.spec.containers;
  const env: Record<string, string> = {};
  for (const variable of containers[0]?.env ?? [])
    if (variable.value !== undefined) env[variable.name] = variable.value;
  return { ...env, POD_NAME: `${m.release}-0`, POD_NAMESPACE: m.releaseNamespace };
}

async function createObject(resource: (typeof RESOURCES)[keyof typeof RESOURCES], object: KubeObject) {
  await cluster.api.create(resource, object);
}

describe.each(MODES)('the controller as the chart ServiceAccount with the chart RBAC, $title', (m) => {
  const NAMESPACE = m.namespace;
  const RELEASE_NAMESPACE = m.releaseNamespace;
  let SERVICE_ACCOUNT_USER = '';
  let output = '';
  const phases: (string | undefined)[] = [];
  let primaryColor: string | undefined;
  let events: AuditEvent[] = [];

  const ready = setupOnce(async () => {
    const rendered = await renderChart(m);
    const serviceAccount = rendered.find((o) => o.kind === 'ServiceAccount');
    if (!serviceAccount) throw new Error('the chart rendered no ServiceAccount');
    SERVICE_ACCOUNT_USER = `system:serviceaccount:${RELEASE_NAMESPACE}:${serviceAccount.metadata.name}`;
    const kinds = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
    const deployment = rendered.find((o) => o.kind === 'Deployment');
    if (!deployment) throw new Error('the chart rendered no Deployment');
    await cluster.api.create(
      { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: RELEASE_NAMESPACE },
      },
    );
    await cluster.api.create(
      { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: NAMESPACE },
      },
    );
    await apply(rendered.filter((o) => kinds.has(o.kind ?? '')));

    const dir = await mkdtemp(join(tmpdir(), 'petrel-rbac-'));
    const kubeconfig = await writeKubeconfig(join(dir, 'petrel.kubeconfig'), {
      server: cluster.plane.server,
      caPem: cluster.plane.caPem,
      user: SERVICE_ACCOUNT_USER,
      token: await serviceAccountToken(RELEASE_NAMESPACE, serviceAccount.metadata.name),
    });

    // The workload: a Deployment that reads a ConfigMap (copied for the primary) and a Secret (not
    // tracked: the command line does not turn Secret tracking on), scaled by an HPA.
    await createObject(RESOURCES.configMap, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'podinfo-config', namespace: NAMESPACE },
      data: { color: 'blue' },
    } as KubeObject);
    await createObject(RESOURCES.secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'podinfo-secret', namespace: NAMESPACE },
      stringData: { password: 'hunter2' },
    } as KubeObject);
    const workload = podinfoDeployment(NAMESPACE, 'podinfo:1.0') as Rendered;
    const podSpec = (workload.spec as { template: { spec: Record<string, unknown> } }).template.spec;
    (podSpec.containers as Record<string, unknown>[])[0]!.envFrom = [
      { configMapRef: { name: 'podinfo-config' } },
    ];
    podSpec.volumes = [{ name: 'secret', secret: { secretName: 'podinfo-secret' } }];
    await createObject(RESOURCES.deployment, workload);
    await createObject(RESOURCES.horizontalPodAutoscaler, {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'podinfo', namespace: NAMESPACE },
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
    } as KubeObject);

    const traffic = new TrafficLoop(prometheus.url, NAMESPACE);
    traffic.start();
    const controller = spawn(
      process.execPath,
      [
        PETREL_BIN,
        'controller',
        '--kubeconfig',
        kubeconfig,
        '--metrics-host',
        '127.0.0.1',
        '--metrics-port',
        '0',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: process.env.PATH ?? '',
          ...chartEnvironment(m, deployment),
          PETREL_PROMETHEUS_ADDRESS: prometheus.url,
        },
      },
    );
    const append = (chunk: Buffer) => {
      output += chunk.toString();
    };
    controller.stdout.on('data', append);
    controller.stderr.on('data', append);
    const exited = new Promise<void>((resolve) => controller.once('exit', () => resolve()));
    try {
      await createObject(RESOURCES.canary, {
        ...podinfoCanary(
          NAMESPACE,
          {},
          {
            autoscalerRef: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: 'podinfo' },
          },
        ),
      } as KubeObject);
      await waitForPhase(cluster.api, NAMESPACE, ['Initialized'], 90_000);
      // A change of the tracked ConfigMap alone: a rollout of its own, promoted into the primary copy.
      phases.push(
        await rollout(m, () =>
          cluster.api.mergePatch(
            { resource: RESOURCES.configMap, namespace: NAMESPACE, name: 'podinfo-config' },
            { data: { color: 'green' } },
          ),
        ),
      );
      primaryColor = (
        await cluster.api.get<KubeObject & { data?: Record<string, string> }>({
          resource: RESOURCES.configMap,
          namespace: NAMESPACE,
          name: 'podinfo-config-primary',
        })
      ).data?.color;
      // A new image: promoted.
      phases.push(await rollout(m, () => setImage(cluster.api, NAMESPACE, 'podinfo:2.0')));
      // A new image that fails half its requests: rolled back.
      traffic.setErrorRatio('podinfo', 0.5);
      phases.push(await rollout(m, () => setImage(cluster.api, NAMESPACE, 'podinfo:3.0')));
    } catch (error) {
      // What the controller said, and what the API server refused it, explain most failures here.
      const refused = (await auditEvents())
        .filter((e) => e.user.username === SERVICE_ACCOUNT_USER && e.responseStatus?.code === 403)
        .map(describeRequest);
      throw new Error(
        `${(error as Error).message}\nrefused requests: ${JSON.stringify([...new Set(refused)])}\ncontroller output (end):\n${output.slice(-6000)}`,
        { cause: error },
      );
    } finally {
      controller.kill('SIGTERM');
      await exited;
      await traffic.stop();
      await rm(dir, { recursive: true, force: true });
    }
    events = (await auditEvents()).filter((e) => e.user.username === SERVICE_ACCOUNT_USER);
  }, 300_000);

  afterAll(() => {
    events = [];
  });

  it('promotes a ConfigMap change and a new image, and rolls back a failing image', () => {
    ready();
    expect(phases, output.slice(-4000)).toEqual(['Succeeded', 'Succeeded', 'Failed']);
    expect(primaryColor).toBe('green');
  });

  it('no request of the chart ServiceAccount was refused', () => {
    ready();
    const refused = events.filter((e) => e.responseStatus?.code === 403).map(describeRequest);
    expect([...new Set(refused)]).toEqual([]);
  });

  it('the rollout made requests of every kind it needs, all as the ServiceAccount', () => {
    ready();
    const kinds = new Set(
      events.map(
        (e) =>
          `${e.verb} ${e.objectRef?.resource ?? ''}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`,
      ),
    );
    for (const needed of [
      'watch canaries',
      'patch canaries/status',
      'create deployments',
      'patch deployments',
      'create services',
      'create virtualservices',
      'patch virtualservices',
      'create destinationrules',
      'create horizontalpodautoscalers',
      'create configmaps',
      'create leases',
    ]) {
      expect([...kinds].sort(), needed).toContain(needed);
    }
  });
});
