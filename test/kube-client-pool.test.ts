import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { createKubeApi } from '../src/kube/client.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import { waitFor } from './support/wait.ts';

// Kept apart from the nock tests: nock's interceptor opens a fresh socket per request.
describe('KubeApi connections', () => {
  it('reuses one keep-alive connection for successive calls, and close() ends it', async () => {
    let connections = 0;
    const open = new Set<Socket>();
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"metadata":{"name":"podinfo"}}');
    });
    server.on('connection', (s) => {
      connections++;
      open.add(s);
      s.on('close', () => open.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [
          {
            name: 'c',
            server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
            skipTLSVerify: true,
          },
        ],
        users: [{ name: 'u', token: 't' }],
        contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
        currentContext: 'ctx',
      });
      const api = createKubeApi({ kubeConfig: kc });
      const ref = { resource: RESOURCES.deployment, namespace: 'test', name: 'podinfo' };
      for (let i = 0; i < 5; i++) await api.get(ref);
      expect(connections).toBe(1);
      api.close();
      await waitFor('every connection to close', () => open.size === 0, { timeoutMs: 2000, intervalMs: 10 });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
