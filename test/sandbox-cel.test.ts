import { ApiException, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { celCauses, toCel } from '../dev/sandbox/apiserver/cel.ts';
import { type SandboxApiServer, startApiServer } from '../dev/sandbox/apiserver/index.ts';
import { buildCrds } from '../src/api/crd.ts';
import { type LintReport, lintSource } from '../src/cli/lint.ts';

/**
 * The CRDs' x-kubernetes-validations rules, evaluated by the sandbox API server with CEL as a real API
 * server evaluates them, refuse the same documents lint refuses.
 */

let server: SandboxApiServer;
let kc: KubeConfig;
const NS = 'cel';
const CRD_REF = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' };

beforeAll(async () => {
  server = await startApiServer({ deploymentReadyDelayMs: 30 });
  kc = server.kubeConfig();
  const custom = kc.makeApiClient(CustomObjectsApi);
  for (const crd of buildCrds()) await custom.createClusterCustomObject({ ...CRD_REF, body: crd });
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
});

afterAll(async () => {
  await server?.stop();
});

interface Refusal {
  code: number;
  causes: { field?: string; message?: string; reason?: string }[];
}

async function create(plural: string, body: Record<string, unknown>): Promise<Refusal> {
  try {
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: 'petrel.dev',
      version: 'v1alpha1',
      namespace: NS,
      plural,
      body,
    });
    return { code: 201, causes: [] };
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const status = JSON.parse(String(error.body)) as { details?: { causes?: Refusal['causes'] } };
    return { code: error.code, causes: status.details?.causes ?? [] };
  }
}

function lint(object: Record<string, unknown>): string[] {
  const report: LintReport = { problems: [], unreadable: [], resources: 0, files: 0 };
  lintSource({ name: 'doc.yaml', text: stringify(object) }, report);
  return report.problems;
}

let counter = 0;
function canary(spec: Record<string, unknown>, analysis?: Record<string, unknown>): Record<string, unknown> {
  counter += 1;
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: `c${counter}`, namespace: NS },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      ...(analysis ? { analysis } : {}),
      ...spec,
    },
  };
}

describe('CRD CEL rules in the sandbox API server', () => {
  it('accepts a valid Canary, blue/green on provider kubernetes, and A/B with iterations', async () => {
    expect((await create('canaries', canary({}, { stepWeight: 10, maxWeight: 50 }))).code).toBe(201);
    expect((await create('canaries', canary({ provider: 'kubernetes' }, { iterations: 5 }))).code).toBe(201);
    const ab = canary({}, { iterations: 10, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] });
    expect((await create('canaries', ab)).code).toBe(201);
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    [
      'stepWeight above the default maxWeight',
      canary({}, { stepWeight: 60 }),
      'spec.analysis.stepWeight',
      /stepWeight must not be greater than analysis.maxWeight \(default 50\)/,
    ],
    [
      'stepWeight above maxWeight',
      canary({}, { stepWeight: 30, maxWeight: 20 }),
      'spec.analysis.stepWeight',
      /must not be greater than analysis.maxWeight/,
    ],
    [
      'provider kubernetes with stepWeight',
      canary({ provider: 'kubernetes' }, { stepWeight: 10 }),
      'spec.analysis',
      /provider kubernetes cannot use analysis.stepWeight/,
    ],
    [
      'provider kubernetes with mirror',
      canary({ provider: 'kubernetes' }, { iterations: 3, mirror: true }),
      'spec.analysis',
      /cannot use analysis.stepWeight, stepWeights, mirror or match/,
    ],
    [
      'provider kubernetes without iterations',
      canary({ provider: 'kubernetes' }, { interval: '1m' }),
      'spec.analysis',
      /needs analysis.iterations/,
    ],
    [
      'provider kubernetes with an Istio field',
      canary({ provider: 'kubernetes', service: { port: 80, gateways: ['public'] } }, { iterations: 2 }),
      'spec.service',
      /writes only Services/,
    ],
    [
      'stepWeights with iterations',
      canary({}, { iterations: 3, stepWeights: [10, 20] }),
      'spec.analysis',
      /no effect with analysis.iterations/,
    ],
    [
      'a service name other than the target on Istio',
      canary({ service: { port: 80, name: 'other' } }),
      'spec.service.name',
      /must equal targetRef.name/,
    ],
    [
      'delegation with hosts',
      canary({ service: { port: 80, delegation: true, hosts: ['app.test'] } }),
      'spec.service',
      /must be empty with service.delegation/,
    ],
    [
      'mirrorWeight without mirror',
      canary({}, { mirrorWeight: 10 }),
      'spec.analysis.mirrorWeight',
      /mirrorWeight needs mirror: true/,
    ],
    [
      'stepWeight and stepWeights',
      canary({}, { stepWeight: 10, stepWeights: [5, 10] }),
      'spec.analysis',
      /mutually exclusive/,
    ],
    [
      'a builtin metric with a templateRef',
      canary({}, { metrics: [{ name: 'request-duration', templateRef: { name: 't' } }] }),
      'spec.analysis.metrics[0].templateRef',
      /takes no templateRef/,
    ],
    [
      'a custom metric without a templateRef',
      canary({}, { metrics: [{ name: 'error-rate', thresholdRange: { max: 1 } }] }),
      'spec.analysis.metrics[0].templateRef',
      /any other metric needs one/,
    ],
    [
      'threshold with thresholdRange',
      canary({}, { metrics: [{ name: 'request-success-rate', threshold: 99, thresholdRange: { min: 99 } }] }),
      'spec.analysis.metrics[0].threshold',
      /keep thresholdRange only/,
    ],
    [
      'an empty thresholdRange',
      canary({}, { metrics: [{ name: 'request-success-rate', thresholdRange: {} }] }),
      'spec.analysis.metrics[0].thresholdRange',
      /set min, max or both/,
    ],
    [
      'a thresholdRange with min above max',
      canary({}, { metrics: [{ name: 'request-duration', thresholdRange: { min: 5, max: 1 } }] }),
      'spec.analysis.metrics[0].thresholdRange',
      /min must not be greater than max/,
    ],
  ])('refuses %s, and lint refuses it too', async (_name, body, field, message) => {
    const refusal = await create('canaries', body);
    expect(refusal.code).toBe(422);
    expect(refusal.causes).toContainEqual(
      expect.objectContaining({ field, message: expect.stringMatching(message) }),
    );
    expect(lint(body)).not.toEqual([]);
  });

  it('refuses an AlertProvider with neither address nor secretRef, as lint does', async () => {
    const body = {
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'AlertProvider',
      metadata: { name: 'chat', namespace: NS },
      spec: { type: 'slack', channel: 'ops' },
    };
    const refusal = await create('alertproviders', body);
    expect(refusal.code).toBe(422);
    expect(refusal.causes).toContainEqual(
      expect.objectContaining({ field: 'spec.address', reason: 'FieldValueRequired' }),
    );
    expect(lint(body)).not.toEqual([]);
  });

  it('checks a Canary updated into a refused state, and lets an unchanged one be updated', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const ref = { group: 'petrel.dev', version: 'v1alpha1', namespace: NS, plural: 'canaries' };
    const body = canary({}, { stepWeight: 10 });
    const name = (body.metadata as { name: string }).name;
    await custom.createNamespacedCustomObject({ ...ref, body });
    const stored = (await custom.getNamespacedCustomObject({ ...ref, name })) as Record<string, unknown>;
    const bad = structuredClone(stored) as { spec: { analysis: { stepWeight: number } } };
    bad.spec.analysis.stepWeight = 80;
    await expect(custom.replaceNamespacedCustomObject({ ...ref, name, body: bad })).rejects.toMatchObject({
      code: 422,
    });
    const relabelled = structuredClone(stored) as { metadata: { labels?: Record<string, string> } };
    relabelled.metadata.labels = { team: 'a' };
    await expect(
      custom.replaceNamespacedCustomObject({ ...ref, name, body: relabelled }),
    ).resolves.toBeDefined();
  });
});

