import type { Logger } from 'pino';
import type { Canary } from '../api/canary.ts';
import { type DeploymentDeps, ensurePrimary, promotePrimary, scaleTarget } from '../kube/deployments.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { KubeObject } from '../kube/types.ts';
import type { Deployment } from '../kube/workloads.ts';
import type { Action, EventSeverity } from '../rollout/index.ts';
import { clearManualActionPatch } from '../rollout/index.ts';
import type { Router } from '../routers/router.ts';
import { syncPrimaryAutoscaler } from './autoscaler.ts';
import { targetConfigHashes, withConfigChecksum, withConfigChecksumTarget } from './configs.ts';

/**
 * A notice of a recorded decision (status.notices) on its way: the key every receiver gets, the receivers
 * that already have it, and how the sink reports progress back.
 */
export interface NoticeDelivery {
  key: string;
  /** When the decision was taken (RFC 3339): what an alert sent again after a restart still reports. */
  time?: string;
  /** Receivers (alert names as `alert:<name>`, event webhooks as `webhook:<name>`) not to send to again. */
  skip: ReadonlySet<string>;
  /** A receiver has it, or gave up on it for good. */
  sent(receiver: string): void;
  /** Every receiver is done; `external` when any was outside the cluster (an alert or a webhook). */
  settled(external: boolean): void;
  /** Some receivers were not reached (a full queue, a stop): still owed, sent again on a later reconcile. */
  released(): void;
  /** webhooks[].muteAlert: recorded and posted to event webhooks, but no alert is sent for it. */
  muteAlert?: boolean;
}

/** Where Kubernetes events go (the kube package's EventRecorder fits). */
export interface EventSink {
  record(
    canary: Canary,
    type: EventSeverity,
    reason: string,
    message: string,
    notice?: NoticeDelivery,
  ): Promise<unknown>;
}

export interface ExecutorDeps {
  deployments: DeploymentDeps;
  router: Router;
  events: EventSink;
  logger: Logger;
}

/** What the executor wrote, for logs and tests. */
export interface ExecutionReport {
  writes: string[];
  /** The Canary as the API server returned it after a write to its metadata (the manual action cleared). */
  canary?: KubeObject;
}

/**
 * Runs a decision's actions in order. Every action is idempotent and compares with the caches before
 * writing, so running the same list twice (after a crash, or a requeue) writes nothing new.
 * Events are best effort: a failure to record one is logged, never fails the tick.
 */
export async function execute(
  deps: ExecutorDeps,
  canary: Canary,
  target: Deployment,
  actions: readonly Action[],
): Promise<ExecutionReport> {
  const writes: string[] = [];
  let written: KubeObject | undefined;
  for (const action of actions) {
    switch (action.type) {
      case 'ensurePrimary': {
        const hashes = targetConfigHashes(target, deps.deployments.configs);
        const primarySource = withConfigChecksumTarget(target, hashes);
        const result = await ensurePrimary(deps.deployments, canary, primarySource);
        if (result.action !== 'unchanged') writes.push(`primary ${result.action}`);
        break;
      }
      case 'syncPrimaryAutoscaler': {
        const result = await syncPrimaryAutoscaler(deps.deployments, canary);
        if (result.write) writes.push(result.write);
        if (result.warning) await recordEvent(deps, canary, 'Warning', 'AutoscalerNotFound', result.warning);
        break;
      }
      case 'ensureRoutes':
        await deps.router.reconcile(canary);
        break;
      case 'setWeights':
        await deps.router.setRoutes(canary, action.weights);
        writes.push(`routes ${action.weights.primary}/${action.weights.canary}`);
        break;
      case 'scaleTarget': {
        const result = await scaleTarget(deps.deployments, canary, action.replicas);
        if (result.action !== 'unchanged') writes.push(`target ${result.reason}`);
        break;
      }
      case 'promotePrimary': {
        const hashes = targetConfigHashes(target, deps.deployments.configs);
        const template = withConfigChecksum(target.spec?.template ?? {}, hashes);
        const result = await promotePrimary(deps.deployments, canary, template);
        if (result.action !== 'unchanged') writes.push('primary template promoted');
        break;
      }
      case 'event':
        await recordEvent(deps, canary, action.severity, action.reason, action.message);
        break;
      case 'clearManualAction':
        written = await deps.deployments.api.mergePatch(
          {
            resource: RESOURCES.canary,
            namespace: canary.metadata.namespace ?? '',
            name: canary.metadata.name,
          },
          clearManualActionPatch(),
        );
        writes.push('manual action cleared');
        break;
      default:
        assertNever(action);
    }
  }
  return written ? { writes, canary: written } : { writes };
}

async function recordEvent(
  deps: ExecutorDeps,
  canary: Canary,
  severity: EventSeverity,
  reason: string,
  message: string,
): Promise<void> {
  try {
    await deps.events.record(canary, severity, reason, message);
  } catch (err) {
    deps.logger.warn({ err, reason }, 'could not record a Kubernetes event');
  }
}

function assertNever(action: never): never {
  throw new Error(`unknown action ${JSON.stringify(action)}`);
}
