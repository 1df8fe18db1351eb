import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import type { Notification } from '../src/notifiers/notification.ts';
import {
  createNamespace,
  getCanary,
  podinfoCanary,
  podinfoDeployment,
  runController,
  setImage,
  sleep,
  spawnControllerProcess,
  TrafficLoop,
  testLogger,
  useE2e,
  WeightRecorder,
  waitFor,
  waitForPhase,
} from './support/e2e.ts';
import { useHookReceiver } from './webhooks-receiver.ts';

// Intent first, end to end: status writes fail with the sandbox's faults (409 and 500) while a broken
// revision is rolled back; the canary must never get traffic again, and each transition is told once.

const env = useE2e({ deploymentReadyDelayMs: 300 });
const receiver = useHookReceiver();

/** Weights after the canary went back to 0 from a positive weight (a rollback): none may be positive. */
function afterRollback(weights: number[]): number[] {
  const raised = weights.findIndex((w) => w > 0);
  const back = weights.findIndex((w, i) => i > raised && w === 0);
  return back < 0 ? [] : weights.slice(back);
}

describe('end to end: failed status writes around a rollback', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    env.sandbox.faults.reset();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  }, 60_000);

  async function prepare(ns: string) {
    await createNamespace(env.api, ns);
    const traffic = new TrafficLoop(env.prometheusUrl, ns);
    traffic.setErrorRatio('podinfo', 0.05);
    traffic.start();
    cleanups.push(() => traffic.stop());
    const weights = new WeightRecorder(env, ns);
    await weights.start();
    cleanups.push(() => weights.stop());
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const log = testLogger();
    const controller = runController(env, ns, log.logger);
    cleanups.push(() => controller.stop());
    await controller.ready;
    return { weights, log };
  }

  it('a 409 and then a 500 on the rollback’s status write: no effect of it applied, no route raised again', async () => {
    const ns = 'e2e-intent-rollback';
    const { weights, log } = await prepare(ns);
    await env.api.create(RESOURCES.canary, podinfoCanary(ns));
    await waitForPhase(env.api, ns, ['Initialized']);
    await setImage(env.api, ns, 'podinfo:2.0-bad');
    // One failed check recorded: the next status write is the rollback's.
    await waitFor(
      'the first failed check',
      async () => ((await getCanary(env.api, ns)).status?.failedChecks === 1 ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    env.sandbox.faults.injectError({ verb: 'patch', resource: 'canaries/status', status: 409, times: 1 });
    env.sandbox.faults.injectError({ verb: 'patch', resource: 'canaries/status', status: 500, times: 1 });
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed']);
    expect(done.status?.phase).toBe('Failed');
    expect(done.status?.failedChecks).toBe(2);
    const dropped = log.lines().filter((l) => l.msg === 'reconcile failed; retrying');
    expect(dropped.length).toBeGreaterThanOrEqual(2);
    // Reconciles go on after the rollback (the canary is idle): still no traffic on it.
    await sleep(3000);
    expect(weights.weights).toEqual([0, 10, 0]);
  }, 90_000);

  it('status writes failing at random (409, 500) through a rollback: no re-exposure, one alert per transition and receiver', async () => {
    const ns = 'e2e-intent-alerts';
    const { weights } = await prepare(ns);
    await env.api.create(RESOURCES.alertProvider, {
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'AlertProvider',
      metadata: { name: 'receiver', namespace: ns },
      spec: { type: 'webhook', address: `${receiver.url}/alerts/${ns}` },
    } as KubeObject);
    await env.api.create(
      RESOURCES.canary,
      podinfoCanary(ns, {
        alerts: [{ name: 'all', severity: 'info', providerRef: { name: 'receiver' } }],
        webhooks: [{ name: 'audit', type: 'event', url: `${receiver.url}/events/${ns}` }],
      }),
    );
    await waitForPhase(env.api, ns, ['Initialized']);
    await setImage(env.api, ns, 'podinfo:2.0-bad');
    await waitFor('weight 10', async () => (weights.weights.includes(10) ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 20,
    });
    env.sandbox.faults.injectError({ verb: 'patch', resource: 'canaries/status', status: 409, rate: 0.3 });
    env.sandbox.faults.injectError({ verb: 'patch', resource: 'canaries/status', status: 500, rate: 0.3 });
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 60_000);
    expect(done.status?.phase).toBe('Failed');
    env.sandbox.faults.reset();
    // Every notice the status holds gets delivered and recorded.
    const settled = await waitFor(
      'every notice delivered',
      async () => {
        const canary = await getCanary(env.api, ns);
        const notices = (
          canary.status as { notices?: { key: string; reason: string; delivered?: boolean }[] }
        ).notices;
        return notices?.some((n) => n.reason === 'Failed') && notices.every((n) => n.delivered)
          ? notices
          : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 50 },
    );
    expect(afterRollback(weights.weights).every((w) => w === 0)).toBe(true);
    expect(Math.max(...weights.weights)).toBe(10);

    const alerts = receiver.on(`/alerts/${ns}`).map((r) => r.body as Notification);
    const keys = alerts.map((a) => a.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(alerts.filter((a) => a.reason === 'Failed')).toHaveLength(1);
    expect(alerts.filter((a) => a.reason === 'NewRevision')).toHaveLength(1);
    for (const notice of settled) expect(keys).toContain(notice.key);
    const events = receiver
      .on(`/events/${ns}`)
      .map((r) => (r.body as { metadata: Record<string, string> }).metadata.eventKey);
    expect(new Set(events).size).toBe(events.length);
    expect(events.sort()).toEqual([...keys].sort());
  }, 120_000);
});

