import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { RequestLogEntry } from '../dev/sandbox/apiserver/index.ts';
import { type RunningController, startController } from '../src/controller/controller.ts';
import { ControllerMetrics } from '../src/controller/metrics.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import {
  CONTROLLER_USER_AGENT,
  controllerRequests,
  createNamespace,
  podinfoCanary,
  podinfoDeployment,
  setImage,
  TrafficLoop,
  testLogger,
  useE2e,
  waitForPhase,
} from './support/e2e.ts';
import { helmPath } from './support/tools.ts';

const execFileAsync = promisify(execFile);
const CHART = fileURLToPath(new URL('../charts/petrel', import.meta.url));
const RELEASE_NAMESPACE = 'petrel-system';
const WATCHED = 'rbac-rollout';
const SERVICE_ACCOUNT = { kind: 'ServiceAccount', name: 'petrel', namespace: RELEASE_NAMESPACE };

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}
interface RbacObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}
interface Attributes {
  verb: string;
  group: string;
  resource: string;
  namespace?: string;
  name?: string;
}

/**
 * Kubernetes RBAC authorization for one subject over a set of Roles, ClusterRoles and bindings
 * (the rules of pkg/registry/rbac/validation: a ClusterRoleBinding grants everywhere, a RoleBinding
 * only in its namespace; resourceNames never match requests without a name, such as create and list).
 */
class Authorizer {
  private readonly grants: { namespace?: string; rules: Rule[] }[] = [];

  constructor(objects: RbacObject[], subject: typeof SERVICE_ACCOUNT) {
    const role = (kind: string, name: string, namespace?: string) =>
      objects.find(
        (o) =>
          o.kind === kind &&
          o.metadata.name === name &&
          (kind === 'ClusterRole' || o.metadata.namespace === namespace),
      );
    for (const binding of objects.filter(
      (o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding',
    )) {
      const bound = binding.subjects?.some(
        (s) => s.kind === subject.kind && s.name === subject.name && s.namespace === subject.namespace,
      );
      if (!bound || !binding.roleRef) continue;
      const target = role(binding.roleRef.kind, binding.roleRef.name, binding.metadata.namespace);
      if (!target)
        throw new Error(
          `${binding.kind} ${binding.metadata.name} refers to a missing ${binding.roleRef.kind}`,
        );
      this.grants.push({
        namespace: binding.kind === 'RoleBinding' ? binding.metadata.namespace : undefined,
        rules: target.rules ?? [],
      });
    }
  }

  allows(a: Attributes): boolean {
    return this.grants.some(
      (g) =>
        (g.namespace === undefined || g.namespace === a.namespace) &&
        g.rules.some(
          (r) =>
            r.apiGroups.includes(a.group) &&
            r.resources.includes(a.resource) &&
            r.verbs.includes(a.verb) &&
            (!r.resourceNames?.length || (a.name !== undefined && r.resourceNames.includes(a.name))),
        ),
    );
  }
}

async function renderRbac(set: string[]): Promise<RbacObject[]> {
  const args = [
    'template',
    'petrel',
    CHART,
    '--namespace',
    RELEASE_NAMESPACE,
    '--show-only',
    'templates/rbac.yaml',
  ];
  for (const s of set) args.push('--set', s);
  const { stdout } = await execFileAsync(await helmPath(), args);
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as RbacObject | null)
    .filter((d): d is RbacObject => d !== null);
}

function attributesOf(entry: RequestLogEntry): Attributes {
  return {
    verb: entry.verb,
    group: entry.group ?? '',
    resource: entry.resource ?? '',
    namespace: entry.namespace,
    name: entry.name,
  };
}

const env = useE2e({ deploymentReadyDelayMs: 300 });

