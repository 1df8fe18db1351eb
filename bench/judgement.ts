/**
 * `npm run bench -- --judgement`: the decision-quality benchmark. Every release of the suite
 * (bench/judgement-suite.ts) goes through the real controller (its own process), the sandbox API
 * server, a real Prometheus and the traffic simulator, once per judging mode, and the report says how
 * often each mode promoted healthy releases and caught regressions, at which weight (the weight steps
 * 10%, 20%, ...), after how many analysis intervals (held ones included) and how long.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pino from 'pino';
import { startApiServer } from '../dev/sandbox/apiserver/index.ts';
import { startTrafficSimulator, type TrafficSimulator } from '../dev/sandbox/traffic.ts';
import { parseDuration } from '../src/api/index.ts';
import { createKubeApi } from '../src/kube/client.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeApi, KubeObject } from '../src/kube/types.ts';
import { HISTORY_INTERVALS } from '../src/metrics/history-queries.ts';
import { startControllerProcess } from './controller-process.ts';
import {
  annotations,
  baseline,
  canarySpec,
  MODES,
  type Mode,
  RELEASE_KINDS,
  type ReleaseCase,
  type ReleaseKind,
  released,
  SERVICES,
  type SuiteTiming,
  suite,
} from './judgement-suite.ts';
import { BENCH_USER_AGENT } from './request-tap.ts';

const CRD_DIR = fileURLToPath(new URL('../crds/', import.meta.url));
const NAMESPACES = {
  group: '',
  version: 'v1',
  plural: 'namespaces',
  kind: 'Namespace',
  namespaced: false,
} as const;

export interface JudgementPlan {
  timing: SuiteTiming;
  /** Releases run at once (each mode of a release counts as one). */
  concurrency: number;
  releaseTimeoutMs: number;
  services?: number;
  /**
   * Analysis intervals the primary serves alone before each release, so the relative checks find the
   * history a running service has (HISTORY_INTERVALS of it, plus one for the subquery's alignment).
   */
  historyIntervals: number;
}

export const JUDGEMENT_PLANS = {
  full: {
    timing: { interval: '10s', speedup: 6 },
    concurrency: 20,
    releaseTimeoutMs: 1_800_000,
    historyIntervals: HISTORY_INTERVALS + 1,
  },
  quick: {
    timing: { interval: '5s', speedup: 6 },
    concurrency: 10,
    releaseTimeoutMs: 900_000,
    services: 2,
    historyIntervals: HISTORY_INTERVALS + 1,
  },
} satisfies Record<string, JudgementPlan>;

export interface ReleaseResult {
  service: string;
  kind: ReleaseKind;
  mode: Mode;
  rps: number;
  errorRatio: number;
  p99Ms: number;
  noise: number;
  decision: 'promoted' | 'rolled back' | 'timed out';
  /** The canary's weight when the decision was taken. */
  weight: number;
  /** Analysis intervals until the decision, held ones included. */
  steps: number;
  seconds: number;
  reason: string;
  /** Intervals of the primary's history the error-rate check found (relative mode; 0: none). */
  historyIntervals?: number;
}

export interface ModeSummary {
  mode: Mode;
  healthy: { releases: number; promotedPercent: number; falseRollbacksPercent: number };
  caught: Record<
    Exclude<ReleaseKind, 'healthy'>,
    {
      releases: number;
      caughtPercent: number;
      by20Percent: number;
      /** Rolled back at the first weight step (10%), however many intervals it held there. */
      atFirstStepPercent: number;
      /** Rolled back at the first analysis interval. */
      atFirstIntervalPercent: number;
      /**
       * Rolled back by a check that does not measure the regression (an error-rate check on a slower
       * release, or the reverse): a false alarm of that check, never counted as caught.
       */
      otherCheckPercent: number;
    }
  >;
  /** Medians over decided releases. */
  decisions: { medianWeight: number; medianSteps: number; medianSeconds: number };
}

export interface JudgementReport {
  version: 1;
  startedAt: string;
  finishedAt: string;
  plan: JudgementPlan;
  releases: ReleaseResult[];
  summary: ModeSummary[];
}

