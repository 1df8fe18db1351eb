import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Canary, CanaryStatus } from '../src/api/canary.ts';
import type { EventSink, NoticeDelivery } from '../src/controller/executor.ts';
import { CanaryReconciler, StatusConflictError } from '../src/controller/reconciler.ts';
import { KubeApiError } from '../src/kube/errors.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject, ObjectRef } from '../src/kube/types.ts';
import type { Deployment } from '../src/kube/workloads.ts';
import type { Clock } from '../src/lib/clock.ts';
import type { Router, RouteWeights } from '../src/routers/router.ts';
import type { HookObserver } from '../src/webhooks/gates.ts';
import { InMemoryKubeApi } from './support/fake-kube.ts';

// Intent first: the decision is in status before any of its effects. These tests fail the status write, or
// "kill" the process right after it (a new reconciler over the same cluster), and look at what reached the
// routes, the Deployments and the receivers.

type Obj = KubeObject & Record<string, unknown>;

/** The routes as the mesh holds them; survives a controller restart, like a VirtualService. */
class Routes implements Router {
  readonly weights = new Map<string, RouteWeights>();
  /** Every canary weight written, in order. */
  readonly history: number[] = [];
  async reconcile(canary: Canary) {
    if (!this.weights.has(canary.metadata.name))
      this.weights.set(canary.metadata.name, { primary: 100, canary: 0 });
  }
  async setRoutes(canary: Canary, weights: RouteWeights) {
    this.weights.set(canary.metadata.name, weights);
    this.history.push(weights.canary);
  }
  getRoutes(canary: Canary) {
    return this.weights.get(canary.metadata.name);
  }
  async finalize() {}
}

/** A receiver outside the cluster: counts what it got, by key. */
class Receiver {
  readonly got: string[] = [];
  /** Kubernetes Events recorded, by reason. */
  readonly events: string[] = [];
  /** Set to hold deliveries (a slow receiver), released by `flush`. */
  hold = false;
  private readonly held: (() => void)[] = [];

  sink(): EventSink {
    return {
      record: async (_c, type, reason, _message, notice?: NoticeDelivery) => {
        this.events.push(`${type} ${reason}`);
        if (!notice) return;
        const deliver = () => {
          this.got.push(`${reason} ${notice.key}`);
          notice.sent('alert:ops');
          notice.settled(true);
        };
        if (notice.skip.has('alert:ops')) notice.settled(true);
        else if (this.hold) this.held.push(deliver);
        else queueMicrotask(deliver);
      },
    };
  }
  flush(): void {
    for (const deliver of this.held.splice(0)) deliver();
  }
  count(reason: string): number {
    return this.got.filter((g) => g.startsWith(`${reason} `)).length;
  }
}

function deployment(name: string, image: string, replicas = 2): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'test', generation: 1, uid: `uid-${name}` },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image }] } },
    },
  };
}

function canaryObject(): Obj {
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', generation: 1, uid: 'uid-canary' },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 80 },
      analysis: {
        interval: '10s',
        threshold: 2,
        maxWeight: 30,
        stepWeight: 10,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '1m' }],
      },
    },
  };
}

