import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildCrds, type Canary, checkPromQLTemplate, validatePetrelResource } from '../src/api/index.ts';
import { validateAgainstCrdSchema } from '../src/api/openapi-validate.ts';

const podinfoDir = join(import.meta.dirname, '..', 'examples', 'podinfo');

// Every non-Petrel kind used in examples/podinfo must be listed here so it gets validated too.
const kubernetesModels: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

async function loadExamples(): Promise<{ file: string; object: Manifest }[]> {
  const files = (await readdir(podinfoDir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  const out: { file: string; object: Manifest }[] = [];
  for (const file of files) {
    for (const document of parseAllDocuments(await readFile(join(podinfoDir, file), 'utf8')) as never[]) {
      const object = (document as { toJS(): unknown }).toJS() as Manifest | null;
      if (object) out.push({ file, object });
    }
  }
  return out;
}

const crdSchemas = new Map(
  buildCrds().map((crd) => {
    const names = crd.spec.names as { kind: string };
    const version = (crd.spec.versions as { schema: { openAPIV3Schema: Record<string, unknown> } }[])[0]!;
    return [names.kind, version.schema.openAPIV3Schema] as const;
  }),
);

describe('examples/podinfo', () => {
  it('holds the namespace, deployment, canary, metric templates and alert provider', async () => {
    const kinds = (await loadExamples()).map(({ object }) => object.kind).sort();
    expect(kinds).toEqual(
      expect.arrayContaining(['Namespace', 'Deployment', 'Canary', 'MetricTemplate', 'AlertProvider']),
    );
  });

  it('Kubernetes objects are valid for their official schemas', async () => {
    for (const { file, object } of await loadExamples()) {
      if (object.apiVersion.startsWith('petrel.dev/')) continue;
      const Model = kubernetesModels[`${object.apiVersion}/${object.kind}`];
      expect(Model, `${file}: add ${object.apiVersion}/${object.kind} to kubernetesModels`).toBeDefined();
      expect(() => new Model!(object as never).validate(), file).not.toThrow();
    }
  });

  it('Petrel resources pass the zod schemas and the generated CRD schemas without pruned fields', async () => {
    for (const { file, object } of await loadExamples()) {
      if (!object.apiVersion.startsWith('petrel.dev/')) continue;
      const result = validatePetrelResource(object);
      expect(result.ok ? [] : result.issues, file).toEqual([]);
      expect(validateAgainstCrdSchema(crdSchemas.get(object.kind)!, object), file).toEqual([]);
      if (object.kind === 'MetricTemplate') {
        expect(
          checkPromQLTemplate((object as unknown as { spec: { query: string } }).spec.query),
          file,
        ).toEqual([]);
      }
    }
  });

  it('the canary uses both builtin checks and refers only to resources the examples define', async () => {
    const examples = await loadExamples();
    const canaryObject = examples.find(({ object }) => object.kind === 'Canary')!.object;
    const result = validatePetrelResource(canaryObject);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    const canary = result.value as Canary;
    const defined = new Set(
      examples.map(({ object }) => `${object.kind}/${object.metadata.namespace}/${object.metadata.name}`),
    );
    const namespace = canary.metadata.namespace;
    expect(canary.spec.provider).toBe('istio');
    expect(canary.spec.analysis.metrics.map((m) => m.name)).toEqual(
      expect.arrayContaining(['request-success-rate', 'request-duration']),
    );
    for (const metric of canary.spec.analysis.metrics) {
      if (metric.templateRef) {
        expect(defined).toContain(
          `MetricTemplate/${metric.templateRef.namespace ?? namespace}/${metric.templateRef.name}`,
        );
      }
    }
    for (const alert of canary.spec.analysis.alerts) {
      expect(defined).toContain(
        `AlertProvider/${alert.providerRef.namespace ?? namespace}/${alert.providerRef.name}`,
      );
    }
    expect(defined).toContain(`Deployment/${namespace}/${canary.spec.targetRef.name}`);
    expect(defined).toContain(`Namespace/undefined/${namespace}`);
  });
});
