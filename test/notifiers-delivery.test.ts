import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Canary } from '../src/api/canary.ts';
import { EventChain } from '../src/controller/event-chain.ts';
import type { NoticeDelivery } from '../src/controller/executor.ts';
import { KubeApiError } from '../src/kube/errors.ts';
import { Alerter } from '../src/notifiers/alerter.ts';
import { AlertSink } from '../src/notifiers/events.ts';
import type { Notification } from '../src/notifiers/notification.ts';
import type { ProviderSources } from '../src/notifiers/providers.ts';
import { NotificationQueue } from '../src/notifiers/queue.ts';
import { EventWebhookSink } from '../src/webhooks/events.ts';
import { WebhookRunner } from '../src/webhooks/runner.ts';
import { waitFor } from './support/wait.ts';
import { useHookReceiver } from './webhooks-receiver.ts';

const receiver = useHookReceiver();
const quiet = pino({ level: 'silent' });

function provider(name: string, spec: Record<string, unknown>) {
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'AlertProvider',
    metadata: { name, namespace: 'shop' },
    spec,
  };
}

function canaryWith(name: string, alerts: unknown[], webhooks: unknown[] = []): Canary {
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name, namespace: 'shop', uid: `uid-${name}` },
    spec: { analysis: { alerts, webhooks } },
    status: { phase: 'Failed', canaryWeight: 0 },
  } as unknown as Canary;
}

const failed = (canary: string): Notification => ({
  canary,
  namespace: 'shop',
  phase: 'Failed',
  weight: 0,
  severity: 'error',
  reason: 'Failed',
  message: 'rolled back',
  time: '2026-01-01T00:00:00.000Z',
});

