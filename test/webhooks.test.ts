import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanaryWebhook } from '../src/api/canary.ts';
import { postJson } from '../src/outbound/post.ts';
import { callWebhook } from '../src/webhooks/client.ts';
import { webhookPayload } from '../src/webhooks/payload.ts';
import { WebhookRunner } from '../src/webhooks/runner.ts';
import { waitFor } from './support/wait.ts';
import { HookReceiver } from './webhooks-receiver.ts';

const SECRET_PATH = '/hooks/T000/B000/s3cr3t-token-xyz';
const receiver = new HookReceiver();
let hits = new Map<string, number>();

beforeAll(async () => {
  await receiver.start();
  receiver.handler = (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const status = /^\/status\/(\d+)/.exec(path);
    if (status)
      return void res.writeHead(Number(status[1])).end(Number(status[1]) === 204 ? undefined : 'body');
    if (path === '/hang') return; // never answers
    if (path === '/flaky') {
      const n = hits.get(path)!;
      return void res.writeHead(n < 3 ? 503 : 200).end(n < 3 ? 'try later' : 'fine');
    }
    if (path === '/huge') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let sent = 0;
      const write = () => {
        while (sent < 10 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', write);
        }
        res.end();
      };
      write();
      return;
    }
    res.writeHead(200).end('ok');
  };
});
afterAll(() => receiver.stop());

function hook(path: string, extra: Partial<CanaryWebhook> = {}): CanaryWebhook {
  return { name: 'load-test', type: 'rollout', url: `${receiver.url}${path}`, ...extra };
}

const canary = {
  metadata: { name: 'podinfo', namespace: 'test' },
  status: { phase: 'Progressing' as const, canaryWeight: 20, lastAppliedSpec: 'abc123' },
};
const noWait = { retryDelayMs: 1 };

