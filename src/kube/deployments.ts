import type {
  V1DeploymentSpec,
  V1DeploymentStatus,
  V1PodTemplateSpec,
  V2HorizontalPodAutoscalerSpec,
} from '@kubernetes/client-node';
import type { Canary } from '../api/canary.ts';
import { mergePatchDiff } from './canonical.ts';
import type { KubeApi, KubeObject } from './client.ts';
import { type ConfigCaches, ensurePrimaryConfigs, rewriteConfigRefs } from './configs.ts';
import type { CacheReader } from './informer.ts';
import { assertOwnedBy, canaryOwnerReference, managedLabels, ownershipPatch } from './ownership.ts';
import { RESOURCES } from './resources.ts';
import { LAST_APPLIED } from './slim.ts';
import { patchOrCreate, WriteThroughCache } from './write-through.ts';

/** A Deployment as plain JSON. Pod templates are passed through untouched. */
export interface Deployment extends KubeObject {
  spec?: V1DeploymentSpec;
  status?: V1DeploymentStatus;
}

export interface HorizontalPodAutoscaler extends KubeObject {
  spec?: V2HorizontalPodAutoscalerSpec;
}

/** Selector labels looked for, in order, to name the primary's pods (as Flagger does). */
export const SELECTOR_LABELS = ['app', 'name', 'app.kubernetes.io/name'] as const;

export function primaryName(targetName: string): string {
  return `${targetName}-primary`;
}

export function canaryName(targetName: string): string {
  return `${targetName}-canary`;
}

export class SelectorLabelError extends Error {
  override readonly name = 'SelectorLabelError';
  readonly code = 'NO_SELECTOR_LABEL';
  constructor(namespace: string, name: string) {
    super(
      `Deployment ${namespace}/${name}: spec.selector.matchLabels must contain one of ` +
        `${SELECTOR_LABELS.join(', ')} so Petrel can select primary and canary pods apart`,
    );
  }
}

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

export interface SelectorLabel {
  key: string;
  /** The target's value, e.g. `podinfo`; the primary's is `<value>-primary`. */
  value: string;
}

export function selectorLabel(target: Deployment): SelectorLabel {
  const match = target.spec?.selector?.matchLabels ?? {};
  for (const key of SELECTOR_LABELS) {
    const value = match[key];
    if (value) return { key, value };
  }
  throw new SelectorLabelError(target.metadata?.namespace ?? '', target.metadata?.name ?? '');
}

/** Rewrites the selector label of a pod template to the primary's value; everything else is copied. */
export function primaryTemplate(template: V1PodTemplateSpec, label: SelectorLabel): V1PodTemplateSpec {
  const copy = structuredClone(template);
  copy.metadata = {
    ...copy.metadata,
    labels: { ...copy.metadata?.labels, [label.key]: `${label.value}-primary` },
  };
  return copy;
}

/** Annotations kubectl and other tools put on the target that must not be copied to the primary. */
function filterAnnotations(
  annotations: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (!annotations) return undefined;
  const out = Object.fromEntries(
    Object.entries(annotations).filter(
      ([k]) => k !== LAST_APPLIED && !k.startsWith('deployment.kubernetes.io/'),
    ),
  );
  return Object.keys(out).length ? out : undefined;
}

/** The spec fields copied from the target besides the template (they shape how the primary rolls out). */
function rolloutSettings(target: Deployment): Partial<V1DeploymentSpec> {
  const s = target.spec;
  return {
    progressDeadlineSeconds: s?.progressDeadlineSeconds,
    minReadySeconds: s?.minReadySeconds,
    revisionHistoryLimit: s?.revisionHistoryLimit,
    strategy: s?.strategy,
  };
}

/**
 * The pod template the primary runs for a given target template: selector label `<value>-primary`, and
 * references to tracked ConfigMaps/Secrets (keys from `trackedConfigHashes`) pointed at their copies.
 */
export function expectedPrimaryTemplate(
  target: Deployment,
  template: V1PodTemplateSpec,
  trackedConfigKeys: Iterable<string> = [],
): V1PodTemplateSpec {
  return primaryTemplate(rewriteConfigRefs(template, trackedConfigKeys), selectorLabel(target));
}

/**
 * The primary Deployment `<target>-primary` for a Canary: a copy of the target's pod template whose
 * selector label is rewritten to `<value>-primary` (so primary and canary pods are selected apart),
 * owned by the Canary (controller reference) and labelled `petrel.dev/managed-by: petrel`. With tracked
 * config keys, the template uses the `<name>-primary` copies of those ConfigMaps/Secrets.
 */
