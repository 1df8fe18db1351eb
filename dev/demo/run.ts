import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { CanaryStatus } from '../../src/api/canary.ts';
import { parseDuration } from '../../src/api/duration.ts';
import { type RunningController, startController } from '../../src/controller/controller.ts';
import { createKubeApi, type HttpKubeApi } from '../../src/kube/client.ts';
import { RESOURCES, type ResourceKind } from '../../src/kube/resources.ts';
import { type SandboxApiServer, startApiServer } from '../sandbox/apiserver/index.ts';
import { type RunningPrometheus, startPrometheus } from '../sandbox/prometheus.ts';
import { startTrafficSimulator, type TrafficSimulator } from '../sandbox/traffic.ts';
import {
  DEMO_APP,
  DEMO_GATEWAY,
  type DemoProvider,
  demoCanary,
  demoDeployment,
  demoGatewayObjects,
  demoNamespace,
  RELATIVE_CHECKS,
  releasePatch,
} from './app.ts';
import type { DemoEvent, DemoReporter } from './events.ts';
import { failedChecksSince, isTerminalPhase, outcomeReason } from './observe.ts';
import {
  initialVersion,
  isRelativeScenario,
  type Release,
  type ScenarioName,
  scenarioReleases,
} from './scenarios.ts';
import { DemoTimeoutError, pollUntil, sleep, within } from './wait.ts';
import { CanaryWatcher } from './watcher.ts';

const CRD_DIR = fileURLToPath(new URL('../../crds/', import.meta.url));
const NAMESPACES: ResourceKind = {
  group: '',
  version: 'v1',
  plural: 'namespaces',
  kind: 'Namespace',
  namespaced: false,
};

export interface DemoOptions {
  scenario: ScenarioName;
  /** Route with an Istio VirtualService (default) or a Gateway API HTTPRoute. */
  provider?: DemoProvider;
  /** Requests per second through the VirtualService. */
  rps: number;
  /** After the releases, keep everything running until `signal` aborts. */
  keep: boolean;
  reporter: DemoReporter;
  logger: Logger;
  /** Aborting stops the demo (and ends `keep`); everything started is stopped before runDemo returns. */
  signal: AbortSignal;
  /** Path to the prometheus binary; default: found on `searchPath`. */
  prometheusBinary?: string;
  /** PATH used to find prometheus; default process.env.PATH. */
  searchPath?: string;
  /** Deadline of each release, from the change to Succeeded or Failed. Default 90 s. */
  releaseTimeoutMs?: number;
  /** Deadline of the setup (caches synced, Canary initialised). Default 60 s. */
  setupTimeoutMs?: number;
  /** How long new pods of the sandbox take to become ready. Default 500 ms. */
  deploymentReadyDelayMs?: number;
  /** Against a real control plane (dev/cluster: kube-apiserver, etcd, KWOK) instead of the sandbox. */
  cluster?: boolean;
  /** Also serve `petrel dashboard` on a free port of 127.0.0.1 against the demo's API server. */
  dashboard?: boolean;
}

/** The API server the demo runs against: the sandbox, or a real control plane. */
interface DemoApiServer {
  readonly name: string;
  readonly url: string;
  readonly kubeconfigPath: string;
  kubeConfig(): KubeConfig;
  stop(): Promise<void>;
}

async function startDemoApiServer(opts: DemoOptions, logger: Logger): Promise<DemoApiServer> {
  const readyDelayMs = opts.deploymentReadyDelayMs ?? 500;
  if (opts.cluster) {
    // Loaded only here: the default demo needs nothing of dev/cluster.
    const { startControlPlane } = await import('../cluster/control-plane.ts');
    const plane = await startControlPlane({
      podReadyDelayMs: readyDelayMs,
      progress: (line) => logger.info(line),
    });
    return {
      name: 'kube-apiserver',
      url: plane.server,
      kubeconfigPath: plane.kubeconfigPath,
      kubeConfig: () => plane.kubeConfig(),
      stop: () => plane.stop(),
    };
  }
  const crdFiles = (await readdir(CRD_DIR)).filter((f) => f.endsWith('.yaml')).map((f) => join(CRD_DIR, f));
  const sandbox: SandboxApiServer = await startApiServer({
    crdFiles,
    deploymentReadyDelayMs: readyDelayMs,
    logger,
  });
  return {
    name: 'sandbox API server',
    url: sandbox.url,
    kubeconfigPath: sandbox.kubeconfigPath,
    kubeConfig: () => sandbox.kubeConfig(),
    stop: () => sandbox.stop(),
  };
}

export type DemoOutcome = Extract<DemoEvent, { type: 'outcome' }>;

export interface DemoResult {
  outcomes: DemoOutcome[];
  /** Every release of the scenario ended as expected. */
  ok: boolean;
}

/** What runDemo started, stopped in reverse order whatever happens. */
class Stack {
  private readonly stops: { what: string; stop: () => Promise<void> | void }[] = [];

  push(what: string, stop: () => Promise<void> | void): void {
    this.stops.push({ what, stop });
  }

