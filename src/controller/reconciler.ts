import type { Logger } from 'pino';
import type { AnalysisStatus } from '../api/analysis-spec.ts';
import { type Canary, validateCanary } from '../api/canary.ts';
import { summarizeIssues } from '../api/issue-summary.ts';
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
import { secretValues } from '../lib/redact.ts';
import {
  type CheckObservation,
  decide,
  endsRollout,
  type Observations,
  planObservations,
  withCondition,
  withDeliveries,
  withKstatusConditions,
  withNotices,
} from '../rollout/index.ts';
import type { FreezeObservation } from '../rollout/windows.ts';
import { type Router, UnknownProviderError } from '../routers/router.ts';
import type { HookObserver } from '../webhooks/gates.ts';
import { targetConfigHashes, withTrackedConfigs } from './configs.ts';
import { crossNamespaceRefProblems, withoutCrossNamespaceAlerts } from './cross-namespace.ts';
import { recordEventQuietly } from './event-chain.ts';
import { type EventSink, execute } from './executor.ts';
import { CanaryFinalizer, type FinalizerDeps } from './finalizer.ts';
import { FreshCanaries } from './fresh-canary.ts';
import { splitKey } from './keys.ts';
import { NoticeLedger } from './notice-ledger.ts';
import { observePrimary, observeTarget } from './observe.ts';
import { type ReconcileResult, TerminalError } from './queue.ts';
import { statusPatch } from './status-patch.ts';

export interface ReconcilerDeps {
  api: KubeApi;
  canaries: CacheReader<KubeObject>;
  deployments: DeploymentDeps;
  routerFor: (canary: Canary) => Router;
  /** What a Canary deleted without revertOnDeletion keeps serving (see CanaryFinalizer). */
  ownedKinds?: FinalizerDeps['ownedKinds'];
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
  /** Queues a canary again (a notice was delivered, and that is to be recorded in its status). */
  wake?: (key: string) => void;
}

/** The target Deployment does not exist (yet): retried with backoff, and at once when it appears. */
export class TargetMissingError extends Error {
  override readonly name = 'TargetMissingError';
  readonly code = 'TARGET_MISSING';
}

/**
 * The status write of a decision met a newer Canary (409): the decision is dropped with none of its effects,
 * and the queue reconciles again (with backoff) from the Canary as it is now.
 */
export class StatusConflictError extends Error {
  override readonly name = 'StatusConflictError';
  readonly code = 'STATUS_CONFLICT';
}

const INVALID_SPEC = 'InvalidSpec';

type RawCanary = KubeObject & { status?: { conditions?: unknown; observedGeneration?: unknown } };

/**
 * One reconcile of one Canary: reads only from the caches, decides with the pure state machine, records the
 * decision in status first (only what changed, guarded by the resourceVersion read), then applies its
 * effects and sends the notices the status owes. Never touches any other Canary.
 */
export class CanaryReconciler {
  private readonly canaries: WriteThroughCache<KubeObject>;
  private readonly fresh: FreshCanaries;
  private readonly notices: NoticeLedger;

  private readonly finalizer: CanaryFinalizer;

  constructor(private readonly deps: ReconcilerDeps) {
    this.canaries = new WriteThroughCache(deps.canaries);
    this.fresh = new FreshCanaries(deps.api, this.canaries);
    this.notices = new NoticeLedger(deps.wake);
    this.finalizer = new CanaryFinalizer({ ...deps, canaries: this.canaries });
  }

