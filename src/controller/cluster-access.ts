import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { createKubeApi, type HttpKubeApi } from '../kube/client.ts';
import { OwnWrites, recordingOwnWrites } from '../kube/own-writes.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { KubeApi, KubeRequestHook } from '../kube/types.ts';
import type { Clock } from '../lib/clock.ts';
import { type LeaderElectionSettings, LeaderElector, leaderOnlyWrites } from './leader.ts';
import type { ControllerMetrics } from './metrics.ts';

export interface ClusterAccessOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  clock: Clock;
  userAgent?: string;
  onRequest?: KubeRequestHook;
  metrics?: ControllerMetrics;
  leaderElection?: LeaderElectionSettings;
  /** Called each time this replica becomes the leader (the canaries are queued again). */
  onStartedLeading: () => void;
}

export interface ClusterAccess {
  /** The client itself: the Lease's own requests go through it unguarded; closed last. */
  readonly client: HttpKubeApi;
  /** Every other read and write: writes only while leading, and remembered so their watch echo wakes nobody. */
  readonly api: KubeApi;
  readonly ownWrites: OwnWrites;
  readonly elector: LeaderElector | undefined;
  readonly onRequest: KubeRequestHook | undefined;
  isLeader(): boolean;
}

/** The Kubernetes client of one controller, its leader election and the guard every write goes through. */
export function connectToCluster(options: ClusterAccessOptions): ClusterAccess {
  const metrics = options.metrics;
  const onRequest = requestHook(options.onRequest, metrics);
  const client = createKubeApi({
    kubeConfig: options.kubeConfig,
    onRequest,
    userAgent: options.userAgent ?? 'petrel-controller',
  });
  // Standbys keep warm caches; every write goes through this guard, so a replica that loses the
  // Lease stops writing at once, even in the middle of a reconcile.
  const elector = options.leaderElection
    ? new LeaderElector({
        ...options.leaderElection,
        api: client,
        clock: options.clock,
        logger: options.logger.child({ component: 'leader' }),
        onStartedLeading: () => {
          metrics?.setLeader(true);
          options.onStartedLeading();
        },
        onStoppedLeading: () => metrics?.setLeader(false),
      })
    : undefined;
  const isLeader = () => elector?.isLeader ?? true;
  // The watch echo of this process's own writes wakes nobody: the reconcile that wrote already decided.
  const ownWrites = new OwnWrites([
    RESOURCES.canary,
    RESOURCES.deployment,
    RESOURCES.service,
    RESOURCES.virtualService,
    RESOURCES.destinationRule,
  ]);
  const api = recordingOwnWrites(elector ? leaderOnlyWrites(client, isLeader) : client, ownWrites);
  return { client, api, ownWrites, elector, onRequest, isLeader };
}

/** The caller's request hook and the metrics' one, as a single hook. */
function requestHook(
  onRequest: KubeRequestHook | undefined,
  metrics: ControllerMetrics | undefined,
): KubeRequestHook | undefined {
  if (metrics && onRequest)
    return (info) => {
      onRequest(info);
      metrics.onRequest(info);
    };
  return metrics?.onRequest ?? onRequest;
}
