import type { Logger } from 'pino';
import type { AnalysisStatus } from '../api/analysis-spec.ts';
import { type Canary, validateCanary } from '../api/canary.ts';
import type { DeploymentDeps } from '../kube/deployments.ts';
import { isKubeApiError } from '../kube/errors.ts';
import type { CacheReader } from '../kube/informer.ts';
import { primaryName, SelectorLabelError } from '../kube/names.ts';
import { ObjectNotOwnedError } from '../kube/ownership.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { KubeApi, KubeObject } from '../kube/types.ts';
import type { Deployment } from '../kube/workloads.ts';
import { WriteThroughCache } from '../kube/write-through.ts';
import type { Clock } from '../lib/clock.ts';
import {
  type CheckObservation,
  decide,
  type Observations,
  planObservations,
  withCondition,
  withKstatusConditions,
} from '../rollout/index.ts';
import type { FreezeObservation } from '../rollout/windows.ts';
import type { Router } from '../routers/router.ts';
import type { HookObserver } from '../webhooks/gates.ts';
import { targetConfigHashes, withTrackedConfigs } from './configs.ts';
import { crossNamespaceRefProblems, withoutCrossNamespaceAlerts } from './cross-namespace.ts';
import { type EventSink, execute } from './executor.ts';
import { splitKey } from './keys.ts';
import { observePrimary, observeTarget } from './observe.ts';
import { type ReconcileResult, TerminalError } from './queue.ts';
import { statusPatch } from './status-patch.ts';

export interface ReconcilerDeps {
  api: KubeApi;
  canaries: CacheReader<KubeObject>;
  deployments: DeploymentDeps;
  routerFor: (canary: Canary) => Router;
  /** spec.provider for canaries that do not set it. */
  defaultProvider?: Canary['spec']['provider'];
  events: EventSink;
  /** Runs the canary's metric checks; called only when a step is due. `analysis`: status.analysis after them. */
  runChecks: (canary: Canary, now: Date) => Promise<CheckObservation[] & { analysis?: AnalysisStatus }>;
  /** Problems of a valid spec with the objects it refers to (a relative check's template): InvalidSpec. */
  specProblems?: (canary: Canary) => string[];
  clock: Clock;
  logger: Logger;
  /** Webhook gates and the manual-action annotation; without it, neither is consulted. */
  hooks?: HookObserver;
  /** Refuse templateRef/providerRef to another namespace (--no-cross-namespace-refs). */
  noCrossNamespaceRefs?: boolean;
  /** The ReleaseFreezes that select a canary; without it, no freeze holds any canary. */
  freezes?: (canary: Canary) => FreezeObservation[];
}

/** The target Deployment does not exist (yet): retried with backoff, and at once when it appears. */
export class TargetMissingError extends Error {
  override readonly name = 'TargetMissingError';
  readonly code = 'TARGET_MISSING';
}

const INVALID_SPEC = 'InvalidSpec';

type RawCanary = KubeObject & { status?: { conditions?: unknown; observedGeneration?: unknown } };

/**
 * One reconcile of one Canary: reads only from the caches, decides with the pure state machine, runs
 * the actions, and writes status last (only what changed). Never touches any other Canary.
 */
export class CanaryReconciler {
  private readonly canaries: WriteThroughCache<KubeObject>;

  constructor(private readonly deps: ReconcilerDeps) {
    this.canaries = new WriteThroughCache(deps.canaries);
  }

