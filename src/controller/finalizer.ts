import type { Logger } from 'pino';
import { type Canary, validateCanary } from '../api/canary.ts';
import { type DeploymentDeps, scaleTarget } from '../kube/deployments.ts';
import { isKubeApiError } from '../kube/errors.ts';
import { primaryName } from '../kube/names.ts';
import { MANAGED_BY_LABEL } from '../kube/ownership.ts';
import { isDeploymentReady } from '../kube/readiness.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { KubeApi, KubeObject } from '../kube/types.ts';
import type { WriteThroughCache } from '../kube/write-through.ts';
import type { Clock } from '../lib/clock.ts';
import {
  type DeletionStep,
  nextDeletionStep,
  nextOrphanStep,
  type OrphanStep,
  type OwnedObject,
  REVERT_FINALIZER,
  withoutPetrelFinalizer,
  withPetrelFinalizer,
} from '../rollout/deletion.ts';
import { type Phase, withKstatusConditions } from '../rollout/index.ts';
import type { Router } from '../routers/router.ts';
import { recordEventQuietly } from './event-chain.ts';
import type { EventSink } from './executor.ts';
import { type OwnedKindCache, orphanObject, ownedObjects } from './orphan.ts';
import { type ReconcileResult, TerminalError } from './queue.ts';

export { REVERT_FINALIZER };

export interface FinalizerDeps {
  api: KubeApi;
  /** The reconciler's view of the Canaries (its own writes included). */
  canaries: WriteThroughCache<KubeObject>;
  deployments: DeploymentDeps;
  routerFor: (canary: Canary) => Router;
  /**
   * Every kind Petrel creates for a Canary, with its cache: what a deletion without revertOnDeletion keeps
   * serving. Without it, the kinds of `deployments` (Deployments, HPAs, config copies).
   */
  ownedKinds?: readonly OwnedKindCache[];
  defaultProvider?: Canary['spec']['provider'];
  events: EventSink;
  clock: Clock;
  logger: Logger;
}

/** How often a deletion waiting for the target to be ready looks again (its Deployment's changes also wake it). */
const WAIT_FOR_TARGET_MS = 1000;
/** Steps one reconcile may take; each one that writes moves the world, so a handful always suffices. */
const MAX_STEPS = 8;
/** How soon an orphaning that met an object changed since the cache read it looks again. */
const WAIT_FOR_CACHE_MS = 500;

type RawCanary = KubeObject & {
  spec?: { revertOnDeletion?: unknown; provider?: unknown; targetRef?: unknown; service?: unknown };
  status?: { phase?: Phase; conditions?: unknown };
};

/**
 * Keeps `petrel.dev/finalizer` on every Canary. When one is deleted: with spec.revertOnDeletion, hands the
 * app back to the target Deployment before letting it go (see `nextDeletionStep`); without it, keeps the
 * primary and its routes serving by orphaning them (see `nextOrphanStep`). Every reconcile derives the next
 * step from the world, so a controller restarting at any point resumes.
 */
export class CanaryFinalizer {
  constructor(private readonly deps: FinalizerDeps) {}

  /**
   * Undefined when the reconcile goes on as usual (a live Canary, its finalizer now as its spec wants);
   * otherwise the Canary is being deleted and the reconcile ends with `result`.
   */
  async reconcile(raw: KubeObject): Promise<{ result: ReconcileResult | undefined } | undefined> {
    const canary = raw as RawCanary;
    const finalizers = canary.metadata?.finalizers ?? [];
    if (!canary.metadata?.deletionTimestamp) {
      await this.keepFinalizer(canary, finalizers);
      return undefined;
    }
    // Without Petrel's finalizer (deleted before a reconcile put it there) it is left to the garbage collector.
    if (!finalizers.includes(REVERT_FINALIZER)) return { result: undefined };
    if (canary.spec?.revertOnDeletion === true) return { result: await this.revert(canary) };
    return { result: await this.orphan(canary) };
  }

  private async keepFinalizer(raw: RawCanary, finalizers: readonly string[]): Promise<void> {
    const wanted = withPetrelFinalizer(finalizers);
    if (wanted.length === finalizers.length && wanted.every((f) => finalizers.includes(f))) return;
    await this.patchFinalizers(raw, wanted);
  }

  private async revert(raw: RawCanary): Promise<ReconcileResult | undefined> {
    const key = `${raw.metadata?.namespace}/${raw.metadata?.name}`;
    const log = this.deps.logger.child({ canary: key });
    const validation = validateCanary(this.withDefaultProvider(raw));
    if (!validation.ok) {
      const problems = validation.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
      const message =
        `revertOnDeletion cannot revert an invalid Canary (${problems}): fix the spec, or remove the ` +
        `finalizer ${REVERT_FINALIZER} to let it go without reverting`;
      await this.event(raw as unknown as Canary, 'Warning', 'InvalidSpec', message, log);
      throw new TerminalError(message);
    }
    let canary = validation.value;
    const ns = canary.metadata.namespace ?? '';
    for (let i = 0; i < MAX_STEPS; i++) {
      const current = (this.deps.canaries.get(ns, canary.metadata.name) as RawCanary | undefined) ?? raw;
      canary = { ...canary, metadata: current.metadata as Canary['metadata'] };
      const step = nextDeletionStep(this.observe(canary, current.status?.phase));
      log.debug({ step: step.kind }, 'revertOnDeletion step');
      const outcome = await this.take(step, canary, log);
      if (outcome !== 'next') return outcome;
    }
    return { requeueAfterMs: 0 };
  }