describe('callWebhook against a real HTTP server', () => {
  it('POSTs name, namespace, phase, checksum, weight and metadata as JSON', async () => {
    receiver.received.length = 0;
    const h = hook('/status/200', { metadata: { cmd: 'hey -z 1m' } });
    const out = await callWebhook(h, webhookPayload(canary, h), noWait);
    expect(out.ok).toBe(true);
    expect(receiver.received[0]?.body).toEqual({
      name: 'podinfo',
      namespace: 'test',
      phase: 'Progressing',
      checksum: 'abc123',
      weight: 20,
      metadata: { cmd: 'hey -z 1m' },
    });
  });

  it.each([200, 201, 202, 203, 204, 299])('counts HTTP %i as success', async (status) => {
    const h = hook(`/status/${status}`);
    const out = await callWebhook(h, webhookPayload(canary, h), noWait);
    expect(out).toMatchObject({ ok: true, status, attempts: 1 });
  });

  it('retries a 5xx, then counts it as a failure after the last attempt', async () => {
    hits = new Map();
    const h = hook('/status/503', { retries: 2 });
    const out = await callWebhook(h, webhookPayload(canary, h), noWait);
    expect(out).toMatchObject({ ok: false, status: 503, code: 'HOOK_STATUS', attempts: 3 });
    expect(hits.get('/status/503')).toBe(3);
    expect(out.message).toContain('HTTP 503');
  });

  it('succeeds when a retry gets a 2xx', async () => {
    hits = new Map();
    const h = hook('/flaky', { retries: 3 });
    const out = await callWebhook(h, webhookPayload(canary, h), noWait);
    expect(out).toMatchObject({ ok: true, attempts: 3 });
  });

  it('does not retry a 4xx: a closed gate answers at once', async () => {
    hits = new Map();
    const h = hook('/status/403', { retries: 3 });
    const out = await callWebhook(h, webhookPayload(canary, h), noWait);
    expect(out).toMatchObject({ ok: false, status: 403, attempts: 1 });
    expect(hits.get('/status/403')).toBe(1);
  });

  it('times out a hanging hook, retries it, then counts the timeout', async () => {
    hits = new Map();
    const h = hook('/hang', { timeout: '150ms', retries: 1 });
    const started = Date.now();
    const out = await callWebhook(h, webhookPayload(canary, h), noWait);
    expect(out).toMatchObject({ ok: false, code: 'HOOK_TIMEOUT', attempts: 2 });
    expect(hits.get('/hang')).toBe(2);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('cuts a 10 MB response off at the cap without reading the rest', async () => {
    const res = await postJson(`${receiver.url}/huge`, {}, { timeoutMs: 5000, maxResponseBytes: 64 * 1024 });
    expect(res.status).toBe(200);
    expect(res.truncated).toBe(true);
    expect(res.bytesRead).toBe(64 * 1024);
    expect(res.body.length).toBe(64 * 1024);
    const h = hook('/huge');
    const out = await callWebhook(h, webhookPayload(canary, h), noWait);
    expect(out).toMatchObject({ ok: true, responseTruncated: true });
  });

  it('reports a refused connection as a network error without the URL', async () => {
    const h: CanaryWebhook = {
      name: 'gone',
      type: 'rollout',
      url: `http://127.0.0.1:1${SECRET_PATH}`,
      retries: 0,
    };
    const out = await callWebhook(h, webhookPayload(canary, h), noWait);
    expect(out).toMatchObject({ ok: false, code: 'HOOK_NETWORK', attempts: 1 });
    expect(out.message).not.toContain('s3cr3t');
  });
});

describe('WebhookRunner', () => {
  function memoryLogger() {
    const lines: string[] = [];
    return { logger: pino({ level: 'debug' }, { write: (l: string) => lines.push(l) }), lines };
  }

  it('answers from its cache per token and tells when a call settles', async () => {
    const { logger } = memoryLogger();
    const settled: string[] = [];
    const runner = new WebhookRunner({ logger, onSettled: (key) => settled.push(key) });
    const h = hook('/status/200');
    const payload = webhookPayload(canary, h);
    expect(runner.poll('test/podinfo', h, payload, 't1')).toBeUndefined();
    await runner.idle();
    expect(settled).toEqual(['test/podinfo']);
    expect(runner.poll('test/podinfo', h, payload, 't1')).toMatchObject({ ok: true, status: 200 });
    expect(runner.poll('test/podinfo', h, payload, 't2')).toBeUndefined();
    await runner.stop();
  });

  it('uses an answer however slow it was, and asks again once it is maxAge old', async () => {
    const { logger } = memoryLogger();
    const runner = new WebhookRunner({ logger });
    const h = hook('/status/403');
    const payload = webhookPayload(canary, h);
    const at = (nowMs: number) => runner.poll('ns/gate', h, payload, 't', { maxAgeMs: 1000, nowMs });
    expect(at(0)).toBeUndefined();
    await runner.idle();
    // The answer came long after maxAge: it is still used when first seen, not asked for again.
    expect(at(5000)).toMatchObject({ ok: false, status: 403 });
    expect(at(5999)).toMatchObject({ ok: false, status: 403 });
    expect(at(6000)).toBeUndefined();
    await runner.idle();
    expect(at(6001)).toMatchObject({ ok: false });
    expect(runner.stats.calls).toBe(2);
    await runner.stop();
  });

  it('never lets a hanging hook stall another canary', async () => {
    const { logger } = memoryLogger();
    const settledAt = new Map<string, number>();
    const runner = new WebhookRunner({ logger, onSettled: (key) => settledAt.set(key, Date.now()) });
    const hang = hook('/hang', { timeout: '2s', retries: 0 });
    const fast = hook('/status/204');
    const started = Date.now();
    for (let i = 0; i < 5; i++) runner.poll(`ns/slow-${i}`, hang, webhookPayload(canary, hang), 't');
    runner.poll('ns/fast', fast, webhookPayload(canary, fast), 't');
    const fastAt = await waitFor('the fast hook to settle', () => settledAt.get('ns/fast'), {
      timeoutMs: 1000,
      intervalMs: 20,
    });
    expect(fastAt - started).toBeLessThan(1000);
    expect(runner.poll('ns/fast', fast, webhookPayload(canary, fast), 't')).toMatchObject({
      ok: true,
      status: 204,
    });
    await runner.stop();
  });

  it('never writes the webhook URL to a log line', async () => {
    const { logger, lines } = memoryLogger();
    const runner = new WebhookRunner({ logger });
    const hooks = [
      hook(`/status/500${SECRET_PATH}`, { retries: 1 }),
      hook(`/status/200${SECRET_PATH}`),
      { name: 'refused', type: 'event' as const, url: `http://127.0.0.1:1${SECRET_PATH}`, retries: 0 },
    ];
    for (const h of hooks) runner.fire('test/podinfo', h, webhookPayload(canary, h));
    await runner.idle();
    expect(lines.length).toBe(3);
    for (const line of lines) {
      expect(line).not.toContain('s3cr3t');
      expect(line).not.toContain(receiver.url);
    }
  });
});
