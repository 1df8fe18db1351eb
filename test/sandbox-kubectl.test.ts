import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { type SandboxApiServer, startApiServer } from '../dev/sandbox/apiserver/index.ts';
import { kubectlPath } from './support/tools.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CRDS = join(ROOT, 'crds');
const EXAMPLES = join(ROOT, 'examples');

interface Manifest {
  file: string;
  kind: string;
  name: string;
  namespace?: string;
  object: Record<string, unknown>;
}

async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

async function manifests(dir: string): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const file of await yamlFiles(dir)) {
    for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
      const object = doc.toJS() as Record<string, unknown> | null;
      if (!object?.kind) continue;
      const meta = object.metadata as { name: string; namespace?: string };
      out.push({ file, kind: String(object.kind), name: meta.name, namespace: meta.namespace, object });
    }
  }
  return out;
}

let server: SandboxApiServer;
let kubectl: string;
let home: string;

function run(
  args: string[],
  target: SandboxApiServer = server,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      kubectl,
      ['--cache-dir', join(home, 'cache'), ...args],
      { env: { PATH: process.env.PATH, HOME: home, KUBECONFIG: target.kubeconfigPath }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function ok(args: string[]): Promise<string> {
  const result = await run(args);
  expect(result.stderr, `kubectl ${args.join(' ')}`).not.toMatch(/error/i);
  expect(result.code, `kubectl ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

beforeAll(async () => {
  [kubectl, server, home] = await Promise.all([
    kubectlPath(),
    startApiServer({ deploymentReadyDelayMs: 50 }),
    mkdtemp(join(tmpdir(), 'petrel-kubectl-')),
  ]);
});

afterAll(async () => {
  await server?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

describe('sandbox API server driven by a real kubectl v1.33', () => {
  it('applies the CRDs and the examples, lists, shows, reapplies and deletes canaries', async () => {
    const crdOut = await ok(['apply', '-f', CRDS]);
    for (const crd of await manifests(CRDS))
      expect(crdOut).toContain(`customresourcedefinition.apiextensions.k8s.io/${crd.name} created`);

    // examples/ also holds manifests for tools a cluster may not run (Argo CD, Flux): apply every
    // file whose kinds this cluster serves, the way an operator without those tools would.
    const crdKinds = (await manifests(CRDS)).map(
      (m) => (m.object.spec as { names: { kind: string } }).names.kind,
    );
    const served = new Set([
      ...crdKinds,
      'Namespace',
      'Service',
      'ConfigMap',
      'Secret',
      'Deployment',
      'HorizontalPodAutoscaler',
    ]);
    const all = await manifests(EXAMPLES);
    const files = [...new Set(all.map((m) => m.file))].filter((f) =>
      all.every((m) => m.file !== f || served.has(m.kind)),
    );
    const examples = all.filter((m) => files.includes(m.file));
    const canaries = examples.filter((m) => m.kind === 'Canary');
    expect(canaries.length).toBeGreaterThan(0);
    // Namespaces first, as on a real cluster: files are applied in name order and objects in a
    // namespace that does not exist yet are refused. Namespaces no example defines are created.
    const defined = examples.filter((m) => m.kind === 'Namespace').map((m) => m.name);
    const needed = [
      ...new Set(examples.map((m) => m.namespace).filter((n): n is string => !!n && !defined.includes(n))),
    ];
    for (const name of needed) {
      const file = join(home, `namespace-${name}.yaml`);
      await writeFile(file, stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
      await ok(['apply', '-f', file]);
    }
    const namespaceFiles = [...new Set(examples.filter((m) => m.kind === 'Namespace').map((m) => m.file))];
    for (const file of namespaceFiles) await ok(['apply', '-f', file]);
    const applied = await ok(['apply', ...files.flatMap((f) => ['-f', f])]);
    for (const m of examples.filter((e) => e.kind !== 'Namespace'))
      expect(applied, relative(ROOT, m.file)).toMatch(new RegExp(`/${m.name} created`));

    const table = await ok(['get', 'canaries', '-A']);
    const [header, ...rows] = table.trim().split('\n');
    expect(header).toMatch(/^NAMESPACE\s+NAME\s+STATUS\s+WEIGHT\s+FAILEDCHECKS\s+LASTTRANSITIONTIME/);
    for (const c of canaries) expect(rows.some((r) => r.split(/\s+/)[1] === c.name)).toBe(true);

    const first = canaries[0]!;
    const ns = first.namespace ?? 'default';
    const shown = parse(await ok(['get', 'canary', first.name, '-n', ns, '-o', 'yaml'])) as {
      kind: string;
      metadata: { name: string; generation: number; annotations: Record<string, string> };
      spec: Record<string, unknown>;
    };
    expect(shown.kind).toBe('Canary');
    expect(shown.metadata.name).toBe(first.name);
    expect(shown.metadata.generation).toBe(1);
    expect(shown.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toBeTruthy();
    expect(shown.spec.targetRef).toEqual((first.object.spec as Record<string, unknown>).targetRef);

    // A second apply of a changed manifest goes through the three-way merge patch path.
    const changed = structuredClone(first.object) as { spec: Record<string, unknown> };
    changed.spec.skipAnalysis = true;
    const changedFile = join(home, 'changed.yaml');
    await writeFile(changedFile, JSON.stringify(changed));
    expect(await ok(['apply', '-f', changedFile])).toContain(`canary.petrel.dev/${first.name} configured`);
    expect(await ok(['apply', '-f', changedFile])).toContain(`canary.petrel.dev/${first.name} unchanged`);
    const generation = await ok([
      'get',
      'canary',
      first.name,
      '-n',
      ns,
      '-o',
      'jsonpath={.metadata.generation} {.spec.skipAnalysis}',
    ]);
    expect(generation).toBe('2 true');

    expect(await ok(['delete', 'canary', first.name, '-n', ns])).toContain(
      `canary.petrel.dev "${first.name}" deleted`,
    );
    const missing = await run(['get', 'canary', first.name, '-n', ns]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`canaries.petrel.dev "${first.name}" not found`);
  });

  it('follows a Deployment rollout, scales it and waits for conditions', async () => {
    // Manifests rather than `kubectl create namespace|deployment`: those generators send protobuf
    // bodies, which the sandbox does not decode (it answers 415 like a server without the codec).
    const manifest = join(home, 'web.yaml');
    const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kubectl-deploy' } };
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'kubectl-deploy' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'nginx', image: 'nginx:1' }] },
        },
      },
    };
    await writeFile(manifest, `${stringify(namespace)}---\n${stringify(deployment)}`);
    expect(await ok(['apply', '-f', manifest])).toContain('deployment.apps/web created');
    expect(
      await ok(['rollout', 'status', 'deployment/web', '-n', 'kubectl-deploy', '--timeout=20s']),
    ).toContain('successfully rolled out');
    // Client-side apply of a changed Deployment: a three-way strategic merge patch computed from
    // the last-applied-configuration annotation (containers merged by name, $setElementOrder).
    const changed = structuredClone(deployment) as typeof deployment & {
      spec: { template: { spec: { containers: Record<string, unknown>[] } } };
    };
    changed.spec.template.spec.containers = [
      { name: 'nginx', image: 'nginx:2', env: [{ name: 'MODE', value: 'canary' }] },
      { name: 'sidecar', image: 'envoy:1' },
    ];
    await writeFile(manifest, `${stringify(namespace)}---\n${stringify(changed)}`);
    expect(await ok(['apply', '-f', manifest])).toContain('deployment.apps/web configured');
    const applied = parse(await ok(['get', 'deployment', 'web', '-n', 'kubectl-deploy', '-o', 'yaml'])) as {
      metadata: { generation: number; annotations: Record<string, string> };
      spec: { template: { spec: { containers: { name: string; image: string }[] } } };
    };
    expect(applied.metadata.generation).toBe(2);
    expect(applied.spec.template.spec.containers.map((c) => `${c.name}=${c.image}`)).toEqual([
      'nginx=nginx:2',
      'sidecar=envoy:1',
    ]);
    expect(
      JSON.parse(applied.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']!).spec
        .template.spec.containers,
    ).toHaveLength(2);
    changed.spec.template.spec.containers = [{ name: 'nginx', image: 'nginx:1' }];
    await writeFile(manifest, `${stringify(namespace)}---\n${stringify(changed)}`);
    await ok(['apply', '-f', manifest]);
    await ok(['rollout', 'status', 'deployment/web', '-n', 'kubectl-deploy', '--timeout=20s']);
    await ok(['set', 'image', 'deployment/web', '-n', 'kubectl-deploy', 'nginx=nginx:2']);
    await ok(['rollout', 'status', 'deployment/web', '-n', 'kubectl-deploy', '--timeout=20s']);
    await ok(['scale', 'deployment/web', '-n', 'kubectl-deploy', '--replicas=3']);
    await ok([
      'wait',
      '--for=condition=Available',
      'deployment/web',
      '-n',
      'kubectl-deploy',
      '--timeout=20s',
    ]);
    const table = await ok(['get', 'deployment', 'web', '-n', 'kubectl-deploy']);
    expect(table).toMatch(/web\s+3\/3\s+3\s+3\s+/);
    const image = await ok([
      'get',
      'deployment',
      'web',
      '-n',
      'kubectl-deploy',
      '-o',
      'jsonpath={.spec.template.spec.containers[0].image}',
    ]);
    expect(image).toBe('nginx:2');
    await ok(['delete', 'namespace', 'kubectl-deploy']);
    const gone = await run(['get', 'deployment', 'web', '-n', 'kubectl-deploy']);
    expect(gone.code).toBe(1);
  });

  it("accepts the protobuf bodies of kubectl's create namespace/configmap/secret generators", async () => {
    expect(await ok(['create', 'namespace', 'imperative'])).toContain('namespace/imperative created');
    await ok([
      'create',
      'configmap',
      'settings',
      '-n',
      'imperative',
      '--from-literal=mode=fast',
      '--from-literal=level=3',
    ]);
    await ok([
      'create',
      'secret',
      'generic',
      'slack',
      '-n',
      'imperative',
      '--from-literal=address=https://hooks.example/x',
    ]);
    await ok(['label', 'configmap', 'settings', '-n', 'imperative', 'team=delivery']);
    const data = await ok([
      'get',
      'configmap',
      'settings',
      '-n',
      'imperative',
      '-o',
      'jsonpath={.data.mode} {.data.level} {.metadata.labels.team}',
    ]);
    expect(data).toBe('fast 3 delivery');
    const secret = await ok([
      'get',
      'secret',
      'slack',
      '-n',
      'imperative',
      '-o',
      'jsonpath={.type} {.data.address}',
    ]);
    expect(secret).toBe(`Opaque ${Buffer.from('https://hooks.example/x').toString('base64')}`);
    const unsupported = await run(['create', 'deployment', 'web', '-n', 'imperative', '--image=nginx']);
    expect(unsupported.code).toBe(1);
    expect(unsupported.stderr).toContain('the body of the request was in an unknown format');
  });
  it("runs the README's first command on an empty cluster: crds/, then examples/podinfo/ in kubectl's file order", async () => {
    // A cluster of its own: nothing applied before, as on first contact.
    const fresh = await startApiServer({ deploymentReadyDelayMs: 50 });
    try {
      const first = await run(['apply', '-f', CRDS], fresh);
      expect(first.code, first.stderr).toBe(0);
      const podinfo = join(EXAMPLES, 'podinfo');
      const applied = await run(['apply', '-f', `${podinfo}/`], fresh);
      expect(applied.stderr).toBe('');
      expect(applied.code).toBe(0);
      // kubectl applies the files of a folder in name order: the namespace file comes first.
      const lines = applied.stdout.trim().split('\n');
      expect(lines[0]).toBe('namespace/test created');
      for (const m of await manifests(podinfo))
        expect(applied.stdout, relative(ROOT, m.file)).toMatch(new RegExp(`/${m.name} created`));

      // `petrel pause` sets this annotation; the phase stays Progressing, the Action column shows it.
      const paused = await run(
        ['annotate', 'canary', 'podinfo', '-n', 'test', 'petrel.dev/action=pause'],
        fresh,
      );
      expect(paused.code, paused.stderr).toBe(0);
      const listed = await run(['get', 'canaries', '-n', 'test'], fresh);
      const [header = '', row = ''] = listed.stdout.trim().split('\n');
      expect(header.split(/\s+/).at(-1)).toBe('ACTION');
      expect(row.split(/\s+/).at(-1)).toBe('pause');
    } finally {
      await fresh.stop();
    }
  });

  it('prints Events as kubectl shows them: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE', async () => {
    const manifest = join(home, 'event.yaml');
    const now = Date.now();
    const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kubectl-events' } };
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'podinfo.1', namespace: 'kubectl-events' },
      involvedObject: {
        apiVersion: 'petrel.dev/v1alpha1',
        kind: 'Canary',
        name: 'podinfo',
        namespace: 'kubectl-events',
      },
      type: 'Warning',
      reason: 'CheckFailed',
      message: 'request-success-rate 87% < min 99%',
      count: 3,
      firstTimestamp: new Date(now - 300_000).toISOString().replace(/\.\d+Z$/, 'Z'),
      lastTimestamp: new Date(now - 10_000).toISOString().replace(/\.\d+Z$/, 'Z'),
      source: { component: 'petrel' },
    };
    await writeFile(manifest, `${stringify(namespace)}---\n${stringify(event)}`);
    await ok(['apply', '-f', manifest]);
    const table = await ok(['get', 'events', '-n', 'kubectl-events']);
    const [header = '', row = ''] = table.trim().split('\n');
    expect(header.split(/\s{2,}/)).toEqual(['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']);
    expect(row).toMatch(
      /^1\ds \(x3 over 5m\d*s?\)\s+Warning\s+CheckFailed\s+canary\/podinfo\s+request-success-rate 87% < min 99%$/,
    );
    const wide = await ok(['get', 'events', '-n', 'kubectl-events', '-o', 'wide']);
    expect(wide.split('\n')[0]).toMatch(/SUBOBJECT\s+SOURCE\s+MESSAGE\s+FIRST SEEN\s+COUNT\s+NAME/);
    expect(wide).toContain('podinfo.1');
  });
});
