import { describe, expect, it } from 'vitest';
import { FreshCanaries } from '../src/controller/fresh-canary.ts';
import { KubeApiError } from '../src/kube/errors.ts';
import type { CacheReader } from '../src/kube/informer.ts';
import type { KubeApi, KubeObject } from '../src/kube/types.ts';
import { WriteThroughCache } from '../src/kube/write-through.ts';

const canary = (resourceVersion: string, phase: string): KubeObject =>
  ({
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', resourceVersion },
    status: { phase },
  }) as KubeObject;

function setup(cached: KubeObject | undefined, server: KubeObject | Error) {
  const reads: string[] = [];
  const informer: CacheReader<KubeObject> = { get: () => cached, list: () => (cached ? [cached] : []) };
  const api = {
    get: async (ref: { name: string }) => {
      reads.push(ref.name);
      if (server instanceof Error) throw server;
      return server;
    },
  } as unknown as KubeApi;
  const cache = new WriteThroughCache(informer, { ttlMs: 5000 });
  return { fresh: new FreshCanaries(api, cache), cache, reads };
}

describe('FreshCanaries: never act on a Canary older than one already seen', () => {
  it('reads from the cache, with no API read, while the cache keeps up', async () => {
    const { fresh, reads } = setup(canary('12', 'Progressing'), new Error('no read expected'));
    expect((await fresh.get('test', 'podinfo'))?.metadata?.resourceVersion).toBe('12');
    fresh.seen(canary('12', 'Progressing'));
    expect((await fresh.get('test', 'podinfo'))?.metadata?.resourceVersion).toBe('12');
    expect(reads).toEqual([]);
  });

  it('replaces a lagging informer copy (a promoted canary read back as Progressing) with one GET', async () => {
    // The informer is stuck at 4072 (Progressing at 30%); this process already wrote 4101 (Succeeded).
    const { fresh, cache, reads } = setup(canary('4072', 'Progressing'), canary('4105', 'Succeeded'));
    fresh.seen(canary('4101', 'Succeeded'));
    const read = (await fresh.get('test', 'podinfo')) as KubeObject & { status: { phase: string } };
    expect(read.status.phase).toBe('Succeeded');
    expect(reads).toEqual(['podinfo']);
    // Remembered: the next reads come from the write-through cache, with no further GET.
    expect(cache.get('test', 'podinfo')?.metadata?.resourceVersion).toBe('4105');
    await fresh.get('test', 'podinfo');
    expect(reads).toEqual(['podinfo']);
  });

  it('answers undefined when the Canary is gone on the API server', async () => {
    const notFound = new KubeApiError('get canaries test/podinfo: 404 not found', {
      status: 404,
      code: 'NOT_FOUND',
    } as never);
    const { fresh } = setup(canary('5', 'Progressing'), notFound);
    fresh.seen(canary('9', 'Progressing'));
    expect(await fresh.get('test', 'podinfo')).toBeUndefined();
  });

  it('starts over for a Canary deleted and created again under the same name', async () => {
    const { fresh, reads } = setup(canary('3', 'Initialized'), new Error('no read expected'));
    fresh.seen(canary('900', 'Succeeded'));
    fresh.forget('test', 'podinfo');
    expect((await fresh.get('test', 'podinfo'))?.metadata?.resourceVersion).toBe('3');
    expect(reads).toEqual([]);
  });
});
