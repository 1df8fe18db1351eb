import { type ChildProcess, spawn } from 'node:child_process';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { registerDevelopmentCommands } from '../dev/cli/register.ts';
import { runCli } from '../src/cli/run.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => {
    out += c;
  });
  stderr.on('data', (c) => {
    err += c;
  });
  return { io: { stdout, stderr, stdin: new PassThrough(), env: {} }, out: () => out, err: () => err };
}

let child: ChildProcess | undefined;

/** Signals the child's whole process group, as Ctrl-C in a terminal does (npx does not forward signals). */
function signalGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    // already gone
  }
}

afterEach(() => {
  if (child) signalGroup(child, 'SIGKILL');
  child = undefined;
});

function exited(proc: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('process did not exit in time')), timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

async function startCli(
  command: string,
  args: string[],
): Promise<{ proc: ChildProcess; url: string; kubeconfig: string }> {
  child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const proc = child;
  let stdout = '';
  let stderr = '';
  proc.stderr?.on('data', (c) => {
    stderr += c;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner in time; stderr: ${stderr}`)), 45_000);
    proc.stdout?.on('data', (chunk) => {
      stdout += chunk;
      const url = /Sandbox Kubernetes API server: (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
      const kubeconfig = /Kubeconfig: (\S+)/.exec(stdout)?.[1];
      if (url && kubeconfig) {
        clearTimeout(timer);
        resolve({ proc, url, kubeconfig });
      }
    });
    proc.once('exit', (code) => reject(new Error(`exited early with ${code}: ${stderr}`)));
  });
}

async function listNamespaces(kubeconfig: string): Promise<string[]> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const namespaces = await kc.makeApiClient(CoreV1Api).listNamespace();
  return namespaces.items.map((n) => n.metadata?.name ?? '');
}

describe('petrel sandbox', () => {
  it('`npx petrel sandbox --port 0` prints the URL and a kubeconfig path and serves until killed', async () => {
    const { proc, url, kubeconfig } = await startCli('npx', ['petrel', 'sandbox', '--port', '0']);
    const version = (await (await fetch(`${url}/version`)).json()) as { gitVersion: string };
    expect(version.gitVersion).toMatch(/^v1\.33/);
    expect(await listNamespaces(kubeconfig)).toContain('default');
    signalGroup(proc, 'SIGINT');
    // npm itself ends by re-raising the signal, so only petrel's own clean-up is checked here.
    await exited(proc, 15_000);
    await expect(access(kubeconfig)).rejects.toThrow();
    await expect(fetch(`${url}/version`)).rejects.toThrow();
  }, 60_000);

  it('stops cleanly on SIGTERM: exit 0, kubeconfig removed, snapshot written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'petrel-cli-'));
    try {
      const snapshot = join(dir, 'state.json');
      const { proc, kubeconfig } = await startCli(process.execPath, [
        join(ROOT, 'bin/petrel.js'),
        'sandbox',
        '--snapshot',
        snapshot,
        '--ready-delay',
        '10',
      ]);
      expect(await listNamespaces(kubeconfig)).toContain('kube-system');
      proc.kill('SIGTERM');
      expect(await exited(proc, 15_000)).toBe(0);
      await expect(access(kubeconfig)).rejects.toThrow();
      expect(JSON.parse(await readFile(snapshot, 'utf8')).format).toBe('petrel-sandbox/v1');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('rejects bad flags with exit 2 and a message naming the flag', async () => {
    registerDevelopmentCommands();
    const t = io();
    expect(await runCli(['sandbox', '--port', 'eighty'], t.io)).toBe(2);
    expect(t.err()).toContain('--port must be a whole number');
    const u = io();
    expect(await runCli(['sandbox', '--frobnicate'], u.io)).toBe(2);
    expect(u.err()).toContain('frobnicate');
  });
});
