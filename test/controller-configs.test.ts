import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { type Canary, canarySchema } from '../src/api/canary.ts';
import {
  AutoscalerSpecChanges,
  canariesUsingAutoscaler,
  syncPrimaryAutoscaler,
  wakeOnAutoscalerChanges,
} from '../src/controller/autoscaler.ts';
import {
  CONFIG_CHECKSUM_ANNOTATION,
  ConfigIndex,
  NO_SECRETS,
  targetConfigHashes,
  wakeOnConfigChanges,
  withConfigChecksum,
  withConfigChecksumTarget,
  withTrackedConfigs,
} from '../src/controller/configs.ts';
import { execute } from '../src/controller/executor.ts';
import { observePrimary, observeTarget } from '../src/controller/observe.ts';
import { TargetIndex } from '../src/controller/target-index.ts';
import type { ConfigCaches, ConfigMap, Secret } from '../src/kube/configs.ts';
import { RESOURCES, type ResourceKind } from '../src/kube/resources.ts';
import { computeRevision } from '../src/kube/revision.ts';
import type { KubeObject } from '../src/kube/types.ts';
import type { Deployment, HorizontalPodAutoscaler } from '../src/kube/workloads.ts';
import type { Router } from '../src/routers/router.ts';
import { type FakeInformer, InMemoryKubeApi } from './support/fake-kube.ts';

const NS = 'test';

const canary: Canary = canarySchema.parse({
  apiVersion: 'petrel.dev/v1alpha1',
  kind: 'Canary',
  metadata: { name: 'podinfo', namespace: NS, uid: 'uid-1' },
  spec: {
    targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
    autoscalerRef: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: 'podinfo' },
    service: { port: 9898 },
    analysis: { interval: '1m', threshold: 5, maxWeight: 50, stepWeight: 10 },
  },
});

function template(configMaps: string[], secrets: string[] = []): V1PodTemplateSpec {
  return {
    metadata: { labels: { app: 'podinfo' } },
    spec: {
      volumes: configMaps.map((name) => ({ name, configMap: { name } })),
      containers: [
        {
          name: 'podinfo',
          image: 'podinfo:1.0',
          envFrom: secrets.map((name) => ({ secretRef: { name } })),
        },
      ],
    },
  };
}

function target(tpl: V1PodTemplateSpec, name = 'podinfo'): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: { replicas: 2, selector: { matchLabels: { app: 'podinfo' } }, template: tpl },
  };
}

function configMap(name: string, message: string): ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS }, data: { message } };
}

/** An informer of one kind over its own fake API. */
function fakeInformer<T extends KubeObject>(resource: ResourceKind): FakeInformer<T> {
  return new InMemoryKubeApi().informer<T>(resource);
}

describe('ConfigIndex', () => {
  it('maps the ConfigMaps and Secrets a template uses to the canaries of its target', () => {
    const index = new ConfigIndex();
    index.set(NS, 'a', template(['shared', 'only-a'], ['creds']));
    index.set(NS, 'b', template(['shared']));
    index.set('other', 'a', template(['shared']));
    expect(index.canariesFor(NS, 'configmap', 'shared').sort()).toEqual([`${NS}/a`, `${NS}/b`]);
    expect(index.canariesFor(NS, 'configmap', 'only-a')).toEqual([`${NS}/a`]);
    expect(index.canariesFor(NS, 'secret', 'creds')).toEqual([`${NS}/a`]);
    // Kinds and namespaces are kept apart.
    expect(index.canariesFor(NS, 'configmap', 'creds')).toEqual([]);
    expect(index.canariesFor('other', 'configmap', 'shared')).toEqual(['other/a']);
  });

  it('replaces what a canary uses when its template changes, and forgets it when removed', () => {
    const index = new ConfigIndex();
    index.set(NS, 'a', template(['v1']));
    index.set(NS, 'a', template(['v2']));
    expect(index.canariesFor(NS, 'configmap', 'v1')).toEqual([]);
    expect(index.canariesFor(NS, 'configmap', 'v2')).toEqual([`${NS}/a`]);
    index.set(NS, 'a', undefined);
    expect(index.canariesFor(NS, 'configmap', 'v2')).toEqual([]);
    index.set(NS, 'a', template(['v3']));
    index.remove(NS, 'a');
    expect(index.size).toBe(0);
  });
});

