import { describe, expect, it } from 'vitest';
import { matchesLabelSelector } from '../src/api/label-selector.ts';
import { freezeObject, parseSelector, parseUntil } from '../src/cli/freeze.ts';
import { freezesSelecting, wakeOnFreezeChanges } from '../src/controller/freezes.ts';
import type { KubeObject } from '../src/kube/types.ts';

function cache(objects: KubeObject[]) {
  const handlers: Record<string, ((obj: KubeObject) => void)[]> = { add: [], update: [], delete: [] };
  return {
    get: (ns: string | undefined, name: string) =>
      objects.find((o) => o.metadata?.namespace === ns && o.metadata?.name === name),
    list: (ns?: string) => objects.filter((o) => ns === undefined || o.metadata?.namespace === ns),
    on: (event: 'add' | 'update' | 'delete', fn: (obj: KubeObject) => void) => {
      handlers[event]!.push(fn);
    },
    emit: (event: 'add' | 'update' | 'delete', obj: KubeObject) => {
      for (const fn of handlers[event]!) fn(obj);
    },
  };
}

const freeze = (name: string, namespace: string, spec: unknown): KubeObject =>
  ({
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'ReleaseFreeze',
    metadata: { name, namespace },
    spec,
  }) as KubeObject;

const canary = (name: string, labels?: Record<string, string>) => ({
  metadata: { name, namespace: 'shop', ...(labels ? { labels } : {}) },
});

describe('freezesSelecting', () => {
  const freezes = cache([
    freeze('all', 'shop', {}),
    freeze('payments', 'shop', {
      selector: { matchLabels: { team: 'payments' } },
      start: '2026-12-20T00:00:00+01:00',
      end: '2027-01-03T00:00:00+01:00',
      reason: 'year-end',
    }),
    freeze('elsewhere', 'other', {}),
    freeze('broken', 'shop', { end: 'next week' }),
  ]);

  it('gives the freezes of the namespace whose selector matches, sorted by name; an invalid one holds all', () => {
    expect(freezesSelecting(canary('checkout', { team: 'payments' }), freezes)).toEqual([
      { name: 'all' },
      {
        name: 'broken',
        reason: expect.stringContaining('invalid ReleaseFreeze, holding until fixed or deleted: spec.end:'),
      },
      {
        name: 'payments',
        reason: 'year-end',
        start: '2026-12-20T00:00:00+01:00',
        end: '2027-01-03T00:00:00+01:00',
      },
    ]);
    expect(freezesSelecting(canary('search'), freezes).map((f) => f.name)).toEqual(['all', 'broken']);
  });
});

describe('wakeOnFreezeChanges', () => {
  it('wakes every canary of the namespace on create, change and delete', () => {
    const freezes = cache([]);
    const canaries = cache([
      { metadata: { name: 'a', namespace: 'shop' } },
      { metadata: { name: 'b', namespace: 'shop' } },
      { metadata: { name: 'c', namespace: 'other' } },
    ]);
    const woken: string[] = [];
    wakeOnFreezeChanges({ freezes, canaries, enqueue: (key) => woken.push(key) });
    for (const event of ['add', 'update', 'delete'] as const) freezes.emit(event, freeze('f', 'shop', {}));
    expect(woken).toEqual(['shop/a', 'shop/b', 'shop/a', 'shop/b', 'shop/a', 'shop/b']);
  });
});

describe('label selectors', () => {
  it.each([
    [undefined, { a: '1' }, true],
    [{}, undefined, true],
    [{ matchLabels: { a: '1' } }, { a: '1', b: '2' }, true],
    [{ matchLabels: { a: '1' } }, { a: '2' }, false],
    [{ matchExpressions: [{ key: 'a', operator: 'In' as const, values: ['1', '2'] }] }, { a: '2' }, true],
    [{ matchExpressions: [{ key: 'a', operator: 'NotIn' as const, values: ['1'] }] }, {}, true],
    [{ matchExpressions: [{ key: 'a', operator: 'Exists' as const }] }, {}, false],
    [{ matchExpressions: [{ key: 'a', operator: 'DoesNotExist' as const }] }, { a: '' }, false],
  ])('%j selects %j: %s', (selector, labels, expected) => {
    expect(matchesLabelSelector(selector, labels)).toBe(expected);
  });
});

describe('petrel freeze arguments', () => {
  const now = new Date('2026-12-19T10:00:00Z');

  it('reads --selector as matchLabels and --until as RFC 3339 or a duration from now', () => {
    expect(parseSelector('team=payments, tier=web')).toEqual({ team: 'payments', tier: 'web' });
    expect(() => parseSelector('team')).toThrow('--selector: "team" is not KEY=VALUE');
    expect(parseUntil('2h', now)).toBe('2026-12-19T12:00:00.000Z');
    expect(parseUntil('2027-01-03T00:00:00+01:00', now)).toBe('2027-01-03T00:00:00+01:00');
    expect(
      freezeObject('year-end', 'shop', { selector: 'team=payments', until: '2h', reason: 'why' }, now),
    ).toEqual({
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'ReleaseFreeze',
      metadata: { name: 'year-end', namespace: 'shop' },
      spec: {
        selector: { matchLabels: { team: 'payments' } },
        end: '2026-12-19T12:00:00.000Z',
        reason: 'why',
      },
    });
  });
});
