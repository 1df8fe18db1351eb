import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanaryWebhook } from '../src/api/canary.ts';
import { EventChain } from '../src/controller/event-chain.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import { AlertSink } from '../src/notifiers/events.ts';
import type { Notification } from '../src/notifiers/notification.ts';
import { withNotices } from '../src/rollout/notices.ts';
import { event } from '../src/rollout/outcomes.ts';
import type { WebhookOutcome } from '../src/webhooks/client.ts';
import { withMutedAlert } from '../src/webhooks/gates.ts';
import { useCleanups } from './support/cleanups.ts';
import {
  createNamespace,
  podinfoCanary,
  podinfoDeployment,
  runController,
  setImage,
  sleep,
  testLogger,
  useE2e,
  waitFor,
  waitForPhase,
} from './support/e2e.ts';
import { HookReceiver } from './webhooks-receiver.ts';

const hook = (name: string, muteAlert?: boolean): CanaryWebhook => ({
  name,
  type: 'confirm-promotion',
  url: 'http://hooks.test/',
  ...(muteAlert === undefined ? {} : { muteAlert }),
});
const closed = { pending: false, open: false, detail: 'HTTP 403' };
const answer = (ok: boolean): WebhookOutcome => ({
  hook: 'x',
  type: 'confirm-promotion',
  ok,
  attempts: 1,
  durationMs: 1,
  message: ok ? 'ok' : 'HTTP 403',
});

describe('webhooks[].muteAlert: which closed gates are muted', () => {
  it('mutes a closed gate only when every failed webhook asks for it', () => {
    expect(withMutedAlert('confirm-promotion', closed, [hook('a', true)], [answer(false)]).muted).toBe(true);
    expect(withMutedAlert('confirm-promotion', closed, [hook('a', false)], [answer(false)]).muted).toBe(
      undefined,
    );
    // A failed webhook without muteAlert beside a muted one: alerted.
    const two = [hook('a', true), hook('b')];
    expect(withMutedAlert('confirm-promotion', closed, two, [answer(false), answer(false)]).muted).toBe(
      undefined,
    );
    // The webhook without muteAlert passed: only muted ones failed.
    expect(withMutedAlert('confirm-promotion', closed, two, [answer(false), answer(true)]).muted).toBe(true);
  });

  it('never mutes an open or pending gate, nor the rollback gate', () => {
    const open = { ...closed, open: true };
    expect(withMutedAlert('confirm-promotion', open, [hook('a', true)], [answer(true)]).muted).toBe(
      undefined,
    );
    const pending = { ...closed, pending: true };
    expect(withMutedAlert('confirm-promotion', pending, [hook('a', true)], [undefined]).muted).toBe(
      undefined,
    );
    expect(withMutedAlert('rollback', closed, [hook('a', true)], [answer(false)]).muted).toBe(undefined);
  });

  it('a muted event becomes a muted notice in the status; the chain passes it on and the alert sink sends nothing', async () => {
    const canary = { ...(podinfoCanary('ns') as object), status: {} } as never;
    const reason = { code: 'TrafficIncreaseHeld', message: 'held', severity: 'Normal' } as const;
    const decision = withNotices(
      canary,
      {
        status: {},
        actions: [event(reason as never, true), event(reason as never)],
        reason: reason as never,
      },
      new Date('2026-12-03T08:00:00Z'),
    );
    expect(decision.status.notices?.map((n) => n.muteAlert)).toEqual([true, undefined]);

    const recorded: string[] = [];
    const dispatched: string[] = [];
    const sink = new AlertSink({
      alerter: {
        dispatch: (_c: unknown, n: { reason: string }) => {
          dispatched.push(n.reason);
          return [];
        },
      } as never,
      now: () => new Date(),
    } as never);
    const chain = new EventChain({ record: async (_c, _t, reason) => recorded.push(reason) }, [sink], {
      logger: testLogger().logger,
      now: () => new Date(),
    });
    const delivery = (muteAlert?: boolean) => ({
      key: `k${muteAlert ? 1 : 2}`,
      skip: new Set<string>(),
      sent() {},
      settled() {},
      released() {},
      ...(muteAlert ? { muteAlert } : {}),
    });
    await chain.record(canary, 'Normal', 'TrafficIncreaseHeld', 'held', delivery(true));
    await chain.record(canary, 'Normal', 'TrafficIncreaseHeld', 'held again', delivery());
    expect(recorded).toEqual(['TrafficIncreaseHeld', 'TrafficIncreaseHeld']);
    expect(dispatched).toEqual(['TrafficIncreaseHeld']);
  });
});

