import { loadavg } from 'node:os';
import type { Logger } from 'pino';
import type { KubeApi } from '../src/kube/types.ts';
import { type ControllerProcess, ProcessSampler } from './controller-process.ts';
import { classOf, countByClass, countByVerb, type RequestTap, type TappedRequest } from './request-tap.ts';
import { type SimulatorProcess, startSimulatorProcess } from './simulator-process.ts';
import { type Distribution, distribution, sleep } from './stats.ts';
import {
  appName,
  type CanaryShape,
  createApps,
  createNamespace,
  failedChecks,
  phases,
  setImage,
  setImages,
  waitForPhases,
} from './workload.ts';

/** One API server (the sandbox or a real control plane) + controller process, with the bench's own client and the request tap. */
export interface BenchEnv {
  /** An admin kubeconfig of the API server, for the controller and the simulator. */
  kubeconfigPath: string;
  api: KubeApi;
  tap: RequestTap;
  controller: ControllerProcess;
  prometheusUrl: string;
  logger: Logger;
}

const SETTLED = ['Initialized', 'Succeeded'];
/** maxWeight 50 / stepWeight 10 (see workload.ts). */
const WEIGHT_STEPS = 5;

/** The 1, 5 and 15 minute load averages, recorded next to every figure (the machine is shared). */
export function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

