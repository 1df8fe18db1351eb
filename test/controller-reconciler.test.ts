import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Canary } from '../src/api/canary.ts';
import { TerminalError } from '../src/controller/queue.ts';
import { CanaryReconciler, TargetMissingError } from '../src/controller/reconciler.ts';
import { KubeApiError } from '../src/kube/errors.ts';
import type { CacheReader } from '../src/kube/informer.ts';
import { RESOURCES, type ResourceKind } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import type { Deployment } from '../src/kube/workloads.ts';
import type { Clock } from '../src/lib/clock.ts';
import type { Router, RouteWeights } from '../src/routers/router.ts';
import { InMemoryKubeApi } from './support/fake-kube.ts';

type Obj = KubeObject & Record<string, unknown>;

const KINDS: Record<string, ResourceKind> = { deployments: RESOURCES.deployment, canaries: RESOURCES.canary };

/** The shared fake API (its caches see every write at once), addressed by plural as these tests do. */
class FakeCluster {
  readonly kube = new InMemoryKubeApi();

  /** API calls made since the last reset, as `verb plural[/status]`. */
  get calls(): string[] {
    return this.kube.requests.map((r) => `${r.verb} ${r.resource}`);
  }
  resetCalls(): void {
    this.kube.requests.length = 0;
  }
  put(plural: string, obj: Obj): Obj {
    const meta = obj.metadata ?? {};
    return this.kube.seed(KINDS[plural]!, {
      ...obj,
      metadata: { ...meta, uid: meta.uid ?? `uid-${meta.name}` },
    });
  }
  get(plural: string, name: string): Obj | undefined {
    return this.kube.cache<Obj>(KINDS[plural]!).get('test', name);
  }
  cache<T extends KubeObject>(plural: string): CacheReader<T> {
    return this.kube.cache<T>(KINDS[plural]!);
  }
  /** Every Deployment finishes rolling out, as a Deployment controller would. */
  settle(): void {
    for (const d of this.kube.cache<Deployment>(RESOURCES.deployment).list()) {
      const replicas = d.spec?.replicas ?? 1;
      d.status = {
        observedGeneration: d.metadata?.generation ?? 1,
        replicas,
        updatedReplicas: replicas,
        availableReplicas: replicas,
        readyReplicas: replicas,
      };
      this.kube.seed(RESOURCES.deployment, d);
    }
  }
}

class FakeRouter implements Router {
  readonly weights = new Map<string, RouteWeights>();
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

function deployment(name: string, image: string, replicas = 2): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'test', generation: 1 },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image }] } },
    },
  };
}

function canaryObject(name: string, target: string, analysis: Record<string, unknown> = {}): Obj {
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name, namespace: 'test', generation: 1 },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: target },
      service: { port: 80 },
      analysis: {
        interval: '10s',
        threshold: 2,
        maxWeight: 30,
        stepWeight: 10,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '1m' }],
        ...analysis,
      },
    },
  };
}

function setup(opts: { noCrossNamespaceRefs?: boolean } = {}) {
  const cluster = new FakeCluster();
  const router = new FakeRouter();
  const events: string[] = [];
  let now = Date.parse('2026-01-01T00:00:00Z');
  const clock: Clock = { now: () => new Date(now), setTimeout: () => 0, clearTimeout: () => {} };
  let checksPass = true;
  let checkRuns = 0;
  const api = cluster.kube;
  const reconciler = new CanaryReconciler({
    api,
    canaries: cluster.cache('canaries'),
    deployments: { api, deployments: cluster.cache<Deployment>('deployments') },
    routerFor: () => router,
    events: {
      record: async (_c, type, reason) => {
        events.push(`${type} ${reason}`);
      },
    },
    runChecks: async () => {
      checkRuns++;
      return [
        { metric: 'request-success-rate', value: checksPass ? 100 : 90, passed: checksPass, reason: 'x' },
      ];
    },
    clock,
    logger: pino({ level: 'silent' }),
    ...opts,
  });
  return {
    cluster,
    api,
    router,
    events,
    reconciler,
    advance: (ms: number) => {
      now += ms;
    },
    setChecks: (pass: boolean) => {
      checksPass = pass;
    },
    checkRuns: () => checkRuns,
    status: (name: string) => cluster.get('canaries', name)?.status as Canary['status'],
  };
}

