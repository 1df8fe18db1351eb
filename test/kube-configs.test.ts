import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { type Canary, canarySchema } from '../src/api/canary.ts';
import {
  type ConfigMap,
  configRefs,
  rewriteConfigRefs,
  type Secret,
  trackedConfigHashes,
} from '../src/kube/configs.ts';
import { ensurePrimary, promotePrimary } from '../src/kube/deployments.ts';
import { expectedPrimaryTemplate } from '../src/kube/primary-builders.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import { computeRevision } from '../src/kube/revision.ts';
import type { Deployment } from '../src/kube/workloads.ts';
import { InMemoryKubeApi } from './support/fake-kube.ts';

const canary: Canary = canarySchema.parse({
  apiVersion: 'petrel.dev/v1alpha1',
  kind: 'Canary',
  metadata: { name: 'podinfo', namespace: 'test', uid: 'uid-1' },
  spec: {
    targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
    service: { port: 9898 },
    analysis: { interval: '1m', threshold: 5, maxWeight: 50, stepWeight: 10 },
  },
});

function template(image = 'podinfo:1'): V1PodTemplateSpec {
  return {
    metadata: { labels: { app: 'podinfo' } },
    spec: {
      volumes: [
        { name: 'cfg', configMap: { name: 'app-config' } },
        { name: 'tls', secret: { secretName: 'app-tls' } },
        {
          name: 'all',
          projected: { sources: [{ configMap: { name: 'extra' } }, { secret: { name: 'extra-secret' } }] },
        },
      ],
      containers: [
        {
          name: 'app',
          image,
          env: [
            { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'mode' } } },
            { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'api-token', key: 'token' } } },
          ],
          envFrom: [{ configMapRef: { name: 'env-config' } }, { secretRef: { name: 'untracked' } }],
        },
      ],
    },
  };
}

function setup() {
  const api = new InMemoryKubeApi();
  const cm = (name: string, data: Record<string, string>, annotations?: Record<string, string>) =>
    api.seed(RESOURCES.configMap, { metadata: { name, namespace: 'test', annotations }, data });
  const secret = (name: string, data: Record<string, string>, annotations?: Record<string, string>) =>
    api.seed(RESOURCES.secret, { metadata: { name, namespace: 'test', annotations }, type: 'Opaque', data });
  cm('app-config', { mode: 'fast' });
  cm('env-config', { LOG: 'info' });
  secret('app-tls', { 'tls.crt': 'Y2VydA==' });
  secret('api-token', { token: 'c2VjcmV0' });
  secret('untracked', { x: 'eA==' }, { 'petrel.dev/config-tracking': 'disabled' });
  api.seed(RESOURCES.deployment, {
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: { replicas: 1, selector: { matchLabels: { app: 'podinfo' } }, template: template() },
  } as Deployment);
  const configs = {
    configMaps: api.cache<ConfigMap>(RESOURCES.configMap),
    secrets: api.cache<Secret>(RESOURCES.secret),
  };
  const deps = { api, deployments: api.cache<Deployment>(RESOURCES.deployment), configs };
  return { api, configs, deps };
}

describe('config tracking', () => {
  it('finds every ConfigMap and Secret a pod template uses', () => {
    expect(configRefs(template())).toEqual({
      configMaps: ['app-config', 'env-config', 'extra'],
      secrets: ['api-token', 'app-tls', 'extra-secret', 'untracked'],
    });
  });

  it('hashes tracked configs that exist, so a config change is a new revision', async () => {
    const { api, configs } = setup();
    const hashes = trackedConfigHashes('test', template(), configs);
    // extra/extra-secret do not exist, untracked opted out.
    expect(Object.keys(hashes).sort()).toEqual([
      'configmap/app-config',
      'configmap/env-config',
      'secret/api-token',
      'secret/app-tls',
    ]);
    expect(JSON.stringify(hashes)).not.toContain('c2VjcmV0');
    const before = computeRevision(template(), hashes);
    await api.mergePatch(
      { resource: RESOURCES.configMap, namespace: 'test', name: 'app-config' },
      { data: { mode: 'slow' } },
    );
    const after = computeRevision(template(), trackedConfigHashes('test', template(), configs));
    expect(after).not.toBe(before);
  });

  it('points tracked references at the -primary copies and leaves the others alone', () => {
    const rewritten = rewriteConfigRefs(template(), ['configmap/app-config', 'secret/api-token']);
    expect(rewritten.spec?.volumes?.[0]?.configMap?.name).toBe('app-config-primary');
    expect(rewritten.spec?.volumes?.[1]?.secret?.secretName).toBe('app-tls');
    const env = rewritten.spec?.containers[0]?.env ?? [];
    expect(env[0]?.valueFrom?.configMapKeyRef?.name).toBe('app-config-primary');
    expect(env[1]?.valueFrom?.secretKeyRef?.name).toBe('api-token-primary');
    expect(rewritten.spec?.containers[0]?.envFrom?.[0]?.configMapRef?.name).toBe('env-config');
    expect(template().spec?.volumes?.[0]?.configMap?.name).toBe('app-config');
  });

  it('gives the primary its own config copies: created with it, updated only at promotion', async () => {
    const { api, deps } = setup();
    await ensurePrimary(deps, canary);
    const cms = api.cache<ConfigMap>(RESOURCES.configMap);
    const secrets = api.cache<Secret>(RESOURCES.secret);
    expect(cms.get('test', 'app-config-primary')?.data).toEqual({ mode: 'fast' });
    expect(cms.get('test', 'app-config-primary')?.metadata?.ownerReferences?.[0]?.uid).toBe('uid-1');
    expect(secrets.get('test', 'api-token-primary')?.data).toEqual({ token: 'c2VjcmV0' });
    expect(secrets.get('test', 'untracked-primary')).toBeUndefined();
    const primary = deps.deployments.get('test', 'podinfo-primary');
    expect(primary?.spec?.template?.spec?.volumes?.[0]?.configMap?.name).toBe('app-config-primary');
    expect(primary?.spec?.template?.metadata?.labels?.app).toBe('podinfo-primary');

    // A new config version: the primary keeps the old one until promotion.
    await api.mergePatch(
      { resource: RESOURCES.configMap, namespace: 'test', name: 'app-config' },
      { data: { mode: 'slow' } },
    );
    const writes = api.writes().length;
    await ensurePrimary(deps, canary);
    expect(api.writes().length).toBe(writes);
    expect(cms.get('test', 'app-config-primary')?.data).toEqual({ mode: 'fast' });

    await promotePrimary(deps, canary, template('podinfo:2'));
    expect(cms.get('test', 'app-config-primary')?.data).toEqual({ mode: 'slow' });
    const promoted = deps.deployments.get('test', 'podinfo-primary');
    expect(promoted?.spec?.template).toEqual(
      expectedPrimaryTemplate(deps.deployments.get('test', 'podinfo')!, template('podinfo:2'), [
        'configmap/app-config',
        'configmap/env-config',
        'secret/api-token',
        'secret/app-tls',
      ]),
    );
    const afterPromotion = api.writes().length;
    await promotePrimary(deps, canary, template('podinfo:2'));
    expect(api.writes().length).toBe(afterPromotion);
  });
});
