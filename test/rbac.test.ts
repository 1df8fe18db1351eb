import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestLogEntry } from '../dev/sandbox/apiserver/index.ts';
import { type RunningController, startController } from '../src/controller/controller.ts';
import { ControllerMetrics } from '../src/controller/metrics.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import type { Deployment } from '../src/kube/workloads.ts';
import {
  CONTROLLER_USER_AGENT,
  controllerRequests,
  createNamespace,
  podinfoCanary,
  podinfoDeployment,
  TrafficLoop,
  testLogger,
  useE2e,
  waitFor,
  waitForPhase,
} from './support/e2e.ts';
import { helmTemplate } from './support/tools.ts';
import { HookReceiver } from './webhooks-receiver.ts';

const _CHART = fileURLToPath(new URL('../charts/petrel', import.meta.url));
const RELEASE_NAMESPACE = 'petrel-system';
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

  /** Every (group, resource, verb) some bound rule grants, as `verb group/resource`. */
  get granted(): Set<string> {
    const all = new Set<string>();
    for (const g of this.grants)
      for (const r of g.rules)
        for (const group of r.apiGroups)
          for (const resource of r.resources)
            for (const verb of r.verbs) all.add(`${verb} ${group}/${resource}`);
    return all;
  }

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

function renderRbac(set: string[]): Promise<RbacObject[]> {
  return helmTemplate<RbacObject>({
    release: 'petrel',
    namespace: RELEASE_NAMESPACE,
    set,
    extra: ['--show-only', 'templates/rbac.yaml'],
  });
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

/**
 * Grants a rollout in this test does not exercise, each with the code that needs it. Anything else the
 * chart grants must show up in the controller's requests, so an unused grant fails the test.
 */
const NOT_EXERCISED: Record<string, string> = {
  'update petrel.dev/canaries/finalizers':
    'owned objects carry blockOwnerDeletion (src/kube/ownership.ts canaryOwnerReference); the ' +
    "OwnerReferencesPermissionEnforcement admission plugin wants update on the owner's finalizers",
  'create autoscaling/horizontalpodautoscalers':
    'the primary HPA of a Canary with spec.autoscalerRef (src/kube/deployments.ts)',
  'patch autoscaling/horizontalpodautoscalers':
    "the primary HPA follows the target's HPA spec (src/kube/deployments.ts)",
  'patch /events': 'a repeated Event bumps its count (src/kube/events.ts)',
};

const CONFIG = 'podinfo-config';
const SECRET = 'podinfo-secret';

/** podinfo reading a ConfigMap and a Secret, each as a volume and through envFrom. */
function deploymentUsingConfigs(namespace: string): KubeObject & Record<string, unknown> {
  const deployment = podinfoDeployment(namespace, 'podinfo:1.0') as Deployment & Record<string, unknown>;
  const spec = deployment.spec?.template?.spec;
  const container = spec?.containers[0];
  if (!spec || !container) throw new Error('podinfoDeployment has no pod spec');
  spec.volumes = [
    { name: 'config', configMap: { name: CONFIG } },
    { name: 'secret', secret: { secretName: SECRET } },
  ];
  container.envFrom = [{ configMapRef: { name: CONFIG } }, { secretRef: { name: SECRET } }];
  container.volumeMounts = [
    { name: 'config', mountPath: '/etc/podinfo/config' },
    { name: 'secret', mountPath: '/etc/podinfo/secret' },
  ];
  return deployment;
}

const env = useE2e({ deploymentReadyDelayMs: 300 });
const receiver = new HookReceiver();
beforeAll(async () => {
  await receiver.start();
});
afterAll(() => receiver.stop());

/**
 * A full rollout as the chart runs the controller (leader election on the chart's Lease, metrics on),
 * started by a change to a ConfigMap the target uses, with a Secret-held alert address; returns every
 * request the controller sent (informers, KubeApi, leader election, notifications).
 */
async function rolloutRequests(
  namespace: string,
  watch: string[],
  trackSecrets: boolean,
  gatewayApi = false,
): Promise<RequestLogEntry[]> {
  await createNamespace(env.api, RELEASE_NAMESPACE).catch(() => undefined);
  await createNamespace(env.api, namespace);
  // Each mode starts as a fresh install: no Lease yet, so the controller creates it.
  await env.api
    .delete({ resource: RESOURCES.lease, namespace: RELEASE_NAMESPACE, name: 'petrel-leader' })
    .catch(() => undefined);
  const create = (resource: (typeof RESOURCES)[keyof typeof RESOURCES], obj: Record<string, unknown>) =>
    env.api.create(resource, obj as KubeObject);
  const base64 = (text: string) => Buffer.from(text).toString('base64');
  await create(RESOURCES.configMap, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: CONFIG, namespace },
    data: { message: 'v1' },
  });
  await create(RESOURCES.secret, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: SECRET, namespace },
    data: { token: base64('not-a-real-token') },
  });
  await create(RESOURCES.secret, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'alerts-url', namespace },
    data: { address: base64(`${receiver.url}/alerts/${namespace}`) },
  });
  await create(RESOURCES.alertProvider, {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'AlertProvider',
    metadata: { name: 'receiver', namespace },
    spec: { type: 'webhook', secretRef: { name: 'alerts-url' } },
  });
  await env.api.create(RESOURCES.deployment, deploymentUsingConfigs(namespace));
  const traffic = new TrafficLoop(env.prometheusUrl, namespace);
  traffic.start();
  let controller: RunningController | undefined;
  const since = Date.now();
  try {
    controller = startController({
      kubeConfig: env.sandbox.kubeConfig(),
      logger: testLogger().logger,
      prometheusAddress: env.prometheusUrl,
      namespaces: watch,
      trackSecrets,
      gatewayApi,
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
    const canary = podinfoCanary(namespace, {
      alerts: [{ name: 'all', severity: 'info', providerRef: { name: 'receiver' } }],
    });
    if (gatewayApi) {
      Object.assign(canary.spec, { provider: 'gatewayapi:v1' });
      Object.assign(canary.spec.service, { gatewayRefs: [{ name: 'public', namespace: 'gateways' }] });
    }
    await env.api.create(RESOURCES.canary, canary);
    await waitForPhase(env.api, namespace, ['Initialized']);
    // The alert address was read from its Secret.
    await waitFor('an alert through the Secret-held address', async () =>
      receiver.received.find((r) => r.path === `/alerts/${namespace}`),
    );
    if (trackSecrets) {
      // Only the Secret changes: tracking it is what starts the rollout.
      await env.api.mergePatch(
        { resource: RESOURCES.secret, namespace, name: SECRET },
        { data: { token: base64('rotated-token') } },
      );
    } else {
      await env.api.mergePatch(
        { resource: RESOURCES.configMap, namespace, name: CONFIG },
        { data: { message: 'v2' } },
      );
    }
    const done = await waitForPhase(env.api, namespace, ['Succeeded', 'Failed'], 60_000);
    expect(done.status?.phase).toBe('Succeeded');
    const copy = <T extends KubeObject>(
      resource: typeof RESOURCES.configMap | typeof RESOURCES.secret,
      name: string,
    ) => env.api.get<T & { data?: Record<string, string> }>({ resource, namespace, name });
    const primaryConfig = await copy(RESOURCES.configMap, `${CONFIG}-primary`);
    expect(primaryConfig.data).toEqual({ message: trackSecrets ? 'v1' : 'v2' });
    const primary = await env.api.get<Deployment>({
      resource: RESOURCES.deployment,
      namespace,
      name: 'podinfo-primary',
    });
    const podSpec = primary.spec?.template?.spec;
    const secretName = trackSecrets ? `${SECRET}-primary` : SECRET;
    expect(podSpec?.volumes?.find((v) => v.name === 'secret')).toEqual({
      name: 'secret',
      secret: { secretName },
    });
    expect(podSpec?.containers[0]?.envFrom).toContainEqual({ secretRef: { name: secretName } });
    if (trackSecrets) {
      const primarySecret = await copy(RESOURCES.secret, `${SECRET}-primary`);
      expect(primarySecret.data).toEqual({ token: base64('rotated-token') });
    }
    // Deleted without revertOnDeletion: each object that serves loses its ownerReference (a patch of
    // every kind the Canary owns) and stays.
    await env.api.delete({ resource: RESOURCES.canary, namespace, name: 'podinfo' });
    await waitFor(
      'the Canary to be gone',
      async () =>
        (await env.api.list<KubeObject>(RESOURCES.canary, { namespace })).items.length ? undefined : true,
      { timeoutMs: 20_000 },
    );
    const kept = await env.api.get<Deployment>({
      resource: RESOURCES.deployment,
      namespace,
      name: 'podinfo-primary',
    });
    expect(kept.metadata?.ownerReferences ?? []).toEqual([]);
    const route = await env.api.get<KubeObject>({
      resource: gatewayApi ? RESOURCES.httpRoute : RESOURCES.virtualService,
      namespace,
      name: 'podinfo',
    });
    expect(route.metadata?.ownerReferences ?? []).toEqual([]);
  } finally {
    await controller?.stop();
    await traffic.stop();
  }
  return controllerRequests(env.sandbox, since);
}

const describeRequest = (e: RequestLogEntry) =>
  `${e.verb} ${e.group ?? ''}/${e.resource} ${e.namespace ?? '-'}/${e.name ?? '-'}`;

describe.each([
  {
    mode: 'cluster-wide (default values)',
    namespace: 'rbac-cluster',
    watch: [] as string[],
    // rbac.secrets=namespaced (the default) grants get on Secrets only where secretRef is used.
    values: ['rbac.secretNamespaces={rbac-cluster}'],
    trackSecrets: false,
    gatewayApi: false,
    notExercised: {} as Record<string, string>,
  },
  {
    mode: 'namespaced (watchNamespaces set)',
    namespace: 'rbac-namespaced',
    watch: ['rbac-namespaced'],
    values: ['watchNamespaces={rbac-namespaced}'],
    trackSecrets: false,
    gatewayApi: false,
    notExercised: {},
  },
  {
    mode: 'namespaced with trackSecrets, started by a Secret change',
    namespace: 'rbac-secrets',
    watch: ['rbac-secrets'],
    values: ['watchNamespaces={rbac-secrets}', 'trackSecrets=true'],
    trackSecrets: true,
    gatewayApi: false,
    notExercised: {},
  },
  {
    mode: 'namespaced with gatewayAPI.enabled, a gatewayapi:v1 canary',
    namespace: 'rbac-gateway',
    watch: ['rbac-gateway'],
    values: ['watchNamespaces={rbac-gateway}', 'gatewayAPI.enabled=true'],
    trackSecrets: false,
    gatewayApi: true,
    notExercised: {
      'create networking.istio.io/virtualservices':
        'the Istio router (src/routers/istio.ts), exercised by the runs with an Istio canary',
      'patch networking.istio.io/virtualservices':
        'the Istio router (src/routers/istio.ts), exercised by the runs with an Istio canary',
      'create networking.istio.io/destinationrules':
        'the Istio router (src/routers/istio.ts), exercised by the runs with an Istio canary',
      'patch networking.istio.io/destinationrules':
        'orphaning on deletion and drift repair (src/controller/orphan.ts, src/routers/istio.ts), exercised ' +
        'by the runs with an Istio canary',
    },
  },
])(
  'the chart grants the controller exactly what a full rollout uses: $mode',
  ({ namespace, watch, values, trackSecrets, gatewayApi, notExercised }) => {
    let authorizer: Authorizer;
    let requests: RequestLogEntry[] = [];
    const exceptions: Record<string, string> = { ...NOT_EXERCISED, ...notExercised };

    beforeAll(async () => {
      authorizer = new Authorizer(await renderRbac(values), SERVICE_ACCOUNT);
      requests = await rolloutRequests(namespace, watch, trackSecrets, gatewayApi);
    }, 120_000);

    afterAll(() => {
      requests = [];
    });

    it('made requests of every kind a rollout with a tracked ConfigMap and a Secret-held alert address needs', () => {
      const kinds = new Set(requests.map((e) => `${e.verb} ${e.resource}`));
      for (const needed of [
        'watch canaries',
        'patch canaries/status',
        'create deployments',
        'patch deployments',
        'create services',
        ...(gatewayApi
          ? ['list httproutes', 'watch httproutes', 'create httproutes', 'patch httproutes']
          : ['create virtualservices', 'patch virtualservices', 'create destinationrules']),
        'create configmaps',
        ...(trackSecrets
          ? ['list secrets', 'watch secrets', 'create secrets', 'patch secrets']
          : ['patch configmaps']),
        'get secrets',
        'create events',
        'create leases',
        'patch leases',
      ]) {
        expect(kinds, needed).toContain(needed);
      }
    });

    it('every request is allowed by the rendered rules', () => {
      const denied = requests.filter((e) => !authorizer.allows(attributesOf(e)));
      expect(denied.map(describeRequest)).toEqual([]);
    });

    const secretRule = trackSecrets
      ? 'with trackSecrets, Secrets are listed and watched, and only the -primary copy is written'
      : 'Secrets are only read by name: never listed, watched, copied or written';
    it(secretRule, () => {
      const onSecrets = requests.filter((e) => e.resource === 'secrets');
      if (!trackSecrets) {
        expect(onSecrets.length).toBeGreaterThan(0);
        expect(onSecrets.filter((e) => e.verb !== 'get' || !e.name).map(describeRequest)).toEqual([]);
        expect([...new Set(onSecrets.map((e) => e.name))]).toEqual(['alerts-url']);
        return;
      }
      // A create names its object in the body, not the URL: the copy's content is checked in the run.
      expect(onSecrets.filter((e) => e.verb === 'create').length).toBeGreaterThan(0);
      const patched = onSecrets.filter((e) => e.verb === 'patch');
      expect([...new Set(patched.map((e) => e.name))]).toEqual([`${SECRET}-primary`]);
      expect([...new Set(onSecrets.filter((e) => e.verb === 'get').map((e) => e.name))]).toEqual([
        'alerts-url',
      ]);
      // Listed and watched only in the watched namespace, never cluster-wide.
      const listed = onSecrets.filter((e) => e.verb === 'list' || e.verb === 'watch');
      expect(listed.length).toBeGreaterThan(0);
      expect(listed.filter((e) => e.namespace !== namespace).map(describeRequest)).toEqual([]);
    });

    it('grants nothing the controller did not use, but for the listed code paths', () => {
      const used = new Set(requests.map((e) => `${e.verb} ${e.group ?? ''}/${e.resource}`));
      const unused = [...authorizer.granted].filter((g) => !used.has(g) && !(g in exceptions));
      expect(unused, 'granted but never requested: remove them or list the code path').toEqual([]);
      // The list of exceptions holds only what is granted and really not exercised.
      for (const g of Object.keys(exceptions)) {
        expect(authorizer.granted, g).toContain(g);
        expect(used, `${g} is exercised now: drop it from NOT_EXERCISED`).not.toContain(g);
      }
    });
  },
);

describe('the rules are not vacuous', () => {
  it('what the controller must not do is denied, in both modes', async () => {
    const clusterWide = new Authorizer(await renderRbac([]), SERVICE_ACCOUNT);
    const namespaced = new Authorizer(await renderRbac(['watchNamespaces={team-a}']), SERVICE_ACCOUNT);
    const forbidden: Attributes[] = [
      { verb: 'delete', group: 'apps', resource: 'deployments', namespace: 'team-a', name: 'podinfo' },
      { verb: 'update', group: 'apps', resource: 'deployments', namespace: 'team-a', name: 'podinfo' },
      { verb: 'list', group: '', resource: 'secrets', namespace: 'team-a' },
      { verb: 'watch', group: '', resource: 'secrets', namespace: 'team-a' },
      { verb: 'create', group: '', resource: 'secrets', namespace: 'team-a' },
      { verb: 'get', group: '', resource: 'pods', namespace: 'team-a', name: 'x' },
      { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
      {
        verb: 'update',
        group: 'coordination.k8s.io',
        resource: 'leases',
        namespace: RELEASE_NAMESPACE,
        name: 'petrel-leader',
      },
      {
        verb: 'patch',
        group: 'coordination.k8s.io',
        resource: 'leases',
        namespace: RELEASE_NAMESPACE,
        name: 'other',
      },
      {
        verb: 'patch',
        group: 'coordination.k8s.io',
        resource: 'leases',
        namespace: 'team-a',
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

  it('Secrets: by default no Secret anywhere cluster-wide, only the watched namespaces when namespaced', async () => {
    const get = (namespace: string): Attributes => ({
      verb: 'get',
      group: '',
      resource: 'secrets',
      namespace,
      name: 'alerts-url',
    });
    const clusterWide = new Authorizer(await renderRbac([]), SERVICE_ACCOUNT);
    expect(clusterWide.allows(get('team-a'))).toBe(false);
    const listed = new Authorizer(await renderRbac(['rbac.secretNamespaces={team-a}']), SERVICE_ACCOUNT);
    expect(listed.allows(get('team-a'))).toBe(true);
    expect(listed.allows(get('team-b'))).toBe(false);
    const namespaced = new Authorizer(await renderRbac(['watchNamespaces={team-a}']), SERVICE_ACCOUNT);
    expect(namespaced.allows(get('team-a'))).toBe(true);
    expect(namespaced.allows(get(RELEASE_NAMESPACE))).toBe(false);
    const cluster = new Authorizer(await renderRbac(['rbac.secrets=cluster']), SERVICE_ACCOUNT);
    expect(cluster.allows(get('team-b'))).toBe(true);
    const none = new Authorizer(
      await renderRbac(['watchNamespaces={team-a}', 'rbac.secrets=none']),
      SERVICE_ACCOUNT,
    );
    expect(none.allows(get('team-a'))).toBe(false);
  });
});

describe('docs/operations.md', () => {
  it('names every granted verb, resource and group in its RBAC table, with the code that needs it', async () => {
    const docs = await readFile(new URL('../docs/operations.md', import.meta.url), 'utf8');
    const section = docs.slice(docs.indexOf('### RBAC'), docs.indexOf('### What is read from Secrets'));
    const rows = section
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| ---') && !l.startsWith('| API group'))
      .map((l) => l.split('|').map((c) => c.trim()));
    const granted = new Authorizer(
      [
        ...(await renderRbac([])),
        ...(await renderRbac(['rbac.secrets=cluster'])).filter((o) => o.metadata.name.endsWith('-secrets')),
        ...(await renderRbac(['rbac.secrets=cluster', 'trackSecrets=true'])),
        ...(await renderRbac(['gatewayAPI.enabled=true'])),
      ],
      SERVICE_ACCOUNT,
    ).granted;
    expect(granted.size).toBeGreaterThan(10);
    for (const grant of granted) {
      const [verb, groupResource] = grant.split(' ') as [string, string];
      const slash = groupResource.indexOf('/');
      const group = groupResource.slice(0, slash) || '""';
      const resource = groupResource.slice(slash + 1);
      const row = rows.find(
        ([, what = '', verbs = ''], i) =>
          what.startsWith(`\`${group}\` `) &&
          what.split(/[\s,]+/).includes(resource) &&
          verbs.split(/,\s*/).includes(verb) &&
          (rows[i]![3] ?? '').length > 20,
      );
      expect(row, `${grant}: no row in docs/operations.md's RBAC table`).toBeDefined();
    }
  });
});
