import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll } from 'vitest';
import { ControlPlaneBinariesMissingError } from '../../dev/cluster/binaries.ts';
import {
  type ControlPlaneOptions,
  type RunningControlPlane,
  startControlPlane,
} from '../../dev/cluster/control-plane.ts';
import { createKubeApi, type HttpKubeApi } from '../../src/kube/client.ts';

export const CLUSTER_USER_AGENT = 'petrel-cluster-test';

export interface ControlPlaneFixture {
  readonly plane: RunningControlPlane;
  /** An admin client. */
  readonly api: HttpKubeApi;
}

/**
 * Runs `setup` once in beforeAll. A failure there does not leave the tests skipped: it is kept, and
 * every test that calls the returned `ready()` fails with it (a missing build, for instance, names
 * the command that makes it in each test's failure).
 */
export function setupOnce(setup: () => Promise<void>, timeoutMs: number): () => void {
  let failure: unknown;
  let done = false;
  beforeAll(async () => {
    try {
      await setup();
      done = true;
    } catch (error) {
      failure = error;
    }
  }, timeoutMs);
  return () => {
    if (failure !== undefined) throw failure;
    if (!done) throw new Error('setup has not run: call ready() inside a test');
  };
}

/**
 * One real control plane for the calling test file, started in beforeAll and always stopped in
 * afterAll. When the binaries are not built, every test of the file fails with the command that
 * builds them (CI builds them first; PETREL_CLUSTER_TESTS=0 leaves these files out of the run).
 */
export function useControlPlane(opts: ControlPlaneOptions = {}): ControlPlaneFixture {
  let plane: RunningControlPlane | undefined;
  let api: HttpKubeApi | undefined;
  const ready = setupOnce(async () => {
    try {
      plane = await startControlPlane({ podReadyDelayMs: 300, ...opts });
    } catch (error) {
      if (error instanceof ControlPlaneBinariesMissingError) {
        error.message +=
          '\n(or set PETREL_CLUSTER_TESTS=0 to leave the tests in test/cluster/ out of the run)';
      }
      throw error;
    }
    api = createKubeApi({ kubeConfig: plane.kubeConfig(), userAgent: CLUSTER_USER_AGENT, timeoutMs: 30_000 });
  }, 240_000);
  afterAll(async () => {
    api?.close();
    await plane?.stop();
  }, 60_000);
  return {
    get plane() {
      ready();
      return plane as RunningControlPlane;
    },
    get api() {
      ready();
      return api as HttpKubeApi;
    },
  };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: unknown;
  readonly text: string;
}

/**
 * One request to an API server as `kubeConfig` authenticates it, answered with the raw status and
 * body, for the comparisons the typed client hides (Status reasons, tables, dry runs).
 */
export async function kubeRequest(
  kubeConfig: KubeConfig,
  method: string,
  path: string,
  opts: { body?: unknown; contentType?: string; accept?: string; timeoutMs?: number } = {},
): Promise<RawResponse> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(path, cluster.server);
  const options: https.RequestOptions = {
    method,
    headers: {
      accept: opts.accept ?? 'application/json',
      'user-agent': CLUSTER_USER_AGENT,
      ...(opts.body === undefined ? {} : { 'content-type': opts.contentType ?? 'application/json' }),
    },
    timeout: opts.timeoutMs ?? 30_000,
  };
  await kubeConfig.applyToHTTPSOptions(options);
  const send = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = send(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    if (opts.body !== undefined)
      req.write(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
    req.end();
  });
}

/**
 * Opens a watch at `path` (with its query), calls `act` once the stream is open, and answers the
 * first `count` events (or those seen within `timeoutMs`).
 */
export async function watchEvents(
  kubeConfig: KubeConfig,
  path: string,
  count: number,
  act: () => Promise<void>,
  timeoutMs = 15_000,
): Promise<{ type: string; object: Record<string, unknown> }[]> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(path, cluster.server);
  const options: https.RequestOptions = { method: 'GET', headers: { accept: 'application/json' } };
  await kubeConfig.applyToHTTPSOptions(options);
  const send = url.protocol === 'https:' ? https.request : http.request;
  const events: { type: string; object: Record<string, unknown> }[] = [];
  return new Promise((resolve, reject) => {
    let buffered = '';
    const req = send(url, options, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        let newline = buffered.indexOf('\n');
        while (newline >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line) events.push(JSON.parse(line));
          newline = buffered.indexOf('\n');
        }
        if (events.length >= count) finish();
      });
      res.on('end', finish);
      act().catch((error) => {
        req.destroy();
        reject(error);
      });
    });
    const timer = setTimeout(finish, timeoutMs);
    function finish() {
      clearTimeout(timer);
      req.destroy();
      resolve(events.slice(0, count));
    }
    req.on('error', () => finish());
    req.end();
  });
}
