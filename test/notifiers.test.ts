import { IncomingWebhook, type IncomingWebhookSendArguments } from '@slack/webhook';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Canary } from '../src/api/canary.ts';
import { EventChain } from '../src/controller/event-chain.ts';
import { Alerter } from '../src/notifiers/alerter.ts';
import { discordMessage } from '../src/notifiers/discord.ts';
import { AlertSink, notificationFor } from '../src/notifiers/events.ts';
import { teamsMessage } from '../src/notifiers/msteams.ts';
import { type Notification, severityAllows, severityOf } from '../src/notifiers/notification.ts';
import { createNotifier } from '../src/notifiers/notifier.ts';
import {
  AlertProviderError,
  type ProviderSources,
  resolveAlertProvider,
} from '../src/notifiers/providers.ts';
import { NotificationQueue } from '../src/notifiers/queue.ts';
import { slackMessage } from '../src/notifiers/slack.ts';
import { genericMessage } from '../src/notifiers/webhook.ts';
import { EventWebhookSink } from '../src/webhooks/events.ts';
import { WebhookRunner } from '../src/webhooks/runner.ts';
import { HookReceiver } from './webhooks-receiver.ts';

const SECRET = '/services/T0001/B0001/XXXXsecretXXXX';

const failed: Notification = {
  canary: 'podinfo',
  namespace: 'shop',
  phase: 'Failed',
  weight: 0,
  severity: 'error',
  reason: 'Failed',
  message:
    'canary failed 2 check(s), the threshold: rolling back; last failure: request-success-rate 91.5 < 99',
  failingCheck: { metric: 'request-success-rate', value: 91.5, reason: 'request-success-rate 91.5 < min 99' },
  cluster: 'prod-eu-1',
  time: '2026-11-25T12:00:00.000Z',
};

function memoryLogger() {
  const lines: string[] = [];
  return { logger: pino({ level: 'debug' }, { write: (l: string) => lines.push(l) }), lines };
}

const receiver = new HookReceiver();
beforeAll(async () => {
  await receiver.start();
  receiver.handler = (req, res) => {
    if (req.url?.startsWith('/dead')) return void res.writeHead(503).end('down');
    res.writeHead(200).end('ok');
  };
});
afterAll(() => receiver.stop());