const env = useE2e({ deploymentReadyDelayMs: 300 });
const receiver = new HookReceiver();
beforeAll(async () => {
  await receiver.start();
  receiver.handler = (req, res) => {
    if (req.url?.startsWith('/gate')) return void res.writeHead(403).end('not yet');
    if (req.url?.startsWith('/fail')) return void res.writeHead(500).end('smoke test failed');
    res.writeHead(200).end();
  };
});
afterAll(() => receiver.stop());

describe('end to end: a failing webhook with muteAlert sends no alert', () => {
  const cleanups = useCleanups();

  async function prepare(ns: string, analysis: Record<string, unknown>) {
    await createNamespace(env.api, ns);
    await env.api.create(RESOURCES.alertProvider, {
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'AlertProvider',
      metadata: { name: 'receiver', namespace: ns },
      spec: { type: 'webhook', address: `${receiver.url}/alerts/${ns}` },
    } as KubeObject);
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const controller = runController(env, ns, testLogger().logger);
    cleanups.push(() => controller.stop());
    await controller.ready;
    await env.api.create(
      RESOURCES.canary,
      podinfoCanary(ns, {
        interval: '1s',
        metrics: [],
        alerts: [{ name: 'all', severity: 'info', providerRef: { name: 'receiver' } }],
        ...analysis,
      }),
    );
    await waitForPhase(env.api, ns, ['Initialized']);
    await setImage(env.api, ns, 'podinfo:2.0');
  }

  const alertsFor = (ns: string) =>
    receiver.received.filter((r) => r.path === `/alerts/${ns}`).map((r) => (r.body as Notification).reason);

  async function eventReasons(ns: string): Promise<string[]> {
    const events = await env.api.list<KubeObject & { reason?: string }>(RESOURCES.event, { namespace: ns });
    return events.items.map((e) => e.reason ?? '');
  }

  it('a closed confirm-traffic-increase gate: the hold is an event; an alert only without muteAlert', async () => {
    const gate = (muteAlert: boolean) => ({
      webhooks: [
        { name: 'approval', type: 'confirm-traffic-increase', url: `${receiver.url}/gate`, muteAlert },
      ],
    });
    await prepare('e2e-mute-gate', gate(true));
    await prepare('e2e-loud-gate', gate(false));
    for (const ns of ['e2e-mute-gate', 'e2e-loud-gate']) {
      await waitFor(`the hold event in ${ns}`, async () =>
        (await eventReasons(ns)).includes('TrafficIncreaseHeld') ? true : undefined,
      );
    }
    await waitFor('the unmuted alert', async () =>
      alertsFor('e2e-loud-gate').includes('TrafficIncreaseHeld') ? true : undefined,
    );
    // Give the muted one's alert every chance to arrive: the alert path works for its other events.
    await sleep(1500);
    expect(alertsFor('e2e-mute-gate')).toContain('NewRevision');
    expect(alertsFor('e2e-mute-gate')).not.toContain('TrafficIncreaseHeld');
  }, 60_000);

  it('a failing rollout webhook: its failed checks are muted, the rollback at the threshold is not', async () => {
    const ns = 'e2e-mute-rollout';
    await prepare(ns, {
      threshold: 2,
      webhooks: [{ name: 'smoke', type: 'rollout', url: `${receiver.url}/fail`, muteAlert: true }],
    });
    const done = await waitForPhase(env.api, ns, ['Failed', 'Succeeded']);
    expect(done.status?.phase).toBe('Failed');
    expect(await eventReasons(ns)).toContain('CheckFailed');
    await waitFor('the rollback alert', async () => (alertsFor(ns).includes('Failed') ? true : undefined));
    expect(alertsFor(ns)).not.toContain('CheckFailed');
  }, 60_000);
});
