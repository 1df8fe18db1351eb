import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../src/kube/types.ts';
import { kubeRequest } from './support.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Manifest {
  /** `examples/podinfo/canary.yaml#0` */
  readonly source: string;
  readonly object: KubeObject & { metadata: { name?: string; namespace?: string } };
}

async function yamlFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await yamlFiles(path)));
    else if (/\.ya?ml$/.test(entry.name)) out.push(path);
  }
  return out.sort();
}

/**
 * Every object in examples/ and test/fixtures/lint/ (documents that are not YAML, or not objects,
 * are left out: the API server never sees them).
 */
export async function exampleManifests(): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const dir of ['examples', 'test/fixtures/lint']) {
    for (const file of await yamlFiles(join(ROOT, dir))) {
      const docs = parseAllDocuments(await readFile(file, 'utf8'));
      docs.forEach((doc, index) => {
        if (doc.errors.length > 0) return;
        const object = doc.toJS() as Manifest['object'] | null;
        if (object && typeof object === 'object' && object.kind) {
          out.push({
            source: `${relative(ROOT, file)}#${index}`,
            object: { ...object, metadata: object.metadata ?? {} },
          });
        }
      });
    }
  }
  return out;
}

interface Discovered {
  plural: string;
  namespaced: boolean;
}

/** REST paths from one server's discovery; a kind it does not serve gets a conventional guess. */
export class Paths {
  private readonly cache = new Map<string, Map<string, Discovered>>();

  constructor(private readonly kubeConfig: KubeConfig) {}

  private async discover(apiVersion: string): Promise<Map<string, Discovered>> {
    let kinds = this.cache.get(apiVersion);
    if (!kinds) {
      kinds = new Map();
      const prefix = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      const res = await kubeRequest(this.kubeConfig, 'GET', prefix);
      const resources =
        res.status === 200
          ? ((res.body as { resources?: { name: string; kind: string; namespaced: boolean }[] }).resources ??
            [])
          : [];
      for (const r of resources)
        if (!r.name.includes('/')) kinds.set(r.kind, { plural: r.name, namespaced: r.namespaced });
      this.cache.set(apiVersion, kinds);
    }
    return kinds;
  }

  /** The collection URL an object is created in. */
  async collection(object: Manifest['object']): Promise<string> {
    const apiVersion = object.apiVersion ?? 'v1';
    const kind = object.kind ?? '';
    const found = (await this.discover(apiVersion)).get(kind) ?? {
      plural: `${kind.toLowerCase()}s`,
      namespaced: object.metadata.namespace !== undefined,
    };
    const prefix = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const namespace = object.metadata.namespace ?? 'default';
    return found.namespaced
      ? `${prefix}/namespaces/${namespace}/${found.plural}`
      : `${prefix}/${found.plural}`;
  }
}

export interface Verdict {
  readonly accepted: boolean;
  readonly status: number;
  readonly reason: string;
  readonly message: string;
}

/** What the server says to creating `object` (a dry run: nothing is stored). */
export async function dryRunCreate(
  kubeConfig: KubeConfig,
  paths: Paths,
  object: Manifest['object'],
): Promise<Verdict> {
  const res = await kubeRequest(kubeConfig, 'POST', `${await paths.collection(object)}?dryRun=All`, {
    body: object,
  });
  const status = res.body as { reason?: string; message?: string };
  return {
    accepted: res.status >= 200 && res.status < 300,
    status: res.status,
    reason: status?.reason ?? '',
    message: status?.message ?? res.text.slice(0, 300),
  };
}