export function buildPrimaryDeployment(
  canary: Canary,
  target: Deployment,
  trackedConfigKeys: Iterable<string> = [],
): Deployment {
  const label = selectorLabel(target);
  const targetName = target.metadata?.name ?? canary.spec.targetRef.name;
  const replicas = target.spec?.replicas && target.spec.replicas > 0 ? target.spec.replicas : 1;
  const labels = { ...target.metadata?.labels, ...managedLabels(), [label.key]: `${label.value}-primary` };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: primaryName(targetName),
      namespace: canary.metadata.namespace ?? target.metadata?.namespace,
      labels,
      annotations: filterAnnotations(target.metadata?.annotations),
      ownerReferences: [canaryOwnerReference(canary)],
    },
    spec: {
      ...rolloutSettings(target),
      replicas,
      selector: { matchLabels: { [label.key]: `${label.value}-primary` } },
      template: primaryTemplate(rewriteConfigRefs(target.spec?.template ?? {}, trackedConfigKeys), label),
    },
  };
}

export interface DeploymentDeps {
  api: KubeApi;
  deployments: CacheReader<Deployment>;
  /**
   * HPA cache. When given, scaleTarget leaves replicas to an HPA that targets the Deployment, and
   * ensurePrimary keeps `<autoscaler>-primary` (a copy of spec.autoscalerRef's HPA aimed at the primary).
   */
  hpas?: CacheReader<HorizontalPodAutoscaler>;
  /**
   * ConfigMap and Secret caches. When given, the primary runs on `<name>-primary` copies of the configs
   * its template uses: created with the primary, updated at promotion (see configs.ts).
   */
  configs?: ConfigCaches;
}

export class AutoscalerNotFoundError extends Error {
  override readonly name = 'AutoscalerNotFoundError';
  readonly code = 'AUTOSCALER_NOT_FOUND';
  constructor(namespace: string, name: string) {
    super(`HorizontalPodAutoscaler ${namespace}/${name} (spec.autoscalerRef.name) does not exist`);
  }
}

/** `<autoscaler>-primary`: the target's HPA spec aimed at the primary Deployment, owned by the Canary. */
export function buildPrimaryAutoscaler(
  canary: Canary,
  hpa: HorizontalPodAutoscaler,
): HorizontalPodAutoscaler {
  const spec = structuredClone(
    hpa.spec ?? { maxReplicas: 1, scaleTargetRef: { kind: 'Deployment', name: '' } },
  );
  spec.scaleTargetRef = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    name: primaryName(canary.spec.targetRef.name),
  };
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: {
      name: primaryName(hpa.metadata?.name ?? ''),
      namespace: canary.metadata.namespace,
      labels: managedLabels(),
      ownerReferences: [canaryOwnerReference(canary)],
    },
    spec,
  };
}

/**
 * Keeps `<autoscaler>-primary` in line with the HPA named by spec.autoscalerRef (min/max replicas,
 * metrics, behavior), creating it when missing. Does nothing without autoscalerRef.
 */
export async function ensurePrimaryAutoscaler(
  deps: Required<Pick<DeploymentDeps, 'api' | 'hpas'>>,
  canary: Canary,
): Promise<WriteAction> {
  const ref = canary.spec.autoscalerRef;
  if (!ref) return 'unchanged';
  const ns = namespaceOf(canary);
  const source = deps.hpas.get(ns, ref.name);
  if (!source) throw new AutoscalerNotFoundError(ns, ref.name);
  const desired = buildPrimaryAutoscaler(canary, source);
  const name = desired.metadata?.name ?? '';
  const view = hpaView(deps.hpas);
  const actual = view.get(ns, name);
  if (!actual) {
    view.remember(await deps.api.create(RESOURCES.horizontalPodAutoscaler, desired));
    return 'created';
  }
  assertOwnedBy(actual, canary, 'HorizontalPodAutoscaler');
  const patch: Record<string, unknown> = {};
  const specPatch = mergePatchDiff(actual.spec ?? {}, desired.spec ?? {});
  if (specPatch !== undefined) patch.spec = specPatch;
  const meta = ownershipPatch(actual, canary);
  if (meta) patch.metadata = meta;
  if (!Object.keys(patch).length) return 'unchanged';
  view.remember(
    await deps.api.mergePatch<HorizontalPodAutoscaler>(
      { resource: RESOURCES.horizontalPodAutoscaler, namespace: ns, name },
      patch,
    ),
  );
  return 'patched';
}

const hpaWriteThrough = new WeakMap<
  CacheReader<HorizontalPodAutoscaler>,
  WriteThroughCache<HorizontalPodAutoscaler>
>();

function hpaView(cache: CacheReader<HorizontalPodAutoscaler>): WriteThroughCache<HorizontalPodAutoscaler> {
  let view = hpaWriteThrough.get(cache);
  if (!view) {
    view = new WriteThroughCache(cache);
    hpaWriteThrough.set(cache, view);
  }
  return view;
}

