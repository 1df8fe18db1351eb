import { readdirSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxApiServer, startApiServer } from '../dev/sandbox/apiserver/index.ts';
import { runCli } from '../src/cli/run.ts';
import { createKubeApi, type HttpKubeApi } from '../src/kube/client.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import {
  ACTION_ANNOTATION,
  ACTION_AT_ANNOTATION,
  ACTION_BY_ANNOTATION,
  clearManualActionPatch,
  manualActionPatch,
  readManualAction,
} from '../src/rollout/index.ts';
import { createNamespace, podinfoCanary } from './support/e2e.ts';

const CRD_DIR = fileURLToPath(new URL('../crds/', import.meta.url));

describe('manual action annotations', () => {
  it('round-trips an action with who and when, and clears it', () => {
    const patch = manualActionPatch('abort', 'alice@example.com', new Date('2026-01-01T00:00:00Z'));
    expect(readManualAction(patch.metadata.annotations)).toEqual({
      ok: true,
      value: { action: 'abort', by: 'alice@example.com', at: '2026-01-01T00:00:00.000Z' },
    });
    expect(clearManualActionPatch().metadata.annotations).toEqual({
      [ACTION_ANNOTATION]: null,
      [ACTION_BY_ANNOTATION]: null,
      [ACTION_AT_ANNOTATION]: null,
    });
  });

  it('refuses an unknown action with the allowed values, and strips odd characters from who', () => {
    const bad = readManualAction({ [ACTION_ANNOTATION]: 'rollback' });
    expect(bad).toEqual({ ok: false, message: expect.stringContaining('promote, abort, pause, resume') });
    expect(
      readManualAction({ [ACTION_ANNOTATION]: 'pause', [ACTION_BY_ANNOTATION]: 'bob\n<script>' }),
    ).toEqual({
      ok: true,
      value: { action: 'pause', by: 'bobscript' },
    });
    expect(readManualAction({})).toEqual({ ok: true, value: undefined });
  });
});

describe('petrel promote|abort|pause|resume against the sandbox API server', () => {
  let sandbox: SandboxApiServer;
  let api: HttpKubeApi;
  const ns = 'manual';

  beforeAll(async () => {
    const crdFiles = readdirSync(CRD_DIR).map((f) => `${CRD_DIR}${f}`);
    sandbox = await startApiServer({ crdFiles });
    api = createKubeApi({ kubeConfig: sandbox.kubeConfig() });
    await createNamespace(api, ns);
    await api.create(RESOURCES.canary, podinfoCanary(ns) as unknown as KubeObject);
  }, 60_000);
  afterAll(async () => {
    api?.close();
    await sandbox?.stop();
  });

  async function cli(args: string[]) {
    const out = new PassThrough();
    const err = new PassThrough();
    let stdout = '';
    let stderr = '';
    out.on('data', (c) => {
      stdout += c;
    });
    err.on('data', (c) => {
      stderr += c;
    });
    const code = await runCli(args, { stdout: out, stderr: err, stdin: new PassThrough(), env: {} });
    return { code, stdout, stderr };
  }

  it.each(['promote', 'abort', 'pause', 'resume'])(
    'petrel %s sets the annotation with who and when',
    async (action) => {
      const res = await cli([
        action,
        'podinfo',
        '-n',
        ns,
        '--kubeconfig',
        sandbox.kubeconfigPath,
        '--by',
        'ci-bot',
      ]);
      expect(res).toMatchObject({ code: 0, stdout: `canary ${ns}/podinfo: ${action} requested by ci-bot\n` });
      const canary = await api.get<KubeObject>({
        resource: RESOURCES.canary,
        namespace: ns,
        name: 'podinfo',
      });
      const read = readManualAction(canary.metadata?.annotations);
      expect(read).toMatchObject({ ok: true, value: { action, by: 'ci-bot' } });
      expect((canary as unknown as { spec: unknown }).spec).toEqual(podinfoCanary(ns).spec);
    },
  );

  it('says which Canary was not found, exits 1', async () => {
    const res = await cli(['abort', 'nope', '-n', ns, '--kubeconfig', sandbox.kubeconfigPath]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`Canary ${ns}/nope was not found`);
  });

  it('exits 2 with usage on a missing name or an unknown flag', async () => {
    expect((await cli(['promote'])).code).toBe(2);
    const res = await cli(['pause', 'podinfo', '--force']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('usage: petrel pause NAME');
  });
});
