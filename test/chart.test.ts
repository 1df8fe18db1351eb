import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
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
        'Deployment',
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
        verbs: ['get', 'patch', 'update'],
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
    const roles = find(objects, 'Role').filter((r) => !r.metadata.name.endsWith('-leader-election'));
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
    const bindings = find(objects, 'RoleBinding').filter(
      (r) => !r.metadata.name.endsWith('-leader-election'),
    );
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
  ])('refuses bad values at install time: %s', async (set, field) => {
    const result = await run(['template', 'petrel', CHART, '--set', set]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("values don't meet the specifications of the schema");
    expect(result.stderr).toContain(field);
  });

  it('ships the same CRDs as crds/, byte for byte', async () => {
    const names = (await readdir(join(ROOT, 'crds'))).filter((f) => f.endsWith('.yaml')).sort();
    const chartNames = (await readdir(join(CHART, 'crds'))).filter((f) => f.endsWith('.yaml')).sort();
    expect(chartNames).toEqual(names);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      const source = await readFile(join(ROOT, 'crds', name), 'utf8');
      const copy = await readFile(join(CHART, 'crds', name), 'utf8');
      expect(copy, `charts/petrel/crds/${name} is stale: run npm run crds`).toBe(source);
    }
    // helm installs them before the templates; they validate as CRDs too.
    const rendered = await template([], ['--include-crds']);
    validateAll(rendered);
    expect(find(rendered, 'CustomResourceDefinition')).toHaveLength(names.length);
  });

  it.each([
    [[] as string[]],
    [['watchNamespaces={team-a,team-b}', 'logLevel=debug', 'workers=4', 'leaderElection.leaseDuration=20s']],
    [['leaderElection.enabled=false', 'replicaCount=1']],
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
  it('builds in a separate stage and runs the compiled controller from a node:20 base as the uid the chart expects', async () => {
    const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
    const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gm)].map((m) => m[1]);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const base of froms) expect(base).toMatch(/^node:20[-.]/);
    expect(dockerfile).toMatch(/COPY --from=build \/app\/dist \.\/dist/);
    expect(dockerfile).toMatch(/PETREL_USE_DIST=1/);
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
    for (const entry of ['node_modules', '.git', 'test', 'dist']) expect(ignore.split('\n')).toContain(entry);
  });
});
