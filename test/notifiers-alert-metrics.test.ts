import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Canary } from '../src/api/canary.ts';
import { countFailedAlertPosts } from '../src/controller/alert-metrics.ts';
import { createHookServices } from '../src/controller/hook-services.ts';
import type { KubeApi } from '../src/kube/types.ts';
import { HookReceiver } from './webhooks-receiver.ts';

const SECRET = '/services/T0001/B0001/XXXXsecretXXXX';
const receiver = new HookReceiver();
beforeAll(async () => {
  await receiver.start();
  receiver.handler = (req, res) => {
    if (req.url?.startsWith('/dead')) return void res.writeHead(503).end('down');
    res.writeHead(200).end('ok');
  };
});
afterAll(() => receiver.stop());

function provider(name: string, spec: Record<string, unknown>) {
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'AlertProvider',
    metadata: { name, namespace: 'shop' },
    spec,
  };
}

function sample(text: string, type: string): number | undefined {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`petrel_alert_posts_failed_total{provider_type="${type}"}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('petrel_alert_posts_failed_total', () => {
  it('counts alerts given up on by provider type, with no address or Secret in the labels', async () => {
    const registry = new Registry();
    const providers: Record<string, unknown> = {
      'shop/dead-slack': provider('dead-slack', { type: 'slack', address: `${receiver.url}/dead${SECRET}` }),
      'shop/ok-teams': provider('ok-teams', { type: 'msteams', address: `${receiver.url}/teams` }),
      'shop/no-secret': provider('no-secret', { type: 'discord', secretRef: { name: 'missing' } }),
    };
    // Every Secret read finds nothing.
    const api = { get: async () => undefined } as unknown as KubeApi;
    const logger = pino({ level: 'silent' });
    const services = createHookServices({
      api,
      alertProviders: { get: (ns, name) => providers[`${ns}/${name}`] },
      logger,
      now: () => new Date(0),
      enqueue: () => {},
      onAlertUndelivered: countFailedAlertPosts(registry),
    });
    const before = await registry.metrics();
    for (const type of ['slack', 'msteams', 'discord', 'webhook', 'unknown'])
      expect(sample(before, type)).toBe(0);

    const canary = {
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'Canary',
      metadata: { name: 'podinfo', namespace: 'shop' },
      spec: {
        analysis: {
          alerts: [
            { name: 'a', severity: 'info', providerRef: { name: 'dead-slack' } },
            { name: 'b', severity: 'info', providerRef: { name: 'ok-teams' } },
            { name: 'c', severity: 'info', providerRef: { name: 'no-secret' } },
            { name: 'd', severity: 'info', providerRef: { name: 'absent' } },
          ],
        },
      },
      status: { phase: 'Failed', canaryWeight: 0 },
    } as unknown as Canary;
    const events = services.events({ record: async () => {} });
    await events.record(canary, 'Warning', 'Failed', 'rolled back');
    // Three attempts of the dead Slack endpoint with their backoff: the grace period lets them finish.
    await services.stop(20_000);

    const text = await registry.metrics();
    expect(sample(text, 'slack')).toBe(1);
    expect(sample(text, 'msteams')).toBe(0);
    // The AlertProvider is readable but its Secret is not: its type is known.
    expect(sample(text, 'discord')).toBe(1);
    // No such AlertProvider: its type cannot be known.
    expect(sample(text, 'unknown')).toBe(1);
    expect(receiver.on('/teams')).toHaveLength(1);
    expect(text).not.toContain('secret');
    expect(text).not.toContain(receiver.url);
  }, 30_000);
});