describe('wakeOnConfigChanges', () => {
  function wire(withSecrets = true) {
    const canaries = fakeInformer<KubeObject & { spec?: { targetRef?: { name?: unknown } } }>(
      RESOURCES.canary,
    );
    const deployments = fakeInformer<Deployment>(RESOURCES.deployment);
    const configMaps = fakeInformer<KubeObject>(RESOURCES.configMap);
    const secrets = fakeInformer<KubeObject>(RESOURCES.secret);
    const woken: string[] = [];
    // As the controller does: the target index follows the canaries before anything else hears of them.
    const targets = new TargetIndex();
    const follow = (obj: KubeObject & { spec?: { targetRef?: { name?: unknown } } }) => {
      const target = obj.spec?.targetRef?.name;
      targets.set(NS, obj.metadata?.name ?? '', typeof target === 'string' ? target : undefined);
    };
    canaries.on('add', follow);
    canaries.on('update', follow);
    canaries.on('delete', (obj) => targets.remove(NS, obj.metadata?.name ?? ''));
    const index = wakeOnConfigChanges({
      canaries,
      deployments,
      configMaps,
      ...(withSecrets ? { secrets } : {}),
      targets,
      enqueue: (key) => woken.push(key),
    });
    const canaryFor = (name: string, targetName: string) => ({
      metadata: { name, namespace: NS },
      spec: { targetRef: { name: targetName } },
    });
    return { canaries, deployments, configMaps, secrets, woken, index, canaryFor };
  }

  it('wakes exactly the canaries whose target uses the changed config, whatever order the caches fill in', () => {
    const w = wire();
    // The canary arrives before its target (informers sync in parallel).
    w.canaries.put(w.canaryFor('podinfo', 'podinfo'));
    w.deployments.put(target(template(['podinfo-config'], ['podinfo-creds'])));
    w.canaries.put(w.canaryFor('other', 'other'));
    w.deployments.put(target(template(['other-config']), 'other'));
    w.configMaps.put(configMap('podinfo-config', 'v2'));
    w.secrets.put({ metadata: { name: 'podinfo-creds', namespace: NS } });
    w.configMaps.put(configMap('unused', 'v1'));
    expect(w.woken).toEqual([`${NS}/podinfo`, `${NS}/podinfo`]);
  });

  it('follows the target template to new configs and forgets deleted canaries', () => {
    const w = wire();
    w.deployments.put(target(template(['v1'])));
    w.canaries.put(w.canaryFor('podinfo', 'podinfo'));
    w.deployments.put(target(template(['v2'])));
    w.configMaps.put(configMap('v1', 'x'));
    expect(w.woken).toEqual([]);
    w.configMaps.put(configMap('v2', 'x'));
    expect(w.woken).toEqual([`${NS}/podinfo`]);
    w.canaries.remove(w.canaryFor('podinfo', 'podinfo'));
    w.configMaps.put(configMap('v2', 'y'));
    expect(w.woken).toEqual([`${NS}/podinfo`]);
    expect(w.index.size).toBe(0);
  });

  it('without a Secret informer, only ConfigMaps wake canaries', () => {
    const w = wire(false);
    w.deployments.put(target(template(['cfg'], ['creds'])));
    w.canaries.put(w.canaryFor('podinfo', 'podinfo'));
    w.secrets.put({ metadata: { name: 'creds', namespace: NS } });
    expect(w.woken).toEqual([]);
  });
});

