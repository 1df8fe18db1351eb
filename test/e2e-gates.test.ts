import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/run.ts';
import type { RunningController } from '../src/controller/controller.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import type { Notification } from '../src/notifiers/notification.ts';
import {
  createNamespace,
  getCanary,
  getDeployment,
  podinfoCanary,
  podinfoDeployment,
  runController,
  setImage,
  testLogger,
  useE2e,
  WeightRecorder,
  waitFor,
  waitForPhase,
} from './support/e2e.ts';
import { HookReceiver } from './webhooks-receiver.ts';

const env = useE2e({ deploymentReadyDelayMs: 300 });
const receiver = new HookReceiver();
let gateOpen = false;

beforeAll(async () => {
  await receiver.start();
  receiver.handler = (req, res) => {
    if (req.url?.startsWith('/gate')) return void res.writeHead(gateOpen ? 204 : 403).end();
    if (req.url?.startsWith('/fail')) return void res.writeHead(500).end('load test failed');
    res.writeHead(200).end();
  };
});
afterAll(() => receiver.stop());

/** Alerts of every severity go to the receiver, through a Secret-held URL. */
const ALERTS = [{ name: 'all', severity: 'info', providerRef: { name: 'receiver' } }];

describe('end to end: gates, manual control and notifications', () => {
  const cleanups: (() => Promise<void>)[] = [];
  const logs: ReturnType<typeof testLogger>[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  }, 60_000);

  async function prepare(ns: string) {
    await createNamespace(env.api, ns);
    await env.api.create(RESOURCES.secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'receiver-url', namespace: ns },
      data: { address: Buffer.from(`${receiver.url}/alerts/${ns}/token-abc`).toString('base64') },
    } as KubeObject);
    await env.api.create(RESOURCES.alertProvider, {
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'AlertProvider',
      metadata: { name: 'receiver', namespace: ns },
      spec: { type: 'webhook', secretRef: { name: 'receiver-url' } },
    } as KubeObject);
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const log = testLogger();
    logs.push(log);
    const controller: RunningController = runController(env, ns, log.logger);
    cleanups.push(() => controller.stop());
    await controller.ready;
    const weights = new WeightRecorder(env, ns);
    await weights.start();
    cleanups.push(() => weights.stop());
    return { weights };
  }

  const alertsFor = (ns: string) =>
    receiver.received.filter((r) => r.path.startsWith(`/alerts/${ns}/`)).map((r) => r.body as Notification);

  async function alertWith(ns: string, reason: string): Promise<Notification> {
    return waitFor(
      `an alert ${reason} for ${ns}`,
      async () => alertsFor(ns).find((n) => n.reason === reason),
      {
        timeoutMs: 10_000,
      },
    );
  }

  it('holds at WaitingPromotion while the confirm-promotion gate is closed, then promotes once it opens', async () => {
    const ns = 'e2e-gate';
    const { weights } = await prepare(ns);
    gateOpen = false;
    await env.api.create(
      RESOURCES.canary,
      podinfoCanary(ns, {
        interval: '1s',
        maxWeight: 20,
        stepWeight: 10,
        metrics: [],
        alerts: ALERTS,
        webhooks: [
          {
            name: 'approval',
            type: 'confirm-promotion',
            url: `${receiver.url}/gate`,
            retries: 0,
            timeout: '2s',
          },
          { name: 'audit', type: 'event', url: `${receiver.url}/events/${ns}` },
          { name: 'done', type: 'post-rollout', url: `${receiver.url}/post/${ns}` },
        ],
      }) as unknown as KubeObject,
    );
    await waitForPhase(env.api, ns, ['Initialized']);
    await setImage(env.api, ns, 'podinfo:2.0');
    const waiting = await waitForPhase(env.api, ns, ['WaitingPromotion', 'Succeeded', 'Failed'], 20_000);
    expect(waiting.status?.phase).toBe('WaitingPromotion');
    expect(waiting.status?.canaryWeight).toBe(20);
    // The closed gate is asked again, and the canary keeps waiting.
    const asked = receiver.on('/gate').length;
    await waitFor(
      'the closed gate to be asked again',
      () => receiver.on('/gate').length >= Math.max(2, asked + 1),
      {
        timeoutMs: 10_000,
        intervalMs: 50,
      },
    );
    const still = await getCanary(env.api, ns);
    expect(still.status?.phase).toBe('WaitingPromotion');
    const asks = receiver.on('/gate').map((r) => r.body as { name: string; phase: string; weight: number });
    expect(asks.length).toBeGreaterThanOrEqual(2);
    expect(asks.at(-1)).toMatchObject({ name: 'podinfo', weight: 20 });

    gateOpen = true;
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 20_000);
    expect(done.status?.phase).toBe('Succeeded');
    const primary = await getDeployment(env.api, ns, 'podinfo-primary');
    expect(primary.spec?.template?.spec?.containers?.[0]?.image).toBe('podinfo:2.0');
    expect(weights.weights.filter((w) => w > 0)).toEqual([10, 20]);

    const success = await alertWith(ns, 'Succeeded');
    expect(success).toMatchObject({ canary: 'podinfo', namespace: ns, phase: 'Succeeded', severity: 'info' });
    await waitFor('the post-rollout hook', async () =>
      receiver.on(`/post/${ns}`).length ? true : undefined,
    );
    expect(receiver.on(`/post/${ns}`)[0]?.body).toMatchObject({ phase: 'Succeeded' });
    const eventHooks = receiver
      .on(`/events/${ns}`)
      .map((r) => (r.body as { metadata: { eventReason: string } }).metadata.eventReason);
    expect(eventHooks).toEqual(expect.arrayContaining(['NewRevision', 'WaitingPromotion', 'Succeeded']));
  }, 60_000);

  it('petrel abort mid-rollout ends Failed within one second, with who asked in the reason', async () => {
    const ns = 'e2e-abort';
    const { weights } = await prepare(ns);
    await env.api.create(
      RESOURCES.canary,
      podinfoCanary(ns, {
        interval: '1s',
        maxWeight: 50,
        stepWeight: 10,
        metrics: [],
        alerts: ALERTS,
      }) as unknown as KubeObject,
    );
    await waitForPhase(env.api, ns, ['Initialized']);
    await setImage(env.api, ns, 'podinfo:2.0');
    await waitFor(
      'weight 20',
      async () => ((await getCanary(env.api, ns)).status?.canaryWeight === 20 ? true : undefined),
      {
        timeoutMs: 20_000,
        intervalMs: 20,
      },
    );
    const out = new PassThrough();
    const started = Date.now();
    const code = await runCli(
      ['abort', 'podinfo', '-n', ns, '--kubeconfig', env.sandbox.kubeconfigPath, '--by', 'e2e-operator'],
      { stdout: out, stderr: out, stdin: new PassThrough(), env: {} },
    );
    expect(code).toBe(0);
    const failed = await waitFor(
      'Failed after abort',
      async () => {
        const c = await getCanary(env.api, ns);
        return c.status?.phase === 'Failed' ? c : undefined;
      },
      { timeoutMs: 5000, intervalMs: 10 },
    );
    const abortMs = Date.now() - started;
    console.log(`e2e figures: petrel abort -> phase Failed in ${abortMs} ms`);
    expect(abortMs).toBeLessThan(1000);
    expect(failed.status?.conditions?.find((c) => c.type === 'Promoted')).toMatchObject({
      status: 'False',
      reason: 'Aborted',
      message: expect.stringContaining('aborted by e2e-operator'),
    });
    await waitFor('traffic back on the primary', async () =>
      weights.weights.at(-1) === 0 ? true : undefined,
    );
    const primary = await getDeployment(env.api, ns, 'podinfo-primary');
    expect(primary.spec?.template?.spec?.containers?.[0]?.image).toBe('podinfo:1.0');
    await waitFor('the annotation to be cleared', async () =>
      (await getCanary(env.api, ns)).metadata?.annotations?.['petrel.dev/action'] === undefined
        ? true
        : undefined,
    );
    expect(await alertWith(ns, 'Aborted')).toMatchObject({ severity: 'error', phase: 'Failed' });
  }, 60_000);

  it('alerts on a progress deadline and on an invalid spec', async () => {
    const ns = 'e2e-outcomes';
    await prepare(ns);
    await env.api.create(
      RESOURCES.canary,
      podinfoCanary(
        ns,
        { interval: '1s', metrics: [], alerts: ALERTS },
        { progressDeadlineSeconds: 2 },
      ) as unknown as KubeObject,
    );
    await waitForPhase(env.api, ns, ['Initialized']);
    await setImage(env.api, ns, 'podinfo:2.0-stuck', { 'sandbox.petrel.dev/never-ready': 'true' });
    await waitForPhase(env.api, ns, ['Failed'], 20_000);
    expect(await alertWith(ns, 'ProgressDeadlineExceeded')).toMatchObject({
      severity: 'error',
      phase: 'Failed',
    });

    // Invalid in a way the CRD lets in and the controller refuses: a misspelt Istio match key.
    const invalid = podinfoCanary(ns, {
      match: [{ uri: { prefx: '/api' } }],
      alerts: ALERTS,
    }) as unknown as KubeObject;
    invalid.metadata = { name: 'broken', namespace: ns };
    await env.api.create(RESOURCES.canary, invalid);
    const alert = await alertWith(ns, 'InvalidSpec');
    expect(alert).toMatchObject({ canary: 'broken', severity: 'error' });
    expect(alert.message).toContain('prefx');
  }, 60_000);

  it('rolls back when a rollout hook keeps failing, and alerts with the failing check', async () => {
    const ns = 'e2e-hook-fail';
    const { weights } = await prepare(ns);
    await env.api.create(
      RESOURCES.canary,
      podinfoCanary(ns, {
        interval: '1s',
        threshold: 2,
        metrics: [],
        alerts: ALERTS,
        webhooks: [{ name: 'load-test', type: 'rollout', url: `${receiver.url}/fail`, retries: 1 }],
      }) as unknown as KubeObject,
    );
    await waitForPhase(env.api, ns, ['Initialized']);
    await setImage(env.api, ns, 'podinfo:2.0');
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 20_000);
    expect(done.status?.phase).toBe('Failed');
    expect(done.status?.failedChecks).toBe(2);
    expect(done.status?.history?.filter((h) => h.verdict === 'fail').map((h) => h.reason)).toEqual([
      expect.stringContaining('HTTP 500'),
      expect.stringContaining('HTTP 500'),
    ]);
    // 2 steps x (1 try + 1 retry)
    expect(receiver.on('/fail')).toHaveLength(4);
    expect(Math.max(...weights.weights)).toBe(10);
    const alert = await alertWith(ns, 'Failed');
    expect(alert).toMatchObject({
      severity: 'error',
      phase: 'Failed',
      failingCheck: { metric: 'webhook load-test' },
    });
  }, 60_000);

  it('never writes a webhook or alert URL to an event or a log line', async () => {
    const events = await env.api.list<KubeObject & { message?: string }>(RESOURCES.event);
    expect(events.items.length).toBeGreaterThan(0);
    const texts = [
      ...events.items.map((e) => JSON.stringify(e)),
      ...logs.flatMap((l) => l.lines().map((x) => JSON.stringify(x))),
    ];
    expect(texts.length).toBeGreaterThan(20);
    for (const text of texts) {
      expect(text).not.toContain(receiver.url);
      expect(text).not.toContain('token-abc');
    }
  });
});