describe('payloads', () => {
  it('builds a Slack Block Kit message with canary, namespace, phase, weight, failing check and cluster', () => {
    expect(slackMessage(failed, { channel: '#deploys', username: 'petrel' })).toMatchInlineSnapshot(`
      {
        "blocks": [
          {
            "text": {
              "text": "podinfo.shop: Failed",
              "type": "plain_text",
            },
            "type": "header",
          },
          {
            "text": {
              "text": ":red_circle: canary failed 2 check(s), the threshold: rolling back; last failure: request-success-rate 91.5 &lt; 99",
              "type": "mrkdwn",
            },
            "type": "section",
          },
          {
            "fields": [
              {
                "text": "*Canary*
      podinfo",
                "type": "mrkdwn",
              },
              {
                "text": "*Namespace*
      shop",
                "type": "mrkdwn",
              },
              {
                "text": "*Phase*
      Failed",
                "type": "mrkdwn",
              },
              {
                "text": "*Weight*
      0%",
                "type": "mrkdwn",
              },
              {
                "text": "*Cluster*
      prod-eu-1",
                "type": "mrkdwn",
              },
              {
                "text": "*Failing check*
      request-success-rate = 91.5 (request-success-rate 91.5 &lt; min 99)",
                "type": "mrkdwn",
              },
            ],
            "type": "section",
          },
          {
            "elements": [
              {
                "text": "Petrel · error · 2026-11-25T12:00:00.000Z",
                "type": "mrkdwn",
              },
            ],
            "type": "context",
          },
        ],
        "channel": "#deploys",
        "text": "podinfo.shop: Failed canary failed 2 check(s), the threshold: rolling back; last failure: request-success-rate 91.5 < 99",
        "username": "petrel",
      }
    `);
  });

  it('builds a Slack message for a success without a failing check or cluster', () => {
    const ok: Notification = {
      ...failed,
      phase: 'Succeeded',
      severity: 'info',
      reason: 'Succeeded',
      message: 'done',
    };
    delete ok.failingCheck;
    delete ok.cluster;
    const msg = slackMessage(ok);
    expect(msg.blocks[2]).toEqual({
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: '*Canary*\npodinfo' },
        { type: 'mrkdwn', text: '*Namespace*\nshop' },
        { type: 'mrkdwn', text: '*Phase*\nSucceeded' },
        { type: 'mrkdwn', text: '*Weight*\n0%' },
      ],
    });
    expect(msg).not.toHaveProperty('channel');
  });

  it('is a valid @slack/webhook send argument (checked by tsc) and the Slack client sends it as is', async () => {
    const args: IncomingWebhookSendArguments = slackMessage(failed, { channel: '#deploys' });
    const before = receiver.received.length;
    const client = new IncomingWebhook(`${receiver.url}/slack`);
    await client.send(args);
    expect(receiver.received[before]?.body).toEqual(JSON.parse(JSON.stringify(args)));
  });

  it('builds Teams, Discord and generic payloads', () => {
    expect(teamsMessage(failed)).toMatchSnapshot();
    expect(discordMessage(failed, { username: 'petrel' })).toMatchSnapshot();
    expect(genericMessage(failed)).toEqual(failed);
    expect(discordMessage(failed).allowed_mentions).toEqual({ parse: [] });
  });

  it('builds a Teams message as an Adaptive Card 1.4, the format Teams Workflows take', () => {
    const msg = teamsMessage(failed);
    expect(msg.type).toBe('message');
    expect(msg.attachments).toHaveLength(1);
    const [attachment] = msg.attachments;
    expect(attachment?.contentType).toBe('application/vnd.microsoft.card.adaptive');
    const card = attachment!.content;
    expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
    expect(card.body[0]).toMatchObject({
      type: 'TextBlock',
      text: 'podinfo.shop: Failed',
      color: 'attention',
    });
    const factSet = card.body.find((b) => b.type === 'FactSet') as unknown as { facts: { title: string }[] };
    expect(factSet.facts.map((f) => f.title)).toEqual([
      'Canary',
      'Namespace',
      'Phase',
      'Weight',
      'Cluster',
      'Failing check',
    ]);
    expect(teamsMessage({ ...failed, severity: 'info' }).attachments[0]?.content.body[0]).toMatchObject({
      color: 'accent',
    });
  });

  it('posts the Adaptive Card to a Teams workflow URL as JSON', async () => {
    await createNotifier({ type: 'msteams', address: `${receiver.url}/teams` }).post(failed);
    const [posted] = receiver.on('/teams');
    expect(posted?.body).toEqual(JSON.parse(JSON.stringify(teamsMessage(failed))));
  });

  it('builds a notification from an event with the failing check from status.history', () => {
    const canary = {
      metadata: { name: 'podinfo', namespace: 'shop' },
      status: {
        phase: 'Progressing' as const,
        canaryWeight: 30,
        history: [
          {
            time: 't',
            weight: 20,
            metric: 'request-duration',
            value: 900,
            verdict: 'fail' as const,
            reason: '900 > 500',
          },
          {
            time: 't',
            weight: 30,
            metric: 'request-duration',
            value: 400,
            verdict: 'pass' as const,
            reason: 'ok',
          },
        ],
      },
    };
    const n = notificationFor(canary, 'Warning', 'CheckFailed', 'halt', new Date(0), 'c1');
    expect(n).toMatchObject({ severity: 'warn', phase: 'Progressing', weight: 30, cluster: 'c1' });
    expect(n.failingCheck).toEqual({ metric: 'request-duration', value: 900, reason: '900 > 500' });
  });
});

