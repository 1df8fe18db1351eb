import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { createKubeApi } from '../../src/kube/client.ts';
import { isKubeApiError } from '../../src/kube/errors.ts';
import type { ResourceKind } from '../../src/kube/resources.ts';
import type { KubeObject } from '../../src/kube/types.ts';
import { FAKE_NODE_ANNOTATION } from './kwok-stages.ts';

export const NODE: ResourceKind = {
  group: '',
  version: 'v1',
  plural: 'nodes',
  kind: 'Node',
  namespaced: false,
};
export const CRD: ResourceKind = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  plural: 'customresourcedefinitions',
  kind: 'CustomResourceDefinition',
  namespaced: false,
};

interface WithConditions extends KubeObject {
  status?: { conditions?: { type: string; status: string }[] };
}

/** A step of setting up the control plane did not finish in time. */
export class SetupTimeoutError extends Error {
  override readonly name = 'SetupTimeoutError';
  readonly code = 'CLUSTER_SETUP_TIMEOUT';
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function conditionTrue(object: WithConditions, type: string): boolean {
  return object.status?.conditions?.some((c) => c.type === type && c.status === 'True') ?? false;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new SetupTimeoutError(`${what} after ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}

/** Creates `count` nodes for KWOK to manage and waits until every one is Ready. */
export async function createFakeNodes(
  kubeConfig: KubeConfig,
  count: number,
  timeoutMs: number,
): Promise<void> {
  const api = createKubeApi({ kubeConfig, userAgent: 'petrel-cluster' });
  try {
    const names = Array.from({ length: count }, (_, i) => `kwok-node-${i}`);
    for (const name of names) {
      await api.create(NODE, {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          annotations: { [FAKE_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', type: 'kwok' },
        },
      });
    }
    await waitFor(
      `the fake nodes were not Ready`,
      async () => {
        const nodes = await api.list<WithConditions>(NODE);
        return nodes.items.filter((n) => conditionTrue(n, 'Ready')).length >= count;
      },
      timeoutMs,
    );
  } finally {
    api.close();
  }
}

/** Every CustomResourceDefinition in the *.yaml files of `dirs`, in file order. */
export async function readCrds(dirs: readonly string[]): Promise<KubeObject[]> {
  const crds: KubeObject[] = [];
  for (const dir of dirs) {
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort()) {
      for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
        const object = doc.toJS() as KubeObject | null;
        if (object?.kind === 'CustomResourceDefinition') crds.push(object);
      }
    }
  }
  return crds;
}

/** Creates the CRDs as they are and waits until each is Established. */
export async function installCrds(
  kubeConfig: KubeConfig,
  dirs: readonly string[],
  timeoutMs: number,
): Promise<string[]> {
  const api = createKubeApi({ kubeConfig, userAgent: 'petrel-cluster' });
  try {
    const names: string[] = [];
    for (const crd of await readCrds(dirs)) {
      try {
        await api.create(CRD, crd);
      } catch (error) {
        if (!isKubeApiError(error, 'ALREADY_EXISTS')) throw error;
      }
      names.push(crd.metadata?.name as string);
    }
    for (const name of names) {
      await waitFor(
        `CRD ${name} was not Established`,
        async () => conditionTrue(await api.get<WithConditions>({ resource: CRD, name }), 'Established'),
        timeoutMs,
      );
    }
    return names;
  } finally {
    api.close();
  }
}