  async unwind(logger: Logger): Promise<void> {
    for (const { what, stop } of this.stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (err) {
        logger.warn({ err: (err as Error).message, what }, 'stopping a demo component failed');
      }
    }
  }
}

/**
 * Runs the demo: Prometheus, the sandbox API server, the traffic simulator and the controller in
 * this process (Prometheus as its child), the example app, then each release of the scenario.
 * Throws PrometheusNotInstalledError before starting anything else when Prometheus is missing,
 * DemoTimeoutError when a step misses its deadline, DemoAbortedError when `signal` aborts.
 */
export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const { reporter, logger, signal } = opts;
  const releases = scenarioReleases(opts.scenario);
  const setupTimeoutMs = opts.setupTimeoutMs ?? 60_000;
  const stack = new Stack();
  try {
    // Prometheus first: without it there is no demo, and the error says how to install it.
    const prometheus: RunningPrometheus = await startPrometheus({
      binary: opts.prometheusBinary,
      searchPath: opts.searchPath,
      logger: logger.child({ component: 'prometheus' }),
    });
    stack.push('prometheus', () => prometheus.stop());
    reporter.emit({ type: 'setup', step: 'prometheus', detail: `${prometheus.url} (pid ${prometheus.pid})` });

    const sandbox = await startDemoApiServer(
      opts,
      logger.child({ component: opts.cluster ? 'cluster' : 'sandbox' }),
    );
    stack.push(sandbox.name, () => sandbox.stop());
    reporter.emit({
      type: 'setup',
      step: sandbox.name,
      detail: `${sandbox.url} with the Istio, Gateway API and Petrel CRDs`,
    });
    const provider = opts.provider ?? 'istio';
    const kubeConfig = sandbox.kubeConfig();
    const api: HttpKubeApi = createKubeApi({ kubeConfig, userAgent: 'petrel-demo' });
    stack.push('demo client', () => api.close());

    const app = DEMO_APP;
    const INITIAL_VERSION = initialVersion(opts.scenario);
    const relative = isRelativeScenario(opts.scenario);
    await api.create(NAMESPACES, demoNamespace(app));
    await api.create(
      RESOURCES.deployment,
      demoDeployment(INITIAL_VERSION.image, INITIAL_VERSION.behaviour, app),
    );
    reporter.emit({
      type: 'setup',
      step: 'app',
      detail: `Deployment ${app.namespace}/${app.name} v1 (${INITIAL_VERSION.image}), ${app.replicas} replicas`,
    });

    const simulator: TrafficSimulator = await startTrafficSimulator({
      kubeConfig,
      prometheusUrl: prometheus.url,
      namespace: app.namespace,
      rps: opts.rps,
      logger,
    });
    stack.push('traffic simulator', () => simulator.stop());
    if (provider === 'gatewayapi:v1') {
      for (const { resource, object } of demoGatewayObjects(app)) await api.create(resource, object);
      reporter.emit({
        type: 'setup',
        step: 'gateway',
        detail: `Gateway ${app.namespace}/${DEMO_GATEWAY.name} (GatewayClass ${DEMO_GATEWAY.className})`,
      });
    }
    reporter.emit({
      type: 'setup',
      step: 'traffic',
      detail: `${opts.rps} requests/s through ${provider === 'istio' ? 'the mesh' : 'the Gateway (HTTPRoute weights)'}`,
    });

    const controller: RunningController = startController({
      kubeConfig,
      logger: logger.child({ component: 'controller' }),
      prometheusAddress: prometheus.url,
      namespaces: [app.namespace],
      gatewayApi: provider === 'gatewayapi:v1',
    });
    stack.push('controller', () => controller.stop());
    await within('the controller syncing its caches', controller.ready, {
      timeoutMs: setupTimeoutMs,
      signal,
    });
    if (opts.dashboard) {
      const { startDashboard } = await import('../../src/dashboard/dashboard.ts');
      const dashboard = await startDashboard({ kubeConfig, namespace: app.namespace, port: 0 });
      stack.push('dashboard', () => dashboard.stop());
      reporter.emit({ type: 'setup', step: 'dashboard', detail: `${dashboard.url} (open it in a browser)` });
    }

    const watcher = new CanaryWatcher({
      kubeConfig,
      api,
      namespace: app.namespace,
      name: app.name,
      reporter,
      logger,
    });
    stack.push('demo watch', () => watcher.stop());
    await within('the demo watch syncing', watcher.start(signal), { timeoutMs: setupTimeoutMs, signal });

    await api.create(RESOURCES.canary, demoCanary(app, provider, relative));
    reporter.emit({
      type: 'setup',
      step: 'canary',
      detail: relative
        ? `Canary ${app.namespace}/${app.name} (provider ${provider}): step ${app.stepWeight}% every ${app.analysisInterval} up to ` +
          `${app.maxWeight}%, errors and p99 judged against the primary (${RELATIVE_CHECKS.errorTolerance}, ` +
          `${RELATIVE_CHECKS.latencyTolerance} slower, alpha ${RELATIVE_CHECKS.alpha}) with a sequential test`
        : `Canary ${app.namespace}/${app.name} (provider ${provider}): step ${app.stepWeight}% every ${app.analysisInterval} up to ` +
          `${app.maxWeight}%, success rate >= ${app.minSuccessRatePercent}% and p99 <= ${app.maxRequestDurationMs}ms ` +
          `over ${app.metricInterval}, rollback after ${app.threshold} failed checks`,
    });
    await pollUntil(
      'the Canary becoming Initialized',
      () => (watcher.current()?.status?.phase === 'Initialized' ? true : undefined),
      { timeoutMs: setupTimeoutMs, signal },
    );
    reporter.emit({
      type: 'ready',
      scenario: opts.scenario,
      releases: releases.map((r) => r.name),
      namespace: app.namespace,
      apiServerUrl: sandbox.url,
      kubeconfig: sandbox.kubeconfigPath,
      prometheusUrl: prometheus.url,
      prometheusPid: prometheus.pid,
    });

    const outcomes: DemoOutcome[] = [];
    let previousEnd: number | undefined;
    for (const release of releases) {
      if (previousEnd !== undefined) await letWindowClear(release, previousEnd, opts);
      const outcome = await runRelease(release, { api, watcher, opts });
      outcomes.push(outcome);
      reporter.emit(outcome);
      previousEnd = Date.now();
    }

    if (opts.keep) {
      reporter.emit({
        type: 'keep',
        kubeconfig: sandbox.kubeconfigPath,
        apiServerUrl: sandbox.url,
        prometheusUrl: prometheus.url,
      });
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    return { outcomes, ok: outcomes.every((o) => o.ok) };
  } finally {
    await stack.unwind(logger);
  }
}