describe('severity', () => {
  it('filters info ⊃ warn ⊃ error', () => {
    expect(severityAllows('info', 'info')).toBe(true);
    expect(severityAllows('info', 'error')).toBe(true);
    expect(severityAllows('warn', 'info')).toBe(false);
    expect(severityAllows('warn', 'warn')).toBe(true);
    expect(severityAllows('warn', 'error')).toBe(true);
    expect(severityAllows('error', 'warn')).toBe(false);
    expect(severityAllows('error', 'error')).toBe(true);
  });

  it('makes every terminal failure an error, other warnings warn, the rest info', () => {
    for (const reason of [
      'Failed',
      'ProgressDeadlineExceeded',
      'InvalidSpec',
      'Aborted',
      'PromotionFailed',
    ]) {
      expect(severityOf('Warning', reason)).toBe('error');
    }
    expect(severityOf('Warning', 'CheckFailed')).toBe('warn');
    expect(severityOf('Normal', 'Succeeded')).toBe('info');
  });
});

function sources(
  objects: Record<string, unknown>,
  secrets: Record<string, Record<string, string>> = {},
): ProviderSources {
  return {
    getAlertProvider: (ns, name) => objects[`${ns}/${name}`],
    getSecret: async (ns, name) => {
      const data = secrets[`${ns}/${name}`];
      return data ? { data } : undefined;
    },
  };
}

function provider(name: string, spec: Record<string, unknown>) {
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'AlertProvider',
    metadata: { name, namespace: 'shop' },
    spec,
  };
}

describe('AlertProvider resolution', () => {
  it('uses address, or the address key of the Secret named by secretRef', async () => {
    const url = `${receiver.url}${SECRET}`;
    const src = sources(
      {
        'shop/direct': provider('direct', {
          type: 'slack',
          address: 'https://hooks.example/a',
          channel: '#x',
        }),
        'shop/secret': provider('secret', { type: 'msteams', secretRef: { name: 'teams-url' } }),
      },
      { 'shop/teams-url': { address: Buffer.from(url).toString('base64') } },
    );
    expect(await resolveAlertProvider(src, 'shop', 'direct')).toEqual({
      type: 'slack',
      address: 'https://hooks.example/a',
      channel: '#x',
    });
    expect(await resolveAlertProvider(src, 'shop', 'secret')).toEqual({ type: 'msteams', address: url });
  });

  it('fails with a code and a fix, never echoing the Secret value', async () => {
    const src = sources(
      {
        'shop/nokey': provider('nokey', { type: 'slack', secretRef: { name: 'empty' } }),
        'shop/bad': provider('bad', { type: 'slack', secretRef: { name: 'garbage' } }),
        'shop/missing': provider('missing', { type: 'slack', secretRef: { name: 'nope' } }),
        'shop/invalid': provider('invalid', { type: 'pager' }),
      },
      {
        'shop/empty': { other: 'eA==' },
        'shop/garbage': { address: Buffer.from('not-a-url-s3cr3t').toString('base64') },
      },
    );
    const codes: Record<string, string> = {
      nokey: 'ALERT_SECRET_INVALID',
      bad: 'ALERT_SECRET_INVALID',
      missing: 'ALERT_SECRET_INVALID',
      invalid: 'ALERT_PROVIDER_INVALID',
      absent: 'ALERT_PROVIDER_NOT_FOUND',
    };
    for (const [name, code] of Object.entries(codes)) {
      const err = await resolveAlertProvider(src, 'shop', name).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AlertProviderError);
      expect((err as AlertProviderError).code).toBe(code);
      expect((err as Error).message).not.toContain('s3cr3t');
    }
  });
});

function canaryWith(alerts: unknown[], webhooks: unknown[] = []): Canary {
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'shop' },
    spec: { analysis: { alerts, webhooks } },
    status: { phase: 'Progressing', canaryWeight: 10 },
  } as unknown as Canary;
}

