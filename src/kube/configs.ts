import { createHash } from 'node:crypto';
import type { V1PodSpec, V1PodTemplateSpec } from '@kubernetes/client-node';
import type { Canary } from '../api/canary.ts';
import { canonicalJson, mergePatchDiff } from './canonical.ts';
import type { CacheReader } from './informer.ts';
import { assertOwnedBy, canaryOwnerReference, managedLabels, ownershipPatch } from './ownership.ts';
import { RESOURCES, type ResourceKind } from './resources.ts';
import type { KubeApi, KubeObject } from './types.ts';
import { patchOrCreate, WriteThroughCache } from './write-through.ts';

/** Put `petrel.dev/config-tracking: disabled` on a ConfigMap or Secret to leave it out of revisions. */
export const CONFIG_TRACKING_ANNOTATION = 'petrel.dev/config-tracking';

export interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

export interface Secret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

export interface ConfigCaches {
  configMaps: CacheReader<ConfigMap>;
  secrets: CacheReader<Secret>;
}

/** The ConfigMaps and Secrets a pod template uses (volumes, projected volumes, env, envFrom), sorted. */
export interface ConfigRefs {
  configMaps: string[];
  secrets: string[];
}

export function configRefs(template: V1PodTemplateSpec): ConfigRefs {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  const spec = template.spec;
  for (const volume of spec?.volumes ?? []) {
    if (volume.configMap?.name) configMaps.add(volume.configMap.name);
    if (volume.secret?.secretName) secrets.add(volume.secret.secretName);
    for (const source of volume.projected?.sources ?? []) {
      if (source.configMap?.name) configMaps.add(source.configMap.name);
      if (source.secret?.name) secrets.add(source.secret.name);
    }
  }
  for (const container of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
    for (const env of container.env ?? []) {
      if (env.valueFrom?.configMapKeyRef?.name) configMaps.add(env.valueFrom.configMapKeyRef.name);
      if (env.valueFrom?.secretKeyRef?.name) secrets.add(env.valueFrom.secretKeyRef.name);
    }
    for (const from of container.envFrom ?? []) {
      if (from.configMapRef?.name) configMaps.add(from.configMapRef.name);
      if (from.secretRef?.name) secrets.add(from.secretRef.name);
    }
  }
  return { configMaps: [...configMaps].sort(), secrets: [...secrets].sort() };
}

function tracked(obj: KubeObject | undefined): boolean {
  return !!obj && obj.metadata?.annotations?.[CONFIG_TRACKING_ANNOTATION] !== 'disabled';
}

