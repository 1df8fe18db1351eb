import { Writable } from 'node:stream';
import pino from 'pino';
import {
  type ClientPoolOptions,
  type RoutedRequest,
  startTrafficSimulator,
  type TickTraffic,
  type TrafficSimulator,
} from '../../dev/sandbox/traffic.ts';
import { ResilientInformer } from '../../src/kube/informer.ts';
import { RESOURCES } from '../../src/kube/resources.ts';
import { readWeights, type VirtualService } from '../../src/routers/istio.ts';
import type { E2eFixture } from './e2e.ts';

export interface SimulatedTick {
  at: number;
  traffic: readonly TickTraffic[];
}

export interface Simulation {
  simulator: TrafficSimulator;
  ticks: SimulatedTick[];
  /** Routing problems the simulator reported (a Service without ready pods...), with when. */
  problems: { at: number; problem: string }[];
  /** Requests of one workload over the ticks given. */
  requests(workload: string, ticks?: readonly SimulatedTick[]): { total: number; mirrored: number };
}

/**
 * Requests that matched the session cookie rule after a returning user's first request: that first
 * answer expires the cookie (Max-Age=-1), so any later match means the cookie outlived the rollout.
 */
export function cookieMatchesAfterFirst<R extends RoutedRequest>(requests: readonly R[]): R[] {
  const seen = new Set<number>();
  return requests.filter((r) => {
    const first = !seen.has(r.client);
    seen.add(r.client);
    return r.matchedCookie && r.keepsCookies && !first;
  });
}

/** The sandbox's traffic simulator on one namespace, keeping every tick and every problem it reports. */
export async function simulateTraffic(
  env: E2eFixture,
  namespace: string,
  opts: {
    rps?: number;
    tickMs?: number;
    seed?: number;
    clients?: ClientPoolOptions;
    onRequest?: (request: RoutedRequest) => void;
  } = {},
): Promise<Simulation> {
  const ticks: SimulatedTick[] = [];
  const problems: { at: number; problem: string }[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      const line = JSON.parse(String(chunk)) as { problem?: string };
      if (line.problem) problems.push({ at: Date.now(), problem: line.problem });
      cb();
    },
  });
  const simulator = await startTrafficSimulator({
    kubeConfig: env.sandbox.kubeConfig(),
    prometheusUrl: env.prometheusUrl,
    namespace,
    rps: opts.rps ?? 200,
    tickMs: opts.tickMs ?? 200,
    seed: opts.seed ?? 7,
    logger: pino({ level: 'warn' }, stream),
    onTick: (traffic, at) => ticks.push({ at: at.getTime(), traffic }),
    ...(opts.clients ? { clients: opts.clients } : {}),
    ...(opts.onRequest ? { onRequest: opts.onRequest } : {}),
  });
  const requests = (workload: string, over: readonly SimulatedTick[] = ticks) => {
    let total = 0;
    let mirrored = 0;
    for (const tick of over)
      for (const t of tick.traffic)
        if (t.workload === workload) {
          total += t.requests;
          mirrored += t.mirrored;
        }
    return { total, mirrored };
  };
  return { simulator, ticks, problems, requests };
}

export interface RouteState {
  at: number;
  canary: number;
  mirrored: boolean;
  mirrorPercentage?: number;
  vs: VirtualService;
}

/** Every distinct (canary weight, mirror) state of the VirtualService `podinfo`, in order, through a watch. */
export class RouteRecorder {
  readonly states: RouteState[] = [];
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
      if (!w) return;
      const mirrored = w.mirrored === true;
      const last = this.states.at(-1);
      if (last && last.canary === w.canary && last.mirrored === mirrored) return;
      const split = vs.spec?.http?.[0] as { mirrorPercentage?: { value?: number } } | undefined;
      this.states.push({
        at: Date.now(),
        canary: w.canary,
        mirrored,
        ...(split?.mirrorPercentage?.value !== undefined
          ? { mirrorPercentage: split.mirrorPercentage.value }
          : {}),
        vs: structuredClone(vs),
      });
    };
    this.informer.on('add', onChange);
    this.informer.on('update', onChange);
  }

  /** `20`, or `0+mirror` while mirroring. */
  labels(): string[] {
    return this.states.map((s) => (s.mirrored ? `${s.canary}+mirror` : String(s.canary)));
  }

  async start(): Promise<void> {
    await this.informer.start();
    await this.informer.waitForSync();
  }

  async stop(): Promise<void> {
    await this.informer.stop();
  }
}