  readonly reconcile = async (key: string): Promise<ReconcileResult | undefined> => {
    const { namespace, name } = splitKey(key);
    const raw = this.canaries.get(namespace, name) as RawCanary | undefined;
    // A Canary being deleted is left alone: there is no finalizer work, and acting would re-create the
    // objects the garbage collector is removing and alert every channel about it.
    if (!raw || raw.metadata?.deletionTimestamp) return undefined;
    const log = this.deps.logger.child({ canary: key });

    const validation = validateCanary(this.withDefaultProvider(raw));
    if (!validation.ok) {
      const message = validation.issues
        .map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))
        .join('; ');
      await this.reportInvalid(raw, message, log);
      throw new TerminalError(`invalid Canary ${key}: ${message}`);
    }
    const refProblems = [
      ...(this.deps.noCrossNamespaceRefs ? crossNamespaceRefProblems(validation.value) : []),
      ...(this.deps.specProblems?.(validation.value) ?? []),
    ];
    if (refProblems.length > 0) {
      const message = refProblems.join('; ');
      await this.reportInvalid(withoutCrossNamespaceAlerts(raw), message, log);
      throw new TerminalError(`invalid Canary ${key}: ${message}`);
    }
    const canary = this.withoutInvalidSpec(validation.value);
    const now = this.deps.clock.now();

    const targetName = canary.spec.targetRef.name;
    const target = this.deps.deployments.deployments.get(namespace, targetName);
    if (!target) {
      const message = `target Deployment ${namespace}/${targetName} (spec.targetRef.name) was not found: create it or fix the name`;
      await this.recordEvent(canary, 'Warning', 'TargetNotFound', message, log);
      throw new TargetMissingError(message);
    }

    const router = this.deps.routerFor(canary);
    const configHashes = targetConfigHashes(target, this.deps.deployments.configs);
    let obs: Observations;
    try {
      const primary = this.deps.deployments.deployments.get(namespace, primaryName(targetName));
      obs = {
        target: observeTarget(target, configHashes),
        ...(primary ? { primary: observePrimary(primary, target, configHashes) } : {}),
        ...(routesOf(router, canary) ?? {}),
        ...(this.deps.freezes ? { freezes: this.deps.freezes(canary) } : {}),
      };
    } catch (err) {
      if (err instanceof SelectorLabelError) {
        await this.recordEvent(canary, 'Warning', 'InvalidTarget', err.message, log);
        throw new TerminalError(err.message, { cause: err });
      }
      throw err;
    }
    const plan = planObservations(canary, now, obs.target.revision);
    const hooks = this.deps.hooks?.observe(
      key,
      canary,
      { webhooks: plan.webhooks ?? [], checks: plan.checks },
      now,
      obs.target.revision,
    );
    if (hooks?.webhooks) obs.webhooks = hooks.webhooks;
    if (hooks?.manual) obs.manual = hooks.manual;
    // While a due webhook has not answered, the tick holds and Prometheus is not asked either.
    if (plan.checks && !hooks?.pending) {
      const checks = await this.deps.runChecks(canary, now);
      obs.checks = [...checks, ...(hooks?.rolloutChecks ?? [])];
      if (checks.analysis) obs.analysis = checks.analysis;
    }

    // Checks and webhooks take time: a Canary deleted meanwhile gets none of this decision's effects.
    if (this.isGone(namespace, name, raw)) return undefined;
    const decision = decide(canary, obs, now);
    decision.status = withKstatus(
      withTrackedConfigs(decision.status, obs.target.revision, configHashes),
      now,
    );
    // Events carry the status they report on, so notifications show the new phase and weight.
    const events: EventSink = {
      record: (c, type, reason, message) =>
        this.deps.events.record({ ...c, status: decision.status }, type, reason, message),
    };
    let cleared = false;
    try {
      const report = await execute(
        { deployments: this.deps.deployments, router, events, logger: log },
        canary,
        target,
        decision.actions,
      );
      if (report.canary) {
        this.canaries.remember(report.canary);
        cleared = true;
      }
      const patch = statusPatch(raw.status as Canary['status'], decision.status);
      if (patch && !(await this.patchStatus(namespace, name, patch))) return undefined;
      this.deps.hooks?.afterDecision(key, canary, decision.status);
      const changed = patch !== undefined || report.writes.length > 0;
      const fields = {
        phase: decision.status.phase,
        weight: decision.status.canaryWeight,
        reason: decision.reason.code,
        writes: report.writes,
        requeueAfterMs: decision.requeueAfterMs,
        ...(obs.checks
          ? { checks: obs.checks.map((c) => ({ metric: c.metric, value: c.value, passed: c.passed })) }
          : {}),
      };
      if (changed) log.info(fields, decision.reason.message);
      else log.debug(fields, decision.reason.message);
    } catch (err) {
      if (err instanceof ObjectNotOwnedError) {
        await this.recordEvent(canary, 'Warning', 'ObjectNotOwned', err.message, log);
      }
      throw err;
    }
    // The manual action's annotation was cleared by this process, so its watch echo wakes nobody: the
    // tick it would have woken (the next step after a resume) is queued here.
    const requeueAfterMs = decision.requeueAfterMs ?? (cleared ? 0 : undefined);
    return requeueAfterMs === undefined ? {} : { requeueAfterMs };
  };

  /** The delete event of a Canary: its last written copy must not stand in for it any longer. */
  forget(obj: KubeObject): void {
    this.canaries.deleted(obj);
  }

  private isGone(namespace: string, name: string, read: KubeObject): boolean {
    const now = this.canaries.get(namespace, name);
    return !now || now.metadata?.uid !== read.metadata?.uid || now.metadata?.deletionTimestamp !== undefined;
  }

  /** Sets the InvalidSpec condition once per generation; the key then waits for the object to change. */
  private async reportInvalid(raw: RawCanary, message: string, log: Logger): Promise<void> {
    const conditions = Array.isArray(raw.status?.conditions)
      ? (raw.status.conditions as NonNullable<Canary['status']>['conditions'])
      : undefined;
    const generation = raw.metadata?.generation;
    const now = this.deps.clock.now();
    // Stalled, Ready and Reconciling follow InvalidSpec, so kstatus (Flux before 2.5) sees a failure.
    const next = withKstatusConditions(
      withCondition(conditions, INVALID_SPEC, 'True', INVALID_SPEC, message, now),
      undefined,
      now,
    );
    if (next === conditions && raw.status?.observedGeneration === generation) return;
    log.warn({ reason: INVALID_SPEC }, message);
    const ns = raw.metadata?.namespace ?? '';
    const name = raw.metadata?.name ?? '';
    const written = await this.patchStatus(ns, name, {
      conditions: next,
      ...(generation === undefined ? {} : { observedGeneration: generation }),
    });
    if (!written) return;
    const eventTarget = {
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'Canary',
      metadata: raw.metadata,
      spec: (raw as { spec?: unknown }).spec,
    } as Canary;
    await this.recordEvent(eventTarget, 'Warning', INVALID_SPEC, message, log);
  }

  private withDefaultProvider(raw: RawCanary): RawCanary {
    const spec = (raw as { spec?: unknown }).spec;
    const provider = this.deps.defaultProvider;
    if (!provider || !spec || typeof spec !== 'object' || 'provider' in spec) return raw;
    return { ...raw, spec: { ...spec, provider } } as RawCanary;
  }

  /** A Canary that became valid again loses its InvalidSpec condition (in the status written this tick). */
  private withoutInvalidSpec(canary: Canary): Canary {
    const conditions = canary.status?.conditions;
    if (!conditions?.some((c) => c.type === INVALID_SPEC)) return canary;
    return {
      ...canary,
      status: { ...canary.status, conditions: conditions.filter((c) => c.type !== INVALID_SPEC) },
    };
  }

  /**
   * A merge patch of the object through /status: only the changed status fields are sent. False when the
   * Canary is gone (404): there is nothing left to write to, so the reconcile ends without a retry.
   */
  private async patchStatus(
    namespace: string,
    name: string,
    status: Record<string, unknown>,
  ): Promise<boolean> {
    let updated: KubeObject;
    try {
      updated = await this.deps.api.patchStatus<KubeObject>(
        { resource: RESOURCES.canary, namespace, name },
        { status },
      );
    } catch (err) {
      if (!isKubeApiError(err, 'NOT_FOUND')) throw err;
      this.canaries.forget(namespace, name);
      this.deps.logger.debug({ canary: `${namespace}/${name}` }, 'Canary deleted; status not written');
      return false;
    }
    this.canaries.remember(updated);
    return true;
  }

  private async recordEvent(
    canary: Canary,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    log: Logger,
  ): Promise<void> {
    try {
      await this.deps.events.record(canary, type, reason, message);
    } catch (err) {
      log.warn({ err, reason }, 'could not record a Kubernetes event');
    }
  }
}

function routesOf(router: Router, canary: Canary): Pick<Observations, 'routes'> | undefined {
  const routes = router.getRoutes(canary);
  return routes ? { routes } : undefined;
}

export type { Deployment };

/** The status with the Ready, Reconciling and Stalled conditions kstatus reads, kept in step with its phase. */
function withKstatus(status: NonNullable<Canary['status']>, now: Date): NonNullable<Canary['status']> {
  const conditions = withKstatusConditions(status.conditions, status.phase, now);
  return conditions === status.conditions || conditions === undefined ? status : { ...status, conditions };
}