/** One cluster, one mesh, one receiver; `start()` is a controller process (call it again to restart). */
function world() {
  const kube = new InMemoryKubeApi();
  const routes = new Routes();
  const receiver = new Receiver();
  let now = Date.parse('2026-01-01T00:00:00Z');
  const clock: Clock = { now: () => new Date(now), setTimeout: () => 0, clearTimeout: () => {} };
  let healthy = true;
  let beforeDecide: (() => void) | undefined;
  const woken: string[] = [];
  /** Post-rollout hooks called: `from -> to`. */
  const postRollout: string[] = [];
  const hooks = {
    observe: () => ({}),
    afterDecision: (_key: string, canary: Canary, next: CanaryStatus) => {
      if (next.phase !== canary.status?.phase && (next.phase === 'Succeeded' || next.phase === 'Failed'))
        postRollout.push(`${canary.status?.phase} -> ${next.phase}`);
    },
    forget: () => {},
  } as unknown as HookObserver;
  const deployments = () => kube.cache<Deployment>(RESOURCES.deployment);
  const start = () =>
    new CanaryReconciler({
      api: kube,
      canaries: kube.cache(RESOURCES.canary),
      deployments: { api: kube, deployments: deployments() },
      routerFor: () => routes,
      events: receiver.sink(),
      runChecks: async () => {
        beforeDecide?.();
        return [{ metric: 'request-success-rate', value: healthy ? 100 : 90, passed: healthy, reason: 'x' }];
      },
      clock,
      logger: pino({ level: 'silent' }),
      wake: (key) => woken.push(key),
      hooks,
    });
  const status = () => kube.cache<Obj>(RESOURCES.canary).get('test', 'podinfo')?.status as CanaryStatus;
  const target = () => deployments().get('test', 'podinfo');
  /** Every Deployment finishes rolling out, as a Deployment controller would. */
  const settle = () => {
    for (const d of deployments().list()) {
      const replicas = d.spec?.replicas ?? 1;
      kube.seed(RESOURCES.deployment, {
        ...d,
        status: {
          observedGeneration: d.metadata?.generation ?? 1,
          replicas,
          updatedReplicas: replicas,
          availableReplicas: replicas,
          readyReplicas: replicas,
        },
      });
    }
  };
  const newRevision = (image: string) => {
    const changed = structuredClone(target()) as Deployment;
    changed.spec!.template!.spec!.containers[0]!.image = image;
    changed.metadata!.generation = (changed.metadata?.generation ?? 1) + 1;
    kube.seed(RESOURCES.deployment, changed);
  };
  /** Reconciles until `done` or 30 ticks, moving the clock by each requeueAfter; errors are retried like the queue does. */
  const run = async (r: CanaryReconciler, done: () => boolean) => {
    for (let i = 0; i < 30 && !done(); i++) {
      settle();
      const result = await r.reconcile('test/podinfo').catch(() => ({ requeueAfterMs: 500 }));
      await Promise.resolve();
      now += result?.requeueAfterMs ?? 1000;
    }
    expect(done()).toBe(true);
  };
  kube.seed(RESOURCES.deployment, deployment('podinfo', 'podinfo:1'));
  kube.seed(RESOURCES.canary, canaryObject());
  return {
    kube,
    routes,
    receiver,
    woken,
    postRollout,
    start,
    status,
    target,
    settle,
    newRevision,
    run,
    advance: (ms: number) => {
      now += ms;
    },
    setHealthy: (value: boolean) => {
      healthy = value;
    },
    beforeDecide: (fn: (() => void) | undefined) => {
      beforeDecide = fn;
    },
  };
}

/** Wraps the status writes: `fault` answers instead of the API (or after it, for a crash) for the writes it picks. */
function onStatusWrite(
  kube: InMemoryKubeApi,
  fault: (patch: { status?: CanaryStatus }) => 'conflict' | 'error' | 'crash' | undefined,
): void {
  const real = kube.patchStatus.bind(kube);
  kube.patchStatus = async <T extends KubeObject>(ref: ObjectRef, patch: unknown): Promise<T> => {
    const what = fault(patch as { status?: CanaryStatus });
    if (what === 'conflict')
      throw new KubeApiError('the object has been modified', { code: 'CONFLICT', status: 409 });
    if (what === 'error')
      throw new KubeApiError('etcdserver: request timed out', { code: 'SERVER_ERROR', status: 500 });
    const written = await real<T>(ref, patch);
    if (what === 'crash') throw new Error('controller killed right after the status write');
    return written;
  };
}

async function toProgressing(w: ReturnType<typeof world>, r: CanaryReconciler) {
  await w.run(r, () => w.status()?.phase === 'Initialized');
  w.newRevision('podinfo:2');
}

