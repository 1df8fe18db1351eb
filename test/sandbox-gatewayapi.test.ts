import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxApiServer, startApiServer } from '../dev/sandbox/apiserver/index.ts';
import { createKubeApi } from '../src/kube/client.ts';
import { isKubeApiError } from '../src/kube/errors.ts';
import { RESOURCES, type ResourceKind } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import type { HttpRoute } from '../src/routers/gatewayapi.ts';

const NS = 'default';
const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const referenceGrants: ResourceKind = {
  group: GATEWAY_GROUP,
  version: 'v1beta1',
  plural: 'referencegrants',
  kind: 'ReferenceGrant',
  namespaced: true,
};

describe('the sandbox serves the Gateway API standard CRDs as released', () => {
  let server: SandboxApiServer;
  let api: ReturnType<typeof createKubeApi>;

  beforeAll(async () => {
    server = await startApiServer();
    api = createKubeApi({ kubeConfig: server.kubeConfig() });
  });
  afterAll(async () => {
    api?.close();
    await server?.stop();
  });

  it('lists HTTPRoute, Gateway, GatewayClass and ReferenceGrant in discovery', async () => {
    const resources = async (groupVersion: string) => {
      const res = await fetch(`${server.url}/apis/${groupVersion}`);
      const body = (await res.json()) as { resources: { name: string; namespaced: boolean }[] };
      return body.resources.filter((r) => !r.name.includes('/')).map((r) => `${r.name}:${r.namespaced}`);
    };
    expect(await resources(`${GATEWAY_GROUP}/v1`)).toEqual(
      expect.arrayContaining(['httproutes:true', 'gateways:true', 'gatewayclasses:false']),
    );
    expect(await resources(`${GATEWAY_GROUP}/v1beta1`)).toEqual(
      expect.arrayContaining(['referencegrants:true']),
    );
  });

  it("applies the CRD's defaults to an HTTPRoute written with none (what Petrel writes out itself)", async () => {
    await api.create(RESOURCES.httpRoute, {
      apiVersion: `${GATEWAY_GROUP}/v1`,
      kind: 'HTTPRoute',
      metadata: { name: 'bare', namespace: NS },
      spec: {
        parentRefs: [{ name: 'public' }],
        rules: [{ backendRefs: [{ name: 'podinfo-primary', port: 9898 }] }],
      },
    } as KubeObject);
    const stored = await api.get<HttpRoute>({ resource: RESOURCES.httpRoute, namespace: NS, name: 'bare' });
    expect(stored.spec?.parentRefs).toEqual([{ group: GATEWAY_GROUP, kind: 'Gateway', name: 'public' }]);
    expect(stored.spec?.rules).toEqual([
      {
        matches: [{ path: { type: 'PathPrefix', value: '/' } }],
        backendRefs: [{ group: '', kind: 'Service', name: 'podinfo-primary', port: 9898, weight: 1 }],
      },
    ]);
  });

  it.each([
    ['a hostname that is an IP and port', { hostnames: ['10.0.0.1:80'] }, 'spec.hostnames[0]'],
    [
      'a negative weight',
      { rules: [{ backendRefs: [{ name: 'podinfo-primary', port: 9898, weight: -1 }] }] },
      'spec.rules[0].backendRefs[0].weight',
    ],
    [
      'a header match type the API does not know',
      {
        rules: [
          {
            matches: [{ headers: [{ name: 'x-canary', type: 'Prefix', value: 'a' }] }],
            backendRefs: [{ name: 'podinfo-primary', port: 9898 }],
          },
        ],
      },
      'spec.rules[0].matches[0].headers[0].type',
    ],
  ])('refuses %s with 422 naming the field', async (_what, spec, field) => {
    const err = await api
      .create(RESOURCES.httpRoute, {
        apiVersion: `${GATEWAY_GROUP}/v1`,
        kind: 'HTTPRoute',
        metadata: { name: 'invalid', namespace: NS },
        spec: { parentRefs: [{ name: 'public' }], ...spec },
      } as KubeObject)
      .catch((e: unknown) => e);
    expect(isKubeApiError(err)).toBe(true);
    expect((err as { status?: number }).status).toBe(422);
    expect((err as Error).message).toContain(field);
  });

  it('stores a ReferenceGrant (v1beta1) and a Gateway (v1)', async () => {
    await api.create(referenceGrants, {
      apiVersion: `${GATEWAY_GROUP}/v1beta1`,
      kind: 'ReferenceGrant',
      metadata: { name: 'from-gateways', namespace: NS },
      spec: {
        from: [{ group: GATEWAY_GROUP, kind: 'HTTPRoute', namespace: 'gateways' }],
        to: [{ group: '', kind: 'Service' }],
      },
    } as KubeObject);
    const gateways: ResourceKind = { ...referenceGrants, version: 'v1', plural: 'gateways', kind: 'Gateway' };
    await api.create(gateways, {
      apiVersion: `${GATEWAY_GROUP}/v1`,
      kind: 'Gateway',
      metadata: { name: 'public', namespace: NS },
      spec: { gatewayClassName: 'any', listeners: [{ name: 'http', protocol: 'HTTP', port: 80 }] },
    } as KubeObject);
    const stored = await api.get<KubeObject & { spec?: { listeners?: unknown[] } }>({
      resource: gateways,
      namespace: NS,
      name: 'public',
    });
    expect(stored.spec?.listeners).toEqual([
      expect.objectContaining({ name: 'http', protocol: 'HTTP', port: 80, allowedRoutes: expect.anything() }),
    ]);
  });
});
