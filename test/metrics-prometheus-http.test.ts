import { Writable } from 'node:stream';
import nock from 'nock';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createMetricsProvider,
  credentialsFromSecret,
  InvalidProviderError,
} from '../src/metrics/factory.ts';
import { PrometheusProvider } from '../src/metrics/prometheus.ts';
import { MetricsProviderError, MultipleSeriesError, QueryTimeoutError } from '../src/metrics/provider.ts';

const ADDRESS = 'http://prometheus.test:9090';

const vector = (value: string) => ({
  status: 'success',
  data: { resultType: 'vector', result: [{ metric: {}, value: [1700000000, value] }] },
});

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

function memoryLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: pino({ level: 'trace' }, stream), lines };
}

describe('PrometheusProvider over HTTP', () => {
  it('sends the query, a server-side timeout and basic auth, and logs neither secret', async () => {
    const { logger, lines } = memoryLogger();
    const scope = nock(ADDRESS)
      .get('/api/v1/query')
      .query((q) => q.query === 'sum(up)' && q.timeout === '3s' && typeof q.time === 'string')
      .basicAuth({ user: 'petrel', pass: 's3cr3t-pw' })
      .reply(200, vector('12.5'));
    const provider = createMetricsProvider(
      { type: 'prometheus', address: ADDRESS, secretRef: { name: 'prom-auth' } },
      { secretValues: { username: 'petrel', password: 's3cr3t-pw' }, timeoutMs: 2_500, logger },
    );
    expect(await provider.runQuery('sum(up)')).toBe(12.5);
    scope.done();
    expect(lines.join('')).toContain('sum(up)');
    expect(lines.join('')).not.toContain('s3cr3t-pw');
  });

  it('sends a bearer token from the secret', async () => {
    const scope = nock(ADDRESS, { reqheaders: { authorization: 'Bearer tok-123' } })
      .get('/api/v1/query')
      .query(true)
      .reply(200, vector('1'));
    const provider = createMetricsProvider(
      { type: 'prometheus', address: `${ADDRESS}/`, secretRef: { name: 'prom-auth' } },
      { secretValues: { token: 'tok-123' } },
    );
    expect(await provider.runQuery('vector(1)')).toBe(1);
    scope.done();
  });

  it('reads a range (the primary history subquery) with the same credentials, and logs no secret', async () => {
    const { logger, lines } = memoryLogger();
    const query = '(sum(increase(x[1m])))[600s:60s]';
    const scope = nock(ADDRESS, { reqheaders: { authorization: 'Bearer tok-456' } })
      .get('/api/v1/query')
      .query((q) => q.query === query)
      .reply(200, {
        status: 'success',
        data: {
          resultType: 'matrix',
          result: [
            {
              metric: {},
              values: [
                [60, '10'],
                [120, 'NaN'],
              ],
            },
          ],
        },
      });
    const provider = createMetricsProvider(
      { type: 'prometheus', address: ADDRESS, secretRef: { name: 'prom-auth' } },
      { secretValues: { token: 'tok-456' }, logger },
    );
    expect(await provider.runSeriesQuery!(query)).toEqual([
      {
        labels: {},
        points: [
          { time: 60, value: 10 },
          { time: 120, value: Number.NaN },
        ],
      },
    ]);
    scope.done();
    expect(lines.join('')).not.toContain('tok-456');
  });

  it('keeps a path prefix in the address', async () => {
    const scope = nock(ADDRESS).get('/prometheus/api/v1/query').query(true).reply(200, vector('3'));
    expect(await new PrometheusProvider({ address: `${ADDRESS}/prometheus` }).runQuery('x')).toBe(3);
    scope.done();
  });

  it("reports a 400 with Prometheus's own message and status, without credentials anywhere", async () => {
    nock(ADDRESS).get('/api/v1/query').query(true).reply(400, {
      status: 'error',
      errorType: 'bad_data',
      error: 'parse error at char 5: unclosed left parenthesis',
    });
    const provider = new PrometheusProvider({
      address: ADDRESS,
      credentials: { kind: 'basic', username: 'petrel', password: 's3cr3t-pw' },
    });
    const err = (await provider.runQuery('sum(').catch((e: unknown) => e)) as MetricsProviderError;
    expect(err).toBeInstanceOf(MetricsProviderError);
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(err.status).toBe(400);
    expect(err.query).toBe('sum(');
    expect(err.message).toContain('answered 400 (bad_data): parse error at char 5');
    const everything = JSON.stringify({ message: err.message, cause: err.cause, err });
    expect(everything).not.toContain('s3cr3t-pw');
    expect(everything).not.toContain(Buffer.from('petrel:s3cr3t-pw').toString('base64'));
  });

  it("treats Prometheus's own query timeout as QUERY_TIMEOUT", async () => {
    nock(ADDRESS).get('/api/v1/query').query(true).reply(503, {
      status: 'error',
      errorType: 'timeout',
      error: 'query timed out in expression evaluation',
    });
    await expect(new PrometheusProvider({ address: ADDRESS }).runQuery('x')).rejects.toBeInstanceOf(
      QueryTimeoutError,
    );
  });

  it('times out a slow answer on the client', async () => {
    nock(ADDRESS).get('/api/v1/query').query(true).delay(2_000).reply(200, vector('1'));
    const started = Date.now();
    await expect(
      new PrometheusProvider({ address: ADDRESS, timeoutMs: 200 }).runQuery('x'),
    ).rejects.toMatchObject({
      code: 'QUERY_TIMEOUT',
    });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it("reports a proxy's HTML error page and a garbled body as PROVIDER_ERROR", async () => {
    nock(ADDRESS).get('/api/v1/query').query(true).reply(502, '<html>Bad Gateway</html>');
    await expect(new PrometheusProvider({ address: ADDRESS }).runQuery('x')).rejects.toMatchObject({
      code: 'PROVIDER_ERROR',
    });
    nock(ADDRESS)
      .get('/api/v1/query')
      .query(true)
      .reply(200, {
        status: 'success',
        data: { resultType: 'vector', result: [{ metric: {}, value: [1, 'abc'] }] },
      });
    await expect(new PrometheusProvider({ address: ADDRESS }).runQuery('x')).rejects.toMatchObject({
      code: 'NAN',
    });
  });
});

describe('PrometheusProvider limits', () => {
  it('refuses a response body larger than 8 MiB', async () => {
    const huge = JSON.stringify({
      status: 'success',
      data: {
        resultType: 'vector',
        result: [{ metric: { pad: 'x'.repeat(9 * 1024 * 1024) }, value: [1, '1'] }],
      },
    });
    nock(ADDRESS).get('/api/v1/query').query(true).reply(200, huge, { 'content-type': 'application/json' });
    await expect(new PrometheusProvider({ address: ADDRESS }).runQuery('x')).rejects.toMatchObject({
      code: 'PROVIDER_ERROR',
    });
  });

  it('keeps at most 10 series on a MULTIPLE_SERIES error but counts them all', async () => {
    const result = Array.from({ length: 25 }, (_, i) => ({ metric: { pod: `p${i}` }, value: [1, '1'] }));
    nock(ADDRESS)
      .get('/api/v1/query')
      .query(true)
      .reply(200, { status: 'success', data: { resultType: 'vector', result } });
    const err = (await new PrometheusProvider({ address: ADDRESS })
      .runQuery('up')
      .catch((e: unknown) => e)) as MultipleSeriesError;
    expect(err).toBeInstanceOf(MultipleSeriesError);
    expect(err.count).toBe(25);
    expect(err.series).toHaveLength(10);
    expect(err.message).toContain('25 series ({pod="p0"}, {pod="p1"}, {pod="p2"}, ...)');
  });
});

describe('createMetricsProvider', () => {
  it('needs an address from the template or the controller default', () => {
    expect(() => createMetricsProvider(undefined)).toThrow(/no Prometheus address/);
    expect(() => createMetricsProvider({ type: 'prometheus', address: 'ftp://x' })).toThrow(/http:\/\//);
    expect(() => createMetricsProvider({ type: 'prometheus', address: 'http://u:p@x:9090' })).toThrow(
      /must not carry credentials/,
    );
    expect(createMetricsProvider(undefined, { defaultAddress: ADDRESS })).toBeInstanceOf(PrometheusProvider);
  });

  it('refuses an unknown provider type instead of falling back to Prometheus', () => {
    expect(() =>
      createMetricsProvider({ type: 'datadog' as 'prometheus' }, { defaultAddress: ADDRESS }),
    ).toThrow(InvalidProviderError);
  });

  it('reads credentials by key name and never echoes values', () => {
    expect(credentialsFromSecret('s', { username: 'u', password: 'p' })).toEqual({
      kind: 'basic',
      username: 'u',
      password: 'p',
    });
    expect(credentialsFromSecret('s', { token: 't' })).toEqual({ kind: 'bearer', token: 't' });
    expect(() => credentialsFromSecret('s', { user: 'hunter2' })).toThrow(
      'secret "s" needs keys "username" and "password" (basic auth) or "token" (bearer); it has "user"',
    );
    expect(() => credentialsFromSecret('s', undefined)).toThrow(/not found/);
    expect(() =>
      createMetricsProvider({ type: 'prometheus', address: ADDRESS, secretRef: { name: 'missing' } }),
    ).toThrow(/secret "missing" was not found/);
  });
});
