import { describe, expect, it } from 'vitest';
import { ApiError } from '../dev/sandbox/apiserver/errors.ts';
import { applyJsonPatch, applyMergePatch } from '../dev/sandbox/apiserver/patch.ts';
import { sortVersions } from '../dev/sandbox/apiserver/resources.ts';
import { validateAgainstSchema } from '../dev/sandbox/apiserver/schema.ts';
import { parseFieldSelector, parseLabelSelector } from '../dev/sandbox/apiserver/selectors.ts';
import { applyStrategicMergePatch } from '../dev/sandbox/apiserver/strategic-merge.ts';
import { humanDuration, simpleJsonPath } from '../dev/sandbox/apiserver/table.ts';
import type { OpenApiSchema } from '../dev/sandbox/apiserver/types.ts';

describe('strategic merge patch', () => {
  const deployment = {
    spec: {
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } },
      template: {
        metadata: { finalizers: ['a'] },
        spec: {
          containers: [
            {
              name: 'app',
              image: 'app:1',
              ports: [{ containerPort: 80, name: 'http' }],
              env: [{ name: 'A', value: '1' }],
            },
            { name: 'side', image: 'side:1' },
          ],
          volumes: [{ name: 'v1', emptyDir: {} }],
          tolerations: [{ key: 'x' }],
        },
      },
    },
  };

  it('merges keyed lists, replaces unkeyed lists and deletes nulls', () => {
    const result = applyStrategicMergePatch(deployment, {
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'app',
                ports: [{ containerPort: 8080, name: 'alt' }],
                env: [{ name: 'A', value: null }],
              },
            ],
            tolerations: [{ key: 'y' }],
          },
        },
      },
    }) as typeof deployment;
    const [app, side] = result.spec.template.spec.containers;
    expect(app?.image).toBe('app:1');
    expect(app?.ports?.map((p) => p.containerPort)).toEqual([80, 8080]);
    expect(app?.env).toEqual([{ name: 'A' }]);
    expect(side?.name).toBe('side');
    expect(result.spec.template.spec.tolerations).toEqual([{ key: 'y' }]);
  });

  it('honours $patch delete/replace, $retainKeys, $setElementOrder and $deleteFromPrimitiveList', () => {
    const result = applyStrategicMergePatch(deployment, {
      spec: {
        strategy: { $retainKeys: ['type'], type: 'Recreate' },
        template: {
          metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] },
          spec: {
            $setElementOrder: undefined,
            '$setElementOrder/containers': [{ name: 'side' }, { name: 'app' }],
            containers: [
              { name: 'side', $patch: 'delete' },
              { name: 'new', image: 'new:1' },
            ],
            volumes: [{ $patch: 'replace' }, { name: 'v2', emptyDir: {} }],
          },
        },
      },
    }) as {
      spec: {
        strategy: unknown;
        template: {
          metadata: { finalizers: string[] };
          spec: { containers: { name: string }[]; volumes: { name: string }[] };
        };
      };
    };
    expect(result.spec.strategy).toEqual({ type: 'Recreate' });
    expect(result.spec.template.metadata.finalizers).toEqual([]);
    expect(result.spec.template.spec.containers.map((c) => c.name)).toEqual(['app', 'new']);
    expect(result.spec.template.spec.volumes.map((v) => v.name)).toEqual(['v2']);
  });

  it('merges Service ports by port and finalizers as a set', () => {
    const svc = { metadata: { finalizers: ['x'] }, spec: { ports: [{ port: 80, targetPort: 8080 }] } };
    const result = applyStrategicMergePatch(svc, {
      metadata: { finalizers: ['y', 'x'] },
      spec: { ports: [{ port: 80, name: 'http' }, { port: 443 }] },
    });
    expect(result).toEqual({
      metadata: { finalizers: ['x', 'y'] },
      spec: { ports: [{ port: 80, targetPort: 8080, name: 'http' }, { port: 443 }] },
    });
  });
});

describe('JSON and merge patches', () => {
  it('applies add, remove, replace, move, copy and test with escaped pointers', () => {
    const doc = { a: { 'b/c': 1, 'd~e': [1, 2] } };
    const out = applyJsonPatch(doc, [
      { op: 'add', path: '/a/d~0e/1', value: 9 },
      { op: 'remove', path: '/a/d~0e/0' },
      { op: 'replace', path: '/a/b~1c', value: 2 },
      { op: 'copy', from: '/a/b~1c', path: '/x' },
      { op: 'move', from: '/x', path: '/y' },
      { op: 'test', path: '/y', value: 2 },
    ]);
    expect(out).toEqual({ a: { 'b/c': 2, 'd~e': [9, 2] }, y: 2 });
    expect(doc.a['d~e']).toEqual([1, 2]);
  });

  it('fails with 422 on a missing path or a failed test, 400 on a malformed operation', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error instanceof ApiError ? error.code : -1;
      }
      return 0;
    };
    expect(code(() => applyJsonPatch({}, [{ op: 'replace', path: '/nope', value: 1 }]))).toBe(422);
    expect(code(() => applyJsonPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 2 }]))).toBe(422);
    expect(code(() => applyJsonPatch({}, [{ op: 'frob', path: '/a' }]))).toBe(400);
    expect(code(() => applyJsonPatch({}, { op: 'add' }))).toBe(400);
  });

  it('merge patch replaces lists and deletes nulls (RFC 7386)', () => {
    expect(applyMergePatch({ a: [1, 2], b: { c: 1, d: 2 } }, { a: [3], b: { c: null } })).toEqual({
      a: [3],
      b: { d: 2 },
    });
  });
});