describe('intent first: the status write decides whether the effects happen', () => {
  for (const fault of ['conflict', 'error'] as const) {
    it(`a ${fault === 'conflict' ? '409' : '500'} on the rollback's status write applies none of its effects, and no route is raised again`, async () => {
      const w = world();
      const r = w.start();
      await toProgressing(w, r);
      w.setHealthy(false);
      let failures = 1;
      onStatusWrite(w.kube, (p) => (p.status?.phase === 'Failed' && failures-- > 0 ? fault : undefined));
      let dropped: unknown;
      for (let i = 0; i < 30 && w.status()?.phase !== 'Failed'; i++) {
        w.settle();
        const replicasBefore = w.target()?.spec?.replicas;
        const routesBefore = [...w.routes.history];
        const result = await r.reconcile('test/podinfo').catch((err: unknown) => {
          dropped = err;
          // The tick whose write failed changed nothing in the world.
          expect(w.target()?.spec?.replicas).toBe(replicasBefore);
          expect(w.routes.history).toEqual(routesBefore);
          return { requeueAfterMs: 500 };
        });
        w.advance(result?.requeueAfterMs ?? 1000);
      }
      if (fault === 'conflict') expect(dropped).toBeInstanceOf(StatusConflictError);
      else expect((dropped as KubeApiError).code).toBe('SERVER_ERROR');
      expect(w.status()?.phase).toBe('Failed');
      // The delivery wakes the canary, which records it; then a restart: the canary never gets traffic again.
      await Promise.resolve();
      await r.reconcile('test/podinfo');
      const again = w.start();
      for (let i = 0; i < 5; i++) {
        w.settle();
        await again.reconcile('test/podinfo');
        w.advance(10_000);
      }
      expect(w.routes.history).toEqual([10, 0]);
      expect(w.routes.weights.get('podinfo')).toEqual({ primary: 100, canary: 0 });
      expect(w.target()?.spec?.replicas).toBe(0);
      expect(w.receiver.count('Failed')).toBe(1);
    });
  }

  it('a real conflict (the Canary changed during the checks) drops the decision and decides again from the new object', async () => {
    const w = world();
    const r = w.start();
    await toProgressing(w, r);
    await w.run(r, () => w.status()?.canaryWeight === 10);
    w.advance(10_000);
    w.settle();
    // Someone labels the Canary while Prometheus is asked: the status write of this tick is stale.
    w.beforeDecide(() => {
      w.beforeDecide(undefined);
      const canary = w.kube.cache<Obj>(RESOURCES.canary).get('test', 'podinfo')!;
      w.kube.seed(RESOURCES.canary, { ...canary, metadata: { ...canary.metadata, labels: { team: 'a' } } });
    });
    const history = [...w.routes.history];
    await expect(r.reconcile('test/podinfo')).rejects.toBeInstanceOf(StatusConflictError);
    expect(w.routes.history).toEqual(history);
    expect(w.status()?.canaryWeight).toBe(10);
    await r.reconcile('test/podinfo');
    expect(w.status()?.canaryWeight).toBe(20);
    expect(w.routes.history.slice(history.length)).toEqual([20]);
  });

  it('a crash between the status write and the effects: the restart applies the recorded rollback once', async () => {
    const w = world();
    const first = w.start();
    await toProgressing(w, first);
    w.setHealthy(false);
    let crashed = false;
    onStatusWrite(w.kube, (p) => {
      if (p.status?.phase !== 'Failed' || crashed) return undefined;
      crashed = true;
      return 'crash';
    });
    await w.run(first, () => crashed);
    // The decision is recorded; none of its effects ran: the canary still has its traffic and its pods.
    expect(w.status()?.phase).toBe('Failed');
    expect(w.routes.weights.get('podinfo')?.canary).toBe(10);
    expect(w.target()?.spec?.replicas).toBe(2);
    expect(w.receiver.events).not.toContain('Warning Failed');

    const restarted = w.start();
    for (let i = 0; i < 5; i++) {
      w.settle();
      await restarted.reconcile('test/podinfo');
      await Promise.resolve();
      w.advance(10_000);
    }
    expect(w.routes.history.filter((x) => x > 0)).toEqual([10]);
    expect(w.routes.history.at(-1)).toBe(0);
    expect(w.target()?.spec?.replicas).toBe(0);
    expect(w.receiver.events.filter((e) => e === 'Warning Failed')).toHaveLength(1);
    expect(w.receiver.count('Failed')).toBe(1);
    expect(w.status()?.notices?.find((n) => n.reason === 'Failed')).toMatchObject({
      delivered: true,
      sent: ['alert:ops'],
    });
    expect(w.status()?.failedChecks).toBe(2);
    // The post-rollout hooks of the rollback, called by the restarted process, once.
    expect(w.postRollout).toEqual(['Progressing -> Failed']);
  });

  it('a crash after a weight step is recorded: the restart sets that weight, and no step is repeated or skipped', async () => {
    const w = world();
    const first = w.start();
    await toProgressing(w, first);
    let crashed = false;
    onStatusWrite(w.kube, (p) => {
      if (p.status?.canaryWeight !== 20 || crashed) return undefined;
      crashed = true;
      return 'crash';
    });
    await w.run(first, () => crashed);
    expect(w.routes.weights.get('podinfo')?.canary).toBe(10);
    const restarted = w.start();
    await w.run(restarted, () => w.status()?.phase === 'Succeeded');
    expect(w.routes.history.filter((x) => x > 0)).toEqual([10, 20, 30]);
    expect(w.receiver.count('Succeeded')).toBe(1);
    expect(w.postRollout).toEqual(['Finalising -> Succeeded']);
  });

  it('an alert recorded but not delivered before a restart is sent once by the next process, and never again', async () => {
    const w = world();
    const first = w.start();
    await toProgressing(w, first);
    w.setHealthy(false);
    // The receiver is slow: the first process dies before it answers.
    w.receiver.hold = true;
    await w.run(first, () => w.status()?.phase === 'Failed');
    expect(w.receiver.count('Failed')).toBe(0);
    const owed = w.status()?.notices?.find((n) => n.reason === 'Failed');
    expect(owed?.delivered).toBeUndefined();

    // Restart: the new process sends what the status owes.
    w.receiver.hold = false;
    const second = w.start();
    w.settle();
    await second.reconcile('test/podinfo');
    await Promise.resolve();
    expect(w.receiver.count('Failed')).toBe(1);
    expect(w.woken).toContain('test/podinfo');
    // The wake-up records the delivery.
    await second.reconcile('test/podinfo');
    expect(w.status()?.notices?.find((n) => n.key === owed?.key)?.delivered).toBe(true);
    // More ticks and another restart: nothing is sent again.
    await second.reconcile('test/podinfo');
    const third = w.start();
    await third.reconcile('test/podinfo');
    await Promise.resolve();
    expect(w.receiver.count('Failed')).toBe(1);
    // The held delivery of the dead process never happens (it died).
  });

  it('a graceful stop records what was delivered, so the next process sends nothing again', async () => {
    const w = world();
    const first = w.start();
    await toProgressing(w, first);
    w.setHealthy(false);
    w.receiver.hold = true;
    await w.run(first, () => w.status()?.phase === 'Failed');
    // Delivered during the stop's grace period; no reconcile runs any more.
    w.receiver.flush();
    await first.recordDeliveries();
    expect(w.status()?.notices?.filter((n) => !n.delivered)).toEqual([]);
    w.receiver.hold = false;
    const second = w.start();
    w.settle();
    await second.reconcile('test/podinfo');
    await Promise.resolve();
    expect(w.receiver.count('Failed')).toBe(1);
    expect(w.receiver.count('NewRevision')).toBe(1);
  });

  it('a Canary deleted while its checks run gets none of the decision’s effects, and no alert', async () => {
    const w = world();
    const r = w.start();
    await toProgressing(w, r);
    await w.run(r, () => w.status()?.canaryWeight === 10);
    w.advance(10_000);
    w.settle();
    const history = [...w.routes.history];
    const sentBefore = w.receiver.got.length;
    w.beforeDecide(() => {
      const canary = w.kube.cache<Obj>(RESOURCES.canary).get('test', 'podinfo')!;
      w.kube.seed(RESOURCES.canary, {
        ...canary,
        metadata: { ...canary.metadata, deletionTimestamp: '2026-01-01T00:05:00Z' },
      });
    });
    expect(await r.reconcile('test/podinfo')).toBeUndefined();
    expect(w.routes.history).toEqual(history);
    expect(w.status()?.canaryWeight).toBe(10);
    expect(w.receiver.got.length).toBe(sentBefore);
  });
});
