// Requests per second the sandbox API server serves on this machine, for GET and PATCH.
// Run: npx tsx bench/sandbox-throughput.ts [--seconds 3] [--concurrency 8]
// The load generator runs in the same process as the server (one event loop), so the figures are a
// floor for what a separate client (the controller under test) would see.
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { startApiServer } from '../dev/sandbox/apiserver/index.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '8' } },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
if (!(seconds > 0 && seconds <= 60) || !(concurrency >= 1 && concurrency <= 256)) {
  console.error('--seconds must be in (0, 60] and --concurrency in [1, 256]');
  process.exit(2);
}

const server = await startApiServer({ deploymentReadyDelayMs: 10 });
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const { hostname, port } = new URL(server.url);

function call(
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<number> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: hostname,
        port,
        method,
        path,
        agent,
        headers: payload ? { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) } : {},
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function measure(name: string, next: (i: number) => Promise<number>): Promise<void> {
  let done = 0;
  let failed = 0;
  const deadline = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        const status = await next(done);
        done += 1;
        if (status >= 400) failed += 1;
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(
    `${name.padEnd(44)} ${Math.round(done / elapsed)
      .toString()
      .padStart(7)} req/s  (${done} requests, ${failed} failed)`,
  );
}

await call('POST', '/api/v1/namespaces', { metadata: { name: 'bench' } });
for (let i = 0; i < 100; i++)
  await call('POST', '/api/v1/namespaces/bench/configmaps', {
    metadata: { name: `cm-${i}`, labels: { i: String(i) } },
    data: { v: '0' },
  });
await call('POST', '/apis/apps/v1/namespaces/bench/deployments', {
  metadata: { name: 'web' },
  spec: {
    replicas: 1,
    selector: { matchLabels: { a: 'b' } },
    template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i:1' }] } },
  },
});
await call('POST', '/apis/networking.istio.io/v1/namespaces/bench/virtualservices', {
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'vs' },
  spec: {
    hosts: ['web'],
    http: [
      {
        route: [
          { destination: { host: 'web-primary' }, weight: 100 },
          { destination: { host: 'web-canary' }, weight: 0 },
        ],
      },
    ],
  },
});

console.log(
  `sandbox API server throughput: ${concurrency} concurrent keep-alive clients, ${seconds}s per case, node ${process.version}`,
);
// Untimed warm-up so the first case is not charged for JIT compilation.
const warmUntil = Date.now() + 1000;
while (Date.now() < warmUntil) await call('GET', '/api/v1/namespaces/bench/configmaps/cm-1');
await measure('GET configmap', (i) => call('GET', `/api/v1/namespaces/bench/configmaps/cm-${i % 100}`));
await measure('GET deployment', () => call('GET', '/apis/apps/v1/namespaces/bench/deployments/web'));
await measure('LIST 100 configmaps', () => call('GET', '/api/v1/namespaces/bench/configmaps'));
await measure('PATCH configmap (merge)', (i) =>
  call(
    'PATCH',
    `/api/v1/namespaces/bench/configmaps/cm-${i % 100}`,
    { data: { v: String(i) } },
    'application/merge-patch+json',
  ),
);
await measure('PATCH deployment (strategic merge)', (i) =>
  call(
    'PATCH',
    '/apis/apps/v1/namespaces/bench/deployments/web',
    { metadata: { annotations: { n: String(i) } } },
    'application/strategic-merge-patch+json',
  ),
);
await measure('PATCH virtualservice weights (json patch)', (i) =>
  call(
    'PATCH',
    '/apis/networking.istio.io/v1/namespaces/bench/virtualservices/vs',
    [
      { op: 'replace', path: '/spec/http/0/route/0/weight', value: 100 - (i % 100) },
      { op: 'replace', path: '/spec/http/0/route/1/weight', value: i % 100 },
    ],
    'application/json-patch+json',
  ),
);
agent.destroy();
await server.stop();