describe('alerts that arrive in time', () => {
  it('one slow receiver (30 s) does not delay another receiver’s alert beyond a second', async () => {
    const release: (() => void)[] = [];
    receiver.handler = (req, res) => {
      if (req.url === '/slow') {
        const timer = setTimeout(() => res.writeHead(200).end('ok'), 30_000);
        release.push(() => {
          clearTimeout(timer);
          res.writeHead(200).end('ok');
        });
        return;
      }
      res.writeHead(200).end('ok');
    };
    const queue = new NotificationQueue({ logger: quiet, retryDelayMs: 1 });
    const sources: ProviderSources = {
      getAlertProvider: (_ns, name) =>
        provider(name, { type: 'webhook', address: `${receiver.url}/${name}` }),
      getSecret: async () => undefined,
    };
    // Posts of this test may take up to a minute; the notifier's own timeout is not what is measured.
    const alerter = new Alerter({ sources, queue, logger: quiet });
    // Ten canaries fail at once, all alerting the slow receiver; the eleventh alerts the fast one.
    for (let i = 0; i < 10; i++) {
      alerter.notify(
        canaryWith(`slow-${i}`, [{ name: 'ops', severity: 'error', providerRef: { name: 'slow' } }]),
        failed(`slow-${i}`),
      );
    }
    const start = Date.now();
    alerter.notify(
      canaryWith('fast', [{ name: 'ops', severity: 'error', providerRef: { name: 'fast' } }]),
      failed('fast'),
    );
    await waitFor("receiver.on('/fast').length === 1", () => receiver.on('/fast').length === 1, {
      timeoutMs: 5000,
      intervalMs: 10,
    });
    expect(Date.now() - start).toBeLessThan(1000);
    // The slow receiver gets its alerts one at a time, in order, on its own lane.
    expect(receiver.on('/slow')).toHaveLength(1);
    for (let i = 0; i < 10 && release.length > 0; i++) {
      release.shift()?.();
      await waitFor(
        "release.length > 0 || receiver.on('/slow').length === 10",
        () => release.length > 0 || receiver.on('/slow').length === 10,
        { timeoutMs: 5000, intervalMs: 10 },
      );
    }
    await queue.drain();
    expect(receiver.on('/slow').map((r) => (r.body as Notification).canary)).toEqual(
      Array.from({ length: 10 }, (_, i) => `slow-${i}`),
    );
    await queue.stop();
  });

  it('a receiver failing and retrying holds no slot while it waits', async () => {
    receiver.handler = (req, res) => res.writeHead(req.url === '/down' ? 503 : 200).end('x');
    const queue = new NotificationQueue({ logger: quiet, concurrency: 1, retries: 3, retryDelayMs: 2000 });
    const sources: ProviderSources = {
      getAlertProvider: (_ns, name) =>
        provider(name, { type: 'webhook', address: `${receiver.url}/${name}` }),
      getSecret: async () => undefined,
    };
    const alerter = new Alerter({ sources, queue, logger: quiet });
    alerter.notify(
      canaryWith('a', [{ name: 'ops', severity: 'error', providerRef: { name: 'down' } }]),
      failed('a'),
    );
    await waitFor("receiver.on('/down').length === 1", () => receiver.on('/down').length === 1, {
      timeoutMs: 5000,
      intervalMs: 10,
    });
    const start = Date.now();
    alerter.notify(
      canaryWith('b', [{ name: 'ops', severity: 'error', providerRef: { name: 'up' } }]),
      failed('b'),
    );
    await waitFor("receiver.on('/up').length === 1", () => receiver.on('/up').length === 1, {
      timeoutMs: 5000,
      intervalMs: 10,
    });
    expect(Date.now() - start).toBeLessThan(1000);
    await queue.stop();
  });

  it('a notification waiting to retry lets the same receiver’s next one go, then gets its turn again', async () => {
    // The receiver refuses the first alert twice, then takes everything: the second alert must not wait
    // out the first one's retries (a terminal alert stuck behind a failing one arrives too late to help).
    let refused = 0;
    receiver.handler = (_req, res, body) => {
      const first = (body as Notification).canary === 'first';
      if (first && refused < 2) {
        refused++;
        return void res.writeHead(503).end('busy');
      }
      res.writeHead(200).end('ok');
    };
    const queue = new NotificationQueue({ logger: quiet, retries: 3, retryDelayMs: 1500 });
    const sources: ProviderSources = {
      getAlertProvider: (_ns, name) => provider(name, { type: 'webhook', address: `${receiver.url}/same` }),
      getSecret: async () => undefined,
    };
    const alerter = new Alerter({ sources, queue, logger: quiet });
    const start = receiver.on('/same').length;
    alerter.notify(
      canaryWith('first', [{ name: 'ops', severity: 'error', providerRef: { name: 'same' } }]),
      failed('first'),
    );
    alerter.notify(
      canaryWith('second', [{ name: 'ops', severity: 'error', providerRef: { name: 'same' } }]),
      failed('second'),
    );
    const accepted = () =>
      receiver
        .on('/same')
        .slice(start)
        .map((r) => (r.body as Notification).canary);
    const t0 = Date.now();
    await waitFor('the second alert', () => accepted().includes('second'), {
      timeoutMs: 5000,
      intervalMs: 10,
    });
    expect(Date.now() - t0).toBeLessThan(1000);
    await queue.drain();
    // The first was delivered too, once, after its retries.
    expect(accepted().filter((c) => c === 'first')).toHaveLength(3);
    expect(queue.stats).toMatchObject({ sent: 2, failed: 0 });
    await queue.stop();
  });

  it('retries reading the provider’s Secret after a 500 and a 429, then delivers once', async () => {
    receiver.handler = (_req, res) => res.writeHead(200).end('ok');
    const queue = new NotificationQueue({ logger: quiet, retryDelayMs: 1 });
    const failures = [
      new KubeApiError('secrets "chat" is unavailable', { code: 'SERVER_ERROR', status: 500 }),
      new KubeApiError('too many requests', { code: 'TOO_MANY_REQUESTS', status: 429, retryAfterMs: 10 }),
    ];
    let reads = 0;
    const sources: ProviderSources = {
      getAlertProvider: (_ns, name) => provider(name, { type: 'webhook', secretRef: { name: 'chat' } }),
      getSecret: async () => {
        reads++;
        const failure = failures.shift();
        if (failure) throw failure;
        return { data: { address: Buffer.from(`${receiver.url}/from-secret`).toString('base64') } };
      },
    };
    const undelivered: string[] = [];
    const alerter = new Alerter({ sources, queue, logger: quiet, onUndelivered: (t) => undelivered.push(t) });
    alerter.notify(
      canaryWith('c', [{ name: 'ops', severity: 'error', providerRef: { name: 'chat' } }]),
      failed('c'),
    );
    await queue.drain();
    expect(reads).toBe(3);
    expect(receiver.on('/from-secret')).toHaveLength(1);
    expect(undelivered).toEqual([]);
    expect(queue.stats).toMatchObject({ sent: 1, failed: 0 });
  });

  it('does not retry a Secret that is missing (a fix is needed, not time)', async () => {
    const queue = new NotificationQueue({ logger: quiet, retryDelayMs: 1 });
    let reads = 0;
    const sources: ProviderSources = {
      getAlertProvider: (_ns, name) => provider(name, { type: 'webhook', secretRef: { name: 'nope' } }),
      getSecret: async () => {
        reads++;
        return undefined;
      },
    };
    const alerter = new Alerter({ sources, queue, logger: quiet });
    alerter.notify(
      canaryWith('d', [{ name: 'ops', severity: 'error', providerRef: { name: 'x' } }]),
      failed('d'),
    );
    await queue.drain();
    expect(reads).toBe(1);
    expect(queue.stats.failed).toBe(1);
  });
});

