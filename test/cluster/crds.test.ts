// The CRDs and every example on a real kube-apiserver, compared with the sandbox (dev/cluster).
import { readdir, readFile } from 'node:fs/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_CRD_DIRS } from '../../dev/cluster/control-plane.ts';
import { CRD, readCrds } from '../../dev/cluster/setup.ts';
import { type SandboxApiServer, startApiServer } from '../../dev/sandbox/apiserver/index.ts';
import { dryRunCreate, exampleManifests, type Manifest, Paths } from './manifests.ts';
import { kubeRequest, useControlPlane } from './support.ts';

const cluster = useControlPlane();
let sandbox: SandboxApiServer;

beforeAll(async () => {
  const petrelCrds = (await readCrds([DEFAULT_CRD_DIRS[1] as string])).length;
  expect(petrelCrds).toBeGreaterThan(0);
  sandbox = await startApiServer({
    crdFiles: (await readdir(DEFAULT_CRD_DIRS[1] as string))
      .filter((f) => f.startsWith('petrel.dev_') && f.endsWith('.yaml'))
      .map((f) => `${DEFAULT_CRD_DIRS[1]}/${f}`),
  });
}, 60_000);

afterAll(async () => {
  await sandbox?.stop();
});

/** Both servers, named, for comparisons. */
function servers(): [string, KubeConfig][] {
  return [
    ['kube-apiserver', cluster.plane.kubeConfig()],
    ['sandbox', sandbox.kubeConfig()],
  ];
}

async function createNamespace(kc: KubeConfig, name: string): Promise<void> {
  const res = await kubeRequest(kc, 'POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
  });
  if (res.status !== 201 && res.status !== 409)
    throw new Error(`create namespace ${name}: ${res.status} ${res.text}`);
}

interface CrdView {
  metadata: { name: string };
  spec: {
    versions: {
      name: string;
      schema?: unknown;
      subresources?: unknown;
      additionalPrinterColumns?: unknown;
    }[];
  };
  status?: { conditions?: { type: string; status: string; message?: string }[] };
}