export type WriteAction = 'created' | 'patched' | 'unchanged';

const writeThrough = new WeakMap<CacheReader<Deployment>, WriteThroughCache<Deployment>>();

function deploymentView(deps: DeploymentDeps): WriteThroughCache<Deployment> {
  let view = writeThrough.get(deps.deployments);
  if (!view) {
    view = new WriteThroughCache(deps.deployments);
    writeThrough.set(deps.deployments, view);
  }
  return view;
}

function namespaceOf(canary: Canary): string {
  const ns = canary.metadata.namespace;
  if (!ns) throw new TypeError(`Canary ${canary.metadata.name} has no metadata.namespace`);
  return ns;
}

function targetOf(deps: DeploymentDeps, canary: Canary): Deployment {
  const ns = namespaceOf(canary);
  const target = deploymentView(deps).get(ns, canary.spec.targetRef.name);
  if (!target) throw new TargetNotFoundError(ns, canary.spec.targetRef.name);
  return target;
}

/**
 * Creates the primary Deployment when it does not exist. When it does, only Petrel's label and owner
 * reference and the rollout settings copied from the target are kept in line; its pod template changes
 * only through `promotePrimary`. Reads come from the cache; at most one write (plus the primary HPA when
 * `deps.hpas` is given and the Canary has an autoscalerRef).
 */
export async function ensurePrimary(
  deps: DeploymentDeps,
  canary: Canary,
  target?: Deployment,
): Promise<{ action: WriteAction; deployment: Deployment }> {
  const view = deploymentView(deps);
  const ns = namespaceOf(canary);
  const source = target ?? targetOf(deps, canary);
  const trackedKeys = deps.configs
    ? (
        await ensurePrimaryConfigs(
          { api: deps.api, configs: deps.configs },
          canary,
          source.spec?.template ?? {},
          {
            update: false,
          },
        )
      ).trackedKeys
    : [];
  const desired = buildPrimaryDeployment(canary, source, trackedKeys);
  if (deps.hpas) await ensurePrimaryAutoscaler({ api: deps.api, hpas: deps.hpas }, canary);
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
  const trackedKeys = deps.configs
    ? (
        await ensurePrimaryConfigs({ api: deps.api, configs: deps.configs }, canary, template, {
          update: true,
        })
      ).trackedKeys
    : [];
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

/** The HPA (if any) whose scaleTargetRef is this Deployment. */
export function autoscalerFor(
  hpas: CacheReader<HorizontalPodAutoscaler> | undefined,
  namespace: string,
  deploymentName: string,
): HorizontalPodAutoscaler | undefined {
  return hpas
    ?.list(namespace)
    .find(
      (h) => h.spec?.scaleTargetRef?.kind === 'Deployment' && h.spec.scaleTargetRef.name === deploymentName,
    );
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

export interface Readiness {
  ready: boolean;
  /** Why it is not ready (or 'ready'); `ProgressDeadlineExceeded` when Kubernetes gave up on the rollout. */
  reason: string;
  /** True when Kubernetes reports the rollout exceeded its progress deadline. */
  deadlineExceeded: boolean;
}

/** Whether a Deployment's latest revision is fully rolled out and available. Pure. */
export function isDeploymentReady(d: Deployment): Readiness {
  const name = `${d.metadata?.namespace ?? ''}/${d.metadata?.name ?? ''}`;
  const spec = d.spec;
  const status = d.status ?? {};
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return {
      ready: false,
      deadlineExceeded: true,
      reason: `Deployment ${name} exceeded its progress deadline: ${progressing.message ?? 'rollout stalled'}`,
    };
  }
  const generation = d.metadata?.generation ?? 0;
  if ((status.observedGeneration ?? 0) < generation) {
    return {
      ready: false,
      deadlineExceeded: false,
      reason: `waiting for Deployment ${name} spec update to be observed`,
    };
  }
  const desired = spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < desired) {
    return {
      ready: false,
      deadlineExceeded: false,
      reason: `waiting for Deployment ${name} rollout: ${updated} of ${desired} updated replicas`,
    };
  }
  if (total > updated) {
    return {
      ready: false,
      deadlineExceeded: false,
      reason: `waiting for Deployment ${name} rollout: ${total - updated} old replicas pending termination`,
    };
  }
  if (available < desired) {
    return {
      ready: false,
      deadlineExceeded: false,
      reason: `waiting for Deployment ${name} rollout: ${available} of ${desired} replicas available`,
    };
  }
  return { ready: true, deadlineExceeded: false, reason: 'ready' };
}