/**
 * The checks look back one metric interval: the next release waits until the traffic the previous
 * canary served has left that window, so its first check measures only its own requests.
 */
async function letWindowClear(release: Release, previousEnd: number, opts: DemoOptions): Promise<void> {
  const windowMs = parseDuration(DEMO_APP.metricInterval);
  const firstCheckAfterMs = parseDuration(DEMO_APP.analysisInterval);
  const waitMs = previousEnd + windowMs - firstCheckAfterMs - Date.now();
  if (waitMs <= 0) return;
  opts.reporter.emit({
    type: 'pause',
    release: release.name,
    seconds: Math.ceil(waitMs / 1000),
    why: `letting the previous canary's requests leave the ${DEMO_APP.metricInterval} check window`,
  });
  await sleep(waitMs, opts.signal);
}

async function runRelease(
  release: Release,
  ctx: { api: HttpKubeApi; watcher: CanaryWatcher; opts: DemoOptions },
): Promise<DemoOutcome> {
  const { api, watcher, opts } = ctx;
  const app = DEMO_APP;
  const before = watcher.current()?.status?.lastAppliedSpec;
  const started = Date.now();
  watcher.release = release.name;
  opts.reporter.emit({
    type: 'release',
    release: release.name,
    image: release.image,
    description: release.description,
    expect: release.expect,
  });
  await api.mergePatch(
    { resource: RESOURCES.deployment, namespace: app.namespace, name: app.name },
    releasePatch(release.image, release.behaviour),
  );
  // A relative check may hold a weight while it gathers evidence: give its releases longer.
  const timeoutMs = opts.releaseTimeoutMs ?? (isRelativeScenario(opts.scenario) ? 240_000 : 90_000);
  let done: CanaryStatus;
  try {
    done = await pollUntil(
      `release ${release.name} ending in Succeeded or Failed`,
      () => {
        const status = watcher.current()?.status;
        const started = status?.lastAppliedSpec !== undefined && status.lastAppliedSpec !== before;
        return started && isTerminalPhase(status?.phase) ? status : undefined;
      },
      { timeoutMs, signal: opts.signal },
    );
  } catch (err) {
    if (!(err instanceof DemoTimeoutError)) throw err;
    const status = watcher.current()?.status;
    throw new DemoTimeoutError(
      `release ${release.name} did not end in Succeeded or Failed within ${timeoutMs / 1000}s: ` +
        `the Canary is ${status?.phase ?? 'without a phase'} at weight ${status?.canaryWeight ?? 0} ` +
        `(failed checks ${status?.failedChecks ?? 0}); run with --log-level info to see why`,
      { cause: err },
    );
  }
  const phase = done.phase ?? 'Unknown';
  // The Event of the decision that ended the release follows its status: shown before the outcome.
  await pollUntil(
    `the ${phase} event of release ${release.name}`,
    () => watcher.sawEvent(release.name, phase) || undefined,
    {
      timeoutMs: 5_000,
      signal: opts.signal,
    },
  ).catch((err: unknown) => {
    if (!(err instanceof DemoTimeoutError)) throw err;
  });
  const failedChecks = failedChecksSince(done, started);
  const failedMetric = release.expect.failedMetric;
  const ok =
    phase === release.expect.phase &&
    (failedMetric === undefined || failedChecks.some((c) => c.metric === failedMetric));
  return {
    type: 'outcome',
    release: release.name,
    phase,
    expected: release.expect.phase,
    ok,
    reason: outcomeReason(done),
    failedChecks,
    durationMs: Date.now() - started,
  };
}