describe('the CRDs on a real kube-apiserver', () => {
  it('install as they are: Established, names accepted, structural, stored unchanged', async () => {
    const files = await readCrds(DEFAULT_CRD_DIRS);
    // The Istio VirtualService and DestinationRule, the Gateway API's HTTPRoute, Gateway, GatewayClass
    // and ReferenceGrant, and Petrel's four.
    expect(files.length).toBe(10);
    for (const file of files as unknown as CrdView[]) {
      const res = await kubeRequest(
        cluster.plane.kubeConfig(),
        'GET',
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${file.metadata.name}`,
      );
      expect(res.status, file.metadata.name).toBe(200);
      const live = res.body as CrdView;
      const conditions = Object.fromEntries((live.status?.conditions ?? []).map((c) => [c.type, c]));
      expect(conditions.Established?.status, file.metadata.name).toBe('True');
      expect(conditions.NamesAccepted?.status, file.metadata.name).toBe('True');
      // A non-structural schema is reported as a condition (and would lose pruning and defaults).
      expect(conditions.NonStructuralSchema, JSON.stringify(conditions.NonStructuralSchema)).toBeUndefined();
      for (const version of file.spec.versions) {
        const stored = live.spec.versions.find((v) => v.name === version.name);
        expect(stored?.schema, `${file.metadata.name} ${version.name}`).toEqual(version.schema);
        expect(stored?.subresources).toEqual(version.subresources);
        expect(stored?.additionalPrinterColumns).toEqual(version.additionalPrinterColumns);
      }
    }
    expect(CRD.plural).toBe('customresourcedefinitions');
  });

  it('the status subresource and generation behave as in the sandbox', async () => {
    const canary = parse(
      await readFile(new URL('../../examples/podinfo/canary.yaml', import.meta.url), 'utf8'),
    ) as Manifest['object'];
    const outcomes: Record<string, unknown[]> = {};
    for (const [name, kc] of servers()) {
      await createNamespace(kc, 'status-check');
      const base = '/apis/petrel.dev/v1alpha1/namespaces/status-check/canaries';
      const steps: unknown[] = [];
      const record = (res: { status: number; body: unknown }) => {
        const body = res.body as {
          metadata?: { generation?: number };
          status?: { phase?: string; canaryWeight?: number };
        };
        steps.push({ code: res.status, generation: body.metadata?.generation, status: body.status ?? null });
      };
      record(
        await kubeRequest(kc, 'POST', base, {
          body: {
            ...canary,
            metadata: { name: 'podinfo', namespace: 'status-check' },
            status: { phase: 'Failed' },
          },
        }),
      );
      const merge = 'application/merge-patch+json';
      // status written through the main resource is ignored
      record(
        await kubeRequest(kc, 'PATCH', `${base}/podinfo`, {
          body: { status: { phase: 'Failed' } },
          contentType: merge,
        }),
      );
      // and written through /status, without moving the generation
      record(
        await kubeRequest(kc, 'PATCH', `${base}/podinfo/status`, {
          body: { status: { phase: 'Progressing', canaryWeight: 10 } },
          contentType: merge,
        }),
      );
      // a spec change moves the generation and keeps status
      record(
        await kubeRequest(kc, 'PATCH', `${base}/podinfo`, {
          body: { spec: { progressDeadlineSeconds: 601 } },
          contentType: merge,
        }),
      );
      // an invalid status is refused
      const invalid = await kubeRequest(kc, 'PATCH', `${base}/podinfo/status`, {
        body: { status: { phase: 'Sideways' } },
        contentType: merge,
      });
      steps.push({ code: invalid.status, reason: (invalid.body as { reason?: string }).reason });
      outcomes[name] = steps;
    }
    expect(outcomes['kube-apiserver']).toEqual([
      { code: 201, generation: 1, status: null },
      { code: 200, generation: 1, status: null },
      { code: 200, generation: 1, status: { phase: 'Progressing', canaryWeight: 10 } },
      { code: 200, generation: 2, status: { phase: 'Progressing', canaryWeight: 10 } },
      { code: 422, reason: 'Invalid' },
    ]);
    expect(outcomes.sandbox).toEqual(outcomes['kube-apiserver']);
  });

  it('lists canaries as a table with the printer columns, as the sandbox does', async () => {
    const tables: Record<string, unknown> = {};
    for (const [name, kc] of servers()) {
      const res = await kubeRequest(kc, 'GET', '/apis/petrel.dev/v1alpha1/namespaces/status-check/canaries', {
        accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
      });
      expect(res.status, res.text).toBe(200);
      const table = res.body as {
        columnDefinitions: { name: string; type: string }[];
        rows: { cells: unknown[] }[];
      };
      tables[name] = {
        columns: table.columnDefinitions.map((c) => `${c.name}:${c.type}`),
        // The last cell is a timestamp-derived age; the rest must match exactly.
        cells: table.rows.map((r) => r.cells.slice(0, 4)),
      };
    }
    expect(tables['kube-apiserver']).toEqual({
      columns: [
        'Name:string',
        'Status:string',
        'Weight:integer',
        'FailedChecks:integer',
        'LastTransitionTime:date',
        'Action:string',
      ],
      cells: [['podinfo', 'Progressing', 10, null]],
    });
    expect(tables.sandbox).toEqual(tables['kube-apiserver']);
  });

  it('accepts or refuses every example and lint fixture exactly as the sandbox does', async () => {
    const manifests = await exampleManifests();
    expect(manifests.length).toBeGreaterThan(10);
    const paths = new Paths(cluster.plane.kubeConfig());
    // Cluster-scoped objects (the examples' Namespace) first, then the namespaces the rest live in.
    const clusterScoped = manifests.filter((m) => m.object.kind === 'Namespace');
    const namespaced = manifests.filter((m) => m.object.kind !== 'Namespace');
    const results: { source: string; kind: string; real: string; sandbox: string; same: boolean }[] = [];
    const compare = async (m: Manifest) => {
      const [[, realKc], [, sandboxKc]] = servers() as [[string, KubeConfig], [string, KubeConfig]];
      const real = await dryRunCreate(realKc, paths, m.object);
      const fake = await dryRunCreate(sandboxKc, paths, m.object);
      const describe = (v: typeof real) =>
        v.accepted ? `accepted ${v.status}` : `refused ${v.status} ${v.reason}: ${v.message}`;
      results.push({
        source: m.source,
        kind: m.object.kind ?? '',
        real: describe(real),
        sandbox: describe(fake),
        // Same status code; a refusal as Invalid also with the same field errors. (An unserved group
        // is a plain-text 404 from kube-apiserver and a NotFound Status from the sandbox.)
        same:
          real.status === fake.status &&
          (real.reason !== 'Invalid' || (fake.reason === 'Invalid' && real.message === fake.message)),
      });
    };
    for (const m of clusterScoped) await compare(m);
    const namespaces = new Set(
      namespaced.map((m) => m.object.metadata.namespace).filter((n): n is string => !!n),
    );
    for (const [, kc] of servers()) for (const ns of namespaces) await createNamespace(kc, ns);
    for (const m of namespaced) await compare(m);

    expect(results.filter((r) => !r.same).map((r) => JSON.stringify(r))).toEqual([]);
    // The comparison is not vacuous: the podinfo example is accepted, the zero step weight refused.
    const verdict = (source: string) => results.find((r) => r.source === source)?.real;
    expect(verdict('examples/podinfo/canary.yaml#0')).toMatch(/^accepted 201/);
    expect(verdict('test/fixtures/lint/step-weight-zero.yaml#1')).toMatch(
      /^refused 422 Invalid: .*stepWeight/,
    );
  });
});