describe('observed revisions with tracked configs', () => {
  const api = new InMemoryKubeApi();
  const caches = (): ConfigCaches => ({
    configMaps: api.cache<ConfigMap>(RESOURCES.configMap),
    secrets: api.cache<Secret>(RESOURCES.secret),
  });
  api.seed(RESOURCES.configMap, configMap('podinfo-config', 'v1'));
  const tgt = target(template(['podinfo-config']));

  it('a config change is a new target revision; a template without configs keeps its old revision', () => {
    const before = observeTarget(tgt, targetConfigHashes(tgt, caches())).revision;
    api.seed(RESOURCES.configMap, configMap('podinfo-config', 'v2'));
    const after = observeTarget(tgt, targetConfigHashes(tgt, caches())).revision;
    api.seed(RESOURCES.configMap, configMap('podinfo-config', 'v1'));
    expect(after).not.toBe(before);
    expect(observeTarget(tgt, targetConfigHashes(tgt, caches())).revision).toBe(before);
    const plain = target(template([]));
    expect(targetConfigHashes(plain, caches())).toEqual({});
    expect(observeTarget(plain, {}).revision).toBe(computeRevision(plain.spec?.template));
    expect(targetConfigHashes(tgt, undefined)).toEqual({});
  });

  it('the primary built by the executor runs the target revision until a config changes', async () => {
    const mem = new InMemoryKubeApi();
    mem.seed(RESOURCES.configMap, configMap('podinfo-config', 'v1'));
    mem.seed(RESOURCES.deployment, tgt);
    const deps = {
      api: mem,
      deployments: mem.cache<Deployment>(RESOURCES.deployment),
      configs: {
        configMaps: mem.cache<ConfigMap>(RESOURCES.configMap),
        secrets: NO_SECRETS,
      },
    };
    const router: Router = {
      reconcile: async () => {},
      setRoutes: async () => {},
      getRoutes: () => undefined,
      finalize: async () => {},
    };
    const exec = (type: 'ensurePrimary' | 'promotePrimary') =>
      execute(
        { deployments: deps, router, events: { record: async () => {} }, logger: pino({ level: 'silent' }) },
        canary,
        tgt,
        [{ type }],
      );
    await exec('ensurePrimary');
    const primary = () =>
      mem.cache<Deployment>(RESOURCES.deployment).get(NS, 'podinfo-primary') as Deployment;
    const hashes = () => targetConfigHashes(tgt, deps.configs);
    expect(primary().spec?.template?.spec?.volumes?.[0]?.configMap?.name).toBe('podinfo-config-primary');
    expect(observePrimary(primary(), tgt, hashes()).revision).toBe(observeTarget(tgt, hashes()).revision);

    mem.seed(RESOURCES.configMap, configMap('podinfo-config', 'v2'));
    expect(observePrimary(primary(), tgt, hashes()).revision).toMatch(/^primary:/);
    const copy = () => mem.cache<ConfigMap>(RESOURCES.configMap).get(NS, 'podinfo-config-primary');
    expect(copy()?.data).toEqual({ message: 'v1' });

    const report = await exec('promotePrimary');
    expect(report.writes).toEqual(['primary template promoted']);
    expect(copy()?.data).toEqual({ message: 'v2' });
    expect(observePrimary(primary(), tgt, hashes()).revision).toBe(observeTarget(tgt, hashes()).revision);
    // Promoting again writes nothing.
    expect((await exec('promotePrimary')).writes).toEqual([]);
  });
});

describe('withConfigChecksum and withTrackedConfigs', () => {
  it('stamps a deterministic checksum only when configs are tracked, without touching its input', () => {
    const tpl = template(['a']);
    const snapshot = structuredClone(tpl);
    expect(withConfigChecksum(tpl, {})).toBe(tpl);
    const one = withConfigChecksum(tpl, { 'configmap/a': '1' });
    const same = withConfigChecksum(tpl, { 'configmap/a': '1' });
    const other = withConfigChecksum(tpl, { 'configmap/a': '2' });
    const sum = one.metadata?.annotations?.[CONFIG_CHECKSUM_ANNOTATION];
    expect(sum).toMatch(/^[0-9a-f]{64}$/);
    expect(same.metadata?.annotations?.[CONFIG_CHECKSUM_ANNOTATION]).toBe(sum);
    expect(other.metadata?.annotations?.[CONFIG_CHECKSUM_ANNOTATION]).not.toBe(sum);
    expect(one.metadata?.labels).toEqual({ app: 'podinfo' });
    expect(tpl).toEqual(snapshot);
    const tgt = target(tpl);
    expect(withConfigChecksumTarget(tgt, {})).toBe(tgt);
    expect(withConfigChecksumTarget(tgt, { 'configmap/a': '1' }).spec?.template).toEqual(one);
  });

  it('status.trackedConfigs follows the revision in lastAppliedSpec only', () => {
    const hashes = { 'configmap/a': '1' };
    expect(withTrackedConfigs({ lastAppliedSpec: 'r2' }, 'r2', hashes)).toEqual({
      lastAppliedSpec: 'r2',
      trackedConfigs: hashes,
    });
    // A new revision held back (e.g. by confirm-rollout) keeps the configs of the applied one.
    const held = { lastAppliedSpec: 'r1', trackedConfigs: { 'configmap/a': '0' } };
    expect(withTrackedConfigs(held, 'r2', hashes)).toBe(held);
    // No configs any more: the field is dropped.
    expect(withTrackedConfigs({ lastAppliedSpec: 'r3', trackedConfigs: hashes }, 'r3', {})).toEqual({
      lastAppliedSpec: 'r3',
    });
  });
});

