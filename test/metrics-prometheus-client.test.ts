import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PrometheusProvider } from '../src/metrics/prometheus.ts';
import {
  PrometheusHttpClient,
  PrometheusHttpError,
  type PrometheusHttpErrorCode,
  readAnswer,
} from '../src/metrics/prometheus-http.ts';
import type { MetricsQueryInfo } from '../src/metrics/provider.ts';

const OPTIONS = { timeMs: 1_700_000_000_500, timeoutMs: 2_000 };

function codeOf(run: () => unknown): PrometheusHttpErrorCode | undefined {
  try {
    run();
  } catch (err) {
    if (err instanceof PrometheusHttpError) return err.code;
    throw err;
  }
  return undefined;
}

const success = (data: unknown) => JSON.stringify({ status: 'success', data });

describe('readAnswer: every answer is hostile until its shape is checked', () => {
  it('reads vectors, scalars and the other result types, values as Prometheus wrote them', () => {
    const vector =
      '{"status":"success","data":{"resultType":"vector","result":[' +
      '{"metric":{"pod":"a"},"value":[1,"NaN"]},{"metric":{"__proto__":"x"},"value":[1.5,"+Inf"]}]}}';
    const read = readAnswer(200, vector);
    expect(read).toEqual({
      resultType: 'vector',
      samples: [
        { labels: { pod: 'a' }, value: 'NaN' },
        { labels: JSON.parse('{"__proto__":"x"}'), value: '+Inf' },
      ],
    });
    // A label named __proto__ stays a label: it does not change the object's prototype.
    const labels = (read as { samples: { labels: Record<string, string> }[] }).samples[1]!.labels;
    expect(Object.getPrototypeOf(labels)).toBe(Object.prototype);
    expect(Object.keys(labels)).toEqual(['__proto__']);
    expect(readAnswer(200, success({ resultType: 'scalar', result: [1, '2.5'] }))).toEqual({
      resultType: 'scalar',
      value: '2.5',
    });
    expect(readAnswer(200, success({ resultType: 'matrix', result: [] }))).toEqual({
      resultType: 'matrix',
      series: [],
    });
    expect(
      readAnswer(
        200,
        success({
          resultType: 'matrix',
          result: [
            {
              metric: { destination_workload: 'app-primary' },
              values: [
                [60, '12'],
                [120, 'NaN'],
              ],
            },
          ],
        }),
      ),
    ).toEqual({
      resultType: 'matrix',
      series: [
        {
          labels: { destination_workload: 'app-primary' },
          points: [
            [60, '12'],
            [120, 'NaN'],
          ],
        },
      ],
    });
  });

  it.each([
    ['values not a list', { metric: {}, values: {} }],
    ['a point that is not a pair', { metric: {}, values: [[60]] }],
    ['a number where Prometheus writes text', { metric: {}, values: [[60, 12]] }],
    ['labels that are not text', { metric: { a: 1 }, values: [] }],
  ])('a range answer with %s is BAD_RESPONSE, not a crash', (_what, entry) => {
    expect(() => readAnswer(200, success({ resultType: 'matrix', result: [entry] }))).toThrow(
      expect.objectContaining({ code: 'BAD_RESPONSE' }),
    );
  });

  it.each([
    [200, 'not json', 'BAD_RESPONSE'],
    [200, '[]', 'BAD_RESPONSE'],
    [200, JSON.stringify({ status: 'success' }), 'BAD_RESPONSE'],
    [200, success({ resultType: 'histogram', result: [] }), 'BAD_RESPONSE'],
    [200, success({ resultType: 'vector', result: {} }), 'BAD_RESPONSE'],
    [200, success({ resultType: 'vector', result: [{ metric: { a: 1 }, value: [1, '1'] }] }), 'BAD_RESPONSE'],
    [200, success({ resultType: 'vector', result: [{ metric: {}, value: [1, 1] }] }), 'BAD_RESPONSE'],
    [200, success({ resultType: 'vector', result: [{ metric: {}, value: ['1', '1'] }] }), 'BAD_RESPONSE'],
    [200, success({ resultType: 'vector', result: [{ metric: {} }] }), 'BAD_RESPONSE'],
    [200, success({ resultType: 'scalar', result: [1, '1', 2] }), 'BAD_RESPONSE'],
    [200, JSON.stringify({ status: 'error', errorType: 'execution', error: 'x' }), 'QUERY_ERROR'],
    [422, JSON.stringify({ status: 'error', errorType: 'execution', error: 'many samples' }), 'QUERY_ERROR'],
    [502, '<html>Bad Gateway</html>', 'HTTP_STATUS'],
    [401, '', 'HTTP_STATUS'],
    [302, success({ resultType: 'scalar', result: [1, '1'] }), 'HTTP_STATUS'],
  ])('answers %i %s with %s', (status, body, code) => {
    expect(codeOf(() => readAnswer(status, body))).toBe(code);
  });

  it("keeps Prometheus's status and errorType, and clips a long message", () => {
    const err = (() => {
      try {
        readAnswer(400, JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'x'.repeat(5000) }));
      } catch (e) {
        return e as PrometheusHttpError;
      }
    })();
    expect(err).toMatchObject({ code: 'QUERY_ERROR', status: 400, errorType: 'bad_data' });
    expect(err!.message.length).toBeLessThan(400);
  });
});

interface Request {
  url: URL;
  headers: http.IncomingHttpHeaders;
}