  private observe(canary: Canary, phase: Phase | undefined) {
    const ns = canary.metadata.namespace ?? '';
    const targetName = canary.spec.targetRef.name;
    const target = this.deps.deployments.deployments.get(ns, targetName);
    const primary = this.deps.deployments.deployments.get(ns, primaryName(targetName));
    const readiness = target ? isDeploymentReady(target) : undefined;
    return {
      phase,
      ...(target && readiness
        ? {
            target: {
              replicas: target.spec?.replicas ?? 1,
              ready: readiness.ready,
              reason: readiness.reason,
            },
          }
        : {}),
      ...(primary ? { primaryReplicas: primary.spec?.replicas ?? 1 } : {}),
    };
  }

  /** Carries out one step: 'next' when the following step can be looked at at once. */
  private async take(
    step: DeletionStep,
    canary: Canary,
    log: Logger,
  ): Promise<'next' | ReconcileResult | undefined> {
    const target = canary.spec.targetRef.name;
    switch (step.kind) {
      case 'markTerminating':
        if (!(await this.setPhase(canary, 'Terminating'))) return undefined;
        await this.event(
          canary,
          'Normal',
          'Terminating',
          `Canary deleted with revertOnDeletion: handing the traffic back to ${target}`,
          log,
        );
        return 'next';
      case 'scaleTarget':
        await scaleTarget(this.deps.deployments, canary, step.replicas);
        log.info({ replicas: step.replicas }, `revertOnDeletion: ${target} scaled up`);
        return { requeueAfterMs: WAIT_FOR_TARGET_MS };
      case 'waitForTarget':
        log.debug({ reason: step.reason }, 'revertOnDeletion: waiting for the target');
        return { requeueAfterMs: WAIT_FOR_TARGET_MS };
      case 'routeToTarget':
        await this.deps.routerFor(canary).finalize(canary);
        log.info(`revertOnDeletion: all traffic routed to ${target}`);
        return this.terminated(canary, log, `all traffic on ${target}`);
      case 'markTerminated':
        return this.terminated(canary, log, `target Deployment ${target} not found: nothing to revert to`);
      case 'removeFinalizer':
        {
          const raw = canary as unknown as RawCanary;
          await this.patchFinalizers(raw, withoutPetrelFinalizer(raw.metadata?.finalizers ?? []));
        }
        log.info('revertOnDeletion: finalizer removed');
        return {};
    }
  }

  /**
   * Without revertOnDeletion: the objects the Canary owns lose their ownerReference to it and stay. Needs only
   * the Canary's uid (they are found by it in the caches), so an invalid spec is let go too, never stranded.
   */
  private async orphan(raw: RawCanary): Promise<ReconcileResult | undefined> {
    const ns = raw.metadata?.namespace ?? '';
    const name = raw.metadata?.name ?? '';
    const uid = raw.metadata?.uid ?? '';
    const log = this.deps.logger.child({ canary: `${ns}/${name}` });
    // The caches may show an object orphaned in this reconcile as still owned for a moment.
    const orphaned = new Set<string>();
    const keyOf = (o: OwnedObject) => `${o.kind}/${o.name}`;
    for (let i = 0; i < MAX_STEPS; i++) {
      const current = this.deps.canaries.get(ns, name) as RawCanary | undefined;
      if (!current) return undefined; // gone: nothing is ever done for a Canary that no longer exists
      const stillOwned = uid
        ? ownedObjects(this.ownedKinds(), ns, uid).filter((o) => !orphaned.has(keyOf(o)))
        : [];
      const step = nextOrphanStep({ phase: current.status?.phase, stillOwned });
      log.debug({ step: step.kind }, 'deletion step');
      const outcome = await this.takeOrphanStep(step, current, orphaned, log);
      if (outcome !== 'next') return outcome;
    }
    return { requeueAfterMs: 0 };
  }