export async function runJudgementBench(
  plan: JudgementPlan,
  prometheusUrl: string,
  logger: pino.Logger,
  log: (line: string) => void,
): Promise<JudgementReport> {
  const startedAt = new Date();
  const services = SERVICES.slice(0, plan.services ?? SERVICES.length);
  const cases = suite(services);
  const crdFiles = readdirSync(CRD_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => `${CRD_DIR}${f}`);
  const sandbox = await startApiServer({ deploymentReadyDelayMs: 100, crdFiles });
  const api = createKubeApi({ kubeConfig: sandbox.kubeConfig(), userAgent: BENCH_USER_AGENT });
  const controller = startControllerProcess({
    kubeconfigPath: sandbox.kubeconfigPath,
    prometheusUrl,
    workers: 16,
    readyTimeoutMs: 60_000,
    useDist: false,
  });
  const results: ReleaseResult[] = [];
  try {
    await controller.ready;
    log(`judgement: ${cases.length} releases (${cases.length / 2} per mode), ${plan.concurrency} at a time`);
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const release = cases[next++]!;
        const result = await runRelease(api, sandbox.kubeConfig(), prometheusUrl, release, plan, logger);
        results.push(result);
        log(
          `  ${result.mode.padEnd(8)} ${result.service} ${result.kind.padEnd(10)} ${result.decision} at ${result.weight}% ` +
            `after ${result.steps} intervals, ${result.seconds}s` +
            (result.historyIntervals !== undefined
              ? ` (primary history: ${result.historyIntervals} intervals)`
              : ''),
        );
      }
    };
    await Promise.race([
      Promise.all(Array.from({ length: Math.min(plan.concurrency, cases.length) }, worker)),
      controller.died,
    ]);
  } finally {
    await controller.stop();
    api.close();
    await sandbox.stop();
  }
  return {
    version: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    plan,
    releases: results,
    summary: MODES.map((mode) => summarise(mode, results)),
  };
}

interface CanaryView extends KubeObject {
  status?: {
    phase?: string;
    canaryWeight?: number;
    lastStepTime?: string;
    conditions?: { type: string; message?: string }[];
    analysis?: { metrics?: { history?: { intervals: number } }[] };
  };
}

async function runRelease(
  api: KubeApi,
  kubeConfig: Parameters<typeof startTrafficSimulator>[0]['kubeConfig'],
  prometheusUrl: string,
  release: ReleaseCase,
  plan: JudgementPlan,
  logger: pino.Logger,
): Promise<ReleaseResult> {
  const { namespace, service } = release;
  await api.create(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  await api.create(RESOURCES.deployment, deployment(namespace, 'app:1', annotations(baseline(service))));
  let simulator: TrafficSimulator | undefined;
  try {
    simulator = await startTrafficSimulator({
      kubeConfig,
      prometheusUrl,
      namespace,
      rps: service.rps * plan.timing.speedup,
      // As many ticks per interval as real time would have: the per-tick noise then varies the counts of
      // an interval as much as it would over the interval the compressed one stands for.
      tickMs: Math.round(1000 / plan.timing.speedup),
      logger,
      seed: hash(namespace),
    });
    await api.create(RESOURCES.canary, {
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'Canary',
      metadata: { name: 'app', namespace },
      spec: canarySpec(release.mode, plan.timing),
    });
    await poll(api, namespace, (c) => c.status?.phase === 'Initialized', 120_000);
    await new Promise((resolve) =>
      setTimeout(resolve, plan.historyIntervals * parseDuration(plan.timing.interval)),
    );
    const started = Date.now();
    await api.mergePatch(
      { resource: RESOURCES.deployment, namespace, name: 'app' },
      {
        spec: {
          template: {
            metadata: { annotations: annotations(released(service, release.kind)) },
            spec: { containers: [{ name: 'app', image: 'app:2' }] },
          },
        },
      },
    );
    let weight = 0;
    let trafficSince: number | undefined;
    let historyIntervals: number | undefined;
    const done = await poll(
      api,
      namespace,
      (c) => {
        const s = c.status;
        if ((s?.canaryWeight ?? 0) > 0) {
          weight = s!.canaryWeight!;
          trafficSince ??= Date.now();
        }
        for (const m of s?.analysis?.metrics ?? []) {
          if (m.history) historyIntervals = Math.max(historyIntervals ?? 0, m.history.intervals);
        }
        return s?.phase === 'Succeeded' || s?.phase === 'Failed';
      },
      plan.releaseTimeoutMs,
    ).catch(() => undefined);
    const phase = done?.status?.phase;
    const decidedAt = Date.now();
    return {
      service: service.name,
      kind: release.kind,
      mode: release.mode,
      rps: service.rps,
      errorRatio: service.errorRatio,
      p99Ms: service.p99Ms,
      noise: service.noise,
      decision: phase === 'Succeeded' ? 'promoted' : phase === 'Failed' ? 'rolled back' : 'timed out',
      weight,
      steps: intervalsBetween(trafficSince, decidedAt, parseDuration(plan.timing.interval)),
      seconds: Math.round((decidedAt - started) / 1000),
      reason: done?.status?.conditions?.find((c) => c.type === 'Promoted')?.message ?? '',
      ...(historyIntervals !== undefined ? { historyIntervals } : {}),
    };
  } finally {
    await simulator?.stop();
    await api.delete({ resource: RESOURCES.canary, namespace, name: 'app' }).catch(() => undefined);
  }
}

/**
 * Analysis intervals from the canary's first traffic to the decision, held ones included: the first
 * analysis runs one interval after the weight reaches the first step. Polled once a second, so rounding
 * to whole intervals is exact for intervals of a few seconds and more.
 */
export function intervalsBetween(
  trafficSince: number | undefined,
  decidedAt: number,
  intervalMs: number,
): number {
  if (trafficSince === undefined) return 0;
  return Math.max(1, Math.round((decidedAt - trafficSince) / intervalMs));
}

async function poll(
  api: KubeApi,
  namespace: string,
  done: (canary: CanaryView) => boolean,
  timeoutMs: number,
): Promise<CanaryView> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const canary = await api.get<CanaryView>({ resource: RESOURCES.canary, namespace, name: 'app' });
    if (done(canary)) return canary;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(`canary ${namespace}/app: no decision within ${timeoutMs / 1000}s`);
}

