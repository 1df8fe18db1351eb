import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKubeApi } from '../src/kube/client.ts';
import type { KubeApiError, KubeApiErrorCode } from '../src/kube/errors.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeRequestInfo } from '../src/kube/types.ts';

const SERVER = 'http://kube.test';

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: SERVER, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'sekret-token' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return kc;
}

const deploymentRef = { resource: RESOURCES.deployment, namespace: 'test', name: 'podinfo' };
const canaryRef = { resource: RESOURCES.canary, namespace: 'test', name: 'podinfo' };

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

describe('KubeApi over HTTP', () => {
  it('builds paths for core, grouped and custom resources and sends the bearer token', async () => {
    const scope = nock(SERVER, { reqheaders: { authorization: 'Bearer sekret-token' } })
      .get('/apis/apps/v1/namespaces/test/deployments/podinfo')
      .reply(200, { kind: 'Deployment', metadata: { name: 'podinfo' } })
      .get('/api/v1/namespaces/test/services')
      .query({ labelSelector: 'petrel.dev/managed-by=petrel' })
      .reply(200, { kind: 'ServiceList', metadata: { resourceVersion: '7' }, items: [] })
      .get('/apis/petrel.dev/v1alpha1/canaries')
      .reply(200, { items: [{ metadata: { name: 'a' } }] });
    const api = createKubeApi({ kubeConfig: kubeConfig() });
    const dep = await api.get(deploymentRef);
    expect(dep.metadata?.name).toBe('podinfo');
    const services = await api.list(RESOURCES.service, {
      namespace: 'test',
      labelSelector: 'petrel.dev/managed-by=petrel',
    });
    expect(services.metadata?.resourceVersion).toBe('7');
    const canaries = await api.list(RESOURCES.canary);
    expect(canaries.items).toHaveLength(1);
    expect(scope.isDone()).toBe(true);
  });

  it('sends each patch with its own content type, and status through the /status subresource', async () => {
    const base = '/apis/apps/v1/namespaces/test/deployments/podinfo';
    const merge = nock(SERVER, { reqheaders: { 'content-type': 'application/merge-patch+json' } })
      .patch(base, { spec: { replicas: 0 } })
      .query({ fieldManager: 'petrel' })
      .reply(200, { metadata: { name: 'podinfo' } });
    const json = nock(SERVER, { reqheaders: { 'content-type': 'application/json-patch+json' } })
      .patch(base, [{ op: 'replace', path: '/spec/replicas', value: 1 }])
      .query({ fieldManager: 'petrel' })
      .reply(200, { metadata: { name: 'podinfo' } });
    const status = nock(SERVER, { reqheaders: { 'content-type': 'application/merge-patch+json' } })
      .patch('/apis/petrel.dev/v1alpha1/namespaces/test/canaries/podinfo/status', {
        status: { phase: 'Progressing', canaryWeight: 10 },
      })
      .query({ fieldManager: 'petrel' })
      .reply(200, { metadata: { name: 'podinfo' } });
    const create = nock(SERVER, { reqheaders: { 'content-type': 'application/json' } })
      .post('/api/v1/namespaces/test/configmaps', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'cm', namespace: 'test' },
      })
      .query({ fieldManager: 'petrel' })
      .reply(201, { metadata: { name: 'cm' } });
    const api = createKubeApi({ kubeConfig: kubeConfig() });
    await api.mergePatch(deploymentRef, { spec: { replicas: 0 } });
    await api.jsonPatch(deploymentRef, [{ op: 'replace', path: '/spec/replicas', value: 1 }]);
    await api.patchStatus(canaryRef, { status: { phase: 'Progressing', canaryWeight: 10 } });
    await api.create(RESOURCES.configMap, { metadata: { name: 'cm', namespace: 'test' } });
    for (const scope of [merge, json, status, create]) expect(scope.isDone()).toBe(true);
  });

  it('refuses to create a namespaced object without a namespace, before any request', async () => {
    const api = createKubeApi({ kubeConfig: kubeConfig() });
    await expect(api.create(RESOURCES.configMap, { metadata: { name: 'cm' } })).rejects.toThrow(
      /metadata.namespace is required/,
    );
  });

  const cases: [number, Record<string, unknown>, KubeApiErrorCode, boolean][] = [
    [
      404,
      { kind: 'Status', reason: 'NotFound', message: 'deployments.apps "podinfo" not found' },
      'NOT_FOUND',
      false,
    ],
    [409, { kind: 'Status', reason: 'AlreadyExists', message: 'already exists' }, 'ALREADY_EXISTS', false],
    [409, { kind: 'Status', reason: 'Conflict', message: 'the object has been modified' }, 'CONFLICT', true],
    [
      422,
      { kind: 'Status', reason: 'Invalid', message: 'spec.replicas: Invalid value: -1' },
      'INVALID',
      false,
    ],
    [400, { kind: 'Status', reason: 'BadRequest', message: 'bad' }, 'INVALID', false],
    [401, { kind: 'Status', reason: 'Unauthorized', message: 'Unauthorized' }, 'UNAUTHORIZED', false],
    [403, { kind: 'Status', reason: 'Forbidden', message: 'cannot patch deployments' }, 'FORBIDDEN', false],
    [500, { kind: 'Status', reason: 'InternalError', message: 'etcd is sad' }, 'SERVER_ERROR', true],
    [503, { kind: 'Status', reason: 'ServiceUnavailable', message: 'try later' }, 'SERVER_ERROR', true],
    [504, { kind: 'Status', reason: 'Timeout', message: 'timed out' }, 'TIMEOUT', true],
  ];
  it.each(cases)('maps HTTP %i to a typed error', async (status, body, code, transient) => {
    nock(SERVER).patch('/apis/apps/v1/namespaces/test/deployments/podinfo').query(true).reply(status, body);
    const api = createKubeApi({ kubeConfig: kubeConfig() });
    const err = (await api.mergePatch(deploymentRef, {}).catch((e: unknown) => e)) as KubeApiError;
    expect(err.name).toBe('KubeApiError');
    expect(err.code).toBe(code);
    expect(err.status).toBe(status);
    expect(err.isTransient).toBe(transient);
    expect(err.reason).toBe(body.reason);
    expect(err.message).toContain(String(body.message));
    expect(err.message).toContain('patch deployments test/podinfo');
  });

  it('reads Retry-After on 429 (header or Status details)', async () => {
    nock(SERVER)
      .get('/apis/apps/v1/namespaces/test/deployments/podinfo')
      .reply(429, { kind: 'Status', reason: 'TooManyRequests', message: 'slow down' }, { 'Retry-After': '3' })
      .get('/apis/apps/v1/namespaces/test/deployments/podinfo')
      .reply(429, { kind: 'Status', reason: 'TooManyRequests', details: { retryAfterSeconds: 2 } });
    const api = createKubeApi({ kubeConfig: kubeConfig() });
    const first = (await api.get(deploymentRef).catch((e: unknown) => e)) as KubeApiError;
    expect(first).toMatchObject({ code: 'TOO_MANY_REQUESTS', isTransient: true, retryAfterMs: 3000 });
    const second = (await api.get(deploymentRef).catch((e: unknown) => e)) as KubeApiError;
    expect(second.retryAfterMs).toBe(2000);
  });

  it('never puts a Secret validation message (which can echo values) in the error', async () => {
    nock(SERVER)
      .post('/api/v1/namespaces/test/secrets')
      .query(true)
      .reply(422, {
        kind: 'Status',
        reason: 'Invalid',
        message: 'Secret "s" is invalid: data[token]: Invalid value: "hunter2-super-secret"',
        details: { causes: [{ field: 'data[token]', reason: 'FieldValueInvalid' }] },
      });
    const api = createKubeApi({ kubeConfig: kubeConfig() });
    const err = (await api
      .create(RESOURCES.secret, { metadata: { name: 's', namespace: 'test' } })
      .catch((e: unknown) => e)) as KubeApiError;
    expect(err.code).toBe('INVALID');
    expect(err.message).not.toContain('hunter2');
    expect(err.message).toContain('data[token]');
  });

  it('times out a call that gets no answer', async () => {
    nock(SERVER).get('/apis/apps/v1/namespaces/test/deployments/podinfo').delay(2000).reply(200, {});
    const api = createKubeApi({ kubeConfig: kubeConfig(), timeoutMs: 100 });
    const started = Date.now();
    const err = (await api.get(deploymentRef).catch((e: unknown) => e)) as KubeApiError;
    expect(err).toMatchObject({ code: 'TIMEOUT', isTransient: true });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('maps a refused connection to NETWORK', async () => {
    nock.enableNetConnect('127.0.0.1');
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
      currentContext: 'ctx',
    });
    const api = createKubeApi({ kubeConfig: kc });
    const err = (await api.get(deploymentRef).catch((e: unknown) => e)) as KubeApiError;
    expect(err).toMatchObject({ code: 'NETWORK', isTransient: true });
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.cause).toBeDefined();
    nock.disableNetConnect();
  });

  it('reports every request to the counting hook with verb and resource', async () => {
    nock(SERVER)
      .get('/apis/apps/v1/namespaces/test/deployments/podinfo')
      .reply(200, {})
      .patch('/apis/petrel.dev/v1alpha1/namespaces/test/canaries/podinfo/status')
      .query(true)
      .reply(200, {})
      .delete('/api/v1/namespaces/test/services/x')
      .reply(404, { kind: 'Status', reason: 'NotFound' });
    const seen: KubeRequestInfo[] = [];
    const api = createKubeApi({ kubeConfig: kubeConfig(), onRequest: (i) => seen.push(i) });
    await api.get(deploymentRef);
    await api.patchStatus(canaryRef, { status: {} });
    await api.delete({ resource: RESOURCES.service, namespace: 'test', name: 'x' }).catch(() => undefined);
    expect(seen.map((s) => [s.verb, s.resource, s.status, s.errorCode])).toEqual([
      ['get', 'deployments', 200, undefined],
      ['patch', 'canaries/status', 200, undefined],
      ['delete', 'services', 404, 'NOT_FOUND'],
    ]);
  });
});
