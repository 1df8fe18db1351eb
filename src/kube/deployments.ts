import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import type { Canary } from '../api/canary.ts';
import { autoscalerFor } from './autoscaler.ts';
import { mergePatchDiff } from './canonical.ts';
import { type ConfigCaches, ensurePrimaryConfigs } from './configs.ts';
import type { CacheReader } from './informer.ts';
import { namespaceOf, primaryName } from './names.ts';
import { assertOwnedBy, ownershipPatch } from './ownership.ts';
import { buildPrimaryDeployment, expectedPrimaryTemplate, rolloutSettings } from './primary-builders.ts';
import { RESOURCES } from './resources.ts';
import type { KubeApi } from './types.ts';
import type { Deployment, HorizontalPodAutoscaler, WriteAction } from './workloads.ts';
import { patchOrCreate, type WriteThroughCache, writeThroughView } from './write-through.ts';

export class TargetNotFoundError extends Error {
  override readonly name = 'TargetNotFoundError';
  readonly code = 'TARGET_NOT_FOUND';
  constructor(
    readonly namespace: string,
    readonly targetName: string,
  ) {
    super(`target Deployment ${namespace}/${targetName} (spec.targetRef.name) does not exist`);
  }
}

export interface DeploymentDeps {
  api: KubeApi;
  deployments: CacheReader<Deployment>;
  /**
   * HPA cache. When given, scaleTarget leaves replicas to an HPA that targets the Deployment (the
   * primary's own HPA is kept by `ensurePrimaryAutoscaler`, autoscaler.ts).
   */
  hpas?: CacheReader<HorizontalPodAutoscaler>;
  /**
   * ConfigMap and Secret caches. When given, the primary runs on `<name>-primary` copies of the configs
   * its template uses: created with the primary, updated at promotion (see configs.ts).
   */
  configs?: ConfigCaches;
}

function deploymentView(deps: DeploymentDeps): WriteThroughCache<Deployment> {
  return writeThroughView(deps.deployments);
}

function targetOf(deps: DeploymentDeps, canary: Canary): Deployment {
  const ns = namespaceOf(canary);
  const target = deploymentView(deps).get(ns, canary.spec.targetRef.name);
  if (!target) throw new TargetNotFoundError(ns, canary.spec.targetRef.name);
  return target;
}

/**
 * The config keys the primary's template tracks once its config copies exist (and, with `update`, are
 * up to date); none without `deps.configs`.
 */
async function primaryConfigKeys(
  deps: DeploymentDeps,
  canary: Canary,
  template: V1PodTemplateSpec,
  update: boolean,
): Promise<string[]> {
  if (!deps.configs) return [];
  const copies = await ensurePrimaryConfigs({ api: deps.api, configs: deps.configs }, canary, template, {
    update,
  });
  return copies.trackedKeys;
}

/**
 * Creates the primary Deployment when it does not exist. When it does, only Petrel's label and owner
 * reference and the rollout settings copied from the target are kept in line; its pod template changes
 * only through `promotePrimary`. Reads come from the cache; at most one write (plus the config copies
 * with `deps.configs`). The primary's HPA is the state machine's own action (`syncPrimaryAutoscaler`).
 */
export async function ensurePrimary(
  deps: DeploymentDeps,
  canary: Canary,
  target?: Deployment,
): Promise<{ action: WriteAction; deployment: Deployment }> {
  const view = deploymentView(deps);
  const ns = namespaceOf(canary);
  const source = target ?? targetOf(deps, canary);
  const trackedKeys = await primaryConfigKeys(deps, canary, source.spec?.template ?? {}, false);
  const desired = buildPrimaryDeployment(canary, source, trackedKeys);
  const name = desired.metadata?.name ?? '';
  const actual = view.get(ns, name);
  if (!actual) {
    const created = await deps.api.create(RESOURCES.deployment, desired);
    view.remember(created);
    return { action: 'created', deployment: created };
  }
  assertOwnedBy(actual, canary, 'Deployment');
  const patch: Record<string, unknown> = {};
  const meta = ownershipPatch(actual, canary);
  if (meta) patch.metadata = meta;
  const settings = rolloutSettings(source);
  const current = rolloutSettings(actual);
  const specPatch = mergePatchDiff(current, settings);
  if (specPatch !== undefined) patch.spec = specPatch;
  if (!Object.keys(patch).length) return { action: 'unchanged', deployment: actual };
  const patched = await patchOrCreate(deps.api, RESOURCES.deployment, view, patch, desired);
  return { action: 'patched', deployment: patched };
}