describe('Alerter and NotificationQueue', () => {
  it('sends each notification to the alerts whose severity allows it', async () => {
    const { logger } = memoryLogger();
    const queue = new NotificationQueue({ logger, retryDelayMs: 1 });
    const src = sources({
      'shop/all': provider('all', { type: 'webhook', address: `${receiver.url}/all` }),
      'shop/warn': provider('warn', { type: 'webhook', address: `${receiver.url}/warn` }),
      'shop/errors': provider('errors', { type: 'webhook', address: `${receiver.url}/errors` }),
    });
    const alerter = new Alerter({ sources: src, queue, logger });
    const canary = canaryWith([
      { name: 'a', severity: 'info', providerRef: { name: 'all' } },
      { name: 'b', severity: 'warn', providerRef: { name: 'warn' } },
      { name: 'c', severity: 'error', providerRef: { name: 'errors' } },
    ]);
    for (const severity of ['info', 'warn', 'error'] as const)
      alerter.notify(canary, { ...failed, severity, reason: severity });
    await queue.drain();
    const reasons = (path: string) => receiver.on(path).map((r) => (r.body as Notification).reason);
    expect(reasons('/all').sort()).toEqual(['error', 'info', 'warn']);
    expect(reasons('/warn').sort()).toEqual(['error', 'warn']);
    expect(reasons('/errors')).toEqual(['error']);
  });

  it('uses the default provider only for canaries without alerts', async () => {
    const { logger } = memoryLogger();
    const queue = new NotificationQueue({ logger });
    const alerter = new Alerter({
      sources: sources({}),
      queue,
      logger,
      defaultProvider: { target: { type: 'webhook', address: `${receiver.url}/default` }, severity: 'warn' },
    });
    expect(alerter.notify(canaryWith([]), { ...failed, severity: 'info' })).toBe(0);
    expect(alerter.notify(canaryWith([]), failed)).toBe(1);
    await queue.drain();
    expect(receiver.on('/default')).toHaveLength(1);
  });

  it('never delays the caller on a dead endpoint, retries, and stays bounded', async () => {
    const { logger, lines } = memoryLogger();
    const queue = new NotificationQueue({ logger, retries: 2, retryDelayMs: 1, capacity: 5, concurrency: 1 });
    const dead = createNotifier({ type: 'slack', address: `${receiver.url}/dead${SECRET}` });
    for (let i = 0; i < 20; i++)
      queue.enqueue({ label: 'shop/slack', send: (signal) => dead.post(failed, signal) });
    // enqueue returned 20 times before any answer came: nothing waited on the endpoint.
    expect(queue.stats.sent + queue.stats.failed).toBe(0);
    expect(queue.size).toBe(6);
    await queue.drain();
    expect(queue.stats.sent).toBe(0);
    expect(queue.stats.dropped).toBe(14);
    expect(queue.stats.failed).toBe(6);
    expect(receiver.on(`/dead${SECRET}`).length).toBe(18);
    for (const line of lines) expect(line).not.toContain('secret');
  });
});

