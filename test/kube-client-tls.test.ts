import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeApi } from '../src/kube/client.ts';
import type { KubeApiError } from '../src/kube/errors.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import { selfSignedCertificate } from './support/tls.ts';

let dir: string;
let server: https.Server;
let url: string;
let caData: string;
const seenAuth: (string | undefined)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'petrel-tls-'));
  const { cert, key } = await selfSignedCertificate(dir);
  caData = cert.toString('base64');
  server = https.createServer({ cert, key }, (req, res) => {
    seenAuth.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"kind":"Deployment","metadata":{"name":"podinfo"}}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

function kubeConfig(ca: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, caData: ca }],
    users: [{ name: 'u', token: 'tls-token' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return kc;
}

const ref = { resource: RESOURCES.deployment, namespace: 'test', name: 'podinfo' };

describe('KubeApi over TLS', () => {
  it('verifies the server against the kubeconfig CA and sends the token', async () => {
    const api = createKubeApi({ kubeConfig: kubeConfig(caData) });
    try {
      const dep = await api.get(ref);
      expect(dep.metadata?.name).toBe('podinfo');
      expect(seenAuth.at(-1)).toBe('Bearer tls-token');
    } finally {
      api.close();
    }
  });

  it('refuses a server its CA does not vouch for', async () => {
    const api = createKubeApi({ kubeConfig: kubeConfig(undefined) });
    try {
      const err = (await api.get(ref).catch((e: unknown) => e)) as KubeApiError;
      expect(err.code).toBe('NETWORK');
      expect(err.message).toMatch(/SELF_SIGNED|self.signed|certificate/i);
    } finally {
      api.close();
    }
  });
});
