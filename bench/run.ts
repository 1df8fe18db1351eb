// Petrel's benchmarks: the API and Prometheus cost of a rollout step, the cost of idle canaries, how fast
// a change is noticed, and how one controller process holds up with 100 to 10,000 canaries.
// Run: npm run bench -- [--quick] [--cluster] [--sizes 100,1000] [--scale-only] [--workers N] [--out FILE]
//   [--judgement] (the decision-quality benchmark of bench/judgement.ts instead)
//   [--controller-build dist|sources] [--controller-node-options='--max-old-space-size=400']
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { parse } from 'yaml';
import { requireBinaries } from '../dev/cluster/binaries.ts';
import { startApiServer } from '../dev/sandbox/apiserver/index.ts';
import { startPrometheus } from '../dev/sandbox/prometheus.ts';
import { parseCommandLine, usageError } from '../src/cli/command-line.ts';
import { createKubeApi } from '../src/kube/client.ts';
import type { KubeApi } from '../src/kube/types.ts';
import { type ControlPlaneUsage, controlPlaneDescription, startClusterApi } from './cluster-env.ts';
import { startControllerProcess } from './controller-process.ts';
import { JUDGEMENT_PLANS, renderJudgement, runJudgementBench } from './judgement.ts';
import { BENCH_USER_AGENT, RequestTap } from './request-tap.ts';
import {
  type BenchEnv,
  costPerStep,
  detectionLatency,
  idleCost,
  loadAverage,
  scale,
  whileAlive,
} from './scenarios.ts';
import { type BenchReport, evaluateTargets, renderSummary } from './summary.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CRD_DIR = fileURLToPath(new URL('../crds/', import.meta.url));
const CHART_VALUES = fileURLToPath(new URL('../charts/petrel/values.yaml', import.meta.url));
const TSC = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
const DEFAULT_OUT = fileURLToPath(new URL('./report.json', import.meta.url));
const DEFAULT_CLUSTER_OUT = fileURLToPath(new URL('./report-cluster.json', import.meta.url));
const DEFAULT_JUDGEMENT_OUT = fileURLToPath(new URL('./report-judgement.json', import.meta.url));

export interface BenchPlan {
  mode: 'quick' | 'full';
  cost: { interval: string; timeoutMs: number };
  idle: { canaries: number; windowMs: number };
  detection: { changes: number; timeoutMs: number };
  scale: { sizes: number[]; interval: string; timeoutMs: number };
  workers: number;
  /** Node flags of the controller process; by default the chart's heap limit (see chartNodeOptions). */
  controllerNodeOptions?: string;
  /** The compiled dist/ (what the image runs; built first) or the sources through tsx. */
  controllerBuild: 'dist' | 'sources';
  /** Skip cost, idle and detection (they do not depend on the number of canaries). */
  scaleOnly: boolean;
  /** Against a real control plane (dev/cluster: kube-apiserver, etcd, KWOK) instead of the sandbox. */
  cluster?: boolean;
}

export function planFor(opts: {
  quick: boolean;
  sizes?: number[];
  workers?: number;
  scaleOnly?: boolean;
  controllerBuild?: 'dist' | 'sources';
}): BenchPlan {
  // The controller's own default (src/cli/controller.ts).
  const workers = opts.workers ?? 16;
  const scaleOnly = opts.scaleOnly ?? false;
  const controllerBuild = opts.controllerBuild ?? 'dist';
  if (opts.quick)
    return {
      mode: 'quick',
      cost: { interval: '1s', timeoutMs: 30_000 },
      idle: { canaries: 10, windowMs: 4000 },
      detection: { changes: 10, timeoutMs: 5000 },
      scale: { sizes: opts.sizes ?? [50], interval: '1s', timeoutMs: 20_000 },
      workers,
      scaleOnly,
      controllerBuild,
    };
  return {
    mode: 'full',
    cost: { interval: '5s', timeoutMs: 120_000 },
    idle: { canaries: 200, windowMs: 60_000 },
    detection: { changes: 50, timeoutMs: 10_000 },
    scale: { sizes: opts.sizes ?? [100, 1000, 10_000], interval: '10s', timeoutMs: 180_000 },
    workers,
    scaleOnly,
    controllerBuild,
  };
}

/**
 * The controller as the Helm chart runs it: V8's heap limited to the chart's maxHeapMiB (without a
 * limit Node sizes the heap from the machine's memory, 24 GiB here, and collects garbage late).
 */
export function chartNodeOptions(): string {
  const values = parse(readFileSync(CHART_VALUES, 'utf8')) as { maxHeapMiB?: unknown };
  const heap = values.maxHeapMiB;
  if (typeof heap !== 'number' || !Number.isInteger(heap) || heap <= 0)
    throw new Error(`${CHART_VALUES}: maxHeapMiB is not a whole number of MiB`);
  return `--max-old-space-size=${heap}`;
}