describe('the chart grants the controller exactly enough for a full rollout', () => {
  let clusterWide: Authorizer;
  let namespaced: Authorizer;
  let requests: RequestLogEntry[] = [];

  beforeAll(async () => {
    clusterWide = new Authorizer(await renderRbac([]), SERVICE_ACCOUNT);
    namespaced = new Authorizer(await renderRbac([`watchNamespaces={${WATCHED}}`]), SERVICE_ACCOUNT);

    // The controller, with its leader election, through a rollout.
    await createNamespace(env.api, RELEASE_NAMESPACE);
    await createNamespace(env.api, WATCHED);
    const traffic = new TrafficLoop(env.prometheusUrl, WATCHED);
    traffic.start();
    let controller: RunningController | undefined;
    const since = Date.now();
    try {
      await env.api.create(RESOURCES.deployment, podinfoDeployment(WATCHED, 'podinfo:1.0'));
      // As the chart runs it: leader election on the chart's Lease, metrics on.
      controller = startController({
        kubeConfig: env.sandbox.kubeConfig(),
        logger: testLogger().logger,
        prometheusAddress: env.prometheusUrl,
        namespaces: [WATCHED],
        userAgent: CONTROLLER_USER_AGENT,
        metrics: new ControllerMetrics({ defaultMetrics: false }),
        leaderElection: {
          namespace: RELEASE_NAMESPACE,
          name: 'petrel-leader',
          identity: 'petrel-0',
          leaseDurationMs: 2000,
          renewDeadlineMs: 1200,
          retryPeriodMs: 300,
        },
      });
      await controller.ready;
      await env.api.create(RESOURCES.canary, podinfoCanary(WATCHED));
      await waitForPhase(env.api, WATCHED, ['Initialized']);
      await setImage(env.api, WATCHED, 'podinfo:2.0');
      const done = await waitForPhase(env.api, WATCHED, ['Succeeded', 'Failed'], 60_000);
      expect(done.status?.phase).toBe('Succeeded');
    } finally {
      await controller?.stop();
      await traffic.stop();
    }
    // Everything but the test's own client: the controller's informers, KubeApi and leader election.
    requests = controllerRequests(env.sandbox, since);
  }, 120_000);

  afterAll(() => {
    requests = [];
  });

  it('made requests of every kind a rollout needs', () => {
    const kinds = new Set(requests.map((e) => `${e.verb} ${e.resource}`));
    for (const needed of [
      'watch canaries',
      'patch canaries/status',
      'create deployments',
      'patch deployments',
      'create services',
      'create virtualservices',
      'patch virtualservices',
      'create destinationrules',
      'create leases',
      'patch leases',
    ]) {
      expect(kinds, needed).toContain(needed);
    }
  });

  it('every request is allowed by the namespaced Roles (watchNamespaces set)', () => {
    const denied = requests.filter((e) => !namespaced.allows(attributesOf(e)));
    expect(
      denied.map((e) => `${e.verb} ${e.group}/${e.resource} ${e.namespace ?? '-'}/${e.name ?? '-'}`),
    ).toEqual([]);
  });

  it('every request is allowed by the ClusterRole (default values)', () => {
    const denied = requests.filter((e) => !clusterWide.allows(attributesOf(e)));
    expect(
      denied.map((e) => `${e.verb} ${e.group}/${e.resource} ${e.namespace ?? '-'}/${e.name ?? '-'}`),
    ).toEqual([]);
  });

  it('the rules are not vacuous: what the controller must not do is denied', () => {
    const forbidden: Attributes[] = [
      { verb: 'delete', group: 'apps', resource: 'deployments', namespace: WATCHED, name: 'podinfo' },
      { verb: 'list', group: '', resource: 'secrets', namespace: WATCHED },
      { verb: 'get', group: '', resource: 'pods', namespace: WATCHED, name: 'x' },
      { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
      {
        verb: 'update',
        group: 'coordination.k8s.io',
        resource: 'leases',
        namespace: RELEASE_NAMESPACE,
        name: 'other',
      },
      {
        verb: 'patch',
        group: 'coordination.k8s.io',
        resource: 'leases',
        namespace: WATCHED,
        name: 'petrel-leader',
      },
    ];
    for (const a of forbidden) {
      expect(namespaced.allows(a), JSON.stringify(a)).toBe(false);
      expect(clusterWide.allows(a), JSON.stringify(a)).toBe(false);
    }
    // Namespaced mode reaches nothing outside the watched namespaces, not even a cluster-wide list.
    expect(namespaced.allows({ verb: 'list', group: 'petrel.dev', resource: 'canaries' })).toBe(false);
    expect(
      namespaced.allows({
        verb: 'get',
        group: 'apps',
        resource: 'deployments',
        namespace: 'other',
        name: 'x',
      }),
    ).toBe(false);
    expect(clusterWide.allows({ verb: 'list', group: 'petrel.dev', resource: 'canaries' })).toBe(true);
  });
});