describe('event chain: Kubernetes event, then alerts and event webhooks', () => {
  it('records the event, fires event webhooks and alerts, and no log line or event carries a URL', async () => {
    const { logger, lines } = memoryLogger();
    const recorded: string[] = [];
    const inner = {
      record: async (_c: Canary, type: string, reason: string, message: string) =>
        recorded.push(`${type} ${reason} ${message}`),
    };
    const queue = new NotificationQueue({ logger, retries: 1, retryDelayMs: 1 });
    const src = sources(
      { 'shop/chat': provider('chat', { type: 'slack', secretRef: { name: 'chat' } }) },
      { 'shop/chat': { address: Buffer.from(`${receiver.url}/dead${SECRET}`).toString('base64') } },
    );
    const alerter = new Alerter({ sources: src, queue, logger });
    const webhooks = new WebhookRunner({ logger });
    const now = () => new Date(0);
    const sink = new EventChain(inner, [new AlertSink({ alerter, now }), new EventWebhookSink(webhooks)], {
      logger,
      now,
    });
    const canary = canaryWith(
      [{ name: 'chat', severity: 'info', providerRef: { name: 'chat' } }],
      [
        { name: 'audit', type: 'event', url: `${receiver.url}/event${SECRET}`, metadata: { team: 'a' } },
        { name: 'broken', type: 'event', url: `${receiver.url}/dead/event${SECRET}`, retries: 0 },
        { name: 'gate', type: 'confirm-rollout', url: `${receiver.url}/gate` },
      ],
    );
    await sink.record(canary, 'Warning', 'CheckFailed', 'halt advancement');
    await Promise.all([queue.drain(), webhooks.idle()]);
    expect(recorded).toEqual(['Warning CheckFailed halt advancement']);
    expect(receiver.on(`/event${SECRET}`).map((r) => r.body)).toEqual([
      {
        name: 'podinfo',
        namespace: 'shop',
        phase: 'Progressing',
        checksum: '',
        weight: 10,
        metadata: {
          team: 'a',
          eventType: 'Warning',
          eventReason: 'CheckFailed',
          eventMessage: 'halt advancement',
        },
      },
    ]);
    expect(receiver.on('/gate')).toHaveLength(0);
    expect(queue.stats.failed).toBe(1);
    expect(lines.length).toBeGreaterThan(0);
    for (const text of [...lines, ...recorded]) {
      expect(text).not.toContain('secret');
      expect(text).not.toContain(receiver.url);
    }
  });
});

describe('event chain repeats', () => {
  it('tells the same event on the same canary once per window, but records it every time', async () => {
    const { logger } = memoryLogger();
    let recorded = 0;
    const inner = {
      record: async () => {
        recorded++;
      },
    };
    const queue = new NotificationQueue({ logger });
    const alerter = new Alerter({
      sources: sources({
        'shop/all': provider('all', { type: 'webhook', address: `${receiver.url}/repeats` }),
      }),
      queue,
      logger,
    });
    let now = 0;
    const clock = () => new Date(now);
    const sink = new EventChain(inner, [new AlertSink({ alerter, now: clock })], {
      logger,
      now: clock,
      repeatWindowMs: 60_000,
    });
    const canary = canaryWith([{ name: 'a', severity: 'info', providerRef: { name: 'all' } }]);
    for (let i = 0; i < 5; i++) await sink.record(canary, 'Warning', 'TargetNotFound', 'target missing');
    await sink.record(canary, 'Warning', 'TargetNotFound', 'another message');
    now = 61_000;
    await sink.record(canary, 'Warning', 'TargetNotFound', 'target missing');
    await queue.drain();
    expect(recorded).toBe(7);
    expect(
      receiver
        .on('/repeats')
        .map((r) => (r.body as Notification).message)
        .sort(),
    ).toEqual(['another message', 'target missing', 'target missing']);
  });
});

describe('event chain and a new revision', () => {
  it('tells the same outcome again for the next revision within the window', async () => {
    const { logger } = memoryLogger();
    const queue = new NotificationQueue({ logger });
    const alerter = new Alerter({
      sources: sources({
        'shop/all': provider('all', { type: 'webhook', address: `${receiver.url}/revisions` }),
      }),
      queue,
      logger,
    });
    const now = () => new Date(0);
    const sink = new EventChain({ record: async () => {} }, [new AlertSink({ alerter, now })], {
      logger,
      now,
    });
    const base = canaryWith([{ name: 'a', severity: 'info', providerRef: { name: 'all' } }]);
    for (const revision of ['r1', 'r2', 'r2']) {
      const canary = { ...base, status: { ...base.status, lastAppliedSpec: revision } } as Canary;
      await sink.record(canary, 'Normal', 'Succeeded', 'promotion completed');
    }
    await queue.drain();
    expect(receiver.on('/revisions')).toHaveLength(2);
  });
});