/** Compiles dist/ (npm run build) so the controller runs what the container image runs. */
function buildDist(log: (line: string) => void): void {
  log('building dist/ (tsc -p tsconfig.build.json)');
  const result = spawnSync(process.execPath, [TSC, '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (result.status !== 0)
    throw new Error(`tsc -p tsconfig.build.json failed: ${result.stdout}${result.stderr}`.trim());
}

function crdFiles(): string[] {
  return readdirSync(CRD_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => `${CRD_DIR}${f}`);
}

async function startEnv(
  prometheusUrl: string,
  plan: Pick<BenchPlan, 'workers' | 'controllerNodeOptions' | 'controllerBuild' | 'cluster'>,
  logger: pino.Logger,
  readyTimeoutMs: number,
  setup?: (env: Omit<BenchEnv, 'controller'>) => Promise<void>,
  usage?: { label: string; nodes: number; into: ControlPlaneUsage[] },
): Promise<BenchEnv & { close(): Promise<void> }> {
  const server = plan.cluster
    ? await (async () => {
        const cluster = await startClusterApi(usage?.label ?? 'bench', usage?.nodes ?? 3);
        return {
          kubeconfigPath: cluster.kubeconfigPath,
          api: cluster.api,
          tap: cluster.tap,
          close: async () => {
            const used = await cluster.close();
            usage?.into.push(used);
          },
        };
      })()
    : await (async () => {
        const sandbox = await startApiServer({ deploymentReadyDelayMs: 100, crdFiles: crdFiles() });
        const api = createKubeApi({ kubeConfig: sandbox.kubeConfig(), userAgent: BENCH_USER_AGENT });
        return {
          kubeconfigPath: sandbox.kubeconfigPath,
          api: api as KubeApi,
          tap: new RequestTap(sandbox.requestLog),
          close: async () => {
            api.close();
            await sandbox.stop();
          },
        };
      })();
  const { kubeconfigPath, api, tap } = server;
  try {
    await setup?.({ kubeconfigPath, api, tap, prometheusUrl, logger });
    const controller = startControllerProcess({
      kubeconfigPath,
      prometheusUrl,
      workers: plan.workers,
      nodeOptions: plan.controllerNodeOptions,
      useDist: plan.controllerBuild === 'dist',
      readyTimeoutMs,
    });
    return {
      kubeconfigPath,
      api,
      tap,
      controller,
      prometheusUrl,
      logger,
      close: async () => {
        await controller.stop();
        await server.close();
      },
    };
  } catch (err) {
    await server.close();
    throw err;
  }
}

export async function runBench(plan: BenchPlan, log: (line: string) => void): Promise<BenchReport> {
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const startedAt = new Date();
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryMiB: Math.round(totalmem() / 1024 / 1024),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAtStart: loadAverage(),
  };
  if (plan.controllerBuild === 'dist') buildDist(log);
  const prometheus = await startPrometheus({ logger, retention: '2h' });
  try {
    log(`benchmarks (${plan.mode}), load ${machine.loadAtStart}`);
    let cost: BenchReport['costPerStep'] = null;
    let idle: BenchReport['idleCost'] = null;
    let detection: BenchReport['detectionLatency'] = null;
    const controlPlane: ControlPlaneUsage[] = [];
    const env = plan.scaleOnly
      ? undefined
      : await startEnv(prometheus.url, plan, logger, 60_000, undefined, {
          label: 'cost, idle, detection',
          nodes: 3,
          into: controlPlane,
        });
    if (env)
      try {
        await env.controller.ready;
        log('cost per step: one canary through a full rollout');
        cost = await whileAlive(
          env.controller,
          costPerStep(env, { interval: plan.cost.interval, metrics: 1 }, plan.cost.timeoutMs),
        );
        log(`idle cost: ${plan.idle.canaries} settled canaries for ${plan.idle.windowMs / 1000} s`);
        idle = await whileAlive(env.controller, idleCost(env, plan.idle.canaries, plan.idle.windowMs));
        log(`detection latency: ${plan.detection.changes} changes`);
        detection = await whileAlive(
          env.controller,
          detectionLatency(env, plan.detection.changes, plan.detection.timeoutMs),
        );
      } finally {
        await env.close();
      }
    const scaleResults: BenchReport['scale'] = [];
    for (const canaries of plan.scale.sizes) {
      log(`scale: ${canaries} canaries, ${Math.max(1, Math.round(canaries / 10))} progressing`);
      scaleResults.push(
        await scale(
          (setup) =>
            startEnv(prometheus.url, plan, logger, Math.max(60_000, canaries * 30), setup, {
              label: `scale ${canaries}`,
              // Two pods per canary (its target and its primary), at most 1,000 a fake node.
              nodes: Math.max(3, Math.ceil((canaries * 2) / 1000) + 1),
              into: controlPlane,
            }),
          {
            canaries,
            interval: plan.scale.interval,
            workers: plan.workers,
            timeoutMs: plan.scale.timeoutMs,
            // A real control plane also schedules and starts two pods per canary on the same two cores.
            initMsPerCanary: plan.cluster ? 600 : 60,
          },
        ),
      );
      log(`  ${JSON.stringify(scaleResults.at(-1))}`);
    }
    const report: BenchReport = {
      version: 1,
      mode: plan.mode,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine,
      controller: {
        workers: plan.workers,
        nodeOptions: plan.controllerNodeOptions ?? null,
        build: plan.controllerBuild,
      },
      costPerStep: cost,
      idleCost: idle,
      detectionLatency: detection,
      scale: scaleResults,
      apiServer: plan.cluster ? controlPlaneDescription() : 'sandbox (dev/sandbox/apiserver)',
      ...(plan.cluster ? { controlPlane } : {}),
      targets: [],
    };
    report.targets = evaluateTargets(report);
    return report;
  } finally {
    await prometheus.stop();
  }
}

const BENCH_COMMAND_LINE = {
  command: 'npm run bench',
  usage: `usage: npm run bench -- [options]

  --quick                          short runs (about a minute) instead of the full set
  --sizes N,N                      numbers of canaries for the scale runs (default 100,1000,10000; quick 50)
  --scale-only                     only the scale runs
  --workers N                      the controller's --workers, 1-64 (default 16)
  --out FILE                       the JSON report (default bench/report.json)
  --controller-build dist|sources  run the compiled dist/ as the image does (default), or the sources
  --controller-node-options OPTS   Node flags of the controller (default: the chart's heap limit; empty for none)
  --cluster                        against the real control plane (npm run cluster:build first) instead of the sandbox
  --judgement                      the decision-quality benchmark instead (absolute vs relative checks on
                                   simulated releases with known truth; --quick for two services);
                                   writes bench/report-judgement.json
`,
  flags: {
    quick: { type: 'boolean' },
    sizes: { type: 'string' },
    workers: { type: 'string' },
    out: { type: 'string' },
    'scale-only': { type: 'boolean' },
    'controller-node-options': { type: 'string' },
    'controller-build': { type: 'string' },
    cluster: { type: 'boolean' },
    judgement: { type: 'boolean' },
  },
} as const;

async function main(): Promise<void> {
  const io = { stdout: process.stdout, stderr: process.stderr };
  const parsed = parseCommandLine(process.argv.slice(2), io, BENCH_COMMAND_LINE);
  if (typeof parsed === 'number') process.exit(parsed);
  const { values } = parsed;
  const fail = (message: string) => process.exit(usageError(io, BENCH_COMMAND_LINE, message));
  if (values.judgement) {
    const out = values.out ?? DEFAULT_JUDGEMENT_OUT;
    const logger = pino({ level: 'warn' }, pino.destination(2));
    const prometheus = await startPrometheus({ logger, retention: '2h' });
    try {
      const plan = values.quick ? JUDGEMENT_PLANS.quick : JUDGEMENT_PLANS.full;
      const report = await runJudgementBench(plan, prometheus.url, logger, (line) => console.log(line));
      await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
      console.log(renderJudgement(report));
      console.log(`report written to ${out}`);
    } finally {
      await prometheus.stop();
    }
    return;
  }
  const sizes = values.sizes?.split(',').map((s) => Number(s.trim()));
  if (sizes?.some((n) => !Number.isInteger(n) || n < 10 || n > 20_000))
    return fail('--sizes: comma-separated whole numbers of canaries from 10 to 20000, e.g. 100,1000');
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1 && workers <= 64))
    return fail('--workers: a whole number from 1 to 64 (the controller flag of the same name)');
  const build = values['controller-build'] ?? 'dist';
  if (build !== 'dist' && build !== 'sources')
    return fail('--controller-build: dist (compile first, as the image runs it) or sources (through tsx)');
  const nodeOptions = values['controller-node-options'];
  const plan = {
    ...planFor({
      quick: values.quick ?? false,
      sizes,
      workers,
      scaleOnly: values['scale-only'] ?? false,
      controllerBuild: build,
    }),
    cluster: values.cluster ?? false,
    // Given empty (--controller-node-options=), the controller runs with Node's defaults.
    controllerNodeOptions: nodeOptions === undefined ? chartNodeOptions() : nodeOptions || undefined,
  };
  if (plan.cluster) requireBinaries();
  const out = values.out ?? (plan.cluster ? DEFAULT_CLUSTER_OUT : DEFAULT_OUT);
  const report = await runBench(plan, (line) => console.log(line));
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(renderSummary(report));
  console.log(`report written to ${out}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
