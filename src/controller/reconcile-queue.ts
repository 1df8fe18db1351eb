import type { Logger } from 'pino';
import type { Clock } from '../lib/clock.ts';
import type { ControllerMetrics } from './metrics.ts';
import { WorkQueue } from './queue.ts';
import type { CanaryReconciler } from './reconciler.ts';

export interface ReconcileQueueOptions {
  reconciler: CanaryReconciler;
  isLeader: () => boolean;
  workers: number;
  clock: Clock;
  logger: Logger;
  metrics?: ControllerMetrics;
}

/** The work queue that runs reconciles, timed by the metrics, while this replica leads. */
export function createReconcileQueue(options: ReconcileQueueOptions): WorkQueue {
  const { reconciler, isLeader, metrics, logger } = options;
  // Keys queued before the Lease was lost are dropped here, not reconciled.
  const reconcile = async (key: string) => (isLeader() ? reconciler.reconcile(key) : undefined);
  return new WorkQueue({
    reconcile: metrics ? metrics.timeReconcile(reconcile) : reconcile,
    workers: options.workers,
    clock: options.clock,
    onError: (key, err, retryInMs) =>
      logger.warn(
        {
          canary: key,
          err: err instanceof Error ? { message: err.message, code: (err as { code?: unknown }).code } : err,
          retryInMs,
        },
        retryInMs === undefined
          ? 'reconcile failed; waiting for the Canary to change'
          : 'reconcile failed; retrying',
      ),
  });
}
