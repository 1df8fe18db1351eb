import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildCrds, crdFileName, NonStructuralSchemaError, toStructuralSchema } from '../src/api/crd.ts';
import { crdsCommand } from '../src/cli/crds.ts';

const repoCrds = join(import.meta.dirname, '..', 'crds');
const FILES = [
  'petrel.dev_alertproviders.yaml',
  'petrel.dev_canaries.yaml',
  'petrel.dev_metrictemplates.yaml',
  'petrel.dev_releasefreezes.yaml',
];

function capture() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => {
    out += chunk;
  });
  stderr.on('data', (chunk) => {
    err += chunk;
  });
  return { io: { stdout, stderr, stdin: new PassThrough(), env: {} }, out: () => out, err: () => err };
}

type Schema = { [key: string]: unknown };

function walk(node: Schema, path: string, visit: (node: Schema, path: string) => void): void {
  visit(node, path);
  for (const [name, child] of Object.entries((node.properties as Record<string, Schema>) ?? {})) {
    walk(child, `${path}.${name}`, visit);
  }
  if (node.items) walk(node.items as Schema, `${path}[]`, visit);
  if (typeof node.additionalProperties === 'object')
    walk(node.additionalProperties as Schema, `${path}.*`, visit);
}

function versionOf(crd: ReturnType<typeof buildCrds>[number]) {
  return (crd.spec.versions as Schema[])[0] as Schema & {
    schema: { openAPIV3Schema: Schema };
    additionalPrinterColumns?: { name: string; jsonPath: string; type: string }[];
    subresources?: Schema;
  };
}

describe('generated CRDs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'petrel-crds-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('crds/ matches what the schemas generate (run `npm run crds` after changing src/api)', async () => {
    const t = capture();
    expect(await crdsCommand(['--out', dir], t.io)).toBe(0);
    for (const file of FILES) {
      const fresh = await readFile(join(dir, file), 'utf8');
      const committed = await readFile(join(repoCrds, file), 'utf8').catch(() => '<missing>');
      expect(committed, `${file} is stale: run npm run crds`).toBe(fresh);
    }
  });

  it('generation is deterministic', () => {
    expect(JSON.stringify(buildCrds())).toBe(JSON.stringify(buildCrds()));
    expect(buildCrds().map(crdFileName).sort()).toEqual(FILES);
  });

  it('--check reports a stale file with exit 1 and a fresh folder with exit 0', async () => {
    const fresh = capture();
    expect(await crdsCommand(['--check', dir], fresh.io)).toBe(0);
    await writeFile(join(dir, 'petrel.dev_canaries.yaml'), '# edited by hand\n');
    const stale = capture();
    expect(await crdsCommand(['--check', dir], stale.io)).toBe(1);
    expect(stale.err()).toContain('petrel.dev_canaries.yaml');
    expect(stale.err()).toContain('npm run crds');
  });

  it('rejects unknown options with exit 2', async () => {
    const t = capture();
    expect(await crdsCommand(['--bogus'], t.io)).toBe(2);
    expect(t.err()).toContain('usage: petrel crds');
  });

  it.each(FILES)('%s is a valid apiextensions.k8s.io/v1 CustomResourceDefinition', async (file) => {
    const object = parse(await readFile(join(repoCrds, file), 'utf8'));
    expect(() => new CustomResourceDefinition(object).validate()).not.toThrow();
  });

  it.each(buildCrds().map((crd) => [crd.metadata.name, crd] as const))(
    '%s has a structural schema',
    (_name, crd) => {
      const root = versionOf(crd).schema.openAPIV3Schema;
      expect(root.type).toBe('object');
      expect(root.required).toEqual(['spec']);
      expect(root.properties).toMatchObject({ metadata: { type: 'object' } });
      walk(root, '', (node, path) => {
        for (const key of [
          '$ref',
          '$defs',
          'anyOf',
          'oneOf',
          'allOf',
          'not',
          'const',
          'default',
          'propertyNames',
        ]) {
          expect(node, `${path} has ${key}`).not.toHaveProperty(key);
        }
        const special =
          node['x-kubernetes-int-or-string'] === true ||
          node['x-kubernetes-preserve-unknown-fields'] === true;
        expect(typeof node.type === 'string' || special, `${path} has no type`).toBe(true);
        if (node.additionalProperties !== undefined) expect(node.properties, path).toBeUndefined();
      });
    },
  );

  it('Canary has the status subresource, printer columns and short names that do not clash with Flagger', () => {
    const canary = buildCrds().find((crd) => crd.metadata.name === 'canaries.petrel.dev')!;
    const version = versionOf(canary);
    expect(version.subresources).toEqual({ status: {} });
    expect(version.additionalPrinterColumns?.map((c) => [c.name, c.jsonPath])).toEqual([
      ['Status', '.status.phase'],
      ['Weight', '.status.canaryWeight'],
      ['FailedChecks', '.status.failedChecks'],
      ['LastTransitionTime', '.status.lastTransitionTime'],
      ['Action', '.metadata.annotations.petrel\\.dev/action'],
    ]);
    const flaggerNames = [
      'canary',
      'canaries',
      'metrictemplate',
      'metrictemplates',
      'alertprovider',
      'alertproviders',
    ];
    for (const crd of buildCrds()) {
      const names = crd.spec.names as { shortNames: string[] };
      for (const short of names.shortNames) expect(flaggerNames).not.toContain(short);
    }
  });

  it('passes free-form mesh fields through and types int-or-string ports', () => {
    const canary = buildCrds().find((crd) => crd.metadata.name === 'canaries.petrel.dev')!;
    const spec = (versionOf(canary).schema.openAPIV3Schema.properties as Record<string, Schema>).spec!;
    const service = (spec.properties as Record<string, Schema>).service!.properties as Record<string, Schema>;
    const freeForm = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    expect(service.trafficPolicy).toEqual({ description: expect.any(String), ...freeForm });
    expect(service.corsPolicy).toEqual({ description: expect.any(String), ...freeForm });
    expect(service.match).toEqual({ description: expect.any(String), type: 'array', items: freeForm });
    expect(service.targetPort).toEqual({
      description: expect.any(String),
      'x-kubernetes-int-or-string': true,
    });
    expect(service.port).toMatchObject({ type: 'integer', minimum: 1, maximum: 65535 });
  });

  it('refuses to emit a union Kubernetes cannot express', () => {
    expect(() => toStructuralSchema({ anyOf: [{ type: 'string' }, { type: 'boolean' }] }, '.spec.x')).toThrow(
      NonStructuralSchemaError,
    );
    expect(() => toStructuralSchema({ properties: { a: {} } })).toThrow(/every node needs a type/);
  });
});
