import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ConfigMap, Secret } from '../kube/configs.ts';
import type { ResilientInformer } from '../kube/informer.ts';
import { RESOURCES, type ResourceKind } from '../kube/resources.ts';
import { cacheTransform } from '../kube/slim.ts';
import type { KubeApi, KubeObject, KubeRequestHook } from '../kube/types.ts';
import type { Deployment, HorizontalPodAutoscaler } from '../kube/workloads.ts';
import type { HttpRoute } from '../routers/gatewayapi.ts';
import type { DestinationRule, VirtualService } from '../routers/istio.ts';
import type { Service } from '../routers/services.ts';
import { NamespacedInformers } from './caches.ts';

export interface CanaryLike extends KubeObject {
  spec?: { targetRef?: { name?: unknown } };
}

/** Every informer cache the controller reads from. */
export interface ControllerCaches {
  canaries: NamespacedInformers<CanaryLike>;
  metricTemplates: NamespacedInformers<KubeObject>;
  alertProviders: NamespacedInformers<KubeObject>;
  releaseFreezes: NamespacedInformers<KubeObject>;
  deployments: NamespacedInformers<Deployment>;
  services: NamespacedInformers<Service>;
  virtualServices: NamespacedInformers<VirtualService>;
  destinationRules: NamespacedInformers<DestinationRule>;
  /** Only when Gateway API routing is on (--gateway-api needs list/watch on HTTPRoutes). */
  httpRoutes: NamespacedInformers<HttpRoute> | undefined;
  configMaps: NamespacedInformers<ConfigMap>;
  /** Only when Secrets are tracked (--track-secrets needs list/watch on Secrets). */
  secrets: NamespacedInformers<Secret> | undefined;
  hpas: NamespacedInformers<HorizontalPodAutoscaler>;
  /** All of the above, to start, wait for and stop together. */
  all: readonly NamespacedInformers<KubeObject>[];
}

export interface CacheSetOptions {
  kubeConfig: KubeConfig;
  api: KubeApi;
  onRequest: KubeRequestHook | undefined;
  namespaces: readonly string[];
  trackSecrets: boolean;
  /** Cache HTTPRoutes, for canaries with provider gatewayapi:v1. */
  gatewayApi?: boolean;
  logger: Logger;
}

/** Creates the caches (not started yet), with their restarts and failures logged. */
export function createCaches(options: CacheSetOptions): ControllerCaches {
  const informerOpts = {
    kubeConfig: options.kubeConfig,
    api: options.api,
    onRequest: options.onRequest,
    transformFor: cacheTransform,
  };
  const of = <T extends KubeObject>(resource: ResourceKind) =>
    new NamespacedInformers<T>(resource, options.namespaces, informerOpts);
  const caches = {
    canaries: of<CanaryLike>(RESOURCES.canary),
    metricTemplates: of<KubeObject>(RESOURCES.metricTemplate),
    alertProviders: of<KubeObject>(RESOURCES.alertProvider),
    releaseFreezes: of<KubeObject>(RESOURCES.releaseFreeze),
    deployments: of<Deployment>(RESOURCES.deployment),
    services: of<Service>(RESOURCES.service),
    virtualServices: of<VirtualService>(RESOURCES.virtualService),
    destinationRules: of<DestinationRule>(RESOURCES.destinationRule),
    httpRoutes: options.gatewayApi ? of<HttpRoute>(RESOURCES.httpRoute) : undefined,
    configMaps: of<ConfigMap>(RESOURCES.configMap),
    secrets: options.trackSecrets ? of<Secret>(RESOURCES.secret) : undefined,
    hpas: of<HorizontalPodAutoscaler>(RESOURCES.horizontalPodAutoscaler),
  };
  const all: NamespacedInformers<KubeObject>[] = [
    caches.canaries,
    caches.metricTemplates,
    caches.alertProviders,
    caches.releaseFreezes,
    caches.deployments,
    caches.services,
    caches.virtualServices,
    caches.destinationRules,
    caches.configMaps,
    caches.hpas,
    ...(caches.secrets ? [caches.secrets] : []),
    ...(caches.httpRoutes ? [caches.httpRoutes] : []),
  ];
  for (const group of all) for (const informer of group.informers) logLifecycle(informer, options.logger);
  return { ...caches, all };
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
