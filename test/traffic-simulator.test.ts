import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxApiServer, startApiServer } from '../dev/sandbox/apiserver/index.ts';
import {
  SIM_ANNOTATIONS,
  type SimulatorClock,
  SimulatorSyncTimeoutError,
  startTrafficSimulator,
  type TrafficSimulator,
} from '../dev/sandbox/traffic.ts';
import { canarySchema } from '../src/api/index.ts';
import { createKubeApi } from '../src/kube/client.ts';
import { isKubeApiError } from '../src/kube/errors.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeApi, KubeObject } from '../src/kube/types.ts';
import { runChecks } from '../src/metrics/checks.ts';
import { PrometheusProvider } from '../src/metrics/prometheus.ts';
import { usePrometheus } from './support/prometheus.ts';
import { waitFor } from './support/wait.ts';

const prom = usePrometheus();
const NS = 'sim';

function memoryLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

function deployment(name: string, annotations: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations },
        spec: { containers: [{ name: 'app', image: 'ghcr.io/stefanprodan/podinfo:6.0.0' }] },
      },
    },
  } as KubeObject;
}

function service(name: string, app: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: NS },
    spec: { selector: { app }, ports: [{ port: 9898 }] },
  } as KubeObject;
}

function virtualService(name: string, routes: Array<[host: string, weight: number]>): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'VirtualService',
    metadata: { name, namespace: NS },
    spec: {
      hosts: [name],
      http: [{ route: routes.map(([host, weight]) => ({ destination: { host }, weight })) }],
    },
  } as KubeObject;
}

/** Waits until `ok` holds for what `read` gives; the error shows the last value read. */
function eventually<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000) {
  return waitFor(
    what,
    async () => {
      const value = await read();
      if (!ok(value)) throw new Error(`last: ${JSON.stringify(value)}`);
      return value;
    },
    { timeoutMs },
  );
}

/** The system clock, keeping count of the timers still pending. */
function trackedTimers() {
  const pending = new Set<NodeJS.Timeout>();
  const clock: SimulatorClock = {
    now: () => new Date(),
    setTimeout: (fn, ms) => {
      const handle = setTimeout(() => {
        pending.delete(handle);
        fn();
      }, ms);
      pending.add(handle);
      return handle;
    },
    clearTimeout: (handle) => {
      pending.delete(handle as NodeJS.Timeout);
      clearTimeout(handle as NodeJS.Timeout);
    },
  };
  return { clock, pending };
}

