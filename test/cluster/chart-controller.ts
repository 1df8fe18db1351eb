// The chart's ServiceAccount and RBAC on a real control plane, and the controller run as that account:
// what the RBAC tests in this folder share.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeKubeconfig } from '../../dev/cluster/kubeconfig.ts';
import type { KubeObject } from '../../src/kube/types.ts';
import { helmTemplate } from '../support/tools.ts';
import { Paths } from './manifests.ts';
import { type ControlPlaneFixture, kubeRequest } from './support.ts';

const PETREL_BIN = fileURLToPath(new URL('../../bin/petrel.js', import.meta.url));

export type Rendered = KubeObject & {
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
};

export interface AuditEvent {
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

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
}

/** "verb group/resource[/subresource]", the unit RBAC grants and the audit log records. */
export function permissionOf(e: AuditEvent): string {
  const ref = e.objectRef ?? {};
  const resource = `${ref.resource ?? ''}${ref.subresource ? `/${ref.subresource}` : ''}`;
  return `${e.verb} ${ref.apiGroup ?? ''}/${resource}`;
}

export function describeRequest(e: AuditEvent): string {
  const ref = e.objectRef ?? {};
  return `${permissionOf(e)} ${ref.namespace ?? '-'}/${ref.name ?? '-'}`;
}

/** Every "verb group/resource" the Roles and ClusterRoles of a rendered chart grant. */
export function grantedPermissions(rendered: Rendered[]): Set<string> {
  const granted = new Set<string>();
  for (const object of rendered) {
    if (object.kind !== 'Role' && object.kind !== 'ClusterRole') continue;
    for (const rule of ((object as { rules?: PolicyRule[] }).rules ?? []) as PolicyRule[]) {
      for (const group of rule.apiGroups ?? [])
        for (const resource of rule.resources ?? [])
          for (const verb of rule.verbs ?? []) granted.add(`${verb} ${group}/${resource}`);
    }
  }
  return granted;
}

export async function auditEvents(cluster: ControlPlaneFixture): Promise<AuditEvent[]> {
  const text = await readFile(cluster.plane.auditLogPath as string, 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as AuditEvent);
}

export function renderChart(release: string, namespace: string, set: readonly string[]): Promise<Rendered[]> {
  return helmTemplate<Rendered>({ release, namespace, set });
}

/** Creates the rendered objects of the given kinds as they are. */
export async function applyKinds(
  cluster: ControlPlaneFixture,
  rendered: Rendered[],
  kinds: ReadonlySet<string>,
): Promise<void> {
  const kc = cluster.plane.kubeConfig();
  const paths = new Paths(kc);
  for (const object of rendered.filter((o) => kinds.has(o.kind ?? ''))) {
    const res = await kubeRequest(kc, 'POST', await paths.collection(object), { body: object });
    if (res.status !== 201)
      throw new Error(`create ${object.kind} ${object.metadata.name}: ${res.status} ${res.text}`);
  }
}

/** A short-lived token of a ServiceAccount, from the TokenRequest API. */
async function serviceAccountToken(
  cluster: ControlPlaneFixture,
  namespace: string,
  name: string,
): Promise<string> {
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
function chartEnvironment(
  release: string,
  releaseNamespace: string,
  deployment: Rendered,
): Record<string, string> {
  const containers = (
    deployment.spec as {
      template: { spec: { containers: { name: string; env?: { name: string; value?: string }[] }[] } };
    }
  ).template.spec.containers;
  const env: Record<string, string> = {};
  for (const variable of containers[0]?.env ?? [])
    if (variable.value !== undefined) env[variable.name] = variable.value;
  return { ...env, POD_NAME: `${release}-0`, POD_NAMESPACE: releaseNamespace };
}

/** The command-line arguments the chart gives the controller container. */
function chartArgs(deployment: Rendered): string[] {
  const containers = (deployment.spec as { template: { spec: { containers: { args?: string[] }[] } } })
    .template.spec.containers;
  return containers[0]?.args ?? [];
}

export interface ChartController {
  readonly user: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Installs the chart's ServiceAccount and RBAC from a real `helm template` and starts the controller
 * as that account, with the chart's environment and arguments, against the given Prometheus.
 */
export async function startChartController(
  cluster: ControlPlaneFixture,
  opts: {
    rendered: Rendered[];
    release: string;
    releaseNamespace: string;
    dir: string;
    prometheusUrl: string;
  },
): Promise<ChartController> {
  const { rendered, release, releaseNamespace } = opts;
  const serviceAccount = rendered.find((o) => o.kind === 'ServiceAccount');
  if (!serviceAccount) throw new Error('the chart rendered no ServiceAccount');
  const deployment = rendered.find((o) => o.kind === 'Deployment');
  if (!deployment) throw new Error('the chart rendered no Deployment');
  await applyKinds(
    cluster,
    rendered,
    new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']),
  );
  const user = `system:serviceaccount:${releaseNamespace}:${serviceAccount.metadata.name}`;
  const kubeconfig = await writeKubeconfig(join(opts.dir, `${release}.kubeconfig`), {
    server: cluster.plane.server,
    caPem: cluster.plane.caPem,
    user,
    token: await serviceAccountToken(cluster, releaseNamespace, serviceAccount.metadata.name),
  });
  // --in-cluster reads the pod's mounted token: here the ServiceAccount's token comes in a kubeconfig.
  const args = chartArgs(deployment).filter((a) => a !== '--in-cluster' && !a.startsWith('--metrics-'));
  const child: ChildProcess = spawn(
    process.execPath,
    [PETREL_BIN, ...args, '--kubeconfig', kubeconfig, '--metrics-host', '127.0.0.1', '--metrics-port', '0'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '',
        ...chartEnvironment(release, releaseNamespace, deployment),
        PETREL_PROMETHEUS_ADDRESS: opts.prometheusUrl,
      },
    },
  );
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    user,
    output: () => output,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
