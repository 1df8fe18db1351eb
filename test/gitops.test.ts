import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { CANARY_PHASES } from '../src/api/constants.ts';

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const GITOPS = join(ROOT, 'examples/gitops');
const HEALTH_LUA = join(GITOPS, 'argocd/canary-health.lua');

/** Renders a JSON value as a Lua table constructor, as Argo CD hands the object to the script. */
function toLua(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `{${value.map(toLua).join(', ')}}`;
  const fields = Object.entries(value as Record<string, unknown>).map(
    ([k, v]) => `[${JSON.stringify(k)}] = ${toLua(v)}`,
  );
  return `{${fields.join(', ')}}`;
}

/** Runs the health script in Debian's lua5.4 with `obj` set, the way Argo CD calls it. */
async function health(obj: unknown): Promise<{ status: string; message: string }> {
  const harness = [
    `obj = ${toLua(obj)}`,
    `local check = assert(loadfile(${JSON.stringify(HEALTH_LUA)}))`,
    'local hs = check()',
    'io.write(hs.status, "\\n", hs.message, "\\n")',
  ].join('\n');
  const { stdout } = await execFileAsync('lua5.4', ['-e', harness], { timeout: 10_000 });
  const [status = '', message = ''] = stdout.split('\n');
  return { status, message };
}

function canary(status?: Record<string, unknown>, spec: Record<string, unknown> = {}, generation = 1) {
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', generation },
    spec: { targetRef: { kind: 'Deployment', name: 'podinfo' }, ...spec },
    ...(status ? { status: { observedGeneration: generation, ...status } } : {}),
  };
}

const EXPECTED: Record<(typeof CANARY_PHASES)[number], string> = {
  Initializing: 'Progressing',
  Initialized: 'Healthy',
  Waiting: 'Suspended',
  Progressing: 'Progressing',
  WaitingPromotion: 'Suspended',
  Promoting: 'Progressing',
  Finalising: 'Progressing',
  Succeeded: 'Healthy',
  Failed: 'Degraded',
  Terminating: 'Progressing',
  Terminated: 'Healthy',
};

describe('Argo CD health check for Canary (lua5.4)', () => {
  it.each(CANARY_PHASES.map((p) => [p, EXPECTED[p]]))('phase %s is %s', async (phase, expected) => {
    const result = await health(canary({ phase, canaryWeight: 30, failedChecks: 0 }));
    expect(result.status).toBe(expected);
    expect(result.message.length).toBeGreaterThan(0);
  });

  it('names the weight while progressing and the reason after a rollback', async () => {
    expect((await health(canary({ phase: 'Progressing', canaryWeight: 30 }))).message).toContain('30%');
    const failed = await health(
      canary({
        phase: 'Failed',
        conditions: [
          { type: 'Promoted', status: 'False', reason: 'Failed', message: 'request-success-rate 91.2 < 99' },
        ],
      }),
    );
    expect(failed).toEqual({
      status: 'Degraded',
      message: 'Canary analysis failed, the new version was rolled back: request-success-rate 91.2 < 99',
    });
  });

  it('is Progressing before the controller has written a status or seen the latest generation', async () => {
    expect((await health(canary())).status).toBe('Progressing');
    const stale = canary({ phase: 'Succeeded', observedGeneration: 1 }, {}, 2);
    expect(await health(stale)).toEqual({
      status: 'Progressing',
      message: 'Waiting for Petrel to observe generation 2',
    });
  });

  it('is Suspended when spec.suspend is set, whatever the phase', async () => {
    expect((await health(canary({ phase: 'Progressing' }, { suspend: true }))).status).toBe('Suspended');
  });

  it('is Degraded with the message of an InvalidSpec condition', async () => {
    const result = await health(
      canary({
        phase: 'Initializing',
        conditions: [
          { type: 'InvalidSpec', status: 'True', reason: 'InvalidSpec', message: 'targetRef.name is empty' },
        ],
      }),
    );
    expect(result).toEqual({ status: 'Degraded', message: 'Invalid spec: targetRef.name is empty' });
  });

  it('is Unknown, not an error, for a phase it does not know', async () => {
    expect((await health(canary({ phase: 'Exploded' }))).status).toBe('Unknown');
  });

  it('is embedded verbatim in the argocd-cm snippet, with annotation tracking', async () => {
    const script = await readFile(HEALTH_LUA, 'utf8');
    const cm = parse(await readFile(join(GITOPS, 'argocd/argocd-cm.yaml'), 'utf8')) as {
      metadata: { name: string; namespace: string };
      data: Record<string, string>;
    };
    expect(cm.metadata).toMatchObject({ name: 'argocd-cm', namespace: 'argocd' });
    expect(cm.data['resource.customizations.health.petrel.dev_Canary']).toBe(script);
    expect(cm.data['application.resourceTrackingMethod']).toBe('annotation');
  });
});

