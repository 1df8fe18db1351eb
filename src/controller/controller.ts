import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Canary } from '../api/canary.ts';
import { EventRecorder } from '../kube/events.ts';
import type { KubeRequestHook } from '../kube/types.ts';
import { type Clock, systemClock } from '../lib/clock.ts';
import { scrubSecrets } from '../lib/redact.ts';
import type { DefaultAlertProvider } from '../notifiers/alerter.ts';
import { type OutboundProxy, proxyFromEnv } from '../outbound/proxy.ts';
import { RouterFactory } from '../routers/factory.ts';
import { countFailedAlertPosts } from './alert-metrics.ts';
import { type ControllerCaches, createCaches } from './cache-set.ts';
import { type ClusterAccess, connectToCluster } from './cluster-access.ts';
import { NO_SECRETS } from './configs.ts';
import type { EventSink } from './executor.ts';
import { freezesSelecting } from './freezes.ts';
import { createHookServices, type HookServices } from './hook-services.ts';
import { canaryKey } from './keys.ts';
import type { LeaderElectionSettings } from './leader.ts';
import type { MeshProvider } from './mesh.ts';
import { metricChecks, relativeTemplateProblems } from './metric-checks.ts';
import type { ControllerMetrics } from './metrics.ts';
import { ownedKindCaches } from './orphan.ts';
import type { WorkQueue } from './queue.ts';
import { createReconcileQueue } from './reconcile-queue.ts';
import { CanaryReconciler } from './reconciler.ts';
import { wakeOnChanges } from './wake-ups.ts';

export { MESH_PROVIDERS, type MeshProvider } from './mesh.ts';

export interface ControllerOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Default Prometheus for builtin checks and MetricTemplates without an address. */
  prometheusAddress?: string;
  /** The provider of canaries whose spec.provider is not set (as Flagger's -mesh-provider). */
  meshProvider?: MeshProvider;
  /** Namespaces to watch; empty or omitted watches the whole cluster. */
  namespaces?: readonly string[];
  workers?: number;
  clock?: Clock;
  /** Told about every Kubernetes API request (metrics, benchmarks). */
  onRequest?: KubeRequestHook;
  userAgent?: string;
  /** Timeout of each Prometheus query. */
  queryTimeoutMs?: number;
  /** Shown in notifications (--cluster-name). */
  clusterName?: string;
  /** Where notifications of canaries without analysis.alerts go. */
  defaultAlertProvider?: DefaultAlertProvider;
  /** Act only while holding this Lease (several replicas); omitted, this process always acts. */
  leaderElection?: LeaderElectionSettings;
  /** Told about canaries, reconciles, the queue, API requests and leadership. */
  metrics?: ControllerMetrics;
  /**
   * Track Secrets as well as ConfigMaps (a change starts a rollout). Needs list/watch/create/patch on
   * Secrets in the watched namespaces, which the chart grants only with trackSecrets=true; off by default.
   */
  trackSecrets?: boolean;
  /** Proxy of webhook and alert posts; default: from HTTPS_PROXY, HTTP_PROXY and NO_PROXY. */
  outboundProxy?: OutboundProxy;
  /**
   * Route canaries with provider gatewayapi:v1: caches HTTPRoutes, which needs list/watch/create/patch on
   * httproutes.gateway.networking.k8s.io (chart value gatewayAPI.enabled). Off by default.
   */
  gatewayApi?: boolean;
  /** Refuse templateRef/providerRef to another namespace with InvalidSpec (--no-cross-namespace-refs). */
  noCrossNamespaceRefs?: boolean;
}

export interface RunningController {
  /** Resolves once every cache has synced and the canaries are queued. */
  readonly ready: Promise<void>;
  /** True while this replica may act: it holds the Lease, or runs without leader election. */
  isLeader(): boolean;
  /** Finishes the reconciles in flight, then releases the Lease and stops the caches. */
  stop(): Promise<void>;
}

/**
 * The composition root: connects to the cluster (with leader election when asked), opens the caches, wires
 * routers, metric checks, webhooks and alerts into the reconciler, queues canaries on every relevant change,
 * and starts. Returns at once; `ready` tells when the caches have synced.
 */
