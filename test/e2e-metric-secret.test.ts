import { createServer, request, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import { useCleanups } from './support/cleanups.ts';
import {
  createNamespace,
  getCanary,
  getDeployment,
  podinfoCanary,
  podinfoDeployment,
  runController,
  setImage,
  TrafficLoop,
  testLogger,
  useE2e,
  waitForPhase,
} from './support/e2e.ts';

const env = useE2e({ deploymentReadyDelayMs: 300 });
const TOKEN = 'e2e-bearer-Zq7xK2';

/**
 * A managed Prometheus as Thanos, Mimir or a cloud offering run it: the real Prometheus behind a proxy
 * that answers 401 unless the request carries `Authorization: Bearer <TOKEN>`.
 */
class AuthProxy {
  url = '';
  authorized = 0;
  refused = 0;
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  async start(upstream: string): Promise<void> {
    const target = new URL(upstream);
    this.server = createServer((req, res) => {
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        this.refused++;
        req.resume();
        res.writeHead(401, { 'content-type': 'text/plain' }).end('unauthorized');
        return;
      }
      this.authorized++;
      const forward = request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.writeHead(502).end());
      req.pipe(forward);
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

const proxy = new AuthProxy();
beforeAll(() => proxy.start(env.prometheusUrl));
afterAll(() => proxy.stop());

describe('end to end: a MetricTemplate whose Prometheus needs credentials from a Secret', () => {
  const cleanups = useCleanups();

  async function rollOut(ns: string, secretData: Record<string, string>) {
    await createNamespace(env.api, ns);
    await env.api.create(RESOURCES.secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'prom-auth', namespace: ns },
      data: Object.fromEntries(
        Object.entries(secretData).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
      ),
    } as KubeObject);
    await env.api.create(RESOURCES.metricTemplate, {
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'MetricTemplate',
      metadata: { name: 'request-rate', namespace: ns },
      spec: {
        provider: { type: 'prometheus', address: proxy.url, secretRef: { name: 'prom-auth' } },
        query:
          'sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload="{{ target }}"}[{{ interval }}]))',
      },
    } as KubeObject);
    const traffic = new TrafficLoop(env.prometheusUrl, ns);
    traffic.start();
    cleanups.push(() => traffic.stop());
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const log = testLogger();
    const controller = runController(env, ns, log.logger);
    cleanups.push(() => controller.stop());
    await controller.ready;
    await env.api.create(
      RESOURCES.canary,
      podinfoCanary(ns, {
        interval: '1s',
        maxWeight: 20,
        stepWeight: 10,
        metrics: [
          {
            name: 'request-rate',
            templateRef: { name: 'request-rate' },
            thresholdRange: { min: 1 },
            interval: '10s',
          },
        ],
      }) as unknown as KubeObject,
    );
    await waitForPhase(env.api, ns, ['Initialized']);
    await setImage(env.api, ns, 'podinfo:2.0');
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 30_000);
    return { done, log };
  }

  /** The token never leaves the process except towards Prometheus: not in a log line, an event or the status. */
  async function expectTokenNowhere(ns: string, log: ReturnType<typeof testLogger>): Promise<void> {
    const events = await env.api.list<KubeObject>(RESOURCES.event, { namespace: ns });
    const texts = [
      JSON.stringify(await getCanary(env.api, ns)),
      ...events.items.map((e) => JSON.stringify(e)),
      ...log.lines().map((l) => JSON.stringify(l)),
    ];
    for (const text of texts) expect(text).not.toContain(TOKEN);
  }

  it('promotes the release, with every query sent with the bearer token from the Secret', async () => {
    const ns = 'e2e-secret-ok';
    const { done, log } = await rollOut(ns, { token: `${TOKEN}\n` });
    expect(done.status?.phase).toBe('Succeeded');
    expect(done.status?.history?.map((h) => h.verdict)).toEqual(['pass', 'pass']);
    const primary = await getDeployment(env.api, ns, 'podinfo-primary');
    expect(primary.spec?.template?.spec?.containers?.[0]?.image).toBe('podinfo:2.0');
    expect(proxy.authorized).toBeGreaterThanOrEqual(2);
    expect(proxy.refused).toBe(0);
    await expectTokenNowhere(ns, log);
  }, 60_000);

  it('fails the checks with a reason naming the Secret and the key when the key is wrong', async () => {
    const ns = 'e2e-secret-bad-key';
    const refusedBefore = proxy.refused;
    const { done, log } = await rollOut(ns, { bearer: TOKEN });
    expect(done.status?.phase).toBe('Failed');
    const reasons = done.status?.history?.filter((h) => h.verdict === 'fail').map((h) => h.reason) ?? [];
    expect(reasons.length).toBeGreaterThanOrEqual(2);
    for (const reason of reasons) {
      expect(reason).toContain(`Secret ${ns}/prom-auth`);
      expect(reason).toContain('"token"');
      expect(reason).toContain('it has "bearer"');
    }
    // Nothing was sent without credentials.
    expect(proxy.refused).toBe(refusedBefore);
    await expectTokenNowhere(ns, log);
  }, 60_000);
});