describe('primary autoscaler', () => {
  const hpa = (
    maxReplicas: number,
    currentReplicas?: number,
  ): HorizontalPodAutoscaler & { status?: unknown } => ({
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'podinfo', namespace: NS },
    spec: { scaleTargetRef: { kind: 'Deployment', name: 'podinfo' }, minReplicas: 1, maxReplicas },
    ...(currentReplicas === undefined ? {} : { status: { currentReplicas } }),
  });

  it('creates, follows and leaves alone <autoscaler>-primary; a missing HPA is a warning, not a failure', async () => {
    const mem = new InMemoryKubeApi();
    const deps = {
      api: mem,
      deployments: mem.cache<Deployment>(RESOURCES.deployment),
      hpas: mem.cache<HorizontalPodAutoscaler>(RESOURCES.horizontalPodAutoscaler),
    };
    expect((await syncPrimaryAutoscaler(deps, canary)).warning).toContain(
      'HorizontalPodAutoscaler test/podinfo',
    );
    expect(mem.writes()).toEqual([]);
    mem.seed(RESOURCES.horizontalPodAutoscaler, hpa(4));
    expect(await syncPrimaryAutoscaler(deps, canary)).toEqual({ write: 'primary autoscaler created' });
    expect(await syncPrimaryAutoscaler(deps, canary)).toEqual({});
    mem.seed(RESOURCES.horizontalPodAutoscaler, hpa(6));
    expect(await syncPrimaryAutoscaler(deps, canary)).toEqual({ write: 'primary autoscaler patched' });
    const primary = deps.hpas.get(NS, 'podinfo-primary');
    expect(primary?.spec?.maxReplicas).toBe(6);
    expect(primary?.spec?.scaleTargetRef.name).toBe('podinfo-primary');
    // Without an HPA cache or an autoscalerRef nothing is done.
    expect(await syncPrimaryAutoscaler({ api: mem, deployments: deps.deployments }, canary)).toEqual({});
    const noRef = { ...canary, spec: { ...canary.spec, autoscalerRef: undefined } } as Canary;
    expect(await syncPrimaryAutoscaler(deps, noRef)).toEqual({});
  });

  it('runs the syncPrimaryAutoscaler action: a missing HPA becomes a Warning event, the tick goes on', async () => {
    const mem = new InMemoryKubeApi();
    const deps = {
      api: mem,
      deployments: mem.cache<Deployment>(RESOURCES.deployment),
      hpas: mem.cache<HorizontalPodAutoscaler>(RESOURCES.horizontalPodAutoscaler),
    };
    const recorded: string[] = [];
    const router = {} as Router;
    const run = () =>
      execute(
        {
          deployments: deps,
          router,
          events: { record: async (_c, type, reason) => recorded.push(`${type} ${reason}`) },
          logger: pino({ level: 'silent' }),
        },
        canary,
        target(template([])),
        [{ type: 'syncPrimaryAutoscaler' }],
      );
    expect((await run()).writes).toEqual([]);
    expect(recorded).toEqual(['Warning AutoscalerNotFound']);
    mem.seed(RESOURCES.horizontalPodAutoscaler, hpa(4));
    expect((await run()).writes).toEqual(['primary autoscaler created']);
    expect((await run()).writes).toEqual([]);
    expect(recorded).toHaveLength(1);
  });

  it('wakes the canaries naming an HPA on spec changes, creation and deletion, not on status updates', () => {
    const changes = new AutoscalerSpecChanges();
    expect(changes.changed('add', hpa(4))).toBe(true);
    expect(changes.changed('update', hpa(4, 3))).toBe(false);
    expect(changes.changed('update', hpa(5, 3))).toBe(true);
    expect(changes.changed('delete', hpa(5))).toBe(true);

    const canaries = fakeInformer<KubeObject>(RESOURCES.canary);
    canaries.put({ metadata: { name: 'podinfo', namespace: NS }, spec: canary.spec } as KubeObject);
    canaries.put({
      metadata: { name: 'other', namespace: NS },
      spec: { targetRef: { name: 'x' } },
    } as KubeObject);
    canaries.put({ metadata: { name: 'podinfo', namespace: 'elsewhere' }, spec: canary.spec } as KubeObject);
    expect(canariesUsingAutoscaler(canaries.list(NS), hpa(4))).toEqual([`${NS}/podinfo`]);

    const hpas = fakeInformer<HorizontalPodAutoscaler>(RESOURCES.horizontalPodAutoscaler);
    const woken: string[] = [];
    wakeOnAutoscalerChanges({ hpas, canaries, enqueue: (key) => woken.push(key) });
    hpas.put(hpa(4));
    hpas.put(hpa(4, 2));
    hpas.put(hpa(4, 3));
    expect(woken).toEqual([`${NS}/podinfo`]);
    hpas.put(hpa(8, 3));
    hpas.remove(hpa(8));
    expect(woken).toEqual([`${NS}/podinfo`, `${NS}/podinfo`, `${NS}/podinfo`]);
  });
});
