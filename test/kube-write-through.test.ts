import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../src/kube/types.ts';
import { WriteThroughCache } from '../src/kube/write-through.ts';

function obj(name: string, rv: string): KubeObject {
  return { metadata: { name, namespace: 'ns', resourceVersion: rv } };
}

describe('WriteThroughCache', () => {
  it('serves a written object until the cache has caught up, then the cache', () => {
    const store = new Map<string, KubeObject>();
    const view = new WriteThroughCache<KubeObject>(
      { get: (_ns, n) => store.get(n), list: () => [...store.values()] },
      { now: () => 0 },
    );
    view.remember(obj('a', '10'));
    expect(view.get('ns', 'a')?.metadata?.resourceVersion).toBe('10');
    store.set('a', obj('a', '9')); // stale cache
    expect(view.get('ns', 'a')?.metadata?.resourceVersion).toBe('10');
    store.set('a', obj('a', '11')); // someone changed it after our write
    expect(view.get('ns', 'a')?.metadata?.resourceVersion).toBe('11');
    store.set('a', obj('a', '9'));
    expect(view.get('ns', 'a')?.metadata?.resourceVersion).toBe('9'); // overlay dropped once caught up
  });

  it('forgets a written object after its time limit (e.g. deleted since: no event will catch up)', () => {
    let now = 0;
    const view = new WriteThroughCache<KubeObject>(
      { get: () => undefined, list: () => [] },
      { ttlMs: 1000, now: () => now },
    );
    view.remember(obj('a', '10'));
    now = 999;
    expect(view.get('ns', 'a')).toBeDefined();
    now = 1001;
    expect(view.get('ns', 'a')).toBeUndefined();
  });

  it('trusts the cache when resourceVersions are not numbers', () => {
    const view = new WriteThroughCache<KubeObject>({ get: () => obj('a', 'xyz'), list: () => [] });
    view.remember(obj('a', 'abc'));
    expect(view.get('ns', 'a')?.metadata?.resourceVersion).toBe('xyz');
  });

  it('drops a deleted object at its delete event, and does not revive it from a write answered later', () => {
    const now = 0;
    const view = new WriteThroughCache<KubeObject>(
      { get: () => undefined, list: () => [] },
      { ttlMs: 1000, now: () => now },
    );
    const written = { metadata: { ...obj('a', '10').metadata, uid: 'u1' } };
    view.remember(written);
    view.deleted(written);
    expect(view.get('ns', 'a')).toBeUndefined();
    // A status patch sent before the delete returns after its event: still gone.
    view.remember({ metadata: { ...written.metadata, resourceVersion: '11' } });
    expect(view.get('ns', 'a')).toBeUndefined();
    // An object of the same name created again has another uid.
    view.remember({ metadata: { ...obj('a', '20').metadata, uid: 'u2' } });
    expect(view.get('ns', 'a')?.metadata?.uid).toBe('u2');
  });
});
