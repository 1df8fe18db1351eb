import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxApiServer, startApiServer } from '../dev/sandbox/apiserver/index.ts';
import { helmPath } from './support/tools.ts';

const CHART = fileURLToPath(new URL('../charts/petrel', import.meta.url));

let server: SandboxApiServer;
let helm: string;
let home: string;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      helm,
      args,
      { env: { PATH: process.env.PATH, HOME: home, KUBECONFIG: server.kubeconfigPath }, timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  [helm, server, home] = await Promise.all([
    helmPath(),
    startApiServer({ deploymentReadyDelayMs: 20 }),
    mkdtemp(join(tmpdir(), 'petrel-helm-')),
  ]);
});

afterAll(async () => {
  await server?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

describe('sandbox API server driven by a real helm v3.18', () => {
  // helm validates manifests against /openapi/v2 (protobuf), which the sandbox does not serve, and
  // `--wait` inspects ReplicaSets and Pods, which it does not model: both are left out here.
  it('installs, upgrades and uninstalls the Petrel chart (release Secrets travel as protobuf)', async () => {
    const install = await run([
      'install',
      'petrel',
      CHART,
      '-n',
      'petrel-system',
      '--create-namespace',
      '--disable-openapi-validation',
    ]);
    expect(install.stderr).toBe('');
    expect(install.code).toBe(0);
    expect(install.stdout).toContain('STATUS: deployed');
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    const apps = server.kubeConfig().makeApiClient(AppsV1Api);
    const deployments = await apps.listNamespacedDeployment({ namespace: 'petrel-system' });
    expect(deployments.items.length).toBeGreaterThan(0);
    const releases = await core.listNamespacedSecret({
      namespace: 'petrel-system',
      labelSelector: 'owner=helm,name=petrel',
    });
    expect(releases.items.map((s) => s.type)).toEqual(['helm.sh/release.v1']);

    const upgrade = await run([
      'upgrade',
      'petrel',
      CHART,
      '-n',
      'petrel-system',
      '--disable-openapi-validation',
    ]);
    expect(upgrade.code, upgrade.stderr).toBe(0);
    const list = await run(['list', '-n', 'petrel-system', '-o', 'json']);
    expect(JSON.parse(list.stdout)).toMatchObject([{ name: 'petrel', revision: '2', status: 'deployed' }]);

    const uninstall = await run(['uninstall', 'petrel', '-n', 'petrel-system']);
    expect(uninstall.code, uninstall.stderr).toBe(0);
    expect((await apps.listNamespacedDeployment({ namespace: 'petrel-system' })).items).toEqual([]);
    expect((await core.listNamespacedSecret({ namespace: 'petrel-system' })).items).toEqual([]);
  });
});