describe('PrometheusHttpClient against a local server', () => {
  const requests: Request[] = [];
  let reply: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  let server: http.Server;
  let address: string;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      requests.push({ url: new URL(req.url ?? '/', 'http://x'), headers: req.headers });
      reply(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    requests.length = 0;
    reply = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(success({ resultType: 'vector', result: [{ metric: {}, value: [1, '4'] }] }));
    };
  });

  it('sends the query, time, timeout, extra headers, the bearer token and asks for no compression', async () => {
    const client = new PrometheusHttpClient({
      address: `${address}/prefix/`,
      headers: { 'X-Scope-OrgID': 'team-a', 'Accept-Encoding': 'gzip' },
      bearerToken: 'tok-1',
    });
    expect(await client.instantQuery('sum(up)', OPTIONS)).toEqual({
      resultType: 'vector',
      samples: [{ labels: {}, value: '4' }],
    });
    const [request] = requests;
    expect(request!.url.pathname).toBe('/prefix/api/v1/query');
    expect(Object.fromEntries(request!.url.searchParams)).toEqual({
      query: 'sum(up)',
      time: '1700000000.5',
      timeout: '2s',
    });
    expect(request!.headers).toMatchObject({
      'x-scope-orgid': 'team-a',
      authorization: 'Bearer tok-1',
      'accept-encoding': 'identity',
      accept: 'application/json',
    });
  });

  it('sends basic auth', async () => {
    const client = new PrometheusHttpClient({ address, basicAuth: { username: 'u', password: 'p' } });
    await client.instantQuery('x', OPTIONS);
    expect(requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
  });

  it('times out on the client, and throws the caller’s own abort reason as it is', async () => {
    reply = () => {}; // never answers
    const client = new PrometheusHttpClient({ address });
    await expect(client.instantQuery('x', { ...OPTIONS, timeoutMs: 100 })).rejects.toMatchObject({
      code: 'TIMEOUT',
    });
    const controller = new AbortController();
    const reason = new Error('stopping');
    const answer = client.instantQuery('x', { ...OPTIONS, signal: controller.signal });
    controller.abort(reason);
    await expect(answer).rejects.toBe(reason);
  });

  it('refuses a compressed answer it did not ask for and answers over the size limit', async () => {
    const client = new PrometheusHttpClient({ address, maxResponseBytes: 1000 });
    reply = (_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip' });
      res.end(gzipSync(success({ resultType: 'scalar', result: [1, '1'] })));
    };
    await expect(client.instantQuery('x', OPTIONS)).rejects.toMatchObject({ code: 'BAD_RESPONSE' });
    reply = (_req, res) => res.end('x'.repeat(2000));
    await expect(client.instantQuery('x', OPTIONS)).rejects.toMatchObject({ code: 'BAD_RESPONSE' });
    reply = (_req, res) => {
      res.write('x'.repeat(600)); // no content-length: counted while reading
      res.end('x'.repeat(600));
    };
    await expect(client.instantQuery('x', OPTIONS)).rejects.toMatchObject({ code: 'BAD_RESPONSE' });
  });

  it('reports a server that is not there as UNREACHABLE', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const err = await new PrometheusHttpClient({ address: `http://127.0.0.1:${port}` })
      .instantQuery('x', OPTIONS)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNREACHABLE' });
    expect((err as Error).message).toContain('ECONNREFUSED');
  });

  it('tells the provider hook how each query ended, with the finest stable code', async () => {
    const seen: MetricsQueryInfo[] = [];
    const provider = new PrometheusProvider({ address, onQuery: (info) => seen.push(info), now: () => 5000 });
    const answers: Record<string, (res: http.ServerResponse) => void> = {
      ok: (res) => res.end(success({ resultType: 'scalar', result: [1, '1'] })),
      nan: (res) => res.end(success({ resultType: 'scalar', result: [1, '12abc'] })),
      none: (res) => res.end(success({ resultType: 'vector', result: [] })),
      range: (res) => res.end(success({ resultType: 'matrix', result: [] })),
      refused: (res) => {
        res.writeHead(400);
        res.end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error' }));
      },
      slow: (res) => {
        res.writeHead(503);
        res.end(JSON.stringify({ status: 'error', errorType: 'timeout', error: 'query timed out' }));
      },
      gateway: (res) => {
        res.writeHead(502);
        res.end('Bad Gateway');
      },
      garbled: (res) => res.end('{"status":"success"'),
    };
    reply = (req, res) => answers[new URL(req.url ?? '/', 'http://x').searchParams.get('query')!]!(res);
    for (const query of Object.keys(answers)) await provider.runQuery(query).catch(() => undefined);
    expect(requests[0]!.url.searchParams.get('time')).toBe('5');
    expect(seen.map((info) => info.errorCode)).toEqual([
      undefined,
      'NAN',
      'NO_VALUES',
      'QUERY_ERROR',
      'QUERY_ERROR',
      'QUERY_TIMEOUT',
      'HTTP_STATUS',
      'BAD_RESPONSE',
    ]);
    expect(seen.every((info) => info.durationMs >= 0)).toBe(true);

    // A query its caller cancels is not a failure of Prometheus: not reported.
    reply = () => {};
    const controller = new AbortController();
    const answer = provider.runQuery('x', { signal: controller.signal });
    controller.abort(new Error('shutting down'));
    await expect(answer).rejects.toThrow('shutting down');
    expect(seen).toHaveLength(8);
  });
});