/** Total queries Prometheus answered on its instant and range query endpoints, from its own /metrics. */
export async function prometheusQueryCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('prometheus_http_requests_total{')) continue;
    if (!/handler="\/api\/v1\/query(_range)?"/.test(line)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

function inNamespace(requests: readonly TappedRequest[], namespace: string) {
  return requests.filter((r) => r.namespace === namespace);
}

function belongsTo(r: TappedRequest, app: string): boolean {
  return r.name === app || (r.name?.startsWith(`${app}-`) ?? false);
}

/**
 * Waits for `work` unless the controller process exits first (out of memory, a crash): then fails at
 * once with the controller's last words instead of waiting out the scenario's timeouts.
 */
export async function whileAlive<T>(controller: ControllerProcess, work: Promise<T>): Promise<T> {
  work.catch(() => {});
  return Promise.race([work, controller.died]);
}

function startSimulator(env: BenchEnv, namespace: string, tickMs: number): Promise<SimulatorProcess> {
  return startSimulatorProcess({
    kubeconfigPath: env.kubeconfigPath,
    prometheusUrl: env.prometheusUrl,
    namespace,
    rps: 50,
    tickMs,
    seed: 8,
    syncTimeoutMs: 120_000,
  });
}

/** Writes of one canary's weight steps: VirtualService patches in time order. */
function weightPatches(requests: readonly TappedRequest[], app: string): TappedRequest[] {
  return requests
    .filter((r) => r.verb === 'patch' && r.resource === 'virtualservices' && r.name === app)
    .sort((a, b) => a.time - b.time);
}

export interface CostPerStep {
  load: string;
  interval: string;
  metricsPerStep: number;
  phase: string;
  rolloutSeconds: number;
  weightSteps: number;
  /** Reads (get/list) over the whole rollout, after the caches synced. */
  reads: number;
  readsPerStep: number;
  /** Writes between the first and the last weight step, per step. */
  writesPerWeightStep: number;
  writesPerWeightStepByKind: Record<string, number>;
  /** Every request of the rollout, by verb and resource. */
  requestsByVerb: Record<string, number>;
  prometheusQueries: number;
  prometheusQueriesPerStep: number;
}

/** One canary through a full rollout (10..50 in steps of 10, then promotion). */
export async function costPerStep(
  env: BenchEnv,
  shape: CanaryShape,
  timeoutMs: number,
): Promise<CostPerStep> {
  const ns = 'bench-cost';
  const app = appName('cost', 0);
  await createNamespace(env.api, ns);
  await createApps(env.api, ns, [app], shape);
  const simulator = await startSimulator(env, ns, 1000);
  try {
    await waitForPhases(env.api, ns, SETTLED, 1, 60_000, 200);
    await sleep(1500);
    const queriesBefore = await prometheusQueryCount(env.prometheusUrl);
    env.tap.start();
    const started = Date.now();
    await setImage(env.api, ns, app, 'example/app:2');
    await waitForPhases(env.api, ns, ['Progressing'], 1, 30_000, 100);
    await waitForPhases(env.api, ns, ['Succeeded', 'Failed'], 1, timeoutMs, 250);
    const rolloutSeconds = (Date.now() - started) / 1000;
    const requests = inNamespace(env.tap.stop(), ns);
    const queries = (await prometheusQueryCount(env.prometheusUrl)) - queriesBefore;
    const phase = (await phases(env.api, ns)).get(app) ?? '';
    const patches = weightPatches(requests, app);
    // Route changes 10, 20, 30, 40, 50, then 100/0 at promotion: the last of the increasing ones ends the steps.
    const weightSteps = Math.max(0, patches.length - 1);
    const first = patches[0]?.time;
    const last = patches[weightSteps - 1]?.time;
    const stepWrites =
      first === undefined || last === undefined
        ? []
        : requests.filter((r) => classOf(r.verb) === 'write' && r.time >= first && r.time < last);
    const steps = Math.max(1, weightSteps - 1);
    const byKind = countByVerb(stepWrites);
    const reads = countByClass(requests).read;
    return {
      load: loadAverage(),
      interval: shape.interval,
      metricsPerStep: shape.metrics,
      phase,
      rolloutSeconds,
      weightSteps,
      reads,
      readsPerStep: reads / Math.max(1, weightSteps),
      writesPerWeightStep: stepWrites.length / steps,
      writesPerWeightStepByKind: Object.fromEntries(Object.entries(byKind).map(([k, v]) => [k, v / steps])),
      requestsByVerb: countByVerb(requests),
      prometheusQueries: queries,
      prometheusQueriesPerStep: queries / Math.max(1, weightSteps),
    };
  } finally {
    env.tap.stop();
    await simulator.stop();
  }
}

export interface IdleCost {
  load: string;
  canaries: number;
  windowSeconds: number;
  /** Requests for the idle canaries' namespace (reads + writes), per minute. */
  requestsPerMinute: number;
  readsPerMinute: number;
  writesPerMinute: number;
  requestsByVerb: Record<string, number>;
  /** Watch (re)connections of the whole controller in the window: its fixed cost, not per canary. */
  watchRequests: number;
  controllerCpuSecondsPerMinute: number;
}

/** N canaries settled with nothing changing: what they cost per minute. */
export async function idleCost(env: BenchEnv, count: number, windowMs: number): Promise<IdleCost> {
  const ns = 'bench-idle';
  await createNamespace(env.api, ns);
  const names = Array.from({ length: count }, (_, i) => appName('idle', i));
  await createApps(env.api, ns, names, { interval: '10s', metrics: 1 });
  await waitForPhases(env.api, ns, SETTLED, count, 120_000, 250);
  await sleep(2000);
  const sampler = new ProcessSampler(env.controller.pid);
  sampler.start();
  env.tap.start();
  await sleep(windowMs);
  const all = env.tap.stop();
  const cpu = sampler.stop();
  const requests = inNamespace(all, ns);
  const classes = countByClass(requests);
  const perMinute = (n: number) => (n / windowMs) * 60_000;
  return {
    load: loadAverage(),
    canaries: count,
    windowSeconds: windowMs / 1000,
    requestsPerMinute: perMinute(classes.read + classes.write),
    readsPerMinute: perMinute(classes.read),
    writesPerMinute: perMinute(classes.write),
    requestsByVerb: countByVerb(requests),
    watchRequests: countByClass(all).watch,
    controllerCpuSecondsPerMinute: cpu.cpuSecondsPerMinute,
  };
}

export interface DetectionLatency extends Distribution {
  load: string;
  changes: number;
  /** Changes the controller did not act on within the timeout. */
  missed: number;
}

/**
 * From a Deployment change (just before the bench sends the patch) to the controller's first write for
 * that canary, as the API server received it, one change at a time.
 */
export async function detectionLatency(
  env: BenchEnv,
  changes: number,
  timeoutMs: number,
): Promise<DetectionLatency> {
  const ns = 'bench-detect';
  await createNamespace(env.api, ns);
  const names = Array.from({ length: changes }, (_, i) => appName('detect', i));
  // A long interval: after the first action nothing else happens during the run.
  await createApps(env.api, ns, names, { interval: '1h', metrics: 1 });
  await waitForPhases(env.api, ns, SETTLED, changes, 120_000, 250);
  await sleep(1000);
  const latencies: number[] = [];
  let missed = 0;
  env.tap.start();
  try {
    for (const app of names) {
      const from = env.tap.seen.length;
      const t0 = Date.now();
      await setImage(env.api, ns, app, 'example/app:2');
      const deadline = t0 + timeoutMs;
      let acted: TappedRequest | undefined;
      while (!acted && Date.now() < deadline) {
        acted = env.tap.seen
          .slice(from)
          .find((r) => r.namespace === ns && belongsTo(r, app) && classOf(r.verb) === 'write');
        if (!acted) await sleep(2);
      }
      if (acted) latencies.push(acted.time - t0);
      else missed++;
      await sleep(100);
    }
  } finally {
    env.tap.stop();
  }
  return { load: loadAverage(), changes, missed, ...distribution(latencies) };
}

export interface ScaleResult {
  load: string;
  canaries: number;
  progressing: number;
  interval: string;
  workers: number;
  /** From the controller's start until every canary was Initialized. */
  initSeconds: number | null;
  /** The controller's peak resident set (VmHWM) at the end of the run, start-up included. */
  peakRssMiB: number;
  /** Highest RSS sampled while the progressing canaries were stepping. */
  maxRssDuringRolloutMiB: number;
  cpuSecondsPerMinute: number;
  initCpuSeconds: number | null;
  /** When each weight step happened against when it was due (previous step + interval). */
  stepLag: Distribution;
  weightSteps: number;
  succeeded: number;
  failed: number;
  stillProgressing: number;
  measuredSeconds: number;
  readsPerStep: number;
  writesPerStep: number;
  prometheusQueriesPerStep: number;
  /** Failed checks in the progressing canaries' status history, and their most frequent reasons. */
  failedChecks: number;
  failedCheckReasons: Record<string, number>;
  /** Log lines at warn and above (first 50). */
  warnings: number;
  error?: string;
}

export type ScaleEnvFactory = () => Promise<BenchEnv & { close(): Promise<void> }>;

function parseIntervalMs(interval: string): number {
  const m = /^(\d+)(s|m)$/.exec(interval);
  if (!m) throw new Error(`bench intervals are whole seconds or minutes, got ${interval}`);
  return Number(m[1]) * (m[2] === 's' ? 1000 : 60_000);
}

/**
 * N canaries, a tenth of them progressing at once: how the controller's memory, CPU and step timing
 * hold up. The apps exist before the controller starts, so start-up is a cold sync of all of them.
 */
export async function scale(
  start: (
    setup: (env: Omit<BenchEnv, 'controller'>) => Promise<void>,
  ) => Promise<BenchEnv & { close(): Promise<void> }>,
  opts: {
    canaries: number;
    interval: string;
    workers: number;
    timeoutMs: number;
    /** How long the cold start may take per canary (default 60 ms; at least 120 s in all). */
    initMsPerCanary?: number;
  },
): Promise<ScaleResult> {
  const active = Math.max(1, Math.round(opts.canaries / 10));
  const idle = opts.canaries - active;
  const activeNames = Array.from({ length: active }, (_, i) => appName('a', i));
  const idleNames = Array.from({ length: idle }, (_, i) => appName('i', i));
  const shape: CanaryShape = { interval: opts.interval, metrics: 1 };
  const intervalMs = parseIntervalMs(opts.interval);
  const env = await start(async (pre) => {
    await createNamespace(pre.api, 'scale-active');
    await createNamespace(pre.api, 'scale-idle');
    await createApps(pre.api, 'scale-active', activeNames, shape);
    await createApps(pre.api, 'scale-idle', idleNames, shape);
  });
  const result: ScaleResult = {
    load: '',
    canaries: opts.canaries,
    progressing: active,
    interval: opts.interval,
    workers: opts.workers,
    initSeconds: null,
    peakRssMiB: 0,
    maxRssDuringRolloutMiB: 0,
    cpuSecondsPerMinute: 0,
    initCpuSeconds: null,
    stepLag: distribution([]),
    weightSteps: 0,
    succeeded: 0,
    failed: 0,
    stillProgressing: 0,
    measuredSeconds: 0,
    readsPerStep: 0,
    writesPerStep: 0,
    prometheusQueriesPerStep: 0,
    failedChecks: 0,
    failedCheckReasons: {},
    warnings: 0,
  };
  let simulator: SimulatorProcess | undefined;
  const whole = new ProcessSampler(env.controller.pid, 1000);
  whole.start();
  const measuring = (async () => {
    const initStarted = Date.now();
    const initTimeout = Math.max(120_000, opts.canaries * (opts.initMsPerCanary ?? 60));
    await env.controller.ready;
    // Listing 9,000 canaries is itself work for the shared CPUs: poll less often the more there are.
    const pollMs = Math.max(1000, opts.canaries / 2);
    await waitForPhases(env.api, 'scale-active', SETTLED, active, initTimeout, pollMs);
    await waitForPhases(
      env.api,
      'scale-idle',
      SETTLED,
      idle,
      initTimeout - (Date.now() - initStarted),
      pollMs,
    );
    result.initSeconds = (Date.now() - initStarted) / 1000;
    result.initCpuSeconds = whole.last?.cpuSeconds ?? null;
    simulator = await startSimulator(env, 'scale-active', active > 200 ? 2000 : 1000);
    await sleep(3000);

    const sampler = new ProcessSampler(env.controller.pid, 500);
    const queriesBefore = await prometheusQueryCount(env.prometheusUrl);
    sampler.start();
    env.tap.start();
    const started = Date.now();
    await setImages(env.api, 'scale-active', activeNames, 'example/app:2');
    // Every canary steps 5 times then promotes: wait for that or the timeout.
    const deadline = started + opts.timeoutMs;
    let now = await phases(env.api, 'scale-active');
    while (Date.now() < deadline) {
      const done = [...now.values()].filter((p) => p === 'Succeeded' || p === 'Failed').length;
      if (done >= active && Date.now() - started > intervalMs) break;
      await sleep(Math.min(2000, intervalMs));
      now = await phases(env.api, 'scale-active');
    }
    const requests = inNamespace(env.tap.stop(), 'scale-active');
    const usage = sampler.stop();
    const queries = (await prometheusQueryCount(env.prometheusUrl)) - queriesBefore;
    const lags: number[] = [];
    let steps = 0;
    const byApp = new Map<string, TappedRequest[]>();
    for (const r of requests) {
      if (r.verb !== 'patch' || r.resource !== 'virtualservices' || !r.name) continue;
      const list = byApp.get(r.name) ?? [];
      list.push(r);
      byApp.set(r.name, list);
    }
    for (const all of byApp.values()) {
      // The weight steps (10..50) only: the route reset at promotion is not due an interval after 50.
      const patches = all.sort((a, b) => a.time - b.time).slice(0, WEIGHT_STEPS);
      steps += patches.length;
      for (let i = 1; i < patches.length; i++)
        lags.push(
          Math.max(
            0,
            (patches[i] as TappedRequest).time - (patches[i - 1] as TappedRequest).time - intervalMs,
          ),
        );
    }
    const classes = countByClass(requests);
    const failed = await failedChecks(env.api, 'scale-active');
    const phaseValues = [...now.values()];
    Object.assign(result, {
      load: loadAverage(),
      peakRssMiB: mib(usage.peakRssBytes),
      maxRssDuringRolloutMiB: mib(usage.maxRssBytes),
      cpuSecondsPerMinute: round(usage.cpuSecondsPerMinute),
      stepLag: distribution(lags),
      weightSteps: steps,
      succeeded: phaseValues.filter((p) => p === 'Succeeded').length,
      failed: phaseValues.filter((p) => p === 'Failed').length,
      stillProgressing: phaseValues.filter((p) => !['Succeeded', 'Failed'].includes(p)).length,
      measuredSeconds: round(usage.seconds),
      readsPerStep: round(classes.read / Math.max(1, steps)),
      writesPerStep: round(classes.write / Math.max(1, steps)),
      prometheusQueriesPerStep: round(queries / Math.max(1, steps)),
      failedChecks: failed.total,
      failedCheckReasons: failed.byReason,
    });
  })();
  try {
    await whileAlive(env.controller, measuring);
  } catch (err) {
    result.error = (err as Error).message;
    result.load = loadAverage();
  } finally {
    const end = whole.stop();
    result.peakRssMiB = mib(end.peakRssBytes);
    result.warnings = env.controller.warnings.length;
    await simulator?.stop();
    await env.close();
    // When the controller died first, the measurement may still be running: with the API server
    // gone it ends at once; a simulator it started meanwhile is stopped too.
    await measuring.catch(() => {});
    await simulator?.stop();
  }
  return result;
}

function mib(bytes: number): number {
  return round(bytes / 1024 / 1024);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
