import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type {
  ClusterView,
  DeploymentLike,
  ServiceLike,
  VirtualServiceLike,
} from '../dev/sandbox/traffic/routes.ts';
import {
  DEFAULT_BEHAVIOUR,
  parseBehaviour,
  resolveRoutes,
  SIM_ANNOTATIONS,
  sampleLatency,
  seededRandom,
  serviceOfHost,
  simulateTick,
  type WorkloadTarget,
} from '../dev/sandbox/traffic.ts';

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

describe('seededRandom', () => {
  it('repeats for a seed and differs between seeds, within [0, 1)', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 1000 }, () => c())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });
});

describe('parseBehaviour', () => {
  it('defaults to a healthy, fast version', () => {
    expect(parseBehaviour(undefined)).toEqual({ behaviour: DEFAULT_BEHAVIOUR, problems: [] });
    expect(parseBehaviour({ [SIM_ANNOTATIONS.latencyP50Ms]: '50' }).behaviour).toMatchObject({
      latencyP50Ms: 50,
      latencyP99Ms: 200,
    });
  });

  it('reads every annotation', () => {
    expect(
      parseBehaviour({
        'sim.petrel.dev/error-ratio': '0.05',
        'sim.petrel.dev/latency-p50-ms': '30',
        'sim.petrel.dev/latency-p99-ms': '900',
        'sim.petrel.dev/noise': '0.2',
      }),
    ).toEqual({
      behaviour: { errorRatio: 0.05, latencyP50Ms: 30, latencyP99Ms: 900, noise: 0.2 },
      problems: [],
    });
  });

  it('names each bad annotation, what is allowed, and keeps the default for it only', () => {
    const { behaviour, problems } = parseBehaviour({
      'sim.petrel.dev/error-ratio': '5%',
      'sim.petrel.dev/latency-p50-ms': '-3',
      'sim.petrel.dev/latency-p99-ms': '10',
      'sim.petrel.dev/noise': '',
    });
    expect(behaviour).toEqual({ errorRatio: 0, latencyP50Ms: 20, latencyP99Ms: 20, noise: 0 });
    expect(problems).toEqual([
      'annotation sim.petrel.dev/error-ratio="5%" ignored: it must be a number in 0..1 (using 0)',
      'annotation sim.petrel.dev/latency-p50-ms="-3" ignored: it must be a number of ms > 0 (using 20)',
      'annotation sim.petrel.dev/latency-p99-ms="10" is below the median 20: using the median',
      'annotation sim.petrel.dev/noise="" ignored: it must be a number in 0..1 (using 0)',
    ]);
  });
});

describe('sampleLatency', () => {
  it('draws a distribution with the configured median and 99th percentile', () => {
    const random = seededRandom(7);
    const behaviour = { errorRatio: 0, latencyP50Ms: 40, latencyP99Ms: 900, noise: 0 };
    const xs = Array.from({ length: 50_000 }, () => sampleLatency(behaviour, random)).sort((a, b) => a - b);
    expect(quantile(xs, 0.5)).toBeGreaterThan(40 * 0.95);
    expect(quantile(xs, 0.5)).toBeLessThan(40 * 1.05);
    expect(quantile(xs, 0.99)).toBeGreaterThan(900 * 0.9);
    expect(quantile(xs, 0.99)).toBeLessThan(900 * 1.1);
  });

  it('is constant when p99 equals p50', () => {
    const b = { errorRatio: 0, latencyP50Ms: 12, latencyP99Ms: 12, noise: 0 };
    expect(sampleLatency(b, seededRandom(1))).toBeCloseTo(12, 9);
  });
});

function target(workload: string, share: number, annotations: Record<string, string> = {}): WorkloadTarget {
  return { namespace: 'test', workload, service: `${workload}.test.svc.cluster.local`, share, annotations };
}