describe('CanaryReconciler', () => {
  it('initialises, then walks a new revision through every step to promotion, writing only what changed', async () => {
    const t = setup();
    t.cluster.put('deployments', deployment('podinfo', 'podinfo:1'));
    t.cluster.put('canaries', canaryObject('podinfo', 'podinfo'));
    t.cluster.settle();

    await t.reconciler.reconcile('test/podinfo');
    expect(t.status('podinfo')?.phase).toBe('Initializing');
    t.cluster.settle();
    await t.reconciler.reconcile('test/podinfo');
    expect(t.status('podinfo')?.phase).toBe('Initialized');
    expect((t.cluster.get('deployments', 'podinfo') as Deployment).spec?.replicas).toBe(0);
    t.cluster.settle();

    // Nothing changes: no API call at all.
    t.cluster.resetCalls();
    expect(await t.reconciler.reconcile('test/podinfo')).toEqual({});
    expect(t.cluster.calls).toEqual([]);

    const target = t.cluster.get('deployments', 'podinfo') as Deployment;
    const changed = structuredClone(target) as Obj & Deployment;
    changed.spec!.template!.spec!.containers[0]!.image = 'podinfo:2';
    changed.metadata!.generation = 2;
    t.cluster.put('deployments', changed);
    await t.reconciler.reconcile('test/podinfo');
    expect(t.status('podinfo')?.phase).toBe('Progressing');
    expect((t.cluster.get('deployments', 'podinfo') as Deployment).spec?.replicas).toBe(2);

    for (let i = 0; i < 20 && t.status('podinfo')?.phase !== 'Succeeded'; i++) {
      t.cluster.settle();
      const result = await t.reconciler.reconcile('test/podinfo');
      t.advance(result?.requeueAfterMs ?? 0);
    }
    expect(t.status('podinfo')?.phase).toBe('Succeeded');
    expect(t.router.history.filter((w) => w > 0)).toEqual([10, 20, 30]);
    expect(t.router.weights.get('podinfo')).toEqual({ primary: 100, canary: 0 });
    const primary = t.cluster.get('deployments', 'podinfo-primary') as Deployment;
    expect(primary.spec?.template?.spec?.containers[0]?.image).toBe('podinfo:2');
    expect((t.cluster.get('deployments', 'podinfo') as Deployment).spec?.replicas).toBe(0);
    expect(t.checkRuns()).toBe(3);
    expect(t.events).toEqual(
      expect.arrayContaining(['Normal NewRevision', 'Normal Promoting', 'Normal Succeeded']),
    );
  });

  it('keeps the Ready, Reconciling and Stalled conditions kstatus reads in step with the phase', async () => {
    const t = setup();
    const kstatus = () =>
      Object.fromEntries(
        (t.status('podinfo')?.conditions ?? [])
          .filter((c) => ['Ready', 'Reconciling', 'Stalled'].includes(c.type))
          .map((c) => [c.type, `${c.status} ${c.reason}`]),
      );
    const reconcileUntil = async (phase: string) => {
      for (let i = 0; i < 30 && t.status('podinfo')?.phase !== phase; i++) {
        t.cluster.settle();
        const result = await t.reconciler.reconcile('test/podinfo');
        t.advance(result?.requeueAfterMs ?? 0);
      }
      expect(t.status('podinfo')?.phase).toBe(phase);
    };
    t.cluster.put('deployments', deployment('podinfo', 'podinfo:1'));
    t.cluster.put('canaries', canaryObject('podinfo', 'podinfo'));
    t.cluster.settle();
    await t.reconciler.reconcile('test/podinfo');
    expect(kstatus()).toEqual({
      Ready: 'False Initializing',
      Reconciling: 'True Initializing',
      Stalled: 'False Initializing',
    });
    await reconcileUntil('Initialized');
    expect(kstatus()).toEqual({
      Ready: 'True Initialized',
      Reconciling: 'False Initialized',
      Stalled: 'False Initialized',
    });
    expect(t.status('podinfo')?.conditions?.find((c) => c.type === 'Promoted')?.status).toBe('True');
    // Steady: the conditions cause no write.
    t.cluster.settle();
    t.cluster.resetCalls();
    await t.reconciler.reconcile('test/podinfo');
    expect(t.cluster.calls).toEqual([]);

    const newRevision = (image: string, generation: number) => {
      const changed = structuredClone(t.cluster.get('deployments', 'podinfo')) as Obj & Deployment;
      changed.spec!.template!.spec!.containers[0]!.image = image;
      changed.metadata!.generation = generation;
      t.cluster.put('deployments', changed);
    };
    newRevision('podinfo:2', 2);
    await t.reconciler.reconcile('test/podinfo');
    expect(kstatus()).toEqual({
      Ready: 'False Progressing',
      Reconciling: 'True Progressing',
      Stalled: 'False Progressing',
    });
    await reconcileUntil('Succeeded');
    expect(kstatus()).toEqual({
      Ready: 'True Succeeded',
      Reconciling: 'False Succeeded',
      Stalled: 'False Succeeded',
    });

    t.setChecks(false);
    newRevision('podinfo:3', 3);
    await reconcileUntil('Failed');
    expect(kstatus()).toEqual({ Ready: 'False Failed', Reconciling: 'False Failed', Stalled: 'True Failed' });
    const promoted = t.status('podinfo')?.conditions?.find((c) => c.type === 'Promoted');
    expect(t.status('podinfo')?.conditions?.find((c) => c.type === 'Stalled')?.message).toBe(
      promoted?.message,
    );
  });

  it('marks an invalid Canary with InvalidSpec naming the field, once, and does not retry it', async () => {
    const t = setup();
    t.cluster.put('deployments', deployment('podinfo', 'podinfo:1'));
    t.cluster.put('canaries', canaryObject('bad', 'podinfo', { interval: 'soon' }));
    await expect(t.reconciler.reconcile('test/bad')).rejects.toBeInstanceOf(TerminalError);
    const condition = t.status('bad')?.conditions?.find((c) => c.type === 'InvalidSpec');
    expect(condition).toMatchObject({ status: 'True', reason: 'InvalidSpec' });
    expect(condition?.message).toContain('spec.analysis.interval');
    // kstatus (Flux before 2.5) reads Stalled: the Kustomization fails instead of waiting for its timeout.
    expect(t.status('bad')?.conditions?.find((c) => c.type === 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'InvalidSpec',
      message: condition?.message,
    });
    expect(t.status('bad')?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
    expect(t.events).toEqual(['Warning InvalidSpec']);
    // The status write wakes the key again: nothing more is written.
    t.cluster.resetCalls();
    await expect(t.reconciler.reconcile('test/bad')).rejects.toBeInstanceOf(TerminalError);
    expect(t.cluster.calls).toEqual([]);
    expect(t.events).toHaveLength(1);

    // Fixed by its owner (new generation): the condition goes away and the canary initialises.
    const fixed = canaryObject('bad', 'podinfo');
    fixed.metadata!.generation = 2;
    fixed.status = t.status('bad');
    t.cluster.put('canaries', fixed);
    await t.reconciler.reconcile('test/bad');
    expect(t.status('bad')?.conditions?.some((c) => c.type === 'InvalidSpec')).toBe(false);
    expect(t.status('bad')?.phase).toBe('Initializing');
    expect(t.status('bad')?.conditions?.find((c) => c.type === 'Stalled')).toMatchObject({
      status: 'False',
      reason: 'Initializing',
    });
  });

  it('with --no-cross-namespace-refs, refuses a templateRef or providerRef to another namespace as InvalidSpec', async () => {
    const crossing = {
      metrics: [
        { name: 'own', templateRef: { name: 'errors', namespace: 'test' }, thresholdRange: { max: 1 } },
        {
          name: 'shared',
          templateRef: { name: 'latency', namespace: 'platform' },
          thresholdRange: { max: 1 },
        },
      ],
      alerts: [{ name: 'ops', severity: 'error', providerRef: { name: 'slack', namespace: 'platform' } }],
    };
    const allowed = setup();
    allowed.cluster.put('deployments', deployment('podinfo', 'podinfo:1'));
    allowed.cluster.put('canaries', canaryObject('podinfo', 'podinfo', crossing));
    await allowed.reconciler.reconcile('test/podinfo');
    expect(allowed.status('podinfo')?.phase).toBe('Initializing');

    const t = setup({ noCrossNamespaceRefs: true });
    t.cluster.put('deployments', deployment('podinfo', 'podinfo:1'));
    t.cluster.put('canaries', canaryObject('podinfo', 'podinfo', crossing));
    await expect(t.reconciler.reconcile('test/podinfo')).rejects.toBeInstanceOf(TerminalError);
    const condition = t.status('podinfo')?.conditions?.find((c) => c.type === 'InvalidSpec');
    expect(condition).toMatchObject({ status: 'True', reason: 'InvalidSpec' });
    expect(condition?.message).toContain('spec.analysis.metrics[1].templateRef.namespace: "platform"');
    expect(condition?.message).toContain('create the MetricTemplate "latency" in namespace "test"');
    expect(condition?.message).toContain('spec.analysis.alerts[0].providerRef.namespace: "platform"');
    expect(condition?.message).toContain('--no-cross-namespace-refs');
    expect(condition?.message).not.toContain('metrics[0]');
    expect(t.events).toEqual(['Warning InvalidSpec']);
    expect(t.status('podinfo')?.phase).toBeUndefined();
    expect(t.cluster.get('deployments', 'podinfo-primary') !== undefined).toBe(false);
  });

  it('reports a missing target and leaves the retry to the queue backoff; other canaries go on', async () => {
    const t = setup();
    t.cluster.put('deployments', deployment('podinfo', 'podinfo:1'));
    t.cluster.put('canaries', canaryObject('lost', 'nothing-here'));
    t.cluster.put('canaries', canaryObject('podinfo', 'podinfo'));
    const error = await t.reconciler.reconcile('test/lost').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TargetMissingError);
    expect(error).not.toBeInstanceOf(TerminalError);
    expect((error as Error).message).toContain('test/nothing-here');
    expect(t.events).toEqual(['Warning TargetNotFound']);
    await t.reconciler.reconcile('test/podinfo');
    expect(t.status('podinfo')?.phase).toBe('Initializing');
    expect(t.status('lost')).toBeUndefined();
  });

  it('a deleted Canary is a no-op', async () => {
    const t = setup();
    expect(await t.reconciler.reconcile('test/gone')).toBeUndefined();
    expect(t.cluster.calls).toEqual([]);
  });

  it('leaves a Canary being deleted alone, and ends quietly when its status patch answers 404', async () => {
    const t = setup();
    t.cluster.put('deployments', deployment('podinfo', 'podinfo:1'));
    const deleting = canaryObject('podinfo', 'podinfo');
    deleting.metadata!.deletionTimestamp = '2026-01-01T00:00:00Z';
    t.cluster.put('canaries', deleting);
    expect(await t.reconciler.reconcile('test/podinfo')).toBeUndefined();
    expect(t.cluster.calls).toEqual([]);
    expect(t.events).toEqual([]);

    const u = setup();
    u.cluster.put('deployments', deployment('podinfo', 'podinfo:1'));
    u.cluster.put('canaries', canaryObject('podinfo', 'podinfo'));
    u.api.patchStatus = async () => {
      throw new KubeApiError('canaries "podinfo" not found', { code: 'NOT_FOUND', status: 404 });
    };
    expect(await u.reconciler.reconcile('test/podinfo')).toBeUndefined();
  });

  it('rolls back after threshold failed checks', async () => {
    const t = setup();
    t.cluster.put('deployments', deployment('podinfo', 'podinfo:1'));
    t.cluster.put('canaries', canaryObject('podinfo', 'podinfo'));
    for (let i = 0; i < 3; i++) {
      t.cluster.settle();
      await t.reconciler.reconcile('test/podinfo');
    }
    expect(t.status('podinfo')?.phase).toBe('Initialized');
    const changed = structuredClone(t.cluster.get('deployments', 'podinfo')) as Obj & Deployment;
    changed.spec!.template!.spec!.containers[0]!.image = 'podinfo:bad';
    t.cluster.put('deployments', changed);
    t.setChecks(false);
    for (let i = 0; i < 20 && t.status('podinfo')?.phase !== 'Failed'; i++) {
      t.cluster.settle();
      const result = await t.reconciler.reconcile('test/podinfo');
      t.advance(result?.requeueAfterMs ?? 0);
    }
    const status = t.status('podinfo');
    expect(status?.phase).toBe('Failed');
    expect(status?.failedChecks).toBe(2);
    expect(t.router.weights.get('podinfo')).toEqual({ primary: 100, canary: 0 });
    expect((t.cluster.get('deployments', 'podinfo') as Deployment).spec?.replicas).toBe(0);
    const primary = t.cluster.get('deployments', 'podinfo-primary') as Deployment;
    expect(primary.spec?.template?.spec?.containers[0]?.image).toBe('podinfo:1');
    expect(t.events).toContain('Warning Failed');
  });
});