export function startController(options: ControllerOptions): RunningController {
  const logger = options.logger;
  const clock = options.clock ?? systemClock;
  const namespaces = [...new Set(options.namespaces ?? [])];
  const metrics = options.metrics;
  let started = false;
  const enqueue = (key: string) => {
    if (started && access.isLeader()) queue.add(key);
  };
  const enqueueAll = () => {
    for (const canary of caches.canaries.list())
      enqueue(canaryKey(canary.metadata?.namespace, canary.metadata?.name ?? ''));
  };

  const access = connectToCluster({
    kubeConfig: options.kubeConfig,
    logger,
    clock,
    userAgent: options.userAgent,
    onRequest: options.onRequest,
    metrics,
    leaderElection: options.leaderElection,
    onStartedLeading: enqueueAll,
  });
  const caches = createCaches({
    kubeConfig: options.kubeConfig,
    api: access.api,
    onRequest: access.onRequest,
    namespaces,
    trackSecrets: options.trackSecrets ?? false,
    gatewayApi: options.gatewayApi ?? false,
    logger,
  });
  const hooks = createHookServices({
    api: access.api,
    alertProviders: caches.alertProviders,
    logger,
    now: () => clock.now(),
    enqueue,
    proxy: options.outboundProxy ?? proxyFromEnv(process.env),
    ...(metrics ? { onAlertUndelivered: countFailedAlertPosts(metrics.registry) } : {}),
    ...(options.clusterName ? { clusterName: options.clusterName } : {}),
    ...(options.defaultAlertProvider ? { defaultAlertProvider: options.defaultAlertProvider } : {}),
  });
  const reconciler = createReconciler(options, access, caches, hooks, clock, enqueue);
  const queue = createReconcileQueue({
    reconciler,
    isLeader: access.isLeader,
    workers: options.workers ?? 16,
    clock,
    logger,
    metrics,
  });
  if (metrics) observeWithMetrics(metrics, caches, queue, access.isLeader);
  wakeOnChanges({
    caches,
    ownWrites: access.ownWrites,
    enqueue,
    forget: (key, canary) => {
      reconciler.forget(canary);
      queue.forget(key);
      hooks.forget(key);
    },
  });

  const abort = new AbortController();
  const ready = (async () => {
    await startAndSync(access, caches, abort.signal);
    started = true;
    enqueueAll();
    logger.info(
      {
        namespaces: namespaces.length ? namespaces : 'all',
        canaries: caches.canaries.list().length,
        meshProvider: options.meshProvider ?? 'istio',
        leader: access.elector ? access.elector.isLeader : 'no election',
      },
      'caches synced; controller running',
    );
  })();
  ready.catch(() => {});

  let stopping: Promise<void> | undefined;
  return {
    ready,
    isLeader: access.isLeader,
    stop: () => {
      stopping ??= (async () => {
        abort.abort(new Error('controller stopped'));
        started = false;
        await shutDown(access, caches, queue, hooks, reconciler);
        logger.info('controller stopped');
      })();
      return stopping;
    },
  };
}

/** The reconciler with its routers, events (Kubernetes, then event webhooks and alerts) and checks. */
function createReconciler(
  options: ControllerOptions,
  access: ClusterAccess,
  caches: ControllerCaches,
  hooks: HookServices,
  clock: Clock,
  wake: (key: string) => void,
): CanaryReconciler {
  const { api } = access;
  const logger = options.logger;
  const routers = new RouterFactory({
    api,
    deployments: caches.deployments,
    services: caches.services,
    virtualServices: caches.virtualServices,
    destinationRules: caches.destinationRules,
    ...(caches.httpRoutes ? { httpRoutes: caches.httpRoutes } : {}),
  });
  return new CanaryReconciler({
    api,
    canaries: caches.canaries,
    deployments: {
      api,
      deployments: caches.deployments,
      hpas: caches.hpas,
      configs: { configMaps: caches.configMaps, secrets: caches.secrets ?? NO_SECRETS },
    },
    routerFor: (canary: Canary) => routers.for(canary),
    ownedKinds: ownedKindCaches(caches),
    defaultProvider: options.meshProvider ?? 'istio',
    events: scrubbedEvents(
      hooks.events(new EventRecorder({ api, logger: logger.child({ component: 'events' }) })),
    ),
    hooks: hooks.hooks,
    noCrossNamespaceRefs: options.noCrossNamespaceRefs,
    freezes: (canary) => freezesSelecting(canary, caches.releaseFreezes),
    specProblems: relativeTemplateProblems(caches.metricTemplates),
    runChecks: metricChecks({
      api,
      metricTemplates: caches.metricTemplates,
      ...(caches.secrets ? { secrets: caches.secrets } : {}),
      prometheusAddress: options.prometheusAddress,
      queryTimeoutMs: options.queryTimeoutMs,
      logger: logger.child({ component: 'metrics' }),
      onQuery: options.metrics?.onMetricsQuery,
    }),
    clock,
    logger: logger.child({ component: 'reconciler' }),
    wake,
  });
}

/** Event messages (and the alerts and event webhooks made from them) never carry a secret value. */
function scrubbedEvents(sink: EventSink): EventSink {
  return {
    record: (canary, type, reason, message, notice) =>
      sink.record(canary, type, reason, scrubSecrets(message), notice),
  };
}

/** Leadership, queue depth and every canary's status, mirrored into the metrics. */
function observeWithMetrics(
  metrics: ControllerMetrics,
  caches: ControllerCaches,
  queue: WorkQueue,
  isLeader: () => boolean,
): void {
  metrics.setLeader(isLeader());
  metrics.queueDepthFrom(() => queue.length);
  caches.canaries.on('add', (obj) => metrics.observeCanary(obj));
  caches.canaries.on('update', (obj) => metrics.observeCanary(obj));
  caches.canaries.on('delete', (obj) =>
    metrics.forgetCanary(obj.metadata?.namespace ?? '', obj.metadata?.name ?? ''),
  );
}

/** Joins the leader election, starts every cache and waits until all have synced. */
async function startAndSync(
  access: ClusterAccess,
  caches: ControllerCaches,
  signal: AbortSignal,
): Promise<void> {
  access.elector?.start();
  await Promise.all(caches.all.map((group) => group.start()));
  await Promise.all(caches.all.map((group) => group.waitForSync(signal)));
}

/**
 * Stops in the order that loses nothing: reconciles in flight finish, notifications get a grace period
 * and what they delivered is recorded, the Lease is released, then the caches and the client close.
 */
async function shutDown(
  access: ClusterAccess,
  caches: ControllerCaches,
  queue: WorkQueue,
  hooks: HookServices,
  reconciler: CanaryReconciler,
): Promise<void> {
  await queue.shutDown();
  await hooks.stop();
  await reconciler.recordDeliveries();
  await access.elector?.stop();
  await Promise.all(caches.all.map((group) => group.stop()));
  access.client.close();
}
