import { describe, expect, it } from 'vitest';
import { present } from '../src/cli/get/present.ts';
import { readSnapshot } from '../src/cli/get/source.ts';
import { PLAIN } from '../src/cli/get/style.ts';
import { KubeApiError } from '../src/kube/errors.ts';
import type { ResourceKind } from '../src/kube/resources.ts';
import type { KubeApi, KubeObject, ObjectRef } from '../src/kube/types.ts';

const canary = {
  apiVersion: 'petrel.dev/v1alpha1',
  kind: 'Canary',
  metadata: { name: 'podinfo', namespace: 'demo', labels: { team: 'web' } },
  spec: {
    targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
    service: { port: 9898 },
  },
  status: { phase: 'Succeeded' },
};

/** A KubeApi that has one canary and answers 403 for the kinds in `forbidden`. */
function api(forbidden: string[], freezes: KubeObject[] = []): KubeApi {
  const deny = (plural: string) => {
    if (forbidden.includes(plural)) {
      throw new KubeApiError(`${plural} is forbidden: User "dev" cannot list resource "${plural}"`, {
        code: 'FORBIDDEN',
        status: 403,
      });
    }
  };
  return {
    get: async (ref: ObjectRef) => {
      deny(ref.resource.plural);
      return canary as never;
    },
    list: async (resource: ResourceKind) => {
      deny(resource.plural);
      const items =
        resource.plural === 'canaries' ? [canary] : resource.plural === 'releasefreezes' ? freezes : [];
      return { items } as never;
    },
  } as unknown as KubeApi;
}

describe('petrel get with less than full permissions', () => {
  it('shows the canary without events and freezes it may not read, and says so', async () => {
    const snapshot = await readSnapshot(api(['events', 'releasefreezes']), {
      namespace: 'demo',
      name: 'podinfo',
    });
    expect(Object.keys(snapshot.unreadable).sort()).toEqual(['events', 'freezes']);
    const { text } = present(
      snapshot,
      { scope: { namespace: 'demo', name: 'podinfo' }, allNamespaces: false, watch: false },
      PLAIN,
      new Date('2026-12-03T10:00:00Z'),
      false,
    );
    expect(text).toContain('Phase       Succeeded');
    expect(text).toContain(
      '(events not shown: events is forbidden: User "dev" cannot list resource "events")',
    );
    expect(text).toContain('(freezes not shown:');
  });

  it('fails when the canaries themselves may not be read', async () => {
    await expect(readSnapshot(api(['canaries']), { namespace: 'demo' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
  });

  it('applies a freeze only to the canaries its selector picks', async () => {
    const freeze = (name: string, matchLabels: Record<string, string>) => ({
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'ReleaseFreeze',
      metadata: { name, namespace: 'demo' },
      spec: { selector: { matchLabels }, end: '2026-12-04T00:00:00Z' },
    });
    const snapshot = await readSnapshot(
      api([], [freeze('web', { team: 'web' }), freeze('db', { team: 'db' })]),
      {
        namespace: 'demo',
        name: 'podinfo',
      },
    );
    const { text } = present(
      snapshot,
      { scope: { namespace: 'demo', name: 'podinfo' }, allNamespaces: false, output: 'json', watch: false },
      PLAIN,
      new Date('2026-12-03T10:00:00Z'),
      false,
    );
    expect(JSON.parse(text).window).toMatchObject({
      mayStart: false,
      nextChangeAt: '2026-12-04T00:00:00.000Z',
      reason: expect.stringContaining('ReleaseFreeze web'),
    });
    expect(JSON.parse(text).window.reason).not.toContain('db');
  });
});