function deployment(namespace: string, image: string, notes: Record<string, string>): KubeObject {
  const labels = { app: 'app' };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'app', namespace, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations: notes },
        spec: { containers: [{ name: 'app', image, ports: [{ name: 'http', containerPort: 9898 }] }] },
      },
    },
  } as KubeObject;
}

function hash(text: string): number {
  let h = 2166136261;
  for (const c of text) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}

/** The check that measures each kind of regression: a rollback counts as caught when it names it. */
const CHECK_OF: Record<Exclude<ReleaseKind, 'healthy'>, string> = {
  'errors+1pp': 'request-success-rate',
  'errors+5pp': 'request-success-rate',
  'p99+20%': 'request-duration',
  'p99+100%': 'request-duration',
};

export function summarise(mode: Mode, all: readonly ReleaseResult[]): ModeSummary {
  const results = all.filter((r) => r.mode === mode);
  const pct = (n: number, of: number) => (of === 0 ? 0 : Math.round((1000 * n) / of) / 10);
  const healthy = results.filter((r) => r.kind === 'healthy');
  const caught = Object.fromEntries(
    RELEASE_KINDS.filter((k) => k !== 'healthy').map((kind) => {
      const of = results.filter((r) => r.kind === kind);
      const rolledBack = of.filter((r) => r.decision === 'rolled back');
      const rolled = rolledBack.filter((r) => r.reason.includes(CHECK_OF[kind]));
      return [
        kind,
        {
          releases: of.length,
          caughtPercent: pct(rolled.length, of.length),
          by20Percent: pct(rolled.filter((r) => r.weight <= 20).length, of.length),
          atFirstStepPercent: pct(rolled.filter((r) => r.weight <= 10).length, of.length),
          atFirstIntervalPercent: pct(rolled.filter((r) => r.steps <= 1).length, of.length),
          otherCheckPercent: pct(rolledBack.length - rolled.length, of.length),
        },
      ];
    }),
  ) as ModeSummary['caught'];
  const decided = results.filter((r) => r.decision !== 'timed out');
  return {
    mode,
    healthy: {
      releases: healthy.length,
      promotedPercent: pct(healthy.filter((r) => r.decision === 'promoted').length, healthy.length),
      falseRollbacksPercent: pct(healthy.filter((r) => r.decision === 'rolled back').length, healthy.length),
    },
    caught,
    decisions: {
      medianWeight: median(decided.map((r) => r.weight)),
      medianSteps: median(decided.map((r) => r.steps)),
      medianSeconds: median(decided.map((r) => r.seconds)),
    },
  };
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function renderJudgement(report: JudgementReport): string {
  const lines = [
    '',
    'decision quality (healthy releases; regressions caught by their check / by 20% weight / at the first weight step / at the first interval; rolled back by the other check)',
  ];
  for (const s of report.summary) {
    lines.push(
      `  ${s.mode.padEnd(8)} healthy promoted ${s.healthy.promotedPercent}% (false rollbacks ${s.healthy.falseRollbacksPercent}%, n=${s.healthy.releases})`,
    );
    for (const [kind, c] of Object.entries(s.caught)) {
      lines.push(
        `           ${kind.padEnd(10)} caught ${c.caughtPercent}% / ${c.by20Percent}% / ${c.atFirstStepPercent}% / ${c.atFirstIntervalPercent}%; other check ${c.otherCheckPercent}% (n=${c.releases})`,
      );
    }
    lines.push(
      `           median decision at ${s.decisions.medianWeight}% after ${s.decisions.medianSteps} intervals, ${s.decisions.medianSeconds}s`,
    );
  }
  return lines.join('\n');
}