describe('GitOps recipes', () => {
  it('the Argo CD Application syncs examples/podinfo and ignores the target replicas', async () => {
    const app = parse(await readFile(join(GITOPS, 'argocd/application.yaml'), 'utf8')) as {
      kind: string;
      spec: {
        source: { path: string };
        destination: { namespace: string };
        ignoreDifferences: { group: string; kind: string; name: string; jsonPointers: string[] }[];
        syncPolicy: { syncOptions: string[] };
      };
    };
    expect(app.kind).toBe('Application');
    const target = await podinfoTarget(app.spec.source.path);
    expect(app.spec.destination.namespace).toBe(target.namespace);
    expect(app.spec.ignoreDifferences).toContainEqual({
      group: 'apps',
      kind: 'Deployment',
      name: target.deployment,
      jsonPointers: ['/spec/replicas'],
    });
    expect(app.spec.syncPolicy.syncOptions).toContain('RespectIgnoreDifferences=true');
  });

  it('the Flux Kustomization health-checks the example Canary and maps every phase once', async () => {
    const docs = parseAllDocuments(await readFile(join(GITOPS, 'flux/kustomization.yaml'), 'utf8')).map(
      (d) => d.toJS() as { kind: string; spec: Record<string, unknown> },
    );
    const ks = docs.find((d) => d.kind === 'Kustomization')!;
    const target = await podinfoTarget(String(ks.spec.path));
    expect(ks.spec.healthChecks).toEqual([
      { apiVersion: 'petrel.dev/v1alpha1', kind: 'Canary', name: target.canary, namespace: target.namespace },
    ]);
    const [exprs] = ks.spec.healthCheckExprs as Record<string, string>[];
    const listed = (expr: string) =>
      [...(/in \[([^\]]*)\]/.exec(expr)?.[1] ?? '').matchAll(/'(\w+)'/g)].map((m) => m[1]);
    const inProgress = listed(exprs!.inProgress!);
    const current = listed(exprs!.current!);
    const failed = [...exprs!.failed!.matchAll(/status\.phase == '(\w+)'/g)].map((m) => m[1]);
    expect([...inProgress, ...current, ...failed].sort()).toEqual([...CANARY_PHASES].sort());
    // The same verdicts as the Argo CD check (Suspended gates count as in progress for Flux).
    for (const phase of CANARY_PHASES) {
      const argo = EXPECTED[phase];
      const flux = current.includes(phase) ? 'Healthy' : failed.includes(phase) ? 'Degraded' : 'Progressing';
      expect(flux, phase).toBe(argo === 'Suspended' ? 'Progressing' : argo);
    }
  });
});

/** The names the recipes must agree with, read from the example manifests themselves. */
async function podinfoTarget(path: string) {
  const dir = join(ROOT, path);
  const deployment = parse(await readFile(join(dir, 'deployment.yaml'), 'utf8')) as {
    metadata: { name: string; namespace: string };
  };
  const canaryDoc = parse(await readFile(join(dir, 'canary.yaml'), 'utf8')) as {
    metadata: { name: string };
    spec: { targetRef: { name: string } };
  };
  expect(canaryDoc.spec.targetRef.name).toBe(deployment.metadata.name);
  return {
    deployment: deployment.metadata.name,
    namespace: deployment.metadata.namespace,
    canary: canaryDoc.metadata.name,
  };
}