/**
 * Copies a pod template (the target's, i.e. the canary version) to the primary, with the primary's
 * selector label (and, with `deps.configs`, its config copies brought up to date first). Writes only
 * when the primary's template differs.
 */
export async function promotePrimary(
  deps: DeploymentDeps,
  canary: Canary,
  template: V1PodTemplateSpec,
): Promise<{ action: WriteAction; deployment: Deployment }> {
  const view = deploymentView(deps);
  const ns = namespaceOf(canary);
  const target = targetOf(deps, canary);
  const name = primaryName(canary.spec.targetRef.name);
  const actual = view.get(ns, name);
  if (!actual) throw new TargetNotFoundError(ns, name);
  assertOwnedBy(actual, canary, 'Deployment');
  const trackedKeys = await primaryConfigKeys(deps, canary, template, true);
  const desiredTemplate = expectedPrimaryTemplate(target, template, trackedKeys);
  const patch: Record<string, unknown> = {};
  const templatePatch = mergePatchDiff(actual.spec?.template ?? {}, desiredTemplate);
  const settingsPatch = mergePatchDiff(rolloutSettings(actual), rolloutSettings(target));
  if (templatePatch !== undefined || settingsPatch !== undefined) {
    patch.spec = {
      ...(settingsPatch as object | undefined),
      ...(templatePatch !== undefined ? { template: templatePatch } : {}),
    };
  }
  const meta = ownershipPatch(actual, canary);
  if (meta) patch.metadata = meta;
  if (!Object.keys(patch).length) return { action: 'unchanged', deployment: actual };
  const patched = await deps.api.mergePatch<Deployment>(
    { resource: RESOURCES.deployment, namespace: ns, name },
    patch,
  );
  view.remember(patched);
  return { action: 'patched', deployment: patched };
}

/**
 * Sets the target's (the canary workload's) spec.replicas with a merge patch on that field only — the one
 * write Petrel makes to an object it does not own. When an HPA targets the Deployment and it is already
 * running, replicas are left to the HPA; scaling to zero is always done (an HPA does not act on a
 * Deployment at zero, and does not scale it up from zero either).
 */
export async function scaleTarget(
  deps: DeploymentDeps,
  canary: Canary,
  replicas: number,
): Promise<{ action: WriteAction; reason: string }> {
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw new RangeError(`replicas must be a non-negative integer (got ${replicas})`);
  }
  const view = deploymentView(deps);
  const ns = namespaceOf(canary);
  const target = targetOf(deps, canary);
  const name = canary.spec.targetRef.name;
  const current = target.spec?.replicas ?? 1;
  const hpa = autoscalerFor(deps.hpas, ns, name);
  if (replicas > 0 && hpa && current > 0) {
    return {
      action: 'unchanged',
      reason: `HorizontalPodAutoscaler ${hpa.metadata?.name} manages the replicas`,
    };
  }
  if (target.spec?.replicas === replicas) return { action: 'unchanged', reason: `already at ${replicas}` };
  const patched = await deps.api.mergePatch<Deployment>(
    { resource: RESOURCES.deployment, namespace: ns, name },
    { spec: { replicas } },
  );
  view.remember(patched);
  return { action: 'patched', reason: `scaled from ${target.spec?.replicas ?? 'default'} to ${replicas}` };
}