describe('end to end: an alert survives a controller killed before it was delivered', () => {
  it('the restarted controller sends the recorded Failed alert again with the same key, and nothing twice', async () => {
    const ns = 'e2e-intent-kill';
    await createNamespace(env.api, ns);
    const traffic = new TrafficLoop(env.prometheusUrl, ns);
    traffic.setErrorRatio('podinfo', 0.05);
    traffic.start();
    const held: ServerResponse[] = [];
    let holdFailed = true;
    receiver.handler = (req, res, body) => {
      if (holdFailed && req.url === `/alerts/${ns}` && (body as Notification).reason === 'Failed') {
        held.push(res); // never answered: the controller dies waiting
        return;
      }
      res.writeHead(200).end('ok');
    };
    const children: ReturnType<typeof spawnControllerProcess>[] = [];
    try {
      await env.api.create(RESOURCES.alertProvider, {
        apiVersion: 'petrel.dev/v1alpha1',
        kind: 'AlertProvider',
        metadata: { name: 'receiver', namespace: ns },
        spec: { type: 'webhook', address: `${receiver.url}/alerts/${ns}` },
      } as KubeObject);
      await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
      await env.api.create(
        RESOURCES.canary,
        podinfoCanary(ns, { alerts: [{ name: 'all', severity: 'info', providerRef: { name: 'receiver' } }] }),
      );
      const first = spawnControllerProcess(env, ns);
      children.push(first);
      await waitForPhase(env.api, ns, ['Initialized'], 30_000);
      await setImage(env.api, ns, 'podinfo:2.0-bad');
      const failedAlerts = () =>
        receiver.on(`/alerts/${ns}`).filter((r) => (r.body as Notification).reason === 'Failed');
      await waitFor(
        'the Failed alert on its way',
        async () => (failedAlerts().length === 1 ? true : undefined),
        {
          timeoutMs: 40_000,
          intervalMs: 20,
        },
      );
      first.child.kill('SIGKILL');
      await first.exited;
      const owed = (
        (await getCanary(env.api, ns)).status as {
          notices?: { key: string; reason: string; delivered?: boolean }[];
        }
      ).notices?.find((n) => n.reason === 'Failed');
      expect(owed?.delivered).toBeUndefined();

      holdFailed = false;
      const second = spawnControllerProcess(env, ns);
      children.push(second);
      await waitFor(
        'the Failed notice delivered',
        async () => {
          const notices = (
            (await getCanary(env.api, ns)).status as { notices?: { key: string; delivered?: boolean }[] }
          ).notices;
          return notices?.find((n) => n.key === owed?.key)?.delivered ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 50 },
      );
      await sleep(2000);
      const alerts = receiver.on(`/alerts/${ns}`).map((r) => r.body as Notification);
      // The one the killed process was waiting on, and the one the restarted process sent: the same key.
      expect(failedAlerts().map((r) => (r.body as Notification).key)).toEqual([owed?.key, owed?.key]);
      const others = alerts.filter((a) => a.reason !== 'Failed').map((a) => a.key);
      expect(new Set(others).size).toBe(others.length);
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      for (const r of held) r.destroy();
      for (const c of children)
        if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
      await Promise.all(children.map((c) => c.exited));
      await traffic.stop();
    }
  }, 120_000);
});