describe('simulateTick', () => {
  it('splits the request rate by share, with an exact long-run rate', () => {
    const random = seededRandom(3);
    const totals = { primary: 0, canary: 0 };
    for (let i = 0; i < 1000; i++) {
      for (const t of simulateTick({
        targets: [target('podinfo-primary', 0.87), target('podinfo', 0.13)],
        rps: 50,
        elapsedMs: 1000,
        random,
      })) {
        if (t.workload === 'podinfo') totals.canary += t.requests;
        else totals.primary += t.requests;
      }
    }
    // 1000 s at 50 rps: 43,500 and 6,500 expected; rounding is random, so allow 1%.
    expect(Math.abs(totals.primary - 43_500)).toBeLessThan(435);
    expect(Math.abs(totals.canary - 6_500)).toBeLessThan(65);
  });

  it('scales with the elapsed time', () => {
    const [t] = simulateTick({
      targets: [target('a', 1)],
      rps: 50,
      elapsedMs: 4_000,
      random: seededRandom(1),
    });
    expect(t?.requests).toBe(200);
    expect(t?.latenciesMs).toHaveLength(200);
  });

  it('fails requests at the configured error ratio, and a healthy version never fails', () => {
    const random = seededRandom(11);
    let requests = 0;
    let errors = 0;
    let healthyErrors = 0;
    for (let i = 0; i < 200; i++) {
      const out = simulateTick({
        targets: [
          target('bad', 0.5, { [SIM_ANNOTATIONS.errorRatio]: '0.05', [SIM_ANNOTATIONS.noise]: '0.3' }),
          target('good', 0.5, { [SIM_ANNOTATIONS.noise]: '0.3' }),
        ],
        rps: 100,
        elapsedMs: 1000,
        random,
      });
      const bad = out.find((t) => t.workload === 'bad')!;
      requests += bad.requests;
      errors += bad.errors;
      healthyErrors += out.find((t) => t.workload === 'good')!.errors;
    }
    expect(errors / requests).toBeGreaterThan(0.04);
    expect(errors / requests).toBeLessThan(0.06);
    expect(healthyErrors).toBe(0);
  });

  it('is deterministic for a seed', () => {
    const input = (seed: number) => ({
      targets: [target('a', 0.3, { [SIM_ANNOTATIONS.errorRatio]: '0.2' }), target('b', 0.7)],
      rps: 50,
      elapsedMs: 1000,
      random: seededRandom(seed),
    });
    expect(simulateTick(input(5))).toEqual(simulateTick(input(5)));
  });

  it('merges several routes to one workload, keeping error latencies first', () => {
    const out = simulateTick({
      targets: [
        target('shared', 0.5, {
          [SIM_ANNOTATIONS.errorRatio]: '1',
          [SIM_ANNOTATIONS.latencyP50Ms]: '1000',
          [SIM_ANNOTATIONS.latencyP99Ms]: '1000',
        }),
        target('shared', 0.5, { [SIM_ANNOTATIONS.latencyP50Ms]: '5', [SIM_ANNOTATIONS.latencyP99Ms]: '5' }),
      ],
      rps: 10,
      elapsedMs: 1000,
      random: seededRandom(2),
    });
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ requests: 10, errors: 5 });
    expect(out[0]?.latenciesMs.slice(0, 5).every((ms) => Math.round(ms) === 1000)).toBe(true);
    expect(out[0]?.latenciesMs.slice(5).every((ms) => Math.round(ms) === 5)).toBe(true);
  });

  it('keeps its invariants for any shares, rates and durations', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })),
          {
            maxLength: 4,
          },
        ),
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer(),
        (specs, rps, elapsedMs, seed) => {
          const targets = specs.map(([share, ratio], i) =>
            target(`w${i}`, share / Math.max(1, specs.length), {
              [SIM_ANNOTATIONS.errorRatio]: String(ratio),
            }),
          );
          const out = simulateTick({ targets, rps, elapsedMs, random: seededRandom(seed) });
          const total = out.reduce((s, t) => s + t.requests, 0);
          expect(total).toBeLessThanOrEqual(Math.ceil((rps * elapsedMs) / 1000) + specs.length);
          for (const t of out) {
            expect(Number.isInteger(t.requests) && t.requests >= 0).toBe(true);
            expect(t.errors).toBeGreaterThanOrEqual(0);
            expect(t.errors).toBeLessThanOrEqual(t.requests);
            expect(t.latenciesMs).toHaveLength(t.requests);
            expect(t.latenciesMs.every((ms) => Number.isFinite(ms) && ms > 0)).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

function deployment(
  name: string,
  labels: Record<string, string>,
  ready: number,
  annotations: Record<string, string> = {},
): DeploymentLike {
  return {
    metadata: { name, namespace: 'test' },
    spec: { template: { metadata: { labels, annotations } } },
    status: { readyReplicas: ready },
  };
}

function clusterOf(services: ServiceLike[], deployments: DeploymentLike[]): ClusterView {
  return {
    service: (namespace, name) =>
      services.find((s) => s.metadata?.namespace === namespace && s.metadata?.name === name),
    deployments: (namespace) => deployments.filter((d) => d.metadata?.namespace === namespace),
  };
}

const svc = (name: string, selector?: Record<string, string>): ServiceLike => ({
  metadata: { name, namespace: 'test' },
  spec: selector ? { selector } : {},
});

function virtualService(
  route: Array<{ host: string; weight?: number }>,
  extraHttp: unknown[] = [],
): VirtualServiceLike {
  return {
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: {
      hosts: ['podinfo'],
      http: [
        ...(extraHttp as Array<{ match?: unknown[]; route?: [] }>),
        {
          route: route.map(({ host, weight }) => ({
            destination: { host },
            ...(weight !== undefined ? { weight } : {}),
          })),
        },
      ],
    },
  };
}

describe('resolveRoutes', () => {
  const services = [
    svc('podinfo-primary', { app: 'podinfo-primary' }),
    svc('podinfo-canary', { app: 'podinfo' }),
  ];

  it('follows the weights to the deployments behind each service, with their annotations', () => {
    const cluster = clusterOf(services, [
      deployment('podinfo-primary', { app: 'podinfo-primary' }, 2),
      deployment('podinfo', { app: 'podinfo' }, 1, { [SIM_ANNOTATIONS.errorRatio]: '0.1' }),
      deployment('unrelated', { app: 'other' }, 3),
    ]);
    const { targets, problems } = resolveRoutes(
      virtualService([
        { host: 'podinfo-primary', weight: 80 },
        { host: 'podinfo-canary.test.svc.cluster.local', weight: 20 },
      ]),
      cluster,
    );
    expect(problems).toEqual([]);
    expect(targets).toEqual([
      {
        namespace: 'test',
        workload: 'podinfo-primary',
        service: 'podinfo-primary.test.svc.cluster.local',
        share: 0.8,
        annotations: {},
      },
      {
        namespace: 'test',
        workload: 'podinfo',
        service: 'podinfo-canary.test.svc.cluster.local',
        share: 0.2,
        annotations: { [SIM_ANNOTATIONS.errorRatio]: '0.1' },
      },
    ]);
  });

  it('sends nothing to a version without ready replicas, and says so', () => {
    const cluster = clusterOf(services, [
      deployment('podinfo-primary', { app: 'podinfo-primary' }, 1),
      deployment('podinfo', { app: 'podinfo' }, 0),
    ]);
    const { targets, problems } = resolveRoutes(
      virtualService([
        { host: 'podinfo-primary', weight: 90 },
        { host: 'podinfo-canary', weight: 10 },
      ]),
      cluster,
    );
    expect(targets.map((t) => [t.workload, t.share])).toEqual([['podinfo-primary', 0.9]]);
    expect(problems).toEqual(['Service test/podinfo-canary has no ready pods: its 10% gets no traffic']);
  });

  it('splits a service between matching deployments by ready replicas', () => {
    const cluster = clusterOf(
      [svc('podinfo', { app: 'podinfo' })],
      [deployment('v1', { app: 'podinfo', v: '1' }, 3), deployment('v2', { app: 'podinfo', v: '2' }, 1)],
    );
    const { targets } = resolveRoutes(virtualService([{ host: 'podinfo' }]), cluster);
    expect(targets.map((t) => [t.workload, t.share])).toEqual([
      ['v1', 0.75],
      ['v2', 0.25],
    ]);
  });

  it('uses the default route, not a header-matched one', () => {
    const cluster = clusterOf(services, [
      deployment('podinfo-primary', { app: 'podinfo-primary' }, 1),
      deployment('podinfo', { app: 'podinfo' }, 1),
    ]);
    const { targets } = resolveRoutes(
      virtualService(
        [
          { host: 'podinfo-primary', weight: 100 },
          { host: 'podinfo-canary', weight: 0 },
        ],
        [
          {
            match: [{ headers: { 'x-canary': { exact: 'insider' } } }],
            route: [{ destination: { host: 'podinfo-canary' } }],
          },
        ],
      ),
      cluster,
    );
    expect(targets.map((t) => [t.workload, t.share])).toEqual([['podinfo-primary', 1]]);
  });

  it('reports unknown services, missing selectors, external hosts and empty routes', () => {
    const cluster = clusterOf([svc('no-selector')], []);
    expect(
      resolveRoutes(
        virtualService([
          { host: 'ghost', weight: 40 },
          { host: 'no-selector', weight: 30 },
          { host: 'api.example.com', weight: 30 },
        ]),
        cluster,
      ).problems,
    ).toEqual([
      'VirtualService test/podinfo: Service test/ghost not found',
      'Service test/no-selector has no selector',
      'VirtualService test/podinfo: destination host "api.example.com" is not a cluster service',
    ]);
    expect(resolveRoutes({ metadata: { name: 'x', namespace: 'test' }, spec: {} }, cluster).problems).toEqual(
      ['VirtualService test/x has no http route'],
    );
  });

  it('reads cluster host names', () => {
    expect(serviceOfHost('a', 'ns')).toEqual({ name: 'a', namespace: 'ns' });
    expect(serviceOfHost('a.b', 'ns')).toEqual({ name: 'a', namespace: 'b' });
    expect(serviceOfHost('a.b.svc', 'ns')).toEqual({ name: 'a', namespace: 'b' });
    expect(serviceOfHost('a.b.svc.cluster.local', 'ns')).toEqual({ name: 'a', namespace: 'b' });
    expect(serviceOfHost('a.b.example.com', 'ns')).toBeUndefined();
    expect(serviceOfHost('', 'ns')).toBeUndefined();
  });
});
