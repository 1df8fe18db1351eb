import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PrometheusProvider } from '../src/metrics/prometheus.ts';
import {
  MetricsProviderError,
  NotANumberError,
  NoValuesFoundError,
  QueryTimeoutError,
} from '../src/metrics/provider.ts';
import { selfSignedCertificate } from './support/tls.ts';

/**
 * A fake Prometheus whose answer is spelled in the query: `probe:<value>:<delay ms>`, where the
 * value is a number, NaN, +Inf or `none` (no series). Like Prometheus, it gzips when asked to.
 */
interface Seen {
  connections: number;
  acceptEncodings: Array<string | undefined>;
  gzipped: number;
  timeouts: Array<string | null>;
}

function fakePrometheus(seen: Seen): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.acceptEncodings.push(req.headers['accept-encoding']);
    seen.timeouts.push(url.searchParams.get('timeout'));
    const [, value = '', delay = '0'] = (url.searchParams.get('query') ?? '').split(':');
    const result = value === 'none' ? [] : [{ metric: {}, value: [1700000000, value] }];
    const body = JSON.stringify({ status: 'success', data: { resultType: 'vector', result } });
    const timer = setTimeout(() => {
      if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
        seen.gzipped++;
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
        res.end(gzipSync(body));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      }
    }, Number(delay));
    res.on('close', () => clearTimeout(timer));
  };
}

function freshSeen(): Seen {
  return { connections: 0, acceptEncodings: [], gzipped: 0, timeouts: [] };
}

const seen = freshSeen();
let server: http.Server;
let address: string;

beforeAll(async () => {
  server = http.createServer(fakePrometheus(seen));
  server.on('connection', () => seen.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  Object.assign(seen, freshSeen());
});

type Outcome =
  | { kind: 'value'; value: number }
  | { kind: 'error'; error: unknown }
  | { kind: 'nan'; raw: string }
  | { kind: 'none' }
  | { kind: 'timeout' };

describe('PrometheusProvider shared client', () => {
  it('gives each of many concurrent queries its own answer, abort reason or timeout', async () => {
    // Generous next to the fast answers (under 60 ms), so a loaded machine does not turn them into timeouts.
    const provider = new PrometheusProvider({ address, timeoutMs: 1_500 });
    const cases = Array.from({ length: 96 }, (_, i) => {
      const delay = (i * 37) % 60;
      switch (i % 8) {
        case 0:
          return { query: `probe:${i}:10000`, expected: { kind: 'timeout' } as Outcome };
        case 1: {
          const reason = new Error(`stopped ${i}`);
          return {
            query: `probe:${i}:150`,
            abortAfter: 5 + (i % 40),
            expected: { kind: 'error', error: reason } as Outcome,
          };
        }
        case 2:
          return { query: `probe:NaN:${delay}`, expected: { kind: 'nan', raw: 'NaN' } as Outcome };
        case 3:
          return { query: `probe:+Inf:${delay}`, expected: { kind: 'nan', raw: '+Inf' } as Outcome };
        case 4:
          return { query: `probe:none:${delay}`, expected: { kind: 'none' } as Outcome };
        default:
          return {
            query: `probe:${i + 0.25}:${delay}`,
            expected: { kind: 'value', value: i + 0.25 } as Outcome,
          };
      }
    });

    const outcomes = await Promise.all(
      cases.map(async (c): Promise<Outcome> => {
        const controller = new AbortController();
        if (c.expected.kind === 'error' && c.abortAfter !== undefined) {
          const reason = c.expected.error;
          setTimeout(() => controller.abort(reason), c.abortAfter);
        }
        try {
          return { kind: 'value', value: await provider.runQuery(c.query, { signal: controller.signal }) };
        } catch (error) {
          if (error instanceof QueryTimeoutError) return { kind: 'timeout' };
          if (error instanceof NotANumberError) return { kind: 'nan', raw: error.raw };
          if (error instanceof NoValuesFoundError) return { kind: 'none' };
          return { kind: 'error', error };
        }
      }),
    );
    for (const [i, c] of cases.entries()) {
      expect({ query: c.query, outcome: outcomes[i] }).toEqual({ query: c.query, outcome: c.expected });
      // The abort reason is the caller's own object, not another query's.
      if (c.expected.kind === 'error')
        expect((outcomes[i] as { error: unknown }).error).toBe(c.expected.error);
    }

    // The same provider still answers afterwards, over connections that survived the aborts.
    const after = await Promise.all(
      Array.from({ length: 16 }, (_, i) => provider.runQuery(`probe:${100 + i}:${i}`)),
    );
    expect(after).toEqual(Array.from({ length: 16 }, (_, i) => 100 + i));
  });

  it('asks for an uncompressed answer and reuses one connection for sequential queries', async () => {
    const provider = new PrometheusProvider({ address, timeoutMs: 2_500 });
    for (let i = 0; i < 10; i++) expect(await provider.runQuery(`probe:${i}:0`)).toBe(i);
    expect(seen.acceptEncodings).toEqual(Array(10).fill('identity'));
    expect(seen.gzipped).toBe(0);
    expect(seen.timeouts).toEqual(Array(10).fill('3s'));
    expect(seen.connections).toBe(1);
  });

  it('keeps no more connections than queries in flight', async () => {
    const provider = new PrometheusProvider({ address });
    for (let round = 0; round < 3; round++) {
      const values = await Promise.all(
        Array.from({ length: 8 }, (_, i) => provider.runQuery(`probe:${round * 8 + i}:20`)),
      );
      expect(values).toEqual(Array.from({ length: 8 }, (_, i) => round * 8 + i));
    }
    expect(seen.connections).toBeLessThanOrEqual(8);
  });

  it('reports a refused connection as PROVIDER_ERROR', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const provider = new PrometheusProvider({ address: `http://127.0.0.1:${port}` });
    const err = await provider.runQuery('probe:1:0').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MetricsProviderError);
    expect((err as MetricsProviderError).message).toContain('ECONNREFUSED');
    expect(await provider.isOnline()).toBe(false);
  });
});

