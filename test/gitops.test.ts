import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { CANARY_PHASES } from '../src/api/constants.ts';
import { withKstatusConditions } from '../src/rollout/index.ts';

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

// Argo CD runs health checks in gopher-lua (Lua 5.1), embedded in its binary: the test runs the same
// interpreter, built once from its pinned Go module into .tools/. Without Go, Debian's lua5.4 stands in.
const GOPHER_LUA = 'github.com/yuin/gopher-lua/cmd/glua@v1.1.1';
const GLUA_DIR = join(ROOT, '.tools', 'glua-v1.1.1');

async function luaInterpreter(): Promise<string> {
  const glua = join(GLUA_DIR, 'glua');
  try {
    await execFileAsync(glua, ['-v'], { timeout: 10_000 });
    return glua;
  } catch {}
  try {
    await execFileAsync('go', ['install', GOPHER_LUA], {
      timeout: 170_000,
      env: { ...process.env, GOBIN: GLUA_DIR, GOFLAGS: '-mod=mod' },
    });
    return glua;
  } catch (goError) {
    try {
      await execFileAsync('lua5.4', ['-v'], { timeout: 10_000 });
      return 'lua5.4';
    } catch {
      throw new Error(
        `need Go (to build ${GOPHER_LUA}, the Lua Argo CD embeds) or lua5.4: ${(goError as Error).message}`,
      );
    }
  }
}

let lua = '';
beforeAll(async () => {
  lua = await luaInterpreter();
}, 180_000);

/** Runs the health script with `obj` set, the way Argo CD calls it. */
async function health(obj: unknown): Promise<{ status: string; message: string }> {
  const harness = [
    `obj = ${toLua(obj)}`,
    `local check = assert(loadfile(${JSON.stringify(HEALTH_LUA)}))`,
    'local hs = check()',
    'io.write(hs.status, "\\n", hs.message, "\\n")',
  ].join('\n');
  const { stdout } = await execFileAsync(lua, ['-e', harness], { timeout: 10_000 });
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

describe('Argo CD health check for Canary (gopher-lua, as Argo CD runs it)', () => {
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
    // The same verdicts as the Argo CD check. Flux has no Suspended: a gate or spec.suspend fails the
    // health check at once (with the phase in the message) instead of holding it until the timeout.
    for (const phase of CANARY_PHASES) {
      const argo = EXPECTED[phase];
      const flux = current.includes(phase) ? 'Healthy' : failed.includes(phase) ? 'Degraded' : 'Progressing';
      expect(flux, phase).toBe(argo === 'Suspended' ? 'Degraded' : argo);
    }
    // spec.suspend fails whatever the phase, and no other verdict can hold at the same time.
    const suspended = '(has(spec.suspend) && spec.suspend)';
    expect(exprs!.failed).toContain(suspended);
    expect(exprs!.inProgress!.startsWith(`!${suspended} && `)).toBe(true);
    expect(exprs!.current!.startsWith(`!${suspended} && `)).toBe(true);
  });

  it('Flux before 2.5 (kstatus): the status conditions follow the rollout as docs/gitops.md says', () => {
    type Conditions = { type: string; status: string }[] | undefined;
    // kstatus' generic rules for a custom resource (sigs.k8s.io/cli-utils pkg/kstatus/status/generic.go)
    // once observedGeneration has caught up: Reconciling True is InProgress, Stalled True is Failed.
    const kstatus = (conditions: Conditions) => {
      if (conditions?.some((c) => c.type === 'Reconciling' && c.status === 'True')) return 'InProgress';
      if (conditions?.some((c) => c.type === 'Stalled' && c.status === 'True')) return 'Failed';
      return 'Current';
    };
    const now = new Date('2026-01-01T00:00:00Z');
    const verdicts = Object.fromEntries(
      CANARY_PHASES.map((phase) => [phase, kstatus(withKstatusConditions(undefined, phase, now))]),
    );
    expect(verdicts).toEqual({
      Initializing: 'InProgress',
      Initialized: 'Current',
      Waiting: 'InProgress',
      Progressing: 'InProgress',
      WaitingPromotion: 'InProgress',
      Promoting: 'InProgress',
      Finalising: 'InProgress',
      Succeeded: 'Current',
      Failed: 'Failed',
      Terminating: 'Current',
      Terminated: 'Current',
    });
    const invalid = [{ type: 'InvalidSpec', status: 'True' as const, message: 'spec.analysis: required' }];
    expect(kstatus(withKstatusConditions(invalid, 'Progressing', now))).toBe('Failed');
  });

  it('the example target Deployment leaves spec.replicas to Petrel and the HPA, as docs/gitops.md says', async () => {
    const deployment = parse(await readFile(join(ROOT, 'examples/podinfo/deployment.yaml'), 'utf8')) as {
      spec: Record<string, unknown>;
    };
    expect(deployment.spec).not.toHaveProperty('replicas');
    const docs = await readFile(join(ROOT, 'docs/gitops.md'), 'utf8');
    expect(docs).toContain('Leave `spec.replicas` out of the target Deployment in git');
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
