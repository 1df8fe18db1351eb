import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { type SandboxApiServer, startApiServer } from '../../dev/sandbox/apiserver/index.ts';
import { IstioMetricsWriter } from '../../dev/sandbox/istio-metrics.ts';
import { type RunningController, startController } from '../../src/controller/controller.ts';
import { createKubeApi } from '../../src/kube/client.ts';
import { isKubeApiError } from '../../src/kube/errors.ts';
import { ResilientInformer } from '../../src/kube/informer.ts';
import { RESOURCES, type ResourceKind } from '../../src/kube/resources.ts';
import type { KubeApi, KubeObject } from '../../src/kube/types.ts';
import { userAgent } from '../../src/kube/user-agent.ts';
import { readWeights, type VirtualService } from '../../src/routers/istio.ts';
import { usePrometheus } from './prometheus.ts';
import { waitFor } from './wait.ts';

export { waitFor };

export const TEST_USER_AGENT = 'petrel-e2e';
export const CONTROLLER_USER_AGENT = 'petrel-controller';
const CRD_DIR = fileURLToPath(new URL('../../crds/', import.meta.url));
const PETREL_BIN = fileURLToPath(new URL('../../bin/petrel.js', import.meta.url));

export interface E2eFixture {
  readonly sandbox: SandboxApiServer;
  readonly prometheusUrl: string;
  /** The test's own client (its requests carry TEST_USER_AGENT and are left out of the controller's counts). */
  readonly api: KubeApi;
}

/**
 * One sandbox API server (with Petrel's CRDs from crds/) and one real Prometheus for the calling test
 * file, started in beforeAll and always stopped in afterAll.
 */
export function useE2e(opts: { deploymentReadyDelayMs?: number } = {}): E2eFixture {
  const prometheus = usePrometheus();
  let sandbox: SandboxApiServer | undefined;
  let api: KubeApi | undefined;
  beforeAll(async () => {
    const crdFiles = readdirSync(CRD_DIR)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => `${CRD_DIR}${f}`);
    sandbox = await startApiServer({ deploymentReadyDelayMs: opts.deploymentReadyDelayMs ?? 300, crdFiles });
    api = createKubeApi({ kubeConfig: sandbox.kubeConfig(), userAgent: TEST_USER_AGENT });
  }, 60_000);
  afterAll(async () => {
    await sandbox?.stop();
  });
  const need = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the e2e fixture is used before beforeAll ran');
    return value;
  };
  return {
    get sandbox() {
      return need(sandbox);
    },
    get prometheusUrl() {
      return prometheus.url;
    },
    get api() {
      return need(api);
    },
  };
}

export function testLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
  return { logger, lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** Runs the controller in this process against the fixture, watching one namespace. */
export function runController(env: E2eFixture, namespace: string, logger: Logger): RunningController {
  return startController({
    kubeConfig: env.sandbox.kubeConfig(),
    logger,
    prometheusAddress: env.prometheusUrl,
    namespaces: [namespace],
    userAgent: CONTROLLER_USER_AGENT,
    workers: 2,
  });
}

export async function createNamespace(api: KubeApi, name: string): Promise<void> {
  await api.create(
    { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name },
    },
  );
}

export function podinfoDeployment(
  namespace: string,
  image: string,
  annotations: Record<string, string> = {},
): KubeObject & Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'podinfo', namespace, labels: { app: 'podinfo' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'podinfo' } },
      template: {
        metadata: { labels: { app: 'podinfo' }, annotations },
        spec: { containers: [{ name: 'podinfo', image, ports: [{ name: 'http', containerPort: 9898 }] }] },
      },
    },
  };
}

export function podinfoCanary(
  namespace: string,
  analysis: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
) {
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898, targetPort: 9898 },
      progressDeadlineSeconds: 60,
      analysis: {
        interval: '2s',
        threshold: 2,
        maxWeight: 50,
        stepWeight: 10,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '10s' }],
        ...analysis,
      },
      ...extra,
    },
  };
}

export async function setImage(
  api: KubeApi,
  namespace: string,
  image: string,
  annotations?: Record<string, string>,
) {
  await api.mergePatch(
    { resource: RESOURCES.deployment, namespace, name: 'podinfo' },
    {
      spec: {
        template: {
          ...(annotations ? { metadata: { annotations } } : {}),
          spec: { containers: [{ name: 'podinfo', image, ports: [{ name: 'http', containerPort: 9898 }] }] },
        },
      },
    },
  );
}

export interface CanaryView extends KubeObject {
  status?: {
    phase?: string;
    canaryWeight?: number;
    failedChecks?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    history?: { weight: number; verdict: string; reason: string }[];
  };
}

export async function getCanary(api: KubeApi, namespace: string, name = 'podinfo'): Promise<CanaryView> {
  return api.get<CanaryView>({ resource: RESOURCES.canary, namespace, name });
}

/** The object, or undefined when the API server says it does not exist. */
export async function findObject(
  api: KubeApi,
  resource: ResourceKind,
  namespace: string,
  name: string,
): Promise<KubeObject | undefined> {
  try {
    return await api.get<KubeObject>({ resource, namespace, name });
  } catch (err) {
    if (isKubeApiError(err, 'NOT_FOUND')) return undefined;
    throw err;
  }
}

export interface DeploymentView extends KubeObject {
  spec?: { replicas?: number; template?: { spec?: { containers?: { image?: string }[] } } };
}

export async function getDeployment(api: KubeApi, namespace: string, name: string): Promise<DeploymentView> {
  return api.get<DeploymentView>({ resource: RESOURCES.deployment, namespace, name });
}