describe('PrometheusProvider over TLS', () => {
  let dir: string;
  let tls: https.Server;
  let tlsAddress: string;
  const tlsSeen = freshSeen();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'petrel-prom-tls-'));
    const { cert, key } = await selfSignedCertificate(dir);
    tls = https.createServer({ cert, key }, fakePrometheus(tlsSeen));
    tls.on('secureConnection', () => tlsSeen.connections++);
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    tlsAddress = `https://127.0.0.1:${(tls.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    tls?.closeAllConnections();
    await new Promise<void>((resolve) => (tls ? tls.close(() => resolve()) : resolve()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('skips verification only when asked, and reuses the TLS connection', async () => {
    await expect(new PrometheusProvider({ address: tlsAddress }).runQuery('probe:1:0')).rejects.toMatchObject(
      {
        code: 'PROVIDER_ERROR',
      },
    );
    const insecure = new PrometheusProvider({ address: tlsAddress, insecureSkipVerify: true });
    const before = tlsSeen.connections;
    for (let i = 0; i < 5; i++) expect(await insecure.runQuery(`probe:${i}:0`)).toBe(i);
    expect(tlsSeen.connections - before).toBe(1);
  });
});

describe('PrometheusProvider and process exit', () => {
  it('does not keep the process alive with its idle keep-alive connection', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'petrel-prom-exit-'));
    try {
      const script = path.join(dir, 'query.mts');
      const providerUrl = new URL('../src/metrics/prometheus.ts', import.meta.url).href;
      await writeFile(
        script,
        `import { PrometheusProvider } from ${JSON.stringify(providerUrl)};\n` +
          `const value = await new PrometheusProvider({ address: process.argv[2] }).runQuery('probe:7:0');\n` +
          `process.stdout.write(String(value) + '\\n');\n`,
      );
      const root = fileURLToPath(new URL('..', import.meta.url));
      const child = spawn(process.execPath, ['--import', 'tsx', script, address], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      let answeredAt = 0;
      child.stdout.on('data', (chunk) => {
        out += String(chunk);
        answeredAt ||= Date.now();
      });
      const killer = setTimeout(() => child.kill(), 20_000);
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      clearTimeout(killer);
      expect(out.trim()).toBe('7');
      expect(code).toBe(0);
      // Idle sockets are closed after 5 s; an exit well before that means they were unref'd.
      expect(Date.now() - answeredAt).toBeLessThan(2_500);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
