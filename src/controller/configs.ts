import { createHash } from 'node:crypto';
import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import type { CanaryStatus } from '../api/canary.ts';
import { canonicalJson } from '../kube/canonical.ts';
import { type ConfigCaches, configRefs, type Secret, trackedConfigHashes } from '../kube/configs.ts';
import type { CacheReader } from '../kube/informer.ts';
import type { KubeObject } from '../kube/types.ts';
import type { Deployment } from '../kube/workloads.ts';
import { ReverseIndex } from '../lib/reverse-index.ts';
import { splitKey } from './keys.ts';
import type { TargetIndex } from './target-index.ts';

/**
 * On the primary's pod template: a digest of the tracked config hashes it was promoted with. A change
 * that only touches a ConfigMap/Secret leaves the template itself alone, so without it the primary's
 * pods would not restart at promotion (env from configs would stay old) and the primary could not be
 * told apart from the target's new revision.
 */
export const CONFIG_CHECKSUM_ANNOTATION = 'petrel.dev/config-checksum';

export type ConfigKind = 'configmap' | 'secret';

/** A Secret cache that is always empty: Secrets are then left out of tracking (no list/watch on them). */
export const NO_SECRETS: CacheReader<Secret> = { get: () => undefined, list: () => [] };

/** `trackedConfigHashes` of the target's pod template; `{}` when config tracking is off. */
export function targetConfigHashes(
  target: Deployment,
  configs: ConfigCaches | undefined,
): Record<string, string> {
  if (!configs) return {};
  return trackedConfigHashes(target.metadata?.namespace ?? '', target.spec?.template ?? {}, configs);
}

/** The template with CONFIG_CHECKSUM_ANNOTATION set from `hashes`; unchanged when nothing is tracked. */
export function withConfigChecksum(
  template: V1PodTemplateSpec,
  hashes: Record<string, string>,
): V1PodTemplateSpec {
  if (Object.keys(hashes).length === 0) return template;
  const checksum = createHash('sha256').update(canonicalJson(hashes)).digest('hex');
  return {
    ...template,
    metadata: {
      ...template.metadata,
      annotations: { ...template.metadata?.annotations, [CONFIG_CHECKSUM_ANNOTATION]: checksum },
    },
  };
}

/** The target as the primary is built from it: its template carries the config checksum. */
export function withConfigChecksumTarget(target: Deployment, hashes: Record<string, string>): Deployment {
  if (Object.keys(hashes).length === 0 || !target.spec?.template) return target;
  return { ...target, spec: { ...target.spec, template: withConfigChecksum(target.spec.template, hashes) } };
}

/**
 * status.trackedConfigs names the config hashes of the revision in status.lastAppliedSpec: set from
 * what was observed once the decision adopted the observed revision, kept as it was otherwise (e.g.
 * while confirm-rollout holds a new revision back).
 */
export function withTrackedConfigs(
  status: CanaryStatus,
  observedRevision: string,
  hashes: Record<string, string>,
): CanaryStatus {
  if (status.lastAppliedSpec !== observedRevision) return status;
  const { trackedConfigs: _previous, ...rest } = status;
  return Object.keys(hashes).length > 0 ? { ...rest, trackedConfigs: { ...hashes } } : rest;
}

/**
 * Maps each ConfigMap and Secret a target's pod template uses to the canaries of that target, so a
 * config change wakes exactly those canaries. Keys are canary keys (`namespace/name`).
 */
export class ConfigIndex {
  private readonly index = new ReverseIndex();

  /** What the canary's target template uses now (undefined when the target is not known). */
  set(namespace: string, canaryName: string, template: V1PodTemplateSpec | undefined): void {
    const refs = template ? configRefs(template) : { configMaps: [], secrets: [] };
    this.index.set(`${namespace}/${canaryName}`, [
      ...refs.configMaps.map((name) => configKey(namespace, 'configmap', name)),
      ...refs.secrets.map((name) => configKey(namespace, 'secret', name)),
    ]);
  }

  remove(namespace: string, canaryName: string): void {
    this.index.remove(`${namespace}/${canaryName}`);
  }

  canariesFor(namespace: string, kind: ConfigKind, name: string): string[] {
    return this.index.ownersOf(configKey(namespace, kind, name));
  }

  /** How many configs are indexed (for tests and metrics). */
  get size(): number {
    return this.index.size;
  }
}

function configKey(namespace: string, kind: ConfigKind, name: string): string {
  return `${namespace}/${kind}/${name}`;
}

/** An informer cache with its events (NamespacedInformers fits). */
export interface WatchedCache<T> extends CacheReader<T> {
  on(event: 'add' | 'update' | 'delete', fn: (obj: T) => void): void;
}

interface CanaryRef extends KubeObject {
  spec?: { targetRef?: { name?: unknown } };
}

/**
 * Wakes a canary within a second when a ConfigMap or Secret its target uses changes: keeps a
 * ConfigIndex in line with the canaries and their targets' templates (all read from the caches) and
 * enqueues the canaries of each changed config. Returns the index.
 */
export function wakeOnConfigChanges(deps: {
  canaries: WatchedCache<CanaryRef>;
  deployments: WatchedCache<Deployment>;
  configMaps: WatchedCache<KubeObject>;
  secrets?: WatchedCache<KubeObject>;
  /** Which canaries look at a Deployment; kept up to date by whoever follows the canaries (the controller). */
  targets: Pick<TargetIndex, 'canariesFor'>;
  enqueue: (key: string) => void;
}): ConfigIndex {
  const index = new ConfigIndex();
  const follow = (namespace: string, canaryName: string) => {
    const target = deps.canaries.get(namespace, canaryName)?.spec?.targetRef?.name;
    const template =
      typeof target === 'string' ? deps.deployments.get(namespace, target)?.spec?.template : undefined;
    index.set(namespace, canaryName, template);
  };
  const onCanary = (obj: CanaryRef) => follow(obj.metadata?.namespace ?? '', obj.metadata?.name ?? '');
  deps.canaries.on('add', onCanary);
  deps.canaries.on('update', onCanary);
  deps.canaries.on('delete', (obj) => index.remove(obj.metadata?.namespace ?? '', obj.metadata?.name ?? ''));
  // A Deployment event costs a lookup in the target index, not a pass over the namespace's canaries.
  const onDeployment = (obj: Deployment) => {
    for (const key of deps.targets.canariesFor(obj.metadata?.namespace ?? '', obj.metadata?.name ?? '')) {
      const { namespace, name } = splitKey(key);
      follow(namespace, name);
    }
  };
  const onConfig = (kind: ConfigKind) => (obj: KubeObject) => {
    for (const key of index.canariesFor(obj.metadata?.namespace ?? '', kind, obj.metadata?.name ?? ''))
      deps.enqueue(key);
  };
  for (const event of ['add', 'update', 'delete'] as const) {
    deps.deployments.on(event, onDeployment);
    deps.configMaps.on(event, onConfig('configmap'));
    deps.secrets?.on(event, onConfig('secret'));
  }
  return index;
}
