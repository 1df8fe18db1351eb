import { describe, expect, it } from 'vitest';
import { OwnWrites, recordingOwnWrites } from '../src/kube/own-writes.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import { InMemoryKubeApi } from './support/fake-kube.ts';

const NS = 'test';

function configMap(
  name: string,
  data: Record<string, string>,
): KubeObject & { data: Record<string, string> } {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS }, data };
}

function watched(): { store: InMemoryKubeApi; writes: OwnWrites; events: KubeObject[] } {
  const store = new InMemoryKubeApi();
  const events: KubeObject[] = [];
  store.onChange((_type, obj, resource) => {
    if (resource.plural === 'configmaps') events.push(structuredClone(obj));
  });
  return { store, writes: new OwnWrites([RESOURCES.configMap]), events };
}

describe('OwnWrites', () => {
  it("tells the watch echo of this process's write from a change someone else made", async () => {
    const { store, writes, events } = watched();
    const api = recordingOwnWrites(store, writes);
    await api.create(RESOURCES.configMap, configMap('mine', { v: '1' }));
    await api.mergePatch(
      { resource: RESOURCES.configMap, namespace: NS, name: 'mine' },
      { data: { v: '2' } },
    );
    // Someone else changes it afterwards.
    await store.mergePatch(
      { resource: RESOURCES.configMap, namespace: NS, name: 'mine' },
      { data: { v: '3' } },
    );
    const echoes = events.map((e) => writes.isEcho(RESOURCES.configMap, e));
    // The create's echo is stale (a newer write followed it), the patch's is an echo, the other change is not.
    expect(echoes).toEqual([false, true, false]);
    expect(writes.pending).toBe(0);
  });

  it('answers an echo once, and forgets deleted objects', async () => {
    const { store, writes, events } = watched();
    const api = recordingOwnWrites(store, writes);
    await api.create(RESOURCES.configMap, configMap('a', { v: '1' }));
    const [added] = events;
    expect(writes.isEcho(RESOURCES.configMap, added as KubeObject)).toBe(true);
    expect(writes.isEcho(RESOURCES.configMap, added as KubeObject)).toBe(false);
    await api.jsonPatch({ resource: RESOURCES.configMap, namespace: NS, name: 'a' }, [
      { op: 'replace', path: '/data/v', value: '2' },
    ]);
    expect(writes.pending).toBe(1);
    writes.forget(RESOURCES.configMap, events.at(-1) as KubeObject);
    expect(writes.pending).toBe(0);
  });

  it('keeps nothing for kinds nobody watches (their echo never comes) or for reads', async () => {
    const store = new InMemoryKubeApi();
    const writes = new OwnWrites([RESOURCES.configMap]);
    const api = recordingOwnWrites(store, writes);
    await api.create(RESOURCES.secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', namespace: NS },
    });
    store.seed(RESOURCES.configMap, configMap('seeded', {}));
    await api.get({ resource: RESOURCES.configMap, namespace: NS, name: 'seeded' });
    await api.list(RESOURCES.configMap, { namespace: NS });
    expect(writes.pending).toBe(0);
  });

  it('passes failures through without recording anything', async () => {
    const store = new InMemoryKubeApi();
    const writes = new OwnWrites([RESOURCES.configMap]);
    const api = recordingOwnWrites(store, writes);
    await expect(
      api.mergePatch({ resource: RESOURCES.configMap, namespace: NS, name: 'missing' }, { data: {} }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(writes.pending).toBe(0);
  });
});