describe('a notice through the event chain', () => {
  function chain() {
    const queue = new NotificationQueue({ logger: quiet, retryDelayMs: 1, retries: 1 });
    const sources: ProviderSources = {
      getAlertProvider: (_ns, name) =>
        provider(name, { type: 'webhook', address: `${receiver.url}/notice-${name}` }),
      getSecret: async () => undefined,
    };
    const alerter = new Alerter({ sources, queue, logger: quiet });
    const runner = new WebhookRunner({ logger: quiet });
    const recorded: string[] = [];
    const now = () => new Date(0);
    const events = new EventChain(
      { record: async (_c, _t, reason, _m, notice) => recorded.push(`${reason} ${notice?.key ?? ''}`) },
      [new AlertSink({ alerter, now }), new EventWebhookSink(runner)],
      { logger: quiet, now },
    );
    return { queue, runner, events, recorded };
  }

  function delivery(key: string, skip: string[] = []) {
    const sent: string[] = [];
    const done: boolean[] = [];
    let released = 0;
    const notice: NoticeDelivery = {
      key,
      time: '2026-01-01T09:30:00.000Z',
      skip: new Set(skip),
      sent: (r) => sent.push(r),
      settled: (external) => done.push(external),
      released: () => {
        released++;
      },
    };
    return { notice, sent, done, released: () => released };
  }

  it('carries its key to alerts and event webhooks, skips receivers that have it, and reports when all are done', async () => {
    receiver.handler = (req, res) => res.writeHead(req.url === '/notice-broken' ? 400 : 200).end('x');
    const { queue, runner, events, recorded } = chain();
    const canary = canaryWith(
      'keyed',
      [
        { name: 'chat', severity: 'info', providerRef: { name: 'chat' } },
        { name: 'pager', severity: 'info', providerRef: { name: 'pager' } },
        { name: 'broken', severity: 'info', providerRef: { name: 'broken' } },
      ],
      [{ name: 'audit', type: 'event', url: `${receiver.url}/notice-audit` }],
    );
    const key = 'uid-keyed/rev/Failed/t0';
    const d = delivery(key, ['alert:pager']);
    await events.record(canary, 'Warning', 'Failed', 'rolled back', d.notice);
    // The same transition recorded twice within the repeat window is still passed on: keys decide, not windows.
    const again = delivery(`${key}-2`);
    await events.record(canary, 'Warning', 'Failed', 'rolled back', again.notice);
    await waitFor(
      'd.done.length === 1 && again.done.length === 1',
      () => d.done.length === 1 && again.done.length === 1,
      { timeoutMs: 5000, intervalMs: 10 },
    );
    await Promise.all([queue.drain(), runner.idle()]);
    expect(recorded).toEqual([`Failed ${key}`, `Failed ${key}-2`]);
    expect(receiver.on('/notice-chat').map((r) => (r.body as Notification).key)).toEqual([key, `${key}-2`]);
    // The transition's time, not the time of sending.
    expect((receiver.on('/notice-chat')[0]?.body as Notification).time).toBe('2026-01-01T09:30:00.000Z');
    expect(receiver.on('/notice-pager').map((r) => (r.body as Notification).key)).toEqual([`${key}-2`]);
    expect(
      receiver
        .on('/notice-audit')
        .map((r) => (r.body as { metadata: Record<string, string> }).metadata.eventKey),
    ).toEqual([key, `${key}-2`]);
    // A receiver given up on (400) counts as done: it is not sent again after a restart.
    expect(d.sent.sort()).toEqual(['alert:broken', 'alert:chat', 'webhook:audit']);
    expect(d.done).toEqual([true]);
  });

  it('a notice with no receiver outside the cluster settles without waking anyone', async () => {
    const { events } = chain();
    const d = delivery('k-local');
    await events.record(canaryWith('local', []), 'Normal', 'Succeeded', 'done', d.notice);
    await waitFor('d.done.length === 1', () => d.done.length === 1, { timeoutMs: 2000, intervalMs: 10 });
    expect(d.done).toEqual([false]);
  });

  it('a notice cut short by a stop is released, not marked sent', async () => {
    receiver.handler = () => {};
    const { queue, events } = chain();
    const d = delivery('k-stop');
    await events.record(
      canaryWith('stop', [{ name: 'hang', severity: 'info', providerRef: { name: 'hang' } }]),
      'Warning',
      'Failed',
      'rolled back',
      d.notice,
    );
    await waitFor(
      "receiver.on('/notice-hang').length === 1",
      () => receiver.on('/notice-hang').length === 1,
      { timeoutMs: 5000, intervalMs: 10 },
    );
    await queue.stop();
    await waitFor('d.released() === 1', () => d.released() === 1, { timeoutMs: 2000, intervalMs: 10 });
    expect(d.sent).toEqual([]);
    expect(d.done).toEqual([]);
  });
});