function contentHash(content: unknown): string {
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

/**
 * `{ 'configmap/<name>': sha256, 'secret/<name>': sha256 }` over the data of every tracked ConfigMap and
 * Secret the template uses that exists (a missing one is left to the pods' readiness). Feed it to
 * `computeRevision(template, hashes)` so a config change starts a rollout. Secret values only enter a
 * hash; they are never copied anywhere but the primary's own Secret.
 */
export function trackedConfigHashes(
  namespace: string,
  template: V1PodTemplateSpec,
  caches: ConfigCaches,
): Record<string, string> {
  const refs = configRefs(template);
  const hashes: Record<string, string> = {};
  for (const name of refs.configMaps) {
    const cm = caches.configMaps.get(namespace, name);
    if (tracked(cm))
      hashes[`configmap/${name}`] = contentHash({ data: cm?.data, binaryData: cm?.binaryData });
  }
  for (const name of refs.secrets) {
    const secret = caches.secrets.get(namespace, name);
    if (tracked(secret)) hashes[`secret/${name}`] = contentHash({ type: secret?.type, data: secret?.data });
  }
  return hashes;
}

/**
 * The template with every reference to a tracked config (`configmap/<name>` / `secret/<name>` keys of
 * `trackedConfigHashes`) pointed at its `<name>-primary` copy. Untracked references stay as they are.
 */
export function rewriteConfigRefs(
  template: V1PodTemplateSpec,
  trackedKeys: Iterable<string>,
): V1PodTemplateSpec {
  const keys = new Set(trackedKeys);
  const copy = structuredClone(template);
  const cm = (name: string | undefined) => (name && keys.has(`configmap/${name}`) ? `${name}-primary` : name);
  const sec = (name: string | undefined) => (name && keys.has(`secret/${name}`) ? `${name}-primary` : name);
  const spec: V1PodSpec | undefined = copy.spec;
  for (const volume of spec?.volumes ?? []) {
    if (volume.configMap) volume.configMap.name = cm(volume.configMap.name);
    if (volume.secret) volume.secret.secretName = sec(volume.secret.secretName);
    for (const source of volume.projected?.sources ?? []) {
      if (source.configMap) source.configMap.name = cm(source.configMap.name);
      if (source.secret) source.secret.name = sec(source.secret.name);
    }
  }
  for (const container of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
    for (const env of container.env ?? []) {
      const cmRef = env.valueFrom?.configMapKeyRef;
      if (cmRef) cmRef.name = cm(cmRef.name) ?? cmRef.name;
      const secretRef = env.valueFrom?.secretKeyRef;
      if (secretRef) secretRef.name = sec(secretRef.name) ?? secretRef.name;
    }
    for (const from of container.envFrom ?? []) {
      if (from.configMapRef) from.configMapRef.name = cm(from.configMapRef.name);
      if (from.secretRef) from.secretRef.name = sec(from.secretRef.name);
    }
  }
  return copy;
}

export interface ConfigDeps {
  api: KubeApi;
  configs: ConfigCaches;
}

const views = new WeakMap<CacheReader<KubeObject>, WriteThroughCache<KubeObject>>();

function viewOf(cache: CacheReader<KubeObject>): WriteThroughCache<KubeObject> {
  let view = views.get(cache);
  if (!view) {
    view = new WriteThroughCache(cache);
    views.set(cache, view);
  }
  return view;
}

/**
 * Copies each tracked ConfigMap/Secret the template uses to `<name>-primary` (owned by the Canary).
 * Missing copies are always created; existing ones are brought up to date only with `update: true`
 * (at promotion: during a rollout the primary keeps its own configs). Writes only what differs.
 * Returns the tracked keys, for `rewriteConfigRefs`.
 */
export async function ensurePrimaryConfigs(
  deps: ConfigDeps,
  canary: Canary,
  template: V1PodTemplateSpec,
  opts: { update: boolean },
): Promise<{ trackedKeys: string[]; writes: number }> {
  const namespace = canary.metadata.namespace ?? '';
  const hashes = trackedConfigHashes(namespace, template, deps.configs);
  let writes = 0;
  for (const key of Object.keys(hashes).sort()) {
    const [kind, name] = key.split('/') as ['configmap' | 'secret', string];
    const resource: ResourceKind = kind === 'configmap' ? RESOURCES.configMap : RESOURCES.secret;
    const cache = (
      kind === 'configmap' ? deps.configs.configMaps : deps.configs.secrets
    ) as CacheReader<KubeObject>;
    const source = cache.get(namespace, name) as (ConfigMap & Secret) | undefined;
    if (!source) continue;
    const content: Record<string, unknown> =
      kind === 'configmap'
        ? { data: source.data, binaryData: source.binaryData }
        : { type: source.type, data: source.data };
    const desired = {
      apiVersion: 'v1',
      kind: resource.kind,
      metadata: {
        name: `${name}-primary`,
        namespace,
        labels: managedLabels(),
        ownerReferences: [canaryOwnerReference(canary)],
      },
      ...structuredClone(content),
    } as KubeObject;
    const view = viewOf(cache);
    const actual = view.get(namespace, `${name}-primary`) as Record<string, unknown> | undefined;
    if (!actual) {
      view.remember(await deps.api.create(resource, desired));
      writes++;
      continue;
    }
    assertOwnedBy(actual as KubeObject, canary, resource.kind);
    if (!opts.update) continue;
    const current = Object.fromEntries(Object.keys(content).map((k) => [k, actual[k]]));
    const patch: Record<string, unknown> = {
      ...((mergePatchDiff(current, content) as object | undefined) ?? {}),
    };
    const meta = ownershipPatch(actual as KubeObject, canary);
    if (meta) patch.metadata = meta;
    if (!Object.keys(patch).length) continue;
    await patchOrCreate(deps.api, resource, view, patch, desired);
    writes++;
  }
  return { trackedKeys: Object.keys(hashes), writes };
}
