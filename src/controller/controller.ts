import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Canary } from '../api/canary.ts';
import { type MetricTemplate, validateMetricTemplate } from '../api/metric-template.ts';
import { canonicalJson } from '../kube/canonical.ts';
import { createKubeApi, type KubeObject, type KubeRequestHook } from '../kube/client.ts';
import type { ConfigMap, Secret } from '../kube/configs.ts';
import type { Deployment, HorizontalPodAutoscaler } from '../kube/deployments.ts';
import { EventRecorder } from '../kube/events.ts';
import type { ResilientInformer } from '../kube/informer.ts';
import { OwnWrites, recordingOwnWrites } from '../kube/own-writes.ts';
import { RESOURCES } from '../kube/resources.ts';
import { cacheTransform } from '../kube/slim.ts';
import { runChecks } from '../metrics/checks.ts';
import { createMetricsProvider } from '../metrics/factory.ts';
import type { MetricsProvider } from '../metrics/provider.ts';
import type { DefaultAlertProvider } from '../notifiers/alerter.ts';
import { RouterFactory } from '../routers/factory.ts';
import type { DestinationRule, VirtualService } from '../routers/istio.ts';
import type { Service } from '../routers/services.ts';
import { createHookServices } from '../webhooks/services.ts';
import { wakeOnAutoscalerChanges } from './autoscaler.ts';
import { NamespacedInformers } from './caches.ts';
import { type Clock, systemClock } from '../lib/clock.ts';
import { NO_SECRETS, wakeOnConfigChanges } from './configs.ts';
import { freezesSelecting, wakeOnFreezeChanges } from './freezes.ts';
import { canaryKey } from './keys.ts';
import { type LeaderElectionSettings, LeaderElector, leaderOnlyWrites } from './leader.ts';
import type { MeshProvider } from './mesh.ts';
import type { ControllerMetrics } from './metrics.ts';
import { WorkQueue } from './queue.ts';
import { CanaryReconciler } from './reconciler.ts';
import { TargetIndex } from './target-index.ts';

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
   * Track Secrets as well as ConfigMaps (a change starts a rollout). Needs list/watch on Secrets in the
   * watched namespaces, which the chart's least-privilege RBAC does not grant; off by default.
   */
  trackSecrets?: boolean;
}

export interface RunningController {
  /** Resolves once every cache has synced and the canaries are queued. */
  readonly ready: Promise<void>;
  /** True while this replica may act: it holds the Lease, or runs without leader election. */
  isLeader(): boolean;
  /** Finishes the reconciles in flight, then releases the Lease and stops the caches. */
  stop(): Promise<void>;
}

interface CanaryLike extends KubeObject {
  spec?: { targetRef?: { name?: unknown } };
}

