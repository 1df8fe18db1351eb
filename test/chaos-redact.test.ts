import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ControllerMetrics } from '../src/controller/metrics.ts';
import { REDACTED, redactingStream, SecretRegistry, secretValues } from '../src/lib/redact.ts';
import { HookCallError } from '../src/outbound/errors.ts';
import { postJson } from '../src/outbound/post.ts';
import { withRetries } from '../src/outbound/retry.ts';

const TOKEN = 'T0K3N-9f8e7d6c5b4a';
const URL_WITH_TOKEN = `https://hooks.example.test/services/T01/B02/${TOKEN}`;

describe('SecretRegistry', () => {
  it('scrubs a registered URL, its path as a server echoes it, and its token alone', () => {
    const r = new SecretRegistry();
    r.register(URL_WITH_TOKEN);
    expect(r.scrub(`posting to ${URL_WITH_TOKEN} failed`)).toBe(`posting to ${REDACTED} failed`);
    expect(r.scrub(`answered HTTP 404: Cannot POST /services/T01/B02/${TOKEN}`)).toBe(
      `answered HTTP 404: Cannot POST ${REDACTED}`,
    );
    expect(r.scrub(`token ${TOKEN} rejected`)).toBe(`token ${REDACTED} rejected`);
    expect(r.contains(`x ${TOKEN} y`)).toBe(true);
    expect(r.contains('nothing here')).toBe(false);
  });

  it('scrubs the JSON-escaped and percent-encoded forms of a value', () => {
    const r = new SecretRegistry();
    const value = 'pa"ss/wo rd\\42';
    r.register(value);
    expect(r.scrub(JSON.stringify({ v: value }))).toBe(`{"v":"${REDACTED}"}`);
    expect(r.scrub(`q=${encodeURIComponent(value)}`)).toBe(`q=${REDACTED}`);
  });

  it('ignores values too short to be told from ordinary words, and undefined', () => {
    const r = new SecretRegistry();
    r.register('abc');
    r.register(undefined);
    r.register('http://x/');
    // The whole URL is a value; its parts are too short to scrub on their own.
    expect(r.scrub('abc http://x/ x/ services')).toBe(`abc ${REDACTED} x/ services`);
  });

  it('keeps a bounded number of values, dropping the oldest', () => {
    const r = new SecretRegistry(50);
    for (let i = 0; i < 1000; i++) r.register(`secret-value-${i}`);
    expect(r.size).toBeLessThanOrEqual(50);
    expect(r.contains('secret-value-999')).toBe(true);
  });

  it('scrubs every string of a nested object and returns the same object when nothing matched', () => {
    const r = new SecretRegistry();
    r.register(TOKEN);
    const status = { phase: 'Failed', conditions: [{ type: 'Promoted', message: `hook ${TOKEN} failed` }] };
    expect(r.scrubDeep(status)).toEqual({
      phase: 'Failed',
      conditions: [{ type: 'Promoted', message: `hook ${REDACTED} failed` }],
    });
    const clean = { phase: 'Succeeded', n: 3, list: ['a'] };
    expect(r.scrubDeep(clean)).toBe(clean);
  });
});

describe('the logger destination', () => {
  it('scrubs err.message, err.stack and nested bodies, whatever the serializer produced', () => {
    const r = new SecretRegistry();
    r.register(URL_WITH_TOKEN);
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, redactingStream({ write: (l: string) => lines.push(l) }, r));
    const err = new Error(`Cannot POST /services/T01/B02/${TOKEN}`);
    logger.warn({ err, body: { echoed: { url: URL_WITH_TOKEN } } }, `sending to ${URL_WITH_TOKEN}`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(TOKEN);
    expect(lines[0]).toContain(REDACTED);
    const parsed = JSON.parse(lines[0]!) as { err: { stack: string }; msg: string };
    expect(parsed.err.stack).toContain(REDACTED);
    expect(parsed.msg).toBe(`sending to ${REDACTED}`);
  });
});

describe('outbound errors', () => {
  let server: Server;
  let base = '';
  let calls = 0;
  beforeAll(async () => {
    // A receiver that answers like Express does for an unknown route: it echoes the path.
    server = createServer((req, res) => {
      calls++;
      req.resume();
      res.writeHead(calls % 3 === 0 ? 404 : 500, { 'content-type': 'text/html' });
      res.end(`<pre>Cannot POST ${req.url}</pre> (from ${req.headers.host}${req.url})`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  afterEach(() => secretValues.clear());

  it('never carry the called path even when it was never registered', async () => {
    const url = `${base}/hooks/${TOKEN}?sig=abcdef123456`;
    const err = await postJson(url, { a: 1 }, { timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HookCallError);
    const message = (err as Error).message;
    expect(message).toMatch(/^answered HTTP 500: /);
    expect(message).not.toContain(TOKEN);
    expect(message).not.toContain('abcdef123456');
  });

  it('never carry a registered value echoed in another form, through retries', async () => {
    secretValues.register(TOKEN);
    // The receiver echoes the path of a different URL holding the same token.
    const url = `${base}/other/${TOKEN}`;
    const err: Error = await withRetries(() => postJson(url, {}, { timeoutMs: 2000 }), {
      retries: 2,
      initialDelayMs: 1,
    }).then(
      () => new Error('expected a failure'),
      (e: unknown) => e as Error,
    );
    expect(String(err.message)).not.toContain(TOKEN);
    expect(String((err.cause as Error).message)).not.toContain(TOKEN);
    expect(new HookCallError(`echo ${TOKEN}`, { code: 'HOOK_STATUS', retryable: false }).message).toBe(
      `echo ${REDACTED}`,
    );
  });
});

describe('the metrics text', () => {
  afterEach(() => secretValues.clear());

  it('never shows a registered value, even as a label', async () => {
    secretValues.register(TOKEN);
    const metrics = new ControllerMetrics({ defaultMetrics: false });
    metrics.observeCanary({
      metadata: { namespace: 'shop', name: `c-${TOKEN}` },
      status: { phase: 'Progressing' },
    } as never);
    const text = await metrics.text();
    expect(text).toContain(`name="c-${REDACTED}"`);
    expect(text).not.toContain(TOKEN);
  });
});
