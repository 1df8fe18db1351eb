import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { createKubeApi } from '../../src/kube/client.ts';
import { ResilientInformer } from '../../src/kube/informer.ts';
import { RESOURCES } from '../../src/kube/resources.ts';
import type { KubeObject } from '../../src/kube/types.ts';
import type { Clock } from '../../src/lib/clock.ts';
import { systemClock } from './apiserver/clock.ts';
import { IstioMetricsWriter } from './istio-metrics.ts';
import { parseBehaviour } from './traffic/behaviour.ts';
import { durationBuckets } from './traffic/histogram-buckets.ts';
import { type HttpRouteLike, httpRouteAsSessionRoutes, resolveHttpRoute } from './traffic/httproute.ts';
import { type RandomSource, seededRandom } from './traffic/random.ts';
import {
  type ClusterView,
  type DeploymentLike,
  resolveRoutes,
  type ServiceLike,
  type VirtualServiceLike,
  type WorkloadTarget,
} from './traffic/routes.ts';
import {
  ClientPool,
  type ClientPoolOptions,
  type RoutedRequest,
  resolveSessionRoutes,
  routesByCookie,
} from './traffic/sessions.ts';
import { simulateTick, type TickTraffic } from './traffic/simulate.ts';

export { type Behaviour, DEFAULT_BEHAVIOUR, parseBehaviour, SIM_ANNOTATIONS } from './traffic/behaviour.ts';
export { type HttpRouteLike, resolveHttpRoute } from './traffic/httproute.ts';
export { type RandomSource, seededRandom } from './traffic/random.ts';
export { resolveRoutes, serviceOfHost, type WorkloadTarget } from './traffic/routes.ts';
export { ClientPool, type ClientPoolOptions, type RoutedRequest } from './traffic/sessions.ts';
export { sampleLatency, simulateTick, type TickInput, type TickTraffic } from './traffic/simulate.ts';

/** The product's Clock; the simulator's ticks run on the sandbox's system clock, which keeps the process alive. */
export type SimulatorClock = Clock;

export interface StartTrafficSimulatorOptions {
  kubeConfig: KubeConfig;
  /** Prometheus base URL (with the remote-write receiver on). */
  prometheusUrl: string;
  /** Watch one namespace; all namespaces when omitted. */
  namespace?: string;
  /** Requests per second sent through each VirtualService. Default 50. */
  rps?: number;
  /** How often traffic is simulated and written. Default 1000 ms. */
  tickMs?: number;
  logger: Logger;
  /** Sample timestamps and tick timers come from here. Default: the system clock. */
  clock?: SimulatorClock;
  /** Seed of the random source, for reproducible runs. */
  seed?: number;
  random?: RandomSource;
  /** How long start waits for the caches to fill. Default 30 s. */
  syncTimeoutMs?: number;
  /** Called after every tick with what was simulated, e.g. for a live display. Must not throw. */
  onTick?: (traffic: readonly TickTraffic[], at: Date) => void;
  /**
   * The clients of a VirtualService or HTTPRoute that routes on cookies (session affinity), whose requests are then
   * routed one by one. Default: 100 clients, half of them keeping cookies.
   */
  clients?: ClientPoolOptions;
  /** Told about each request routed one by one (cookie routing only). Must not throw. */
  onRequest?: (request: RoutedRequest) => void;
}

export interface TrafficSimulator {
  /** Simulates and writes one tick now; the timer calls the same. Resolves with what was written. */
  tick(): Promise<TickTraffic[]>;
  /** Ticks completed so far (written or not). */
  readonly ticks: number;
  /** Stops the timer and the watches; waits for a tick in flight. Idempotent. */
  stop(): Promise<void>;
}

export class InvalidSimulatorOptionsError extends Error {
  override readonly name = 'InvalidSimulatorOptionsError';
  readonly code = 'INVALID_SIMULATOR_OPTIONS';
}

export class SimulatorSyncTimeoutError extends Error {
  override readonly name = 'SimulatorSyncTimeoutError';
  readonly code = 'SIMULATOR_SYNC_TIMEOUT';
}

