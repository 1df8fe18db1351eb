import { describe, expect, it } from 'vitest';
import type { MetricTemplateProvider } from '../src/api/index.ts';
import { MetricProviders, MetricSecretError } from '../src/controller/metric-providers.ts';
import type { Secret } from '../src/kube/configs.ts';
import { KubeApiError } from '../src/kube/errors.ts';
import type { KubeApi, KubeObject, ObjectRef } from '../src/kube/types.ts';
import type { MetricsProvider } from '../src/metrics/provider.ts';

const SPEC: MetricTemplateProvider = {
  type: 'prometheus',
  address: 'http://prom:9090',
  secretRef: { name: 'prom-auth' },
};

function secret(data: Record<string, string>, rv = '1'): Secret {
  return {
    metadata: { name: 'prom-auth', namespace: 'apps', resourceVersion: rv },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

/** Records the Secret values each provider was built with; every query answers 1. */
function setup(opts: { cached?: Secret; stored?: Secret; getError?: Error }) {
  const built: Array<Readonly<Record<string, string>> | undefined> = [];
  const gets: string[] = [];
  const api = {
    get: async <T extends KubeObject>(ref: ObjectRef) => {
      gets.push(`${ref.resource.plural} ${ref.namespace}/${ref.name}`);
      if (opts.getError) throw opts.getError;
      if (!opts.stored)
        throw new KubeApiError('secrets "prom-auth" not found', { code: 'NOT_FOUND', status: 404 });
      return opts.stored as unknown as T;
    },
  } as unknown as KubeApi;
  const providers = new MetricProviders({
    api,
    ...(opts.cached ? { secrets: { get: () => opts.cached, list: () => [] } } : {}),
    create: (_spec, values): MetricsProvider => {
      built.push(values);
      return { runQuery: async () => 1, isOnline: async () => true };
    },
  });
  return { providers, built, gets };
}

describe('MetricProviders: provider.secretRef', () => {
  it('reads the Secret in the template namespace with a GET and passes its decoded values to the provider', async () => {
    const t = setup({ stored: secret({ token: 'tok-1\n' }) });
    expect(await t.providers.providerFor(SPEC, 'apps').runQuery('up')).toBe(1);
    expect(t.gets).toEqual(['secrets apps/prom-auth']);
    expect(t.built).toEqual([{ token: 'tok-1' }]);
    // The same Secret again: the provider (and its connections) is reused.
    await t.providers.providerFor(SPEC, 'apps').runQuery('up');
    expect(t.built).toHaveLength(1);
  });

  it('prefers the Secret informer cache when the controller runs one, and follows a rotation', async () => {
    const t = setup({ cached: secret({ username: 'u', password: 'p' }) });
    await t.providers.providerFor(SPEC, 'apps').runQuery('up');
    expect(t.gets).toEqual([]);
    expect(t.built).toEqual([{ username: 'u', password: 'p' }]);
    const rotated = setup({ cached: secret({ username: 'u', password: 'p2' }, '2') });
    await rotated.providers.providerFor(SPEC, 'apps').runQuery('up');
    expect(rotated.built).toEqual([{ username: 'u', password: 'p2' }]);
  });

  it.each([
    [
      'a missing Secret',
      {},
      'Secret apps/prom-auth (provider.secretRef) was not found: create it with the key "token"',
    ],
    [
      'no usable key',
      { stored: secret({ tokn: 'hunter2' }) },
      'needs the key "token" (bearer) or the keys "username" and "password" (basic auth); it has "tokn"',
    ],
    [
      'half of basic auth',
      { stored: secret({ username: 'hunter2' }) },
      '"username" and "password" go together',
    ],
    [
      'a forbidden read',
      { getError: new KubeApiError('forbidden', { code: 'FORBIDDEN', status: 403 }) },
      'could not be read: forbidden: grant the controller get on Secrets',
    ],
  ])(
    'fails the query, not the controller, on %s, naming the Secret and never a value',
    async (_what, opts, message) => {
      const t = setup(opts);
      const err = await t.providers
        .providerFor(SPEC, 'apps')
        .runQuery('up')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MetricSecretError);
      expect((err as MetricSecretError).code).toBe('METRIC_SECRET_INVALID');
      expect((err as Error).message).toContain(message);
      expect((err as Error).message).not.toContain('hunter2');
      expect(await t.providers.providerFor(SPEC, 'apps').isOnline()).toBe(false);
      expect(t.built).toEqual([]);
    },
  );

  it('builds one provider per spec without secretRef, as before', async () => {
    const t = setup({});
    const plain = { type: 'prometheus', address: 'http://prom:9090' } as const;
    expect(t.providers.providerFor(plain, 'apps')).toBe(t.providers.providerFor({ ...plain }, 'other'));
    expect(t.providers.providerFor(undefined)).toBe(t.providers.providerFor(undefined));
    expect(t.built).toEqual([undefined, undefined]);
  });
});