describe('startTrafficSimulator against the sandbox API server and a real Prometheus', () => {
  let server: SandboxApiServer;
  let api: KubeApi;
  let simulator: TrafficSimulator | undefined;
  const { logger, lines } = memoryLogger();
  const timers = trackedTimers();

  beforeAll(async () => {
    server = await startApiServer({ deploymentReadyDelayMs: 100 });
    api = createKubeApi({ kubeConfig: server.kubeConfig() });
    await api
      .create(
        { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
        {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: NS },
        },
      )
      .catch((err: unknown) => {
        if (!isKubeApiError(err)) throw err;
      });
    await api.create(RESOURCES.deployment, deployment('podinfo-primary'));
    await api.create(
      RESOURCES.deployment,
      deployment('podinfo', {
        [SIM_ANNOTATIONS.errorRatio]: '0.2',
        [SIM_ANNOTATIONS.latencyP50Ms]: '30',
        [SIM_ANNOTATIONS.latencyP99Ms]: '600',
      }),
    );
    await api.create(RESOURCES.deployment, deployment('stuck', { 'sandbox.petrel.dev/never-ready': 'true' }));
    await api.create(RESOURCES.service, service('podinfo-primary', 'podinfo-primary'));
    await api.create(RESOURCES.service, service('podinfo-canary', 'podinfo'));
    await api.create(RESOURCES.service, service('stuck', 'stuck'));
    await api.create(
      RESOURCES.virtualService,
      virtualService('podinfo', [
        ['podinfo-primary', 80],
        ['podinfo-canary', 20],
      ]),
    );
    await api.create(RESOURCES.virtualService, virtualService('stuck', [['stuck', 100]]));
    for (const name of ['podinfo-primary', 'podinfo']) {
      await eventually(
        `${name} ready`,
        () =>
          api.get<KubeObject & { status?: { readyReplicas?: number } }>({
            resource: RESOURCES.deployment,
            namespace: NS,
            name,
          }),
        (d) => (d.status?.readyReplicas ?? 0) >= 1,
      );
    }
  });

  afterAll(async () => {
    await simulator?.stop();
    await server?.stop();
  });

  it('splits traffic by the live weights, fails the bad version at its error ratio, and follows weight changes', async () => {
    simulator = await startTrafficSimulator({
      kubeConfig: server.kubeConfig(),
      prometheusUrl: prom.url,
      namespace: NS,
      rps: 1000,
      tickMs: 100,
      logger,
      seed: 1,
      clock: timers.clock,
    });
    const provider = new PrometheusProvider({ address: prom.url });
    const total = (workload: string, extra = '') =>
      provider.runQuery(
        `sum(istio_requests_total{destination_workload_namespace="${NS}",destination_workload="${workload}"${extra}})`,
      );

    // At 1000 rps, 20% to the canary: wait for several hundred canary requests.
    await eventually(
      'canary traffic',
      () => total('podinfo'),
      (n) => n >= 400,
    );
    const canary = await total('podinfo');
    const primary = await total('podinfo-primary');
    const share = canary / (canary + primary);
    expect(share).toBeGreaterThan(0.14);
    expect(share).toBeLessThan(0.26);
    const canaryErrors = await total('podinfo', ',response_code="500"');
    expect(canaryErrors / canary).toBeGreaterThan(0.12);
    expect(canaryErrors / canary).toBeLessThan(0.28);
    await expect(total('podinfo-primary', ',response_code="500"')).rejects.toMatchObject({
      code: 'NO_VALUES',
    });

    // A version that never becomes ready gets no traffic, and the reason is logged once.
    await expect(total('stuck')).rejects.toMatchObject({ code: 'NO_VALUES' });
    expect(lines.filter((l) => l.includes('Service sim/stuck has no ready pods')).length).toBe(1);

    // The builtin checks see the simulated version as Prometheus does.
    const results = await runChecks({
      canary: canarySchema.parse({
        apiVersion: 'petrel.dev/v1alpha1',
        kind: 'Canary',
        metadata: { name: 'podinfo', namespace: NS },
        spec: {
          targetRef: { kind: 'Deployment', name: 'podinfo' },
          service: { port: 9898 },
          analysis: {
            metrics: [
              { name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '1m' },
              { name: 'request-duration', thresholdRange: { max: 5000 }, interval: '1m' },
            ],
          },
        },
      }),
      templates: () => undefined,
      providerFor: () => provider,
      now: new Date(),
    });
    expect(results[0]?.passed).toBe(false);
    expect(results[0]?.value).toBeGreaterThan(70);
    expect(results[0]?.value).toBeLessThan(90);
    expect(results[0]?.reason).toMatch(/^request-success-rate \d+(\.\d+)?% < min 99%$/);
    expect(results[1]?.passed).toBe(true);
    expect(results[1]?.value).toBeGreaterThan(250);

    // Route everything to the primary: the canary's counter stops growing.
    await api.mergePatch(
      { resource: RESOURCES.virtualService, namespace: NS, name: 'podinfo' },
      {
        spec: {
          http: [
            {
              route: [
                { destination: { host: 'podinfo-primary' }, weight: 100 },
                { destination: { host: 'podinfo-canary' }, weight: 0 },
              ],
            },
          ],
        },
      },
    );
    // Stable over three reads 100 ms apart (each tick adds ~20 canary requests while it flows).
    const recent: number[] = [];
    const frozen = await eventually(
      'canary traffic to stop',
      async () => {
        recent.push(await total('podinfo'));
        return recent.slice(-3);
      },
      (last) => last.length === 3 && last.every((n) => n === last[0]),
    ).then((last) => last[0]!);
    const primaryBefore = await total('podinfo-primary');
    await eventually(
      'primary traffic',
      () => total('podinfo-primary'),
      (n) => n >= primaryBefore + 500,
    );
    expect(await total('podinfo')).toBe(frozen);
    expect(simulator.ticks).toBeGreaterThan(5);
  });

  it('stops cleanly and ticks no more', async () => {
    const s = simulator!;
    await s.stop();
    // Ticks come only from its timer: with none left, it ticks no more.
    expect(timers.pending.size).toBe(0);
    await s.stop();
  });

  it('keeps ticking while Prometheus is unreachable, warning once per outage', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const { logger: outageLogger, lines: outageLines } = memoryLogger();
    const seen: number[] = [];
    // Time moves only when the test says: 50 ms between ticks, whatever the machine's load.
    let nowMs = Date.now();
    const s = await startTrafficSimulator({
      kubeConfig: server.kubeConfig(),
      prometheusUrl: `http://127.0.0.1:${port}`,
      namespace: NS,
      rps: 1000,
      tickMs: 60_000,
      logger: outageLogger,
      seed: 2,
      onTick: (traffic) => seen.push(traffic.reduce((sum, t) => sum + t.requests, 0)),
      clock: { now: () => new Date(nowMs), setTimeout: () => undefined, clearTimeout: () => {} },
    });
    try {
      for (let i = 0; i < 3; i++) {
        nowMs += 50;
        const traffic = await s.tick();
        expect(traffic.map((t) => t.workload).sort()).toEqual(['podinfo-primary']);
      }
      expect(s.ticks).toBe(3);
      // Each tick covers only the time since the previous one: ~50 ms at 1000 rps.
      expect(seen).toHaveLength(3);
      expect(seen.every((n) => n > 0 && n < 1000)).toBe(true);
      const warnings = outageLines.filter((l) => l.includes('writing simulated metrics failed'));
      expect(warnings).toHaveLength(1);
      expect(outageLines.filter((l) => l.includes('still failing'))).toHaveLength(2);
    } finally {
      await s.stop();
    }
  });
});

describe('startTrafficSimulator without an API server', () => {
  it('gives up at the sync deadline with the question to ask', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const { logger } = memoryLogger();
    const started = Date.now();
    const err = await startTrafficSimulator({
      kubeConfig,
      prometheusUrl: 'http://127.0.0.1:1',
      logger,
      syncTimeoutMs: 500,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SimulatorSyncTimeoutError);
    expect((err as SimulatorSyncTimeoutError).code).toBe('SIMULATOR_SYNC_TIMEOUT');
    expect((err as Error).message).toContain('is the API server reachable');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('startTrafficSimulator options', () => {
  it('rejects a bad rate or tick with the field name', async () => {
    const { logger } = memoryLogger();
    const kubeConfig = undefined as never;
    await expect(
      startTrafficSimulator({ kubeConfig, prometheusUrl: 'http://x', rps: -1, logger }),
    ).rejects.toThrow(/rps must be a number >= 0/);
    await expect(
      startTrafficSimulator({ kubeConfig, prometheusUrl: 'http://x', tickMs: 0, logger }),
    ).rejects.toThrow(/tickMs must be a number >= 10/);
  });
});
