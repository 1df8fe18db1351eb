import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { type SandboxApiServer, startApiServer } from '../../dev/sandbox/apiserver/index.ts';
import { type RunningPrometheus, startPrometheus } from '../../dev/sandbox/prometheus.ts';
import { seededRandom } from '../../dev/sandbox/traffic/random.ts';
import { startTrafficSimulator, type TrafficSimulator } from '../../dev/sandbox/traffic.ts';
import { createKubeApi } from '../../src/kube/client.ts';
import { isKubeApiError } from '../../src/kube/errors.ts';
import type { KubeApi } from '../../src/kube/types.ts';
import { PrometheusGate } from './prometheus-gate.ts';
import { AlertReceiver } from './receiver.ts';

const CRD_DIR = fileURLToPath(new URL('../../crds/', import.meta.url));
export const HARNESS_AGENT = 'petrel-chaos';

/** The parts every chaos run needs: sandbox, real Prometheus behind a gate, traffic simulator, alert receiver. */
export interface World {
  sandbox: SandboxApiServer;
  prometheus: RunningPrometheus;
  /**
   * SIGKILLs Prometheus, keeps it down for `downMs`, then starts a new one (empty, as a pod without a volume)
   * behind the gate. Resolves with when it died and when the new one answered.
   */
  killPrometheus(downMs: number): Promise<{ killedAt: number; readyAt: number }>;
  gate: PrometheusGate;
  receiver: AlertReceiver;
  simulator: TrafficSimulator;
  /** The harness's own client; its writes are retried through the injected faults. */
  api: KubeApi;
  stop(): Promise<void>;
}

export async function startWorld(seed: number, alertFailureRate: number): Promise<World> {
  let prometheus = await startPrometheus();
  const stops: (() => Promise<unknown>)[] = [() => prometheus.stop()];
  try {
    const gate = new PrometheusGate(prometheus.url);
    await gate.start();
    stops.push(() => gate.stop());
    const receiver = new AlertReceiver(alertFailureRate, seededRandom(seed + 1));
    await receiver.start();
    stops.push(() => receiver.stop());
    const crdFiles = readdirSync(CRD_DIR)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => `${CRD_DIR}${f}`);
    const sandbox = await startApiServer({
      deploymentReadyDelayMs: 300,
      crdFiles,
      random: seededRandom(seed + 2),
      watchHistorySize: 5000,
    });
    stops.push(() => sandbox.stop());
    const simulator = await startTrafficSimulator({
      kubeConfig: sandbox.kubeConfig(),
      prometheusUrl: gate.url,
      rps: 80,
      tickMs: 1000,
      seed,
      logger: pino({ level: 'silent' }),
    });
    stops.unshift(() => simulator.stop());
    const api = createKubeApi({ kubeConfig: sandbox.kubeConfig(), userAgent: HARNESS_AGENT });
    return {
      sandbox,
      get prometheus() {
        return prometheus;
      },
      killPrometheus: async (downMs) => {
        const killedAt = Date.now();
        process.kill(prometheus.pid, 'SIGKILL');
        await prometheus.stop();
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, killedAt + downMs - Date.now())));
        prometheus = await startPrometheus();
        gate.setUpstream(prometheus.url);
        return { killedAt, readyAt: Date.now() };
      },
      gate,
      receiver,
      simulator,
      api,
      stop: async () => {
        for (const stop of stops.reverse()) await stop().catch(() => {});
      },
    };
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    throw err;
  }
}

/** Runs a harness write until it goes through the injected 500s, 409s and dropped connections. */
export async function retried<T>(
  what: string,
  call: () => Promise<T>,
  attempts = 30,
): Promise<T | undefined> {
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (err) {
      if (isKubeApiError(err, 'ALREADY_EXISTS') || isKubeApiError(err, 'NOT_FOUND')) return undefined;
      const transient = isKubeApiError(err) && err.isTransient;
      if (!transient || i >= attempts) throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * i)));
    }
  }
}