/** Wires informers, the work queue, the reconciler, routers, metrics and events; returns at once. */
export function startController(options: ControllerOptions): RunningController {
  const logger = options.logger;
  const clock = options.clock ?? systemClock;
  const meshProvider = options.meshProvider ?? 'istio';
  const namespaces = [...new Set(options.namespaces ?? [])];
  const metrics = options.metrics;
  const onRequest: KubeRequestHook | undefined =
    metrics && options.onRequest
      ? (info) => {
          options.onRequest?.(info);
          metrics.onRequest(info);
        }
      : (metrics?.onRequest ?? options.onRequest);
  const leaderApi = createKubeApi({
    kubeConfig: options.kubeConfig,
    onRequest,
    userAgent: options.userAgent ?? 'petrel-controller',
  });
  // Standbys keep warm caches; every write goes through this guard, so a replica that loses the
  // Lease stops writing at once, even in the middle of a reconcile.
  const elector = options.leaderElection
    ? new LeaderElector({
        ...options.leaderElection,
        api: leaderApi,
        clock,
        logger: logger.child({ component: 'leader' }),
        onStartedLeading: () => {
          metrics?.setLeader(true);
          enqueueAll();
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
  const api = recordingOwnWrites(elector ? leaderOnlyWrites(leaderApi, isLeader) : leaderApi, ownWrites);
  const informerOpts = { kubeConfig: options.kubeConfig, api, onRequest, transformFor: cacheTransform };
  const canaries = new NamespacedInformers<CanaryLike>(RESOURCES.canary, namespaces, informerOpts);
  const metricTemplates = new NamespacedInformers<KubeObject>(
    RESOURCES.metricTemplate,
    namespaces,
    informerOpts,
  );
  const alertProviders = new NamespacedInformers<KubeObject>(
    RESOURCES.alertProvider,
    namespaces,
    informerOpts,
  );
  const releaseFreezes = new NamespacedInformers<KubeObject>(
    RESOURCES.releaseFreeze,
    namespaces,
    informerOpts,
  );
  const deployments = new NamespacedInformers<Deployment>(RESOURCES.deployment, namespaces, informerOpts);
  const services = new NamespacedInformers<Service>(RESOURCES.service, namespaces, informerOpts);
  const virtualServices = new NamespacedInformers<VirtualService>(
    RESOURCES.virtualService,
    namespaces,
    informerOpts,
  );
  const destinationRules = new NamespacedInformers<DestinationRule>(
    RESOURCES.destinationRule,
    namespaces,
    informerOpts,
  );
  const configMaps = new NamespacedInformers<ConfigMap>(RESOURCES.configMap, namespaces, informerOpts);
  const secrets = options.trackSecrets
    ? new NamespacedInformers<Secret>(RESOURCES.secret, namespaces, informerOpts)
    : undefined;
  const hpas = new NamespacedInformers<HorizontalPodAutoscaler>(
    RESOURCES.horizontalPodAutoscaler,
    namespaces,
    informerOpts,
  );
  const all = [
    canaries,
    metricTemplates,
    alertProviders,
    releaseFreezes,
    deployments,
    services,
    virtualServices,
    destinationRules,
    configMaps,
    hpas,
    ...(secrets ? [secrets] : []),
  ];
  for (const group of all) for (const informer of group.informers) logLifecycle(informer, logger);

  const routers = new RouterFactory({
    api,
    deployments,
    services,
    virtualServices,
    destinationRules,
  });
  const routerFor = (canary: Canary) => routers.for(canary);
  const hookServices = createHookServices({
    api,
    alertProviders,
    logger,
    now: () => clock.now(),
    enqueue: (key) => enqueue(key),
    ...(options.clusterName ? { clusterName: options.clusterName } : {}),
    ...(options.defaultAlertProvider ? { defaultAlertProvider: options.defaultAlertProvider } : {}),
  });
  const events = hookServices.events(
    new EventRecorder({ api, logger: logger.child({ component: 'events' }) }),
  );
  const providers = new Map<string, MetricsProvider>();
  const providerFor = (spec: MetricTemplate['spec']['provider'] | undefined): MetricsProvider => {
    const cacheKey = canonicalJson(spec ?? null);
    let provider = providers.get(cacheKey);
    if (!provider) {
      provider = createMetricsProvider(spec, {
        defaultAddress: options.prometheusAddress,
        timeoutMs: options.queryTimeoutMs,
        logger: logger.child({ component: 'metrics' }),
      });
      providers.set(cacheKey, provider);
    }
    return provider;
  };
  const templates = (ref: { name: string; namespace: string }): MetricTemplate | undefined => {
    const raw = metricTemplates.get(ref.namespace, ref.name);
    if (!raw) return undefined;
    const result = validateMetricTemplate(raw);
    return result.ok ? result.value : undefined;
  };

  const reconciler = new CanaryReconciler({
    api,
    canaries,
    deployments: { api, deployments, hpas, configs: { configMaps, secrets: secrets ?? NO_SECRETS } },
    routerFor,
    defaultProvider: meshProvider,
    events,
    hooks: hookServices.hooks,
    runChecks: (canary, now) => runChecks({ canary, templates, providerFor, now }),
    clock,
    logger: logger.child({ component: 'reconciler' }),
    freezes: (canary) => freezesSelecting(canary, releaseFreezes),
  });
  // Keys queued before the Lease was lost are dropped here, not reconciled.
  const reconcile = async (key: string) => (isLeader() ? reconciler.reconcile(key) : undefined);
  const queue = new WorkQueue({
    reconcile: metrics ? metrics.timeReconcile(reconcile) : reconcile,
    workers: options.workers ?? 16,
    clock,
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

  const index = new TargetIndex();
  let started = false;
  const enqueue = (key: string) => {
    if (started && isLeader()) queue.add(key);
  };
  const enqueueAll = () => {
    for (const canary of canaries.list())
      enqueue(canaryKey(canary.metadata?.namespace, canary.metadata?.name ?? ''));
  };
  if (metrics) {
    metrics.setLeader(isLeader());
    metrics.queueDepthFrom(() => queue.length);
    canaries.on('add', (obj) => metrics.observeCanary(obj));
    canaries.on('update', (obj) => metrics.observeCanary(obj));
    canaries.on('delete', (obj) =>
      metrics.forgetCanary(obj.metadata?.namespace ?? '', obj.metadata?.name ?? ''),
    );
  }
  const onCanary = (obj: CanaryLike) => {
    const ns = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name ?? '';
    const target = obj.spec?.targetRef?.name;
    index.set(ns, name, typeof target === 'string' ? target : undefined);
    if (!ownWrites.isEcho(RESOURCES.canary, obj)) enqueue(canaryKey(ns, name));
  };
  canaries.on('add', onCanary);
  canaries.on('update', onCanary);
  canaries.on('delete', (obj) => {
    const ns = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name ?? '';
    ownWrites.forget(RESOURCES.canary, obj);
    index.remove(ns, name);
    queue.forget(canaryKey(ns, name));
    hookServices.forget(canaryKey(ns, name));
  });
  wakeOnConfigChanges({ canaries, deployments, configMaps, secrets, targets: index, enqueue });
  wakeOnAutoscalerChanges({ hpas, canaries, enqueue });
  wakeOnFreezeChanges({ freezes: releaseFreezes, canaries, enqueue });
  const onDeployment = (obj: Deployment) => {
    for (const key of index.canariesFor(obj.metadata?.namespace ?? '', obj.metadata?.name ?? ''))
      enqueue(key);
  };
  const onOwned = (obj: KubeObject) => {
    for (const ref of obj.metadata?.ownerReferences ?? []) {
      if (ref.kind === 'Canary' && ref.apiVersion.startsWith('petrel.dev/')) {
        enqueue(canaryKey(obj.metadata?.namespace, ref.name));
      }
    }
  };
  const watchedForCanaries: Array<[NamespacedInformers<KubeObject>, (obj: KubeObject) => void]> = [
    [deployments, onDeployment],
    [services, onOwned],
    [virtualServices, onOwned],
    [destinationRules, onOwned],
  ];
  for (const [informer, wake] of watchedForCanaries) {
    const resource = informer.resource;
    informer.on('add', (obj) => {
      if (!ownWrites.isEcho(resource, obj)) wake(obj);
    });
    informer.on('update', (obj) => {
      if (!ownWrites.isEcho(resource, obj)) wake(obj);
    });
    informer.on('delete', (obj) => {
      ownWrites.forget(resource, obj);
      wake(obj);
    });
  }

  const abort = new AbortController();
  const ready = (async () => {
    elector?.start();
    await Promise.all(all.map((group) => group.start()));
    await Promise.all(all.map((group) => group.waitForSync(abort.signal)));
    started = true;
    enqueueAll();
    logger.info(
      {
        namespaces: namespaces.length ? namespaces : 'all',
        canaries: canaries.list().length,
        meshProvider,
        leader: elector ? elector.isLeader : 'no election',
      },
      'caches synced; controller running',
    );
  })();
  ready.catch(() => {});

  let stopping: Promise<void> | undefined;
  return {
    ready,
    isLeader,
    stop: () => {
      stopping ??= (async () => {
        abort.abort(new Error('controller stopped'));
        started = false;
        await queue.shutDown();
        await hookServices.stop();
        await elector?.stop();
        await Promise.all(all.map((group) => group.stop()));
        leaderApi.close();
        logger.info('controller stopped');
      })();
      return stopping;
    },
  };
}

function logLifecycle(informer: ResilientInformer<KubeObject>, logger: Logger): void {
  const resource = informer.resource.plural;
  informer.on('error', (err) => logger.warn({ resource, err: describeError(err) }, 'watch failed'));
  informer.on('restart', (info) =>
    logger.info({ resource, attempt: info.attempt, delayMs: info.delayMs }, 'restarting informer'),
  );
  informer.on('synced', () => logger.debug({ resource }, 'cache synced'));
}

function describeError(err: unknown): unknown {
  return err instanceof Error ? { message: err.message, code: (err as { code?: unknown }).code } : err;
}