export async function waitForPhase(
  api: KubeApi,
  namespace: string,
  phases: string[],
  timeoutMs = 40_000,
): Promise<CanaryView> {
  return waitFor(
    `canary ${namespace}/podinfo to reach ${phases.join(' or ')}`,
    async () => {
      const canary = await getCanary(api, namespace);
      return phases.includes(canary.status?.phase ?? '') ? canary : undefined;
    },
    { timeoutMs },
  );
}

/**
 * Only for a window whose length is what is measured: nothing may happen within it, or a figure is
 * counted over it. Everything else waits on its condition (waitFor).
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Writes Istio request metrics for the primary and canary workloads every second, as their sidecars
 * would, with a per-workload error ratio the test can change at any time.
 */
export class TrafficLoop {
  private readonly writer: IstioMetricsWriter;
  private readonly errorRatios = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  failures = 0;

  constructor(
    prometheusUrl: string,
    private readonly namespace: string,
    private readonly workloads: string[] = ['podinfo-primary', 'podinfo'],
    private readonly requestsPerTick = 100,
  ) {
    this.writer = new IstioMetricsWriter({ url: prometheusUrl });
  }

  setErrorRatio(workload: string, ratio: number): void {
    this.errorRatios.set(workload, ratio);
  }

  start(): void {
    const tick = () => {
      const now = Date.now();
      for (const workload of this.workloads) {
        const requests = this.requestsPerTick;
        const errors = Math.round(requests * (this.errorRatios.get(workload) ?? 0));
        this.writer.record(this.namespace, workload, {
          requests,
          errors,
          latenciesMs: Array.from({ length: requests }, (_, i) => 10 + (i % 20)),
        });
      }
      this.running = this.writer.flush(now).catch(() => {
        this.failures++;
      });
    };
    tick();
    this.timer = setInterval(tick, 1000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}

/** Records every distinct canary weight the VirtualService takes, in order, through its own watch. */
export class WeightRecorder {
  readonly weights: number[] = [];
  /** When each weight was first seen (ms since epoch), parallel to `weights`. */
  readonly times: number[] = [];
  private readonly informer: ResilientInformer<VirtualService>;

  constructor(env: E2eFixture, namespace: string) {
    this.informer = new ResilientInformer<VirtualService>({
      kubeConfig: env.sandbox.kubeConfig(),
      api: env.api,
      resource: RESOURCES.virtualService,
      namespace,
    });
    const onChange = (vs: VirtualService) => {
      const w = readWeights(vs, 'podinfo');
      if (w && this.weights.at(-1) !== w.canary) {
        this.weights.push(w.canary);
        this.times.push(Date.now());
      }
    };
    this.informer.on('add', onChange);
    this.informer.on('update', onChange);
  }

  async start(): Promise<void> {
    await this.informer.start();
    await this.informer.waitForSync();
  }

  async stop(): Promise<void> {
    await this.informer.stop();
  }
}

/** The controller's requests from the sandbox log (everything not sent by the test itself). */
export function controllerRequests(sandbox: SandboxApiServer, since = 0) {
  return sandbox.requestLog.entries.filter(
    (e) =>
      e.time.getTime() >= since && e.userAgent !== userAgent(TEST_USER_AGENT) && e.resource !== undefined,
  );
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** Efficiency figures of one rollout, from the sandbox request log (controller requests only). */
/**
 * `weightSteps` is how many increasing weights the rollout went through (10..50 is 5): writes are
 * counted from the first of those route changes up to (not including) the last one.
 */
export function rolloutFigures(
  sandbox: SandboxApiServer,
  namespace: string,
  analysisStart: number,
  weightSteps: number,
) {
  const mine = controllerRequests(sandbox, analysisStart).filter((e) => e.namespace === namespace);
  const reads = mine.filter((e) => e.verb === 'get' || e.verb === 'list');
  const vsPatches = mine.filter((e) => e.verb === 'patch' && e.resource === 'virtualservices');
  const first = vsPatches[0]?.time.getTime();
  const last = vsPatches[weightSteps - 1]?.time.getTime();
  const steps = Math.max(0, weightSteps - 1);
  const stepWrites =
    first === undefined || last === undefined
      ? []
      : mine.filter((e) => WRITE_VERBS.has(e.verb) && e.time.getTime() >= first && e.time.getTime() < last);
  return {
    reads: reads.length,
    weightSteps: steps,
    writesPerWeightStep: steps > 0 ? stepWrites.length / steps : Number.NaN,
    writesByKind: stepWrites.reduce<Record<string, number>>((acc, e) => {
      const k = `${e.verb} ${e.resource}`;
      acc[k] = (acc[k] ?? 0) + 1;
      return acc;
    }, {}),
  };
}

export interface ControllerProcess {
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code once the process has ended. */
  readonly exited: Promise<number | null>;
}

/**
 * `petrel controller` as its own process, as it runs in a cluster, against the fixture's sandbox and
 * Prometheus. Its metrics server takes a free loopback port: other test files may run one too.
 */
export function spawnControllerProcess(
  env: E2eFixture,
  namespace: string,
  extraArgs: string[] = [],
): ControllerProcess {
  const args = [
    PETREL_BIN,
    'controller',
    '--kubeconfig',
    env.sandbox.kubeconfigPath,
    '--prometheus-address',
    env.prometheusUrl,
    '--namespace',
    namespace,
    '--log-level',
    'info',
    '--metrics-host',
    '127.0.0.1',
    '--metrics-port',
    '0',
    ...extraArgs,
  ];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '' },
  });
  let output = '';
  const append = (chunk: Buffer | string) => {
    output += chunk;
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  return { child, output: () => output, exited };
}