  private async takeOrphanStep(
    step: OrphanStep,
    raw: RawCanary,
    orphaned: Set<string>,
    log: Logger,
  ): Promise<'next' | ReconcileResult | undefined> {
    const canary = raw as unknown as Canary;
    switch (step.kind) {
      case 'markTerminating':
        if (!(await this.setPhase(canary, 'Terminating'))) return undefined;
        await this.event(
          canary,
          'Normal',
          'Terminating',
          'Canary deleted: keeping the primary, its Services and routes serving, no longer owned by the Canary',
          log,
        );
        return 'next';
      case 'orphan': {
        const ns = raw.metadata?.namespace ?? '';
        const uid = raw.metadata?.uid ?? '';
        let stale = false;
        for (const object of step.objects) {
          const outcome = await orphanObject(this.deps.api, this.ownedKinds(), ns, object, uid).catch(
            async (err: unknown) => {
              // Retried with backoff; the Canary waits rather than let the garbage collector take the primary.
              const message =
                `could not remove the ownerReference of ${object.kind} ${ns}/${object.name} to keep it serving ` +
                `(${(err as Error).message}); the deletion waits: grant patch on it, or remove the finalizer ` +
                `${REVERT_FINALIZER} to let the garbage collector delete it with the Canary`;
              await this.event(canary, 'Warning', 'OrphaningFailed', message, log);
              throw err;
            },
          );
          if (outcome === 'stale') stale = true;
          else orphaned.add(`${object.kind}/${object.name}`);
          if (outcome === 'orphaned') log.info({ object }, 'kept after the Canary: ownerReference removed');
        }
        return stale ? { requeueAfterMs: WAIT_FOR_CACHE_MS } : 'next';
      }
      case 'markTerminated':
        if (!(await this.setPhase(canary, 'Terminated'))) return undefined;
        await this.event(
          canary,
          'Normal',
          'Terminated',
          'Canary terminated: the primary, its Services and routes stay and keep serving; ' +
            `they carry the ${MANAGED_BY_LABEL} label, so a Canary of the same name adopts them again`,
          log,
        );
        return 'next';
      case 'removeFinalizer':
        await this.patchFinalizers(raw, withoutPetrelFinalizer(raw.metadata?.finalizers ?? []));
        log.info('deletion: finalizer removed');
        return {};
    }
  }

  private ownedKinds(): readonly OwnedKindCache[] {
    if (this.deps.ownedKinds) return this.deps.ownedKinds;
    const { deployments, hpas, configs } = this.deps.deployments;
    const kinds: OwnedKindCache[] = [{ resource: RESOURCES.deployment, cache: deployments }];
    if (hpas) kinds.push({ resource: RESOURCES.horizontalPodAutoscaler, cache: hpas });
    if (configs) {
      kinds.push({ resource: RESOURCES.configMap, cache: configs.configMaps as OwnedKindCache['cache'] });
      kinds.push({ resource: RESOURCES.secret, cache: configs.secrets as OwnedKindCache['cache'] });
    }
    return kinds;
  }

  private async terminated(canary: Canary, log: Logger, what: string): Promise<'next' | undefined> {
    if (!(await this.setPhase(canary, 'Terminated'))) return undefined;
    await this.event(
      canary,
      'Normal',
      'Terminated',
      `Canary terminated: ${what}; the primary and the other objects it owns go with it`,
      log,
    );
    return 'next';
  }

  /** False when the Canary is gone (nothing left to do). */
  private async setPhase(canary: Canary, phase: Phase): Promise<boolean> {
    const now = this.deps.clock.now();
    const conditions = withKstatusConditions(canary.status?.conditions, phase, now);
    const status = { phase, lastTransitionTime: now.toISOString(), ...(conditions ? { conditions } : {}) };
    try {
      const updated = await this.deps.api.patchStatus<KubeObject>(
        {
          resource: RESOURCES.canary,
          namespace: canary.metadata.namespace ?? '',
          name: canary.metadata.name,
        },
        { status },
      );
      this.deps.canaries.remember(updated);
      canary.status = { ...canary.status, ...status } as Canary['status'];
      return true;
    } catch (err) {
      if (isKubeApiError(err, 'NOT_FOUND')) return false;
      throw err;
    }
  }

  /** The whole list, guarded by the resourceVersion read: a concurrent change is a conflict, retried. */
  private async patchFinalizers(raw: RawCanary, finalizers: string[]): Promise<void> {
    const ns = raw.metadata?.namespace ?? '';
    const name = raw.metadata?.name ?? '';
    try {
      const updated = await this.deps.api.mergePatch<KubeObject>(
        { resource: RESOURCES.canary, namespace: ns, name },
        {
          metadata: {
            finalizers: finalizers.length ? finalizers : null,
            resourceVersion: raw.metadata?.resourceVersion,
          },
        },
      );
      this.deps.canaries.remember(updated);
    } catch (err) {
      if (!isKubeApiError(err, 'NOT_FOUND')) throw err;
    }
  }

  private withDefaultProvider(raw: RawCanary): RawCanary {
    const spec = raw.spec;
    const provider = this.deps.defaultProvider;
    if (!provider || !spec || typeof spec !== 'object' || 'provider' in spec) return raw;
    return { ...raw, spec: { ...spec, provider } };
  }

  private event(
    canary: Canary,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    log: Logger,
  ): Promise<void> {
    return recordEventQuietly(this.deps.events, canary, type, reason, message, log);
  }
}