describe('CRDs with CEL rules', () => {
  it('refuses a CRD whose rule does not compile, naming the rule', async () => {
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.example.dev' },
      spec: {
        group: 'example.dev',
        scope: 'Namespaced',
        names: { plural: 'widgets', kind: 'Widget' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: {
                    type: 'object',
                    properties: { size: { type: 'integer' } },
                    'x-kubernetes-validations': [{ rule: 'self.size <=', message: 'too big' }],
                  },
                },
              },
            },
          },
        ],
      },
    };
    const custom = kc.makeApiClient(CustomObjectsApi);
    const error = await custom.createClusterCustomObject({ ...CRD_REF, body: crd }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiException);
    expect((error as ApiException<string>).code).toBe(422);
    expect(String((error as ApiException<string>).body)).toContain(
      'spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule',
    );
  });
});

describe('the CEL evaluator', () => {
  const schema = {
    type: 'object',
    properties: {
      name: { type: 'string' },
      replicas: { type: 'integer' },
      ratio: { type: 'number' },
    },
    'x-kubernetes-validations': [
      {
        rule: 'self.replicas <= 3',
        messageExpression: "'replicas ' + string(self.replicas) + ' is above 3'",
      },
      { rule: 'self.name == oldSelf.name', message: 'name is immutable', reason: 'FieldValueForbidden' },
      { rule: '!has(self.ratio) || self.ratio < 1.0', message: 'ratio must be below 1' },
    ],
  };

  it('types integers as CEL ints and other numbers as doubles', () => {
    expect(toCel(schema, { replicas: 2, ratio: 0.5 })).toEqual(
      new Map<string, unknown>([
        ['replicas', 2n],
        ['ratio', 0.5],
      ]),
    );
  });

  it('uses messageExpression, and runs transition rules (oldSelf) only on updates', () => {
    expect(celCauses(schema, { name: 'a', replicas: 5 }, undefined, 'spec')).toEqual([
      {
        reason: 'FieldValueInvalid',
        message: 'Invalid value: "object": replicas 5 is above 3',
        field: 'spec',
      },
    ]);
    expect(celCauses(schema, { name: 'b', replicas: 1 }, { name: 'a', replicas: 1 }, 'spec')).toEqual([
      { reason: 'FieldValueForbidden', message: 'Forbidden: name is immutable', field: 'spec' },
    ]);
    expect(
      celCauses(schema, { name: 'a', replicas: 1, ratio: 0.2 }, { name: 'a', replicas: 1 }, 'spec'),
    ).toEqual([]);
  });

  it('does not re-check a value an update leaves unchanged (validation ratcheting)', () => {
    const stored = { name: 'a', replicas: 9 };
    expect(celCauses(schema, stored, structuredClone(stored), 'spec')).toEqual([]);
  });

  it('reports a rule that cannot be evaluated instead of passing it', () => {
    const broken = { type: 'object', 'x-kubernetes-validations': [{ rule: 'self.missing == 1' }] };
    const causes = celCauses(broken, { present: 1 }, undefined, 'spec');
    expect(causes[0]?.message).toMatch(/rule evaluation error/);
  });
});