  readonly reconcile = async (key: string): Promise<ReconcileResult | undefined> => {
    const { namespace, name } = splitKey(key);
    const read = (await this.fresh.get(namespace, name)) as RawCanary | undefined;
    if (!read) return undefined;
    // A Canary being deleted only goes through its finalizer's steps (revert, or keep the primary serving):
    // a rollout step would re-create objects and alert every channel about it.
    const finalizing = await this.finalizer.reconcile(read);
    if (finalizing) return finalizing.result;
    // As it is after the finalizer was added (a new resourceVersion, which the status patch is guarded by).
    const raw = (this.canaries.get(namespace, name) as RawCanary | undefined) ?? read;
    const log = this.deps.logger.child({ canary: key });

    const validation = validateCanary(this.withDefaultProvider(raw));
    if (!validation.ok) {
      const message = summarizeIssues(validation.issues);
      await this.reportInvalid(raw, message, log);
      throw new TerminalError(`invalid Canary ${key}: ${message}`);
    }
    const refProblems = [
      ...(this.deps.noCrossNamespaceRefs ? crossNamespaceRefProblems(validation.value) : []),
      ...(this.deps.specProblems?.(validation.value) ?? []),
    ];
    if (refProblems.length > 0) {
      const message = summarizeIssues(refProblems);
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

    let router: Router;
    try {
      router = this.deps.routerFor(canary);
    } catch (err) {
      // A provider this controller cannot route (e.g. gatewayapi:v1 without --gateway-api): said on the Canary.
      if (!(err instanceof UnknownProviderError)) throw err;
      await this.reportInvalid(raw, err.message, log);
      throw new TerminalError(`invalid Canary ${key}: ${err.message}`);
    }
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
    const decision = withNotices(canary, decide(canary, obs, now), now);
    const status = withDeliveries(
      withKstatus(withTrackedConfigs(decision.status, obs.target.revision, configHashes), now),
      this.notices.progressOf(key),
    );
    // Intent first: the decision is recorded, guarded by the resourceVersion this tick read, before any of
    // its effects. A conflict or a failed write drops the decision with no effect applied.
    const patch = statusPatch(raw.status as Canary['status'], status);
    if (patch && !(await this.patchStatus(namespace, name, patch, raw.metadata?.resourceVersion))) {
      return undefined;
    }
    this.notices.prune(key, status);
    const recorded: Canary = { ...canary, status };
    // Events carry the status they report on, so notifications show the new phase and weight.
    const events: EventSink = {
      record: (c, type, reason, message, notice) =>
        this.deps.events.record({ ...c, status }, type, reason, message, notice),
    };
    let cleared = false;
    try {
      // Every effect is idempotent and follows from the recorded status: after a crash here, the next
      // tick derives the same effects from it (routes from canaryWeight and phase, notices still owed).
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
      const notified = await this.notices.send(key, recorded, status, this.deps.events);
      // Post-rollout hooks follow the notice of the decision that ended the rollout, so a restart before
      // they were called still calls them.
      for (const notice of notified.filter(endsRollout)) {
        const ended = { ...status, phase: notice.phase, canaryWeight: notice.weight ?? 0 };
        this.deps.hooks?.afterDecision(key, { ...canary, status: { ...status, phase: notice.from } }, ended);
      }
      const changed = patch !== undefined || report.writes.length > 0 || notified.length > 0;
      const fields = {
        phase: status.phase,
        weight: status.canaryWeight,
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

  /**
   * Writes the deliveries this process saw into each canary's status (on a graceful stop, once the
   * notification queue has drained), so the next process does not send them again. Best effort: what is
   * not written is sent again by the next process, with the same key.
   */
  async recordDeliveries(): Promise<void> {
    for (const key of this.notices.canaryKeys()) {
      const { namespace, name } = splitKey(key);
      const raw = this.canaries.get(namespace, name) as RawCanary | undefined;
      if (!raw || raw.metadata?.deletionTimestamp) continue;
      const current = raw.status as Canary['status'];
      const patch = statusPatch(current, withDeliveries(current ?? {}, this.notices.progressOf(key)));
      if (!patch) continue;
      try {
        await this.patchStatus(namespace, name, patch, raw.metadata?.resourceVersion);
      } catch (err) {
        this.deps.logger.debug({ canary: key, err: (err as Error).message }, 'deliveries not recorded');
      }
    }
  }

  /** The delete event of a Canary: its last written copy must not stand in for it any longer. */
  forget(obj: KubeObject): void {
    this.canaries.deleted(obj);
    this.fresh.forget(obj.metadata?.namespace ?? '', obj.metadata?.name ?? '');
    this.notices.forget(`${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`);
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
   * A merge patch of the object through /status: only the changed status fields are sent, guarded by
   * `resourceVersion` when given. False when the Canary is gone (404): there is nothing left to write to, so
   * the reconcile ends without a retry. A 409 throws StatusConflictError: the decision is dropped, and the
   * retry reads the Canary as it is now.
   */
  private async patchStatus(
    namespace: string,
    name: string,
    status: Record<string, unknown>,
    resourceVersion?: string,
  ): Promise<boolean> {
    let updated: KubeObject;
    try {
      updated = await this.deps.api.patchStatus<KubeObject>(
        { resource: RESOURCES.canary, namespace, name },
        resourceVersion
          ? { metadata: { resourceVersion }, status: secretValues.scrubDeep(status) }
          : { status: secretValues.scrubDeep(status) },
      );
    } catch (err) {
      if (isKubeApiError(err, 'CONFLICT')) {
        this.canaries.forget(namespace, name);
        throw new StatusConflictError(
          `Canary ${namespace}/${name} changed since it was read (resourceVersion ${resourceVersion}): decision dropped, reconciling again`,
          { cause: err },
        );
      }
      if (!isKubeApiError(err, 'NOT_FOUND')) throw err;
      this.canaries.forget(namespace, name);
      this.deps.logger.debug({ canary: `${namespace}/${name}` }, 'Canary deleted; status not written');
      return false;
    }
    this.canaries.remember(updated);
    this.fresh.seen(updated);
    return true;
  }

  private recordEvent(
    canary: Canary,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    log: Logger,
  ): Promise<void> {
    return recordEventQuietly(this.deps.events, canary, type, reason, message, log);
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