describe('selectors', () => {
  it('parses set-based and equality label selectors', () => {
    const match = parseLabelSelector('app in (web, api),tier!=db,!legacy,env');
    expect(match({ app: 'web', env: 'prod' })).toBe(true);
    expect(match({ app: 'web', env: 'prod', tier: 'db' })).toBe(false);
    expect(match({ app: 'web', env: 'prod', legacy: 'yes' })).toBe(false);
    expect(match({ app: 'web' })).toBe(false);
    expect(parseLabelSelector('a notin (x)')({})).toBe(true);
    expect(() => parseLabelSelector('a=b c')).toThrow(ApiError);
  });

  it('supports metadata.name and the fields a kind declares, and rejects others', () => {
    const byName = parseFieldSelector('metadata.name=x,metadata.namespace!=y', []);
    expect(byName({ metadata: { name: 'x', namespace: 'z' } })).toBe(true);
    expect(byName({ metadata: { name: 'x', namespace: 'y' } })).toBe(false);
    expect(
      parseFieldSelector('involvedObject.name=p', ['involvedObject.name'])({
        metadata: {},
        involvedObject: { name: 'p' },
      }),
    ).toBe(true);
    expect(() => parseFieldSelector('spec.x=1', [])).toThrow('field label not supported: spec.x');
  });
});

describe('CRD schema validation', () => {
  const schema: OpenApiSchema = {
    type: 'object',
    required: ['spec'],
    properties: {
      spec: {
        type: 'object',
        required: ['port'],
        properties: {
          port: { type: 'integer', minimum: 1, maximum: 65535 },
          name: { type: 'string', pattern: '^[a-z]+$', maxLength: 5 },
          target: { 'x-kubernetes-int-or-string': true },
          weights: { type: 'array', maxItems: 2, items: { type: 'integer' } },
          labels: { type: 'object', additionalProperties: { type: 'string' } },
          free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
          mode: { type: 'string', default: 'auto', enum: ['auto', 'manual'] },
          optional: { type: 'string', nullable: true },
        },
      },
    },
  };

  it('reports every problem with its field path and reason', () => {
    const result = validateAgainstSchema(schema, {
      metadata: { name: 'x' },
      spec: { port: 70000, name: 'ABCDEFG', target: true, weights: [1, 'a', 3], labels: { a: 1 } },
    });
    expect(result.causes.map((c) => `${c.field} ${c.reason}`).sort()).toEqual([
      'spec.labels.a FieldValueInvalid',
      'spec.name FieldValueInvalid',
      'spec.name FieldValueTooLong',
      'spec.port FieldValueInvalid',
      'spec.target FieldValueInvalid',
      'spec.weights FieldValueTooMany',
      'spec.weights[1] FieldValueInvalid',
    ]);
    expect(result.causes.find((c) => c.field === 'spec.port')?.message).toBe(
      'Invalid value: 70000: spec.port in body should be less than or equal to 65535',
    );
  });

  it('prunes unknown fields, keeps preserved ones, applies defaults and accepts null when nullable', () => {
    const result = validateAgainstSchema(schema, {
      apiVersion: 'x/v1',
      kind: 'X',
      metadata: { name: 'x', labels: { keep: 'me' } },
      spec: { port: 80, target: 'http', extra: 1, free: { any: { thing: true } }, optional: null },
      stray: true,
    });
    expect(result.causes).toEqual([]);
    expect(result.unknownFields.sort()).toEqual(['spec.extra', 'stray']);
    expect(result.value).toEqual({
      apiVersion: 'x/v1',
      kind: 'X',
      metadata: { name: 'x', labels: { keep: 'me' } },
      spec: { port: 80, target: 'http', free: { any: { thing: true } }, optional: null, mode: 'auto' },
    });
  });

  it('requires required fields', () => {
    const result = validateAgainstSchema(schema, { metadata: { name: 'x' }, spec: {} });
    expect(result.causes).toEqual([
      { reason: 'FieldValueRequired', message: 'Required value', field: 'spec.port' },
    ]);
  });
});

describe('helpers', () => {
  it('orders versions by Kubernetes priority', () => {
    expect(sortVersions(['v1alpha1', 'v1beta2', 'v2', 'v1', 'v1beta1', 'foo'])).toEqual([
      'v2',
      'v1',
      'v1beta2',
      'v1beta1',
      'v1alpha1',
      'foo',
    ]);
  });

  it('formats ages like kubectl and evaluates printer-column paths', () => {
    expect(humanDuration(5_000)).toBe('5s');
    expect(humanDuration(150_000)).toBe('2m30s');
    expect(humanDuration(45 * 60_000)).toBe('45m');
    expect(humanDuration(5 * 3600_000 + 3 * 60_000)).toBe('5h3m');
    expect(humanDuration(3 * 86_400_000)).toBe('3d');
    expect(simpleJsonPath({ spec: { ports: [{ port: 80 }] } }, '.spec.ports[0].port')).toBe(80);
    expect(simpleJsonPath({}, '.status.phase')).toBeUndefined();
  });
});