/**
 * Watches VirtualServices, HTTPRoutes, Services and Deployments, and every tick sends `rps` requests
 * through each VirtualService and each HTTPRoute by its live weights, writing Istio's request metrics for the workloads
 * that served them into Prometheus. How each version behaves comes from its pod-template
 * annotations (see SIM_ANNOTATIONS).
 */
export async function startTrafficSimulator(opts: StartTrafficSimulatorOptions): Promise<TrafficSimulator> {
  const rps = opts.rps ?? 50;
  const tickMs = opts.tickMs ?? 1000;
  if (!Number.isFinite(rps) || rps < 0) {
    throw new InvalidSimulatorOptionsError(`rps must be a number >= 0, got ${rps}`);
  }
  if (!Number.isFinite(tickMs) || tickMs < 10) {
    throw new InvalidSimulatorOptionsError(`tickMs must be a number >= 10, got ${tickMs}`);
  }
  const logger = opts.logger.child({ component: 'traffic-simulator' });
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? (opts.seed !== undefined ? seededRandom(opts.seed) : Math.random);
  const api = createKubeApi({ kubeConfig: opts.kubeConfig, userAgent: 'petrel-traffic-simulator' });
  const informer = <T extends KubeObject>(resource: (typeof RESOURCES)[keyof typeof RESOURCES]) => {
    const inf = new ResilientInformer<T>({
      kubeConfig: opts.kubeConfig,
      api,
      resource,
      namespace: opts.namespace,
    });
    inf.on('restart', ({ attempt, delayMs, error }) =>
      logger.warn({ resource: resource.plural, attempt, delayMs, err: String(error) }, 'watch restarting'),
    );
    return inf;
  };
  const virtualServices = informer<KubeObject>(RESOURCES.virtualService);
  const services = informer<KubeObject>(RESOURCES.service);
  const deployments = informer<KubeObject>(RESOURCES.deployment);
  const httpRoutes = informer<KubeObject>(RESOURCES.httpRoute);
  const informers = [virtualServices, services, deployments, httpRoutes];

  const stopInformers = () => Promise.all(informers.map((i) => i.stop()));
  await Promise.all(informers.map((i) => i.start()));
  const syncTimeoutMs = opts.syncTimeoutMs ?? 30_000;
  try {
    await Promise.all(informers.map((i) => i.waitForSync(AbortSignal.timeout(syncTimeoutMs))));
  } catch (err) {
    await stopInformers();
    throw new SimulatorSyncTimeoutError(
      `the traffic simulator could not list VirtualServices, HTTPRoutes, Services and Deployments within ${syncTimeoutMs} ms: ` +
        'is the API server reachable and are the Istio and Gateway API CRDs installed?',
      { cause: err },
    );
  }

  const cluster: ClusterView = {
    service: (namespace, name) => services.get(namespace, name) as ServiceLike | undefined,
    deployments: (namespace) => deployments.list(namespace) as readonly DeploymentLike[],
  };
  const writer = new IstioMetricsWriter({ url: opts.prometheusUrl, logger });

  let ticks = 0;
  // Traffic flows from the moment the simulator starts; each tick covers the time since the last.
  let lastTickAt = clock.now().getTime();
  let lastWrittenAt = Number.NEGATIVE_INFINITY;
  let reported = new Set<string>();
  let failingSince: number | undefined;
  let failedTicks = 0;
  let running = true;
  let timer: unknown;
  let inFlight: Promise<TickTraffic[]> | undefined;

  const pools = new Map<string, ClientPool>();
  const poolOf = (vs: VirtualServiceLike) => {
    const key = `${vs.metadata?.namespace}/${vs.metadata?.name}`;
    let pool = pools.get(key);
    if (!pool) {
      pool = new ClientPool(opts.clients);
      pools.set(key, pool);
    }
    return pool;
  };
  /** Requests of one VirtualService in `elapsedMs`, the fraction rounded at random (the long-run rate is exact). */
  const requestsIn = (elapsedMs: number) => {
    const expected = (rps * elapsedMs) / 1000;
    const whole = Math.floor(expected);
    return whole + (random() < expected - whole ? 1 : 0);
  };

  /** Logs routing and annotation problems when they appear, not on every tick. */
  const report = (problems: string[]) => {
    const current = new Set(problems);
    for (const p of current) if (!reported.has(p)) logger.warn({ problem: p }, 'traffic simulation problem');
    reported = current;
  };

  const runTick = async (): Promise<TickTraffic[]> => {
    const now = clock.now().getTime();
    const elapsedMs = Math.max(0, now - lastTickAt);
    lastTickAt = now;
    const problems: string[] = [];
    const targets: WorkloadTarget[] = [];
    for (const vs of virtualServices.list(opts.namespace) as readonly VirtualServiceLike[]) {
      const resolved = routesByCookie(vs)
        ? resolveSessionRoutes(vs, cluster, poolOf(vs), requestsIn(elapsedMs), now, random, opts.onRequest)
        : resolveRoutes(vs, cluster);
      targets.push(...resolved.targets);
      problems.push(...resolved.problems);
    }
    for (const route of httpRoutes.list(opts.namespace) as readonly HttpRouteLike[]) {
      const sessions = httpRouteAsSessionRoutes(route);
      const resolved = sessions
        ? resolveSessionRoutes(
            sessions,
            cluster,
            poolOf(sessions),
            requestsIn(elapsedMs),
            now,
            random,
            opts.onRequest,
          )
        : resolveHttpRoute(route, cluster);
      targets.push(...resolved.targets);
      problems.push(
        ...resolved.problems.map((p) => p.replace(/VirtualService (\S+) \(HTTPRoute\)/, 'HTTPRoute $1')),
      );
    }
    for (const t of targets) {
      for (const p of parseBehaviour(t.annotations).problems)
        problems.push(`Deployment ${t.namespace}/${t.workload}: ${p}`);
      const buckets = durationBuckets(t.annotations).problem;
      if (buckets) problems.push(`Deployment ${t.namespace}/${t.workload}: ${buckets}`);
    }
    report(problems);
    const traffic = simulateTick({ targets, rps, elapsedMs, random });
    for (const t of traffic) {
      writer.record(t.namespace, t.workload, {
        requests: t.requests,
        errors: t.errors,
        latenciesMs: t.latenciesMs,
        destinationService: t.service,
        durationBucketsMs: t.durationBucketsMs,
      });
    }
    // Prometheus rejects a sample not newer than the previous one of its series.
    const writeAt = Math.max(now, lastWrittenAt + 1);
    try {
      await writer.flush(writeAt);
      lastWrittenAt = writeAt;
      if (failingSince !== undefined) {
        logger.info({ failedTicks }, 'writing simulated metrics works again');
        failingSince = undefined;
        failedTicks = 0;
      }
    } catch (err) {
      // Counters keep accumulating, so the next successful flush catches up. Warn once per outage.
      failedTicks++;
      if (failingSince === undefined) {
        failingSince = now;
        logger.warn({ err: (err as Error).message }, 'writing simulated metrics failed; retrying every tick');
      } else {
        logger.debug({ err: (err as Error).message, failedTicks }, 'writing simulated metrics still failing');
      }
    } finally {
      ticks++;
    }
    try {
      opts.onTick?.(traffic, new Date(now));
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'onTick callback threw');
    }
    logger.trace(
      { workloads: traffic.map((t) => `${t.namespace}/${t.workload}:${t.requests}/${t.errors}`) },
      'tick',
    );
    return traffic;
  };

  const tick = (): Promise<TickTraffic[]> => {
    const previous = inFlight ?? Promise.resolve([]);
    const next = previous.catch(() => []).then(runTick);
    inFlight = next;
    return next;
  };

  const schedule = () => {
    if (!running) return;
    timer = clock.setTimeout(() => {
      tick()
        .catch((err: unknown) => logger.error({ err: (err as Error).message }, 'traffic tick failed'))
        .finally(schedule);
    }, tickMs);
  };
  schedule();
  logger.info({ rps, tickMs, namespace: opts.namespace ?? '(all)' }, 'traffic simulator started');

  let stopped: Promise<void> | undefined;
  return {
    tick,
    get ticks() {
      return ticks;
    },
    stop() {
      stopped ??= (async () => {
        running = false;
        if (timer !== undefined) clock.clearTimeout(timer);
        await inFlight?.catch(() => {});
        await stopInformers();
      })();
      return stopped;
    },
  };
}
