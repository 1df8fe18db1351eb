import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Canary, CanaryWebhook } from '../src/api/canary.ts';
import type { WebhookOutcome } from '../src/webhooks/client.ts';
import { gateOf, HookObserver, validWebhooks } from '../src/webhooks/gates.ts';
import { WebhookRunner } from '../src/webhooks/runner.ts';
import { HookReceiver } from './webhooks-receiver.ts';

const outcome = (ok: boolean, hook = 'h'): WebhookOutcome => ({
  hook,
  type: 'rollout',
  ok,
  attempts: 1,
  durationMs: 1,
  message: `webhook ${hook} ${ok ? 'answered HTTP 200' : 'answered HTTP 403'}`,
});

describe('gateOf', () => {
  it('opens a confirm gate only when every hook answered 2xx', () => {
    expect(gateOf('confirm-promotion', [outcome(true), outcome(true)])).toMatchObject({
      open: true,
      pending: false,
    });
    const closed = gateOf('confirm-promotion', [outcome(true), outcome(false, 'qa')]);
    expect(closed).toMatchObject({ open: false, pending: false });
    expect(closed.detail).toContain('webhook qa');
    expect(gateOf('pre-rollout', [outcome(true), undefined])).toMatchObject({ pending: true, open: false });
  });

  it('asks for a rollback when any rollback hook answered 2xx', () => {
    expect(gateOf('rollback', [outcome(false), outcome(true, 'oncall')])).toMatchObject({ open: true });
    expect(gateOf('rollback', [outcome(false)])).toMatchObject({ open: false });
  });
});

describe('validWebhooks', () => {
  it('keeps only well-formed hooks of an unvalidated spec', () => {
    expect(
      validWebhooks({
        analysis: { webhooks: [{ name: 'a', url: 'http://x/' }, { name: 'b', url: 'ftp://x' }, 7] },
      }),
    ).toEqual([{ name: 'a', type: 'rollout', url: 'http://x/' }]);
    expect(validWebhooks(undefined)).toEqual([]);
  });
});

describe('HookObserver against a real HTTP server', () => {
  const receiver = new HookReceiver();
  let gateOpen = false;
  beforeAll(async () => {
    await receiver.start();
    receiver.handler = (req, res) => {
      if (req.url === '/gate') return void res.writeHead(gateOpen ? 204 : 403).end();
      if (req.url === '/load') return void res.writeHead(500).end('boom');
      res.writeHead(200).end();
    };
  });
  afterAll(() => receiver.stop());

  function canary(
    hooks: CanaryWebhook[],
    status: Canary['status'],
    annotations?: Record<string, string>,
  ): Canary {
    return {
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'Canary',
      metadata: { name: 'podinfo', namespace: 'ns', ...(annotations ? { annotations } : {}) },
      spec: { analysis: { interval: '10s', webhooks: hooks } },
      status,
    } as unknown as Canary;
  }

  it('is pending until the runner has the answer, then reports the gate and rollout checks', async () => {
    const settled: string[] = [];
    const runner = new WebhookRunner({
      logger: pino({ level: 'silent' }),
      onSettled: (k) => settled.push(k),
    });
    const observer = new HookObserver(runner, pino({ level: 'silent' }));
    const hooks: CanaryWebhook[] = [
      { name: 'gate', type: 'confirm-promotion', url: `${receiver.url}/gate` },
      { name: 'load', type: 'rollout', url: `${receiver.url}/load`, retries: 0 },
    ];
    const c = canary(hooks, { phase: 'Progressing', canaryWeight: 50, lastStepTime: '2026-01-01T00:00:00Z' });
    const now = new Date('2026-01-01T00:00:10Z');
    const plan = { webhooks: ['confirm-promotion' as const], checks: true };
    expect(observer.observe('ns/podinfo', c, plan, now, 'rev1')).toMatchObject({ pending: true });
    await runner.idle();
    expect(settled.length).toBe(2);
    const seen = observer.observe('ns/podinfo', c, plan, now, 'rev1');
    expect(seen.pending).toBe(false);
    expect(seen.webhooks?.['confirm-promotion']).toMatchObject({ open: false, pending: false });
    expect(seen.rolloutChecks).toEqual([
      {
        metric: 'webhook load',
        passed: false,
        reason: expect.stringContaining('HTTP 500'),
        code: 'HOOK_STATUS',
      },
    ]);
    gateOpen = true;
    const nextSlot = new Date('2026-01-01T00:00:21Z');
    observer.observe('ns/podinfo', c, plan, nextSlot, 'rev1');
    await runner.idle();
    expect(
      observer.observe('ns/podinfo', c, plan, nextSlot, 'rev1').webhooks?.['confirm-promotion'],
    ).toMatchObject({
      open: true,
    });
    await runner.stop();
  });

  it('reads the manual action annotation and fires post-rollout hooks once a rollout ends', async () => {
    const runner = new WebhookRunner({ logger: pino({ level: 'silent' }) });
    const observer = new HookObserver(runner, pino({ level: 'silent' }));
    const hooks: CanaryWebhook[] = [{ name: 'done', type: 'post-rollout', url: `${receiver.url}/post` }];
    const c = canary(
      hooks,
      { phase: 'Progressing', canaryWeight: 30 },
      { 'petrel.dev/action': 'pause', 'petrel.dev/action-by': 'amy' },
    );
    expect(
      observer.observe('ns/podinfo', c, { webhooks: [], checks: false }, new Date(), 'r').manual,
    ).toEqual({
      action: 'pause',
      by: 'amy',
    });
    observer.afterDecision('ns/podinfo', c, { phase: 'Progressing', canaryWeight: 40 });
    observer.afterDecision('ns/podinfo', c, { phase: 'Failed', canaryWeight: 0, lastAppliedSpec: 'r' });
    await runner.idle();
    expect(receiver.on('/post').map((r) => r.body)).toEqual([
      { name: 'podinfo', namespace: 'ns', phase: 'Failed', checksum: 'r', weight: 0, metadata: {} },
    ]);
  });
});
