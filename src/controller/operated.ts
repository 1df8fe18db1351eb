import type { Logger } from 'pino';
import { type ControllerServer, startControllerServer } from '../server/http.ts';
import type { ControllerOptions, RunningController } from './controller.ts';
import { ControllerMetrics } from './metrics.ts';

/** How the controller runs in a cluster: its metrics and probe server, and leader election (durations in ms). */
export interface OperationsSettings {
  metricsPort: number;
  metricsHost: string;
  leaderElect: boolean;
  leaseName: string;
  leaseNamespace?: string | undefined;
  identity: string;
  leaseDuration: number;
  renewDeadline: number;
  retryPeriod: number;
}

export interface OperatedController {
  readonly controller: RunningController;
  /** Undefined when the port could not be bound (logged as an error; the probes then fail). */
  readonly server: ControllerServer | undefined;
  readonly metrics: ControllerMetrics;
  /** Stops the controller (in-flight actions finish, the Lease is released), then the server. */
  stop(): Promise<void>;
}

/**
 * Runs the controller the way it runs in a cluster: with its metrics, leader election when asked for,
 * and the /metrics, /healthz and /readyz server. `start` is startController with the caller's options.
 */
export async function startOperated(
  operations: OperationsSettings,
  logger: Logger,
  start: (extra: Pick<ControllerOptions, 'metrics' | 'leaderElection'>) => RunningController,
): Promise<OperatedController> {
  let controller: RunningController | undefined;
  const metrics = new ControllerMetrics({ countsOutcomes: () => controller?.isLeader() ?? false });
  controller = start({
    metrics,
    leaderElection: operations.leaderElect
      ? {
          namespace: operations.leaseNamespace ?? '',
          name: operations.leaseName,
          identity: operations.identity,
          leaseDurationMs: operations.leaseDuration,
          renewDeadlineMs: operations.renewDeadline,
          retryPeriodMs: operations.retryPeriod,
        }
      : undefined,
  });
  const running = controller;
  let synced = false;
  let failed: string | undefined;
  running.ready.then(
    () => {
      synced = true;
    },
    (err: unknown) => {
      failed = err instanceof Error ? err.message : String(err);
    },
  );
  let server: ControllerServer | undefined;
  try {
    server = await startControllerServer({
      host: operations.metricsHost,
      port: operations.metricsPort,
      metrics: () => metrics.text(),
      metricsContentType: metrics.registry.contentType,
      live: () =>
        failed === undefined ? { ok: true } : { ok: false, reason: `controller failed to start: ${failed}` },
      ready: () => (synced ? { ok: true } : { ok: false, reason: 'caches not synced yet' }),
      logger: logger.child({ component: 'server' }),
    });
  } catch (err) {
    // The controller keeps working without its endpoints: a taken port must not stop rollouts in flight.
    logger.error(
      {
        err: { message: (err as Error).message, code: (err as { code?: unknown }).code },
        host: operations.metricsHost,
        port: operations.metricsPort,
      },
      'could not serve /metrics, /healthz and /readyz; choose another --metrics-port',
    );
  }
  return {
    controller: running,
    server,
    metrics,
    stop: async () => {
      await running.stop();
      await server?.stop();
    },
  };
}
